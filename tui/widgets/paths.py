"""Paths as a user reads them in an 80-column pane: relative to where ftwizard was started when
they are under it (runs/my-run, not /home/me/work/project/runs/my-run), `~` for the home folder
otherwise. Display only: files are always written at the absolute path."""

from __future__ import annotations

import os
from pathlib import Path


def short_path(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        pass
    home = str(Path.home())
    s = str(p)
    return "~" + s[len(home):] if home != "/" and (s == home or s.startswith(home + os.sep)) else s
