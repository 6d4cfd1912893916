"""How fast the planner answers: one full plan() of a 70B model, and `ftwizard hw` wall time.

Goals (issue 2): plan() under 1 ms so the wizard can re-plan on every keystroke; `ftwizard hw`
under 2 s on a machine without a GPU. Prints medians; run it with `python bench/estimate_latency.py`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def plan_latency(repeats: int = 2000) -> dict[str, float]:
    from ftwizard.core.config import parse_config
    from ftwizard.core.hardware import from_target
    from ftwizard.core.plan import make_plan

    hw = from_target("A100-80GB x8")
    fits = parse_config("model: {name: meta-llama/Llama-2-70b-hf}\nmethod: {kind: qlora, "
                        "parallel: split, gradient_checkpointing: true}\n"
                        "data: {block_size: 2048, sequences: 100000}")
    not_fit = parse_config("model: {name: meta-llama/Llama-2-70b-hf}\nmethod: {kind: full}\n"
                           "data: {block_size: 2048, sequences: 100000}")
    out = {}
    for label, cfg in (("plan_70b_fits_ms", fits), ("plan_70b_does_not_fit_with_suggestions_ms", not_fit)):
        make_plan(cfg, hardware=hw)  # warm the model catalog cache
        n = repeats if label.startswith("plan_70b_fits") else max(20, repeats // 50)
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            make_plan(cfg, hardware=hw)
            samples.append((time.perf_counter() - t) * 1e3)
        out[label] = statistics.median(samples)
    return out


def hw_wall(repeats: int = 5) -> float:
    samples = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ftwizard", "hw"], capture_output=True, check=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples[1:])  # first run warms the file cache


if __name__ == "__main__":
    figures = plan_latency()
    for k, v in figures.items():
        print(f"{k:45s} {v:8.3f} ms (median)")
    print(f"{'ftwizard_hw_wall_s':45s} {hw_wall():8.3f} s  (median of 5)")
