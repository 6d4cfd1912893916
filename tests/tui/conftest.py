"""Shared pieces of the wizard tests: a deterministic app (fixed target, no detection, no cursor
blink), and key helpers."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from ftwizard.core import questions as q
from ftwizard.core.config import from_dict
from ftwizard.tui.app import WizardApp

TARGET = "RTX 4090"


def snapshot_config(**over):  # noqa: ANN001, ANN201
    data = q.default_config(None, target=TARGET).to_dict()
    for key, value in over.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return from_dict(data)


def make_app(cfg=None, **kw) -> WizardApp:  # noqa: ANN001
    """The app as snapshots see it: planned against a catalog GPU, never this machine."""
    return WizardApp(cfg or snapshot_config(), detect=False, **kw)


@pytest.fixture(autouse=True)
def no_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture(scope="module")
def cpu():  # noqa: ANN201
    """This machine, detected: the flow and probe tests plan and train a real CPU run."""
    from ftwizard.core.hardware import detect

    hw = detect(libraries=False)
    assert hw.is_cpu_only, "these tests plan and train on the CPU"
    return hw


@pytest.fixture(autouse=True)
def fresh_local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process does: no damaged-file warning seen yet. The wizard
    replays the process's earlier ones as notifications (core/local_state.py listen), so one test's
    damaged status.json showed up as a toast in every later snapshot."""
    from ftwizard.core import local_state

    monkeypatch.setattr(local_state, "_SEEN", [])
    monkeypatch.setattr(local_state, "_LISTENERS", [])
