""""Test fit" in the wizard: `t` probes the current answers for real (tiny Llama, CPU, 3 steps)
while the screen keeps taking keys; after an out-of-memory probe `f` applies the first measured
fix and probes again. The snapshot injects a fixed ProbeResult: measured numbers vary by machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core import questions as q
from ftwizard.core.config import from_dict
from ftwizard.core.probe import ProbeResult
from ftwizard.tui.app import WizardApp
from tests.tui.conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui
GiB = 1024**3


@pytest.fixture
def tiny_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_llama: Path, cpu):  # noqa: ANN001, ANN201
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    lines = [" ".join(words[(i + j) % 8] for j in range(12)) for i in range(200)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    data = q.default_config(cpu).to_dict()
    data["model"].update(name="tiny-llama", dtype="fp32")
    data["method"]["kind"] = "full"
    data["data"].update(train=[{"path": "train.txt"}], sequences=None, block_size=32)
    data["train"].update(micro_batch=4, grad_accum=1, max_steps=50)
    data["output"].update(sample_prompt=None)
    data["name"] = "probe-pilot"
    return from_dict(data)


async def _until(pilot, cond) -> None:  # noqa: ANN001
    """Wait for the app's workers (the real probe, however long it takes on a loaded machine),
    then for the messages they posted to be handled: the verdict never depends on a clock."""
    for _ in range(50):
        if cond():
            return
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    raise AssertionError("the workers ended and the condition never held")


@pytest.mark.e2e
async def test_test_fit_key_probes_for_real_then_f_applies_the_measured_fix(tiny_cfg, cpu) -> None:  # noqa: ANN001
    """`t`: a real 3-step probe in a worker (keys still move focus meanwhile), then measured
    beside the estimate; an OOM result: `f` applies its first fix, probes again, and the answers
    take the fix."""
    app = WizardApp(tiny_cfg, hardware=cpu, detect=False, step="train", probe_steps=3)
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(pilot, lambda: app.plan is not None)
        panel = app.screen.query_one("#estimate")
        await pilot.press("t")
        await pilot.pause()
        assert app.probe.state == "running"
        assert "testing fit" in str(panel.render())
        before = app.focused
        await pilot.press("down")                       # the UI answers while the probe runs
        await pilot.pause()
        assert app.focused is not before and app.probe.state == "running"
        await _until(pilot, lambda: app.probe.state != "running")
        r = app.probe.result
        assert app.probe.state == "done" and r is not None, app.probe.error
        assert r.status == "ok", r.summary()
        assert r.steps_done == 3 and r.peak_bytes and r.estimate_bytes
        text = str(panel.render())
        assert "✓ fits (measured)" in text and f"measured {r.peak_bytes / GiB:.1f} GiB in 3 steps" in text
        diff = (r.peak_bytes - r.estimate_bytes) / GiB
        assert f"estimate {r.estimate_bytes / GiB:.1f} GiB: {'+' if diff >= 0 else '-'}{abs(diff):.2f}" in text

        # An OOM result for these answers (a real OOM under a memory cap is tests/e2e/
        # test_probe.py's job; here: the keys and the loop). The tiny model's memory is all
        # runtime, so the planner has no fix to offer: the fix is core.probe.oom_fix's own
        # fallback shape (half the micro batch, twice the accumulation).
        sugg = [{"text": "batch 4 -> 2 with grad-accum x2",
                 "set": {"train.micro_batch": 2, "train.grad_accum": 2}}]
        oom = ProbeResult(status="oom", steps=3, steps_done=1, peak_bytes=r.peak_bytes // 3,
                          estimate_bytes=r.estimate_bytes, suggestions=sugg, message="out of memory")
        app.show_probe_result(oom, app.config)
        await pilot.pause()
        assert "does not fit (measured)" in str(panel.render())
        assert sugg[0]["text"] in str(panel.render())
        await pilot.press("f")
        await pilot.pause()
        assert app.probe.state == "running" and app.probe.applied == sugg[0]["text"]
        await _until(pilot, lambda: app.probe.state != "running")
        assert app.probe.result is not None and app.probe.result.status == "ok", app.probe.error
        for key, value in sugg[0]["set"].items():
            assert q.get_value(app.config, key) == value
        assert app.probe_current()
        assert f"applied: {sugg[0]['text']}" in str(panel.render())


def fixed_result(status: str) -> ProbeResult:
    """Figures a probe could report, fixed so the snapshot never varies."""
    sugg = [{"text": "gradient checkpointing on", "set": {"method.gradient_checkpointing": True},
             "per_device_bytes": int(20.1 * GiB)},
            {"text": "micro batch 4 -> 2, grad accum x2", "set": {"train.micro_batch": 2},
             "per_device_bytes": int(21.0 * GiB)}]
    return ProbeResult(status=status, steps=4, steps_done=4 if status == "ok" else 2,
                       peak_bytes=int((19.7 if status == "ok" else 23.4) * GiB),
                       estimate_bytes=int(18.9 * GiB), tokens_per_s=1830.0 if status == "ok" else None,
                       estimate_tokens_per_s=2100.0, seconds=41.0,
                       suggestions=sugg if status == "oom" else [])


SIZES = [pytest.param((80, 24), "oom", id="80x24-oom"), pytest.param((120, 40), "ok", id="120x40-ok")]


@pytest.mark.parametrize(("size", "status"), SIZES)
def test_probe_result_panel(snap_compare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            size: tuple[int, int], status: str) -> None:
    """The estimate panel after "test fit": measured beside estimated; out of memory -> the
    measured verdict and the fixes `f` applies."""
    monkeypatch.chdir(tmp_path)
    cfg = snapshot_config(**{"model.name": "meta-llama/Llama-2-7b-hf", "method.kind": "qlora",
                             "train.micro_batch": 4})

    async def inject(pilot) -> None:  # noqa: ANN001
        await pilot.pause()
        pilot.app.show_probe_result(fixed_result(status), pilot.app.config)
        await pilot.pause()

    assert snap_compare(make_app(cfg, step="method"), terminal_size=size, run_before=inject)
