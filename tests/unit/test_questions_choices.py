"""Choice fields of the wizard offer exactly what the run config accepts (one list for both)."""

from __future__ import annotations

from typing import get_args

from ftwizard.core.config import ReportTo
from ftwizard.core.hardware import from_target
from ftwizard.core.questions import Context, all_fields, default_config, installed


def test_report_to_offers_every_tracker_the_config_takes() -> None:
    cfg = default_config(from_target("RTX 4090"))
    field = next(f for f in all_fields() if f.id == "output.report_to")
    offered = {c.value: c for c in field.options(Context(config=cfg, hardware=from_target("RTX 4090")))}
    assert set(offered) == set(get_args(ReportTo))
    # available exactly when its package is importable here; otherwise the reason says what to install
    for name, module in (("wandb", "wandb"), ("tensorboard", "tensorboard"), ("mlflow", "mlflow")):
        assert offered[name].available == installed(module)
        assert offered[name].available or "pip install" in offered[name].reason
