"""Where ftwizard keeps its files (one place, like posting's locations.py).

FTWIZARD_HOME overrides everything (tests point it at a temporary folder); otherwise the XDG
locations from platformdirs.
"""

from __future__ import annotations

import os
from pathlib import Path


def _home() -> Path | None:
    env = os.environ.get("FTWIZARD_HOME")
    return Path(env) if env else None


def cache_dir() -> Path:
    """Rebuildable things: tiny models, dataset inspection results."""
    home = _home()
    if home:
        p = home / "cache"
    else:
        from platformdirs import user_cache_dir
        p = Path(user_cache_dir("ftwizard"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def data_dir() -> Path:
    """Things worth keeping: the calibration store, user presets."""
    home = _home()
    if home:
        p = home / "data"
    else:
        from platformdirs import user_data_dir
        p = Path(user_data_dir("ftwizard"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def user_presets_dir() -> Path:
    p = data_dir() / "presets"
    p.mkdir(parents=True, exist_ok=True)
    return p
