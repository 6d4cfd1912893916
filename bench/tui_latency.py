"""Wizard latency: time to first frame, and key press -> estimate panel updated.

    python bench/tui_latency.py [--presses 40]

First frame: a fresh `python -c` process that imports the app and runs it headless until the first
screen is mounted and rendered (what a user waits for after typing `ftwizard`), median of 3.
Key to estimate: on the Train step, `right`/`left` on Micro batch change the batch, the app
re-plans and the panel re-renders; measured from the press until the panel's update counter
moves and the screen has refreshed (pilot.pause), median over the presses. Goals: < 1 s, < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

FIRST_FRAME = r"""
import time, sys
t0 = time.perf_counter()
from ftwizard.tui.app import WizardApp
from ftwizard.core import questions as q
import asyncio
async def main():
    app = WizardApp(q.default_config(None, target="RTX 4090"), detect=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#estimate").updates >= 1
        print(time.perf_counter() - t0)
        print("torch" in sys.modules, "transformers" in sys.modules)
asyncio.run(main())
"""


def first_frame() -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), out[1] == "True" or out[2] == "True"


async def key_latency(presses: int) -> list[float]:
    from ftwizard.core import questions as q
    from ftwizard.tui.app import WizardApp

    app = WizardApp(q.default_config(None, target="RTX 4090"), detect=False, step="train")
    times: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        panel = app.screen.query_one("#estimate")
        for i in range(presses):
            before = panel.updates
            t0 = time.perf_counter()
            await pilot.press("right" if i % 2 == 0 else "left")
            while panel.updates == before:
                await asyncio.sleep(0)
            await pilot.pause()
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presses", type=int, default=40)
    args = ap.parse_args()
    runs = [first_frame() for _ in range(3)]
    ff = statistics.median(t for t, _ in runs)
    heavy = any(h for _, h in runs)
    lat = asyncio.run(key_latency(args.presses))
    print(f"time to first frame: {ff * 1000:.0f} ms (median of 3; goal < 1000 ms); "
          f"torch/transformers imported: {heavy}")
    print(f"key press -> estimate panel updated: median {statistics.median(lat) * 1000:.1f} ms, "
          f"p90 {sorted(lat)[int(0.9 * len(lat))] * 1000:.1f} ms over {len(lat)} presses "
          f"(goal < 50 ms)")


if __name__ == "__main__":
    main()
