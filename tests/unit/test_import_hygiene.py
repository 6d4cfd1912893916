"""core/ stays UI-free and the start-up path stays light (STYLE.md #1, DEVELOPERS ground rules).

Each check runs in a fresh interpreter, because this test process has long since imported
everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

UI = ("textual", "questionary")
HEAVY = ("torch", "transformers", "deepspeed", "jax", "datasets", "peft", "trl", "bitsandbytes")

CORE_MODULES = ["config", "plan", "memory", "hardware", "models", "schedule", "data", "presets",
                "errors", "paths", "tiny"]
OPTIONAL = ["questions", "events", "launch", "runs", "probe", "calibration"]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, timeout=60)
    return {m.split(".")[0] for m in out.stdout.split()}


@pytest.mark.parametrize("mod", CORE_MODULES + OPTIONAL)
def test_core_module_imports_no_ui_and_nothing_heavy(mod: str) -> None:
    import importlib.util

    if importlib.util.find_spec(f"ftwizard.core.{mod}") is None:
        pytest.skip(f"ftwizard.core.{mod} not present")
    mods = loaded_after(f"import ftwizard.core.{mod}")
    assert not mods & set(UI), mods & set(UI)
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_planning_a_catalog_model_imports_nothing_heavy() -> None:
    mods = loaded_after("from ftwizard.core.config import load_config\n"
                        "from ftwizard.core.plan import make_plan\n"
                        "make_plan(load_config('llama2-7b-qlora-int4'))")
    assert not mods & set(HEAVY + UI), mods & set(HEAVY + UI)


def test_cli_entry_imports_no_ui_and_nothing_heavy() -> None:
    mods = loaded_after("import ftwizard.cli")
    assert not mods & set(HEAVY + UI), mods & set(HEAVY + UI)


def test_wizard_app_module_imports_nothing_heavy() -> None:
    import importlib.util

    if importlib.util.find_spec("ftwizard.tui.app") is None:
        pytest.skip("tui not present yet")
    mods = loaded_after("import ftwizard.tui.app")
    assert not mods & set(HEAVY), mods & set(HEAVY)
