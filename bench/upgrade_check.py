"""Run the test suite against the newest releases, for a deliberate upgrade of constraints.txt.

A fresh `pip install` resolves whatever is newest; the README installs with `-c constraints.txt`
so new machines get what was tested. This script does the opposite on purpose: it builds a scratch
virtualenv from a clean copy of the repository WITHOUT the constraints, prints every package whose
version differs from constraints.txt, runs the suite there and prints what broke. Nothing here
changes the repository: when the result is acceptable, copy that virtualenv's `pip freeze` into
constraints.txt (and rebuild the model catalog with scripts/build_model_catalog.py).

    python bench/upgrade_check.py                  # whole suite, -n 2
    python bench/upgrade_check.py -- tests/unit    # only these tests
    python bench/upgrade_check.py --keep /tmp/up   # keep the virtualenv there
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, str]:
    """name -> version from `pip freeze` / constraints.txt lines (case- and dash-insensitive)."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2).split("+")[0]
    return out


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False, **kw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="build the virtualenv here and keep it")
    ap.add_argument("pytest_args", nargs="*", help="after --: what to pass to pytest")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ftwizard-upgrade-"))
    venv = args.keep or work / "venv"
    clone = work / "repo"
    try:
        run(["git", "clone", "-q", str(REPO), str(clone)]).check_returncode()
        run([sys.executable, "-m", "venv", str(venv)]).check_returncode()
        py = str(venv / "bin" / "python")
        pip = [py, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        run(pip + ["torch==2.13.0"]).check_returncode()
        run(pip + ["--upgrade", "-e", ".[dev]"], cwd=clone).check_returncode()
        frozen = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True).stdout
        new, old = pins(frozen), pins((REPO / "constraints.txt").read_text())
        changed = sorted((k, old[k], new[k]) for k in new.keys() & old.keys() if old[k] != new[k])
        added = sorted(new.keys() - old.keys())
        print(f"\n{len(changed)} packages newer than constraints.txt:")
        for name, a, b in changed:
            print(f"  {name:30} {a:>14} -> {b}")
        if added:
            print("not in constraints.txt:", ", ".join(added))
        test = run([py, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p",
                    "no:cacheprovider", "-rf", *(args.pytest_args or [])], cwd=clone,
                   capture_output=True, text=True)
        failed = [ln for ln in test.stdout.splitlines() if ln.startswith(("FAILED", "ERROR"))]
        last = (test.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"\nsuite on the newest releases: {last}")
        for ln in failed:
            print("  " + ln)
        if test.returncode and not failed:
            print(test.stdout[-3000:], test.stderr[-3000:])
        return test.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True) if not args.keep else shutil.rmtree(clone, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
