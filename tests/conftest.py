"""Shared test fixtures.

Every test session gets its own FTWIZARD_HOME (cache, calibration store, user presets), so nothing
reads or writes the developer's real files. Tiny models are built once per session (per xdist
worker) and shared read-only: copy one before changing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("WANDB_DISABLED", "true")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("DISABLE_TQDM", "1")
# The calibration store corrects later plans from past runs: off by default here, so one test's
# run never changes another test's plan; tests of the store turn it on (core/calibration.py).
os.environ.setdefault("FTWIZARD_CALIBRATION", "off")


@pytest.fixture(scope="session", autouse=True)
def ftw_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private FTWIZARD_HOME for the whole session; tiny models built here are reused."""
    home = tmp_path_factory.getbasetemp() / "ftwizard-home"
    home.mkdir(exist_ok=True)
    os.environ["FTWIZARD_HOME"] = str(home)
    return home


def _tiny(name: str) -> Path:
    from ftwizard.core.tiny import ensure_tiny

    return ensure_tiny(name)


@pytest.fixture(scope="session")
def tiny_llama(ftw_home: Path) -> Path:
    """A 2-layer Llama (GQA, untied head) with a tokenizer trained on the spot."""
    return _tiny("tiny-llama")


@pytest.fixture(scope="session")
def tiny_gpt2(ftw_home: Path) -> Path:
    """A 2-layer GPT-2 (Conv1D, tied head, no pad token)."""
    return _tiny("tiny-gpt2")


@pytest.fixture(scope="session")
def tiny_qwen2(ftw_home: Path) -> Path:
    """A 2-layer Qwen2 (attention biases, tied head, chat template)."""
    return _tiny("tiny-qwen2")


@pytest.fixture()
def calibration_store(tmp_path: Path, ftw_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, enabled calibration store (the session default is off, so one test's recorded
    run never changes another's plan); the session's model cache is shared, not rebuilt."""
    from ftwizard.core.calibration import STORE_FILE

    home = tmp_path / "home"
    home.mkdir()
    (ftw_home / "cache").mkdir(exist_ok=True)
    (home / "cache").symlink_to(ftw_home / "cache", target_is_directory=True)
    monkeypatch.setenv("FTWIZARD_HOME", str(home))
    monkeypatch.setenv("FTWIZARD_CALIBRATION", "on")
    return home / "data" / STORE_FILE
