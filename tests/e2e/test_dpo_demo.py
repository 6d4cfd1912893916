"""The shipped CPU demo of DPO after SFT, as its preset's description tells a user to run it:
`ftwizard run tiny-cpu-demo`, then `ftwizard run tiny-cpu-dpo-demo --set
model.name=runs/tiny-cpu-demo/final`. Both train for real on the CPU (about a minute each).

presets/data/preferences.jsonl: every cut of the demo corpus's sentences, the chosen ending as
written, the rejected one the same words backwards, so the preference is word order, which the
2-layer model learns and which carries over to the held-out pairs (cut from the same sentences).

What the DPO run must show: the first loss is ln 2 (the policy starts equal to its reference, a
frozen copy of the SFT model), the training and the evaluation loss fall, margins and accuracy
rise, the run trained the SFT run's weights, and plan steps == trainer steps.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from backend_kit import env, log_tail, of
from ftwizard.core import events as ev
from ftwizard.core.config import load_config

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("preference")]


def ftwizard_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", "run", *args, "--plain"], cwd=cwd,
                          env=env(), capture_output=True, text=True, timeout=900)


def test_shipped_pairs_prefer_the_written_word_order() -> None:
    """The demo set is what the test above relies on: pairs whose rejected ending is the chosen
    one backwards (so chosen != rejected, and the same tokens on both sides)."""
    path = Path(load_config("tiny-cpu-dpo-demo").data.train[0].path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 80
    for r in rows:
        chosen, rejected = r["chosen"].strip(" ."), r["rejected"].strip(" .")
        assert rejected.split() == chosen.split()[::-1] and chosen != rejected


def test_dpo_after_sft_demo(tmp_path: Path, tiny_llama: Path) -> None:
    sft = ftwizard_run(tmp_path, "tiny-cpu-demo")
    sft_dir = tmp_path / "runs" / "tiny-cpu-demo"
    assert sft.returncode == 0, sft.stdout[-3000:] + sft.stderr[-2000:] + log_tail(sft_dir)
    final = sft_dir / "final"
    assert (final / "config.json").is_file()

    dpo = ftwizard_run(tmp_path, "tiny-cpu-dpo-demo", "--set", "model.name=runs/tiny-cpu-demo/final")
    run = tmp_path / "runs" / "tiny-cpu-dpo-demo"
    assert dpo.returncode == 0, dpo.stdout[-3000:] + dpo.stderr[-2000:] + log_tail(run)
    cfg = load_config(run / "config.yaml")
    assert cfg.train.objective == "dpo"
    assert (tmp_path / cfg.model.name).resolve() == final.resolve()   # it trained the SFT model

    evts = ev.read_events(run / ev.EVENTS_FILE)[0]
    steps = of(evts, "step")
    end = of(evts, "end")[-1]
    assert end["status"] == "finished", end
    plan = json.loads((run / ev.PLAN_FILE).read_text())
    assert plan["steps"]["total"] == steps[-1]["step"] == end["step"] == len(steps)

    losses = [e["loss"] for e in steps]
    assert losses[0] == pytest.approx(math.log(2), abs=1e-4)   # policy == reference at step 1
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3, losses
    evals = [e["eval_loss"] for e in of(evts, "eval")]
    assert len(evals) >= 2 and evals[-1] < evals[0] < math.log(2) + 0.05, evals
    margins = [e["metrics"]["rewards/margins"] for e in steps]
    accuracies = [e["metrics"]["rewards/accuracies"] for e in steps]
    assert margins[0] == pytest.approx(0.0, abs=1e-4) and sum(margins[-3:]) / 3 > 0.5, margins
    assert sum(accuracies[-3:]) / 3 > 0.9, accuracies
    # the plain step lines carried the same figures the Run screen shows
    assert "margin" in dpo.stdout and "acc 1.000" in dpo.stdout
