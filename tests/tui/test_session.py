"""The wizard and plain mode plan through one session: the same answers give the same steps and
time in both (plain mode used to skip the data count, and its time line read "~0 s")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core import questions as q
from ftwizard.core.config import from_dict
from ftwizard.core.session import Session
from ftwizard.tui.app import WizardApp
from ftwizard.tui.plain import estimate_line

pytestmark = pytest.mark.tui


@pytest.fixture
def answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_llama: Path, cpu):  # noqa: ANN001, ANN201
    monkeypatch.chdir(tmp_path)
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    lines = [" ".join(words[(i + j) % 8] for j in range(12)) for i in range(400)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    data = q.default_config(cpu).to_dict()
    data["model"].update(name="tiny-llama", dtype="fp32")
    data["data"].update(train=[{"path": "train.txt"}], sequences=None, block_size=32)
    data["train"].update(micro_batch=2, grad_accum=2, epochs=2)
    return from_dict(data)


async def test_plain_mode_shows_the_wizards_steps_and_time(answers, cpu) -> None:  # noqa: ANN001
    app = WizardApp(answers, hardware=cpu, detect=False, step="train")
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.data_stats is not None and app.plan is not None
        tui = app.plan
    assert tui.steps is not None and tui.steps.sequences == app.data_stats.sequences > 0
    assert tui.time is not None and tui.time.seconds > 0

    line = estimate_line(answers, Session(cpu))   # what plain mode prints after an answer
    assert f"{tui.steps.per_epoch} steps/epoch, {tui.steps.total} total" in line
    assert line.startswith(tui.summary_line())    # memory, verdict, steps and time alike
    assert "~0 s" not in line


def test_plain_mode_reports_the_launch_gate(answers, cpu, tmp_path: Path) -> None:  # noqa: ANN001
    from ftwizard.tui.plain import preflight_lines

    assert preflight_lines(answers, Session(cpu)) == ["before launch: every check passed"]
    (tmp_path / "blocker").write_text("x")
    blocked = answers.model_copy(update={"output": answers.output.model_copy(
        update={"dir": str(tmp_path / "blocker" / "runs")})})
    (line,) = preflight_lines(blocked, Session(cpu))
    assert line.startswith("before launch: ✗ refused: output.dir:") and "fix:" in line
