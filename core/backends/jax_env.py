"""Where the JAX backend's interpreter lives, and whether it is there: cheap, no JAX import.

The JAX stack installs into its own environment (scripts/setup_jax_env.sh; README "JAX / TPU")
because tunix 0.1.7 and this project's PyTorch stack want different transformers/safetensors.
The wizard and `ftwizard run` ask this module which python trains a `method.parallel: jax` run;
where there is none, the method shows as unavailable with the install command, never a crash.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TRAIN_MODULE = "ftwizard.core.backends.jax"
REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = ("scripts/setup_jax_env.sh (on a TPU VM: scripts/setup_jax_env.sh --tpu), or "
                "python -m venv .venv-jax && .venv-jax/bin/pip install -e '.[jax]'")


def _has_tunix(python: Path) -> bool:
    """tunix installed in that interpreter's environment (looked up on disk: importing JAX to
    find out would cost seconds and may grab a TPU)."""
    root = python.parent.parent
    return any(root.glob("lib/python3*/site-packages/tunix/__init__.py"))


def jax_python() -> Path | None:
    """FTWIZARD_JAX_PYTHON, else .venv-jax next to the checkout (or FTWIZARD_JAX_VENV), else
    this interpreter if it has tunix; None when the JAX backend is not installed."""
    env = os.environ.get("FTWIZARD_JAX_PYTHON")
    if env:
        p = Path(env).expanduser()
        return p if p.exists() else None
    venv = Path(os.environ.get("FTWIZARD_JAX_VENV") or REPO / ".venv-jax").expanduser()
    if not venv.is_absolute():
        venv = REPO / venv
    cand = venv / "bin" / "python"
    if cand.exists() and _has_tunix(cand):
        return cand
    here = Path(sys.executable)
    if _has_tunix(here):
        return here
    return None


def available() -> tuple[bool, str]:
    """(True, interpreter) or (False, the install command) for the wizard's method list."""
    py = jax_python()
    if py is None:
        return False, f"JAX backend not installed: {INSTALL_HINT}"
    return True, str(py)


def train_command(run_dir: str | Path, *, resume: bool = False) -> list[str]:
    """argv for one host; on a TPU pod every worker runs the same line (see tpu_pod_command)."""
    py = jax_python()
    if py is None:
        from ftwizard.core.errors import InputError

        raise InputError("method.parallel=jax needs the JAX environment", field="method.parallel",
                         value="jax", fix=INSTALL_HINT)
    return [str(py), "-m", TRAIN_MODULE, str(run_dir)] + (["--resume"] if resume else [])


def tpu_pod_command(tpu_name: str, zone: str, run_dir: str, *, repo_dir: str = "ftwizard",
                    resume: bool = False) -> str:
    """The gcloud line that starts the same training process on every worker of a TPU pod."""
    inner = (f"cd {repo_dir} && .venv-jax/bin/python -m {TRAIN_MODULE} {run_dir}"
             + (" --resume" if resume else ""))
    return (f"gcloud compute tpus tpu-vm ssh {tpu_name} --zone {zone} --worker=all "
            f"--command '{inner}'")
