"""core.preflight, the one launch gate: each check that can be made before launch gives the same
message and exit code from `plan`, `run` and `run --dry-run` (not from the launched process), and
a plan that does not fit, host RAM included, is exit 3."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from ftwizard.cli import main

WORDS = "alpha beta gamma delta epsilon zeta eta theta".split()


def ftw(*args: str) -> tuple[int, str]:
    """The real console entry point, in this process: (exit code, stdout + stderr)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_llama: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    lines = [" ".join(WORDS[(i + j) % 8] for j in range(12)) for i in range(120)]
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    cfg = {"name": "pf", "model": {"name": "tiny-llama", "dtype": "fp32"},
           "method": {"kind": "lora"}, "hardware": {"target": "auto"},
           "data": {"train": [{"path": "train.txt"}], "block_size": 32},
           "train": {"micro_batch": 2, "grad_accum": 1, "max_steps": 2},
           "output": {"dir": str(tmp_path / "runs")}}
    (tmp_path / "pf.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path


def weightless(tiny_llama: Path, tmp: Path) -> str:
    folder = tmp / "no-weights"
    shutil.copytree(tiny_llama, folder)
    for f in folder.glob("*.safetensors"):
        f.unlink()
    return str(folder)


def _read_only_dir() -> str:
    """A folder this process cannot create anything in (sysfs refuses even root)."""
    try:
        fd, p = tempfile.mkstemp(dir="/sys")
    except OSError:
        return "/sys/ftwizard-runs"
    os.close(fd)
    os.unlink(p)
    pytest.skip("/sys is writable here")


CASES = {
    # name: (overrides, field named, words in the message)
    "bad data file": (["data.train=bad.jsonl"], "data.train", "bad.jsonl"),
    "model without weights": (None, "model.name", "no weights"),
    "pad id outside vocab": (["model.pad_token_id=99999"], "model.pad_token_id", "99999"),
    "block beyond positions": (["data.block_size=4096"], "data.block_size", "512 positions"),
    "file in the way of output.dir": (["output.dir=blocker/runs"], "output.dir", "is a file"),
    "read-only output.dir": (None, "output.dir", "cannot create"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_prelaunch_check_is_exit_2_from_plan_run_and_dry_run(here: Path, tiny_llama: Path,
                                                                   case: str) -> None:
    sets, field, words = CASES[case]
    (here / "bad.jsonl").write_text('{"text": "fine"}\n{"text": broken\n')
    (here / "blocker").write_text("a file where a folder should be")
    if case == "model without weights":
        sets = [f"model.name={weightless(tiny_llama, here)}"]
    if case == "read-only output.dir":
        sets = [f"output.dir={_read_only_dir()}"]
    flags = [a for s in sets for a in ("--set", s)]
    for cmd in (["plan"], ["run"], ["run", "--dry-run"]):
        code, out = ftw(*cmd, "pf.yaml", *flags)
        assert code == 2, (cmd, out)
        assert f"{field}:" in out and words in out and "fix:" in out, (cmd, out)
        assert "Traceback" not in out
    assert not (here / "runs").exists()                 # refused before any run dir was made


def test_a_config_that_passes_every_check_launches_its_dry_run(here: Path) -> None:
    code, out = ftw("run", "pf.yaml", "--dry-run")
    assert code == 0, out
    assert (here / "runs" / "pf" / "launch.sh").is_file()


def test_host_ram_shortfall_is_exit_3_like_device_memory(here: Path) -> None:
    # a 24 GiB card holds the tiny model easily; a node with 50 MiB of RAM cannot even load it
    sets = ["--set", "hardware.target=RTX 4090", "--set", "hardware.host_ram_gib=0.05"]
    code, out = ftw("run", "pf.yaml", *sets)
    assert code == 3, out
    refused = [line for line in out.splitlines() if line.startswith("not launched:")]
    assert len(refused) == 1 and "host RAM" in refused[0], out     # host RAM alone binds
    assert "hardware.host_ram_gib" in refused[0] and "fix:" in out
    assert not (here / "runs").exists()
    assert ftw("plan", "pf.yaml", *sets)[0] == 3
    assert ftw("run", "pf.yaml", "--dry-run", *sets)[0] == 3


def test_data_planned_with_sequences_cannot_launch_here(here: Path) -> None:
    sets = ["--set", "data.train=elsewhere.txt", "--set", "data.sequences=50"]
    assert ftw("plan", "pf.yaml", *sets)[0] == 0            # planning without the data is fine
    code, out = ftw("run", "pf.yaml", *sets)
    assert code == 2 and "elsewhere.txt" in out and "data.train:" in out
    code, out = ftw("run", "pf.yaml", "--dry-run", *sets)   # a dry run only warns
    assert code == 0 and "warning:" in out


def test_findings_carry_field_value_and_fix(here: Path, tiny_llama: Path) -> None:
    from ftwizard.core.config import load_config
    from ftwizard.core.preflight import preflight
    from ftwizard.core.session import Session

    cfg = load_config("pf.yaml", ["model.pad_token_id=500", "data.block_size=600"])
    rep = preflight(Session().plan_for(cfg), mode="plan")
    got = {(f.check, f.error.field, f.error.value) for f in rep.bad_input}
    assert got == {("tokens", "model.pad_token_id", 500), ("block_size", "data.block_size", 600)}
    assert all(f.error.fix for f in rep.findings) and rep.exit_code == 2
