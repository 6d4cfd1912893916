"""The attention kernel is part of the plan: written into the run config and used by the run.

transformers 5.24 switched GPT-J from eager to SDPA attention; the estimator's activation terms
differ between the two (eager keeps the s^2 scores), so the plan and the run must agree on one.
"""

from __future__ import annotations

import pytest
import yaml

from backend_kit import config, events, finished, make_run, of, train, write_data
from ftwizard.core import runs
from ftwizard.core.config import from_dict
from ftwizard.core.hardware import resolve as resolve_hardware
from ftwizard.core.plan import make_plan


def test_run_config_records_the_planned_attention(tmp_path, tiny_llama, monkeypatch) -> None:
    """A config that leaves it open gets the plan's choice written into the run dir's config."""
    monkeypatch.chdir(tmp_path)
    data = write_data(tmp_path / "data")
    cfg = from_dict(config(tiny_llama, data, output={"dir": str(tmp_path / "runs")}))
    assert cfg.model.attn_implementation is None
    plan = make_plan(cfg, hardware=resolve_hardware("auto"), sequences=100)
    d = runs.create_run_dir(cfg)
    runs.write_run_files(cfg, d, hardware=plan.hardware, plan=plan)
    saved = yaml.safe_load((d / "config.yaml").read_text())
    assert saved["model"]["attn_implementation"] == plan.model.attn_impl == "sdpa"


@pytest.mark.e2e
def test_backend_loads_the_configured_attention(tmp_path, tiny_llama) -> None:
    """SDPA is what transformers picks for Llama; a config saying eager must get eager."""
    data = write_data(tmp_path / "data", n=40)
    run = make_run(tmp_path / "run", config(tiny_llama, data, train={"max_steps": 2},
                                            model={"attn_implementation": "eager"}))
    evts = finished(run, train(run))
    assert of(evts, "start")[0]["model"]["attn_implementation"] == "eager"
    assert events(run)
