"""The wizard in a terminal too small for it (issue 13): a notice naming the size it has, the size
it needs and what to do, never a traceback or a garbled screen; growing the window goes on.

Driven in a real pseudo-terminal (pexpect), waiting on what the screen shows, never on a clock
(the timeouts are only bounds for a machine under load)."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b\[[0-9;?<>]*[a-zA-Z~]")


def test_too_small_terminal_says_so_then_the_wizard_goes_on(tmp_path: Path) -> None:
    env = dict(os.environ, TERM="xterm-256color", FTWIZARD_HOME=str(tmp_path / "home"))
    for var in ("COLUMNS", "LINES"):   # set in xdist workers (80x24); Textual prefers them to the pty
        env.pop(var, None)
    child = pexpect.spawn(sys.executable, ["-m", "ftwizard"], cwd=str(tmp_path), env=env,
                          dimensions=(8, 30), encoding="utf-8", timeout=60)
    child.logfile_read = screen = io.StringIO()
    try:
        child.expect("needs at least")
        child.expect("ctrl\\+c quits")
        seen = ANSI.sub("", child.before + child.after)
        squeezed = " ".join(seen.split())
        assert "60x20" in squeezed and "30x8" in squeezed and "larger" in squeezed, squeezed
        child.setwinsize(30, 100)
        child.expect("Hardware")       # the first step, drawn once the window is large enough
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert "Traceback" not in ANSI.sub("", screen.getvalue())
    assert child.exitstatus == 0
    assert [p.name for p in tmp_path.iterdir() if p.name != "home"] == []  # nothing saved
