"""The pipeline's per-stage layer split as a wizard field (seed 002: GPT-NeoX-20B's 44 layers
over 8 stages as 6,6,6,6,5,5,5,5): shown only for parallel pipeline, refused with the layout's
own rule (core/pipeline_layout.py) naming the field, the value and the split to use, empty for
the even split; the same field in the Textual screen and in plain mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ftwizard.core import questions as q
from ftwizard.core.config import from_dict, load_config
from ftwizard.tui.widgets.field_row import FieldRow
from tests.tui.conftest import make_app

pytestmark = pytest.mark.tui

PRESET = Path(__file__).resolve().parents[2] / "presets" / "gpt-neox-20b-pipeline.yaml"
KILL_LINE = "\x15"  # ctrl+u: clear the default answer


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def seed_002(**method):  # noqa: ANN003, ANN201
    """The preset with its data replaced by an assumed count (its data files are not here)."""
    data = load_config(PRESET).to_dict()
    data["data"].update(train=[], sequences=64000)
    data["method"].update(method)
    return from_dict(data)


async def typed(pilot, text: str) -> None:  # noqa: ANN001
    await pilot.press("enter", "ctrl+u", *text, "enter")
    await pilot.pause()


def help_shown(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one("#help").render())


async def test_stage_layers_field_in_the_method_step(workdir: Path) -> None:
    """The preset's split shows on the Method step; a list that does not cover the stages is
    refused naming method.pipeline_layers, the value and the balanced split, and the config keeps
    its split; empty is the even split (which 44 layers over 8 stages cannot have: the planner's
    problem says so, with the explicit split as the fix); a valid uneven split is taken; the field
    leaves the step when the parallel mode is not pipeline."""
    app = make_app(seed_002(), step="method")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        row = app.screen.query_one("#f-method-pipeline_layers", FieldRow)
        assert row.display
        assert "6,6,6,6,5,5,5,5" in str(row.query_one(".value").render())
        for _ in range(20):                       # down to the field, as a user would
            if app.focused is row:
                break
            await pilot.press("down")
        assert app.focused is row
        text = help_shown(app)
        assert "even split" in text and "default" in text

        await typed(pilot, "6,6,6")
        err = app.screen.error or ""
        assert "method.pipeline_layers" in err and "[6, 6, 6]" in err
        assert "[6, 6, 6, 6, 5, 5, 5, 5]" in err                  # the nearest valid choice
        assert "✗" in help_shown(app)
        assert app.config.method.pipeline_layers == [6, 6, 6, 6, 5, 5, 5, 5]

        await typed(pilot, "11,11,11,11,0,0,0,0")              # 44 in all, but empty stages
        assert "at least one layer" in (app.screen.error or "")
        assert app.config.method.pipeline_layers == [6, 6, 6, 6, 5, 5, 5, 5]

        await typed(pilot, "")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.config.method.pipeline_layers is None and app.screen.error is None
        assert "even split" in str(row.query_one(".value").render())
        stages = [p for p in app.plan.problems if p.field == "method.pipeline_stages"]
        assert stages and "pipeline_layers=[6, 6, 6, 6, 5, 5, 5, 5]" in stages[0].fix

        await typed(pilot, "5,5,5,5,6,6,6,6")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.config.method.pipeline_layers == [5, 5, 5, 5, 6, 6, 6, 6]
        assert not [p for p in app.plan.problems if p.field.startswith("method.pipeline")]

        app.set_config(app.context().config.model_copy(
            update={"method": app.config.method.model_copy(update={"parallel": "none"})}))
        await pilot.pause()
        assert not row.display


def test_field_is_asked_only_for_pipeline() -> None:
    """One source for both front ends: the Method step lists the field right after the stage
    count, and only while parallel is pipeline."""
    method = q.step("method")
    ids = [f.id for f in method.visible(seed_002())]
    assert ids[ids.index("method.pipeline_stages") + 1] == "method.pipeline_layers"
    assert "method.pipeline_layers" not in [f.id for f in method.visible(
        seed_002(parallel="deepspeed"))]


@pytest.mark.skipif(shutil.which("ftwizard") is None, reason="console script not installed")
def test_plain_mode_asks_and_checks_stage_layers(tmp_path: Path) -> None:
    """`ftwizard edit FILE --plain` on seed 002: the hint names 44 layers and the split before
    the question; a short list is refused naming the field and the split to use, then asked
    again; the uneven split typed next is saved."""
    pexpect = pytest.importorskip("pexpect")
    cfg_path = tmp_path / "neox.yaml"
    cfg_path.write_text(seed_002().to_yaml())
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"}
    child = pexpect.spawn("ftwizard", ["edit", str(cfg_path), "--plain"], cwd=str(tmp_path),
                          env=env, encoding="utf-8", timeout=60, dimensions=(40, 100))
    answers = [
        ("Plan for", "\r"), ("Host RAM", "\r"), ("Nodes", "\r"),
        ("Model", "\r"), ("Precision", "\r"),
        ("Fine-tuning", "\r"), ("Parallel", "\r"), ("Pipeline stages", "\r"),
        ("44 layers do not split evenly into 8 stages", ""),
        ("Stage layers", KILL_LINE + "6,6,6\r"),
        ("method.pipeline_layers", ""), ("[6, 6, 6, 6, 5, 5, 5, 5]", ""),
        ("Stage layers", KILL_LINE + "5,5,5,5,6,6,6,6\r"),
        ("Grad checkpointing", "\r"), ("Optimizer", "\r"),
        ("== Objective", ""), ("Objective", "\r"),
        ("Train files", "\r"), ("Mode", "\r"), ("Block size", "\r"), ("Validation share", "\r"),
        ("Assume sequences", "\r"),
        ("Micro batch", "\r"), ("Grad accum", "\r"), ("Epochs", "\r"), ("Max steps", "\r"),
        ("Learning rate", "\r"), ("End LR", "\r"), ("Schedule", "\r"), ("Warmup share", "\r"),
        ("Save every", "\r"), ("Eval every", "\r"), ("Keep ckpts", "\r"),
        ("Run name", "\r"), ("Runs folder", "\r"), ("Report to", "\r"),
        ("Save config to", "\r"),
    ]
    seen = []
    for prompt, keys in answers:
        child.expect_exact(prompt)
        seen.append(child.before)
        if keys:
            child.send(keys)
    child.expect(pexpect.EOF)
    child.close()
    transcript = "".join(seen) + (child.before or "")
    assert child.exitstatus == 0, transcript[-2000:]
    assert load_config(cfg_path).method.pipeline_layers == [5, 5, 5, 5, 6, 6, 6, 6]
