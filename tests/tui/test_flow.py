"""The whole wizard driven by key presses only: answers -> a written config equal to what they
imply, and (e2e) -> a launched tiny CPU run whose log shows up in the Run screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log

from ftwizard.core import questions as q
from ftwizard.core.config import from_dict, load_config
from ftwizard.tui.app import WizardApp

pytestmark = pytest.mark.tui


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_llama: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    lines = [" ".join(words[(i + j) % 8] for j in range(12)) for i in range(200)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


async def typed(pilot, text: str) -> None:  # noqa: ANN001
    """Open the focused row's editor, replace its text, submit."""
    await pilot.press("enter", "ctrl+u", *list(text), "enter")
    await pilot.pause()


async def drive(pilot) -> None:  # noqa: ANN001
    app: WizardApp = pilot.app
    await pilot.pause()
    assert app.screen.id == "step-hardware"
    await pilot.press("n")                                   # Hardware: this machine
    await pilot.pause()
    assert app.screen.id == "step-model"
    await pilot.press("enter", *list("tiny-ll"), "enter")    # Model: search the picker
    await pilot.pause()
    await pilot.press("down", "right")                       # Precision: fp32 -> next (bf16? fp16)
    await pilot.press("left")                                # ... and back to fp32
    await pilot.press("n")
    await pilot.pause()
    assert app.screen.id == "step-method"
    await pilot.press("right")                               # Fine-tuning: Full -> LoRA
    await pilot.pause()
    assert app.config.method.kind == "lora"
    await pilot.press("down")                                # LoRA rank row appeared
    await typed(pilot, "8")
    await pilot.press("n")
    await pilot.pause()
    assert app.screen.id == "step-objective"                 # Objective: SFT stays
    await pilot.press("n")
    await pilot.pause()
    assert app.screen.id == "step-data"
    await typed(pilot, "train.txt")                          # Train files
    await pilot.press("down", "down")                        # Mode, Block size
    await typed(pilot, "32")
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert app.data_stats is not None and app.data_stats.sequences > 0
    await pilot.press("n")
    await pilot.pause()
    assert app.screen.id == "step-train"
    await typed(pilot, "2")                                  # Micro batch
    await pilot.press("down", "left", "left", "left")        # Grad accum 4 -> 1
    await pilot.press("down", "down")                        # Epochs, Max steps
    await typed(pilot, "3")
    await pilot.press("n")
    await pilot.pause()
    assert app.screen.id == "step-review"
    await typed(pilot, "pilot-run")                          # Run name


def expected(hw) -> object:  # noqa: ANN001
    data = q.default_config(hw).to_dict()
    data["model"].update(name="tiny-llama", dtype="fp32")
    data["method"]["kind"] = "lora"
    data["method"]["lora"]["r"] = 8
    data["data"].update(train=[{"path": "train.txt"}], sequences=None, block_size=32)
    data["train"].update(micro_batch=2, grad_accum=1, max_steps=3)
    data["name"] = "pilot-run"
    return from_dict(data)


async def test_keys_to_written_config(workdir: Path, cpu) -> None:  # noqa: ANN001
    """Every step by keys; `s` + Enter writes a config that loads back equal to the answers."""
    app = WizardApp(None, hardware=cpu, detect=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await drive(pilot)
        plan_before = app.plan
        assert plan_before is not None and plan_before.steps is not None
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("ctrl+u", *list("out.yaml"), "enter")
        await pilot.pause()
    loaded = load_config(workdir / "out.yaml")
    assert loaded == expected(cpu)
    assert loaded == app.config


async def test_fit_key_applies_first_suggestion(workdir: Path) -> None:
    """`f` on a plan that does not fit applies the first ranked fix, and the panel turns green."""
    from tests.tui.conftest import snapshot_config

    cfg = snapshot_config(**{"model.name": "meta-llama/Llama-2-7b-hf", "model.dtype": "fp16",
                             "method.kind": "full"})
    app = WizardApp(cfg, detect=False, step="method")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.plan.fits
        first = app.plan.memory.suggestions[0]
        await pilot.press("f")
        await pilot.pause()
        assert app.plan.fits
        for key, value in first["set"].items():
            assert q.get_value(app.config, key) == value
        assert "fits" in str(app.screen.query_one("#estimate").render())


@pytest.mark.e2e
async def test_keys_to_launched_run(workdir: Path, cpu) -> None:  # noqa: ANN001
    """`l` on Review starts the tiny run; its log and final status appear in the Run screen."""
    app = WizardApp(None, hardware=cpu, detect=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await drive(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert app.screen.id == "run"
        run_dir = Path(app.run_dir)
        for _ in range(600):
            await pilot.pause(0.25)
            if app.screen.state.end is not None:
                break
        log = app.screen.query_one(Log)
        text = "\n".join(str(line) for line in log.lines)
        assert app.screen.state.end is not None, text[-2000:]
        assert app.screen.state.end["status"] == "finished", text[-2000:]
        assert app.screen.state.step == 3
        assert log.line_count > 0
        log_file = (run_dir / "stdout.log").read_text()
        assert log.lines[0] in log_file
        written = load_config(run_dir / "config.yaml")  # core.runs makes paths absolute
        assert written.method == expected(cpu).method and written.train == expected(cpu).train
        assert written.name == "pilot-run" and written.data.block_size == 32
