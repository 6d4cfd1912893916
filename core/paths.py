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


def _ensure(p: Path, what: str) -> Path:
    """Create the folder; when something is in the way, warn and go on (readers find nothing there,
    writers get an OSError they report), so a misplaced file never blocks every command."""
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        from ftwizard.core.local_state import warn

        warn(p, f"ftwizard's {what} folder cannot be created ({err.strerror or err})",
             "move the file that is in its way, or point FTWIZARD_HOME at a writable folder")
    return p


def cache_dir() -> Path:
    """Rebuildable things: tiny models, dataset inspection results."""
    home = _home()
    if home:
        p = home / "cache"
    else:
        from platformdirs import user_cache_dir
        p = Path(user_cache_dir("ftwizard"))
    return _ensure(p, "cache")


def data_dir() -> Path:
    """Things worth keeping: the calibration store, user presets."""
    home = _home()
    if home:
        p = home / "data"
    else:
        from platformdirs import user_data_dir
        p = Path(user_data_dir("ftwizard"))
    return _ensure(p, "data")


def user_presets_dir() -> Path:
    return _ensure(data_dir() / "presets", "user presets")


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when `a` and `b` are one file on disk: the same path however spelled (`./x`, `d/../x`),
    a symlink to it, or a hard link (same device and inode). A path that does not exist yet is the
    same file only if it resolves to the other's path."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        sa, sb = pa.stat(), pb.stat()
    except OSError:
        return pa.resolve() == pb.resolve()
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
