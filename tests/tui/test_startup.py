"""Start-up: the wizard's first frame waits for nothing slow. Hardware detection (NVML, psutil,
package metadata, in a thread that shares the GIL) starts after the first paint; torch,
transformers, tokenizers, the data readers and the backends are not imported before it (the
accelerator catalog is: the first question lists it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ftwizard.tui.app import WizardApp

pytestmark = pytest.mark.tui

FIRST_FRAME = r"""
import json, sys
from ftwizard.tui.app import WizardApp
import asyncio

class Probe(WizardApp):
    seen = None
    def _display(self, screen, renderable):
        super()._display(screen, renderable)
        if self.seen is None and renderable is not None and (self.screen.id or "").startswith("step-"):
            self.seen = sorted(sys.modules)

async def main():
    app = Probe(None)                       # as `ftwizard` starts: no config, detection on
    async with app.run_test(size=(80, 24)) as pilot:
        while app.seen is None:
            await asyncio.sleep(0)
        print(json.dumps(app.seen))
        await app.workers.wait_for_complete()
asyncio.run(main())
"""


def test_nothing_heavy_is_imported_before_the_first_frame() -> None:
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    mods = set(json.loads(out.strip().splitlines()[-1]))
    assert "ftwizard.tui.screens.step" in mods                    # the frame was the step screen
    heavy = {"torch", "transformers", "datasets", "deepspeed", "jax", "pynvml", "psutil",
             "tokenizers", "ftwizard.core.data", "ftwizard.core.backends", "ftwizard.core.probe"}
    assert not heavy & mods, sorted(heavy & mods)


async def test_hardware_detection_starts_after_the_first_paint() -> None:
    order: list[str] = []

    class Recorder(WizardApp):
        def _display(self, screen, renderable) -> None:  # noqa: ANN001
            super()._display(screen, renderable)
            if renderable is not None and "frame" not in order:
                order.append("frame")

        def detect_hardware(self) -> None:
            order.append("detect")
            super().detect_hardware()

    app = Recorder(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert order[:2] == ["frame", "detect"], order
        assert app.session.detected is not None and app.plan_state != "detecting"
