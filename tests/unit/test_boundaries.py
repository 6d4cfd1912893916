"""The layering DESIGN.md draws, held by reading every import of the project.

Static tools cannot follow the `ftwizard.core -> core/` mapping, and most of our imports are
deferred into functions (to keep start-up light), where a plain grep of the module header misses
them. So this test parses each file with `ast` and looks at every import statement anywhere in it
(functions, methods, `if TYPE_CHECKING` blocks) and at `importlib.import_module("...")` /
`__import__("...")` calls with a literal name. The rules:

- core never imports the UI (ftwizard.tui, textual, questionary) or the entry point
  (ftwizard.cli, ftwizard.commands);
- planning (plan, memory, schedule, models, session, preflight, capabilities) and the wizard's
  questions never import core.backends: what can be planned must not depend on torch code;
- launch (core/launch*.py, or a core/launch/ package) never imports core.backends: it renders
  command lines, the backends run them;
- core.backends never import the planner (plan, session) or launch: a backend reads plan.json and
  the native configs from the run dir and never plans or renders again.

The JAX interpreter lookup (`jax_env`) belongs to launch; while it sat in core/backends it was
treated as a launch module wherever it lies.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"core": "ftwizard.core", "tui": "ftwizard.tui", "ftwizard": "ftwizard",
            "presets": "ftwizard.presets"}

UI = ("ftwizard.tui", "textual", "questionary")
ENTRY = ("ftwizard.cli", "ftwizard.commands")
BACKENDS = "ftwizard.core.backends"
PLANNING = tuple(f"ftwizard.core.{m}" for m in
                 ("plan", "memory", "schedule", "models", "session", "preflight", "capabilities"))
QUESTIONS = "ftwizard.core.questions"
LAUNCH_ALIASES = ("ftwizard.core.backends.jax_env",)   # launch code, wherever it lies


@dataclass(frozen=True)
class Import:
    module: str        # the importing module
    target: str        # what it imports (absolute dotted name)
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path) -> str | None:
    rel = path.relative_to(REPO)
    top = PACKAGES.get(rel.parts[0])
    if top is None:
        return None
    parts = [top, *rel.parts[1:]]
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(p for p in parts if p)


def imports_of(source: str, module: str, path: str = "<string>", *, package: bool = False) -> list[Import]:
    """Every import in `source` (deferred ones included), as absolute names. `from a import b`
    yields both `a` and `a.b`, since b may be a module."""
    tree = ast.parse(source, filename=path)
    pkg = module if package else module.rpartition(".")[0]
    out: list[Import] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in ("import_module", "__import__"):
                targets = [node.args[0].value]
        out += [Import(module, t, path, node.lineno) for t in targets]
    return out


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def is_launch(name: str) -> bool:
    return (under(name, *LAUNCH_ALIASES) or name.startswith("ftwizard.core.launch")
            and (name == "ftwizard.core.launch" or name[len("ftwizard.core.launch"):][:1] in ("_", ".")))


def is_backend(name: str) -> bool:
    return under(name, BACKENDS) and not under(name, *LAUNCH_ALIASES)


def violation(imp: Import) -> str | None:
    """Which rule `imp` breaks, or None."""
    src, dst = imp.module, imp.target
    if not under(src, "ftwizard.core"):
        return None
    if under(dst, *UI):
        return "core never imports the UI"
    if under(dst, *ENTRY):
        return "core never imports the entry point"
    if (under(src, *PLANNING) or src == QUESTIONS) and is_backend(dst):
        return "planning and questions never import backends"
    if is_launch(src) and is_backend(dst):
        return "launch never imports backends"
    if is_backend(src) and (under(dst, "ftwizard.core.plan", "ftwizard.core.session") or is_launch(dst)):
        return "backends never import the planner or launch"
    return None


def project_imports() -> list[Import]:
    out: list[Import] = []
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            if any(part.startswith(".") or part == "__pycache__" for part in path.relative_to(REPO).parts):
                continue
            mod = module_name(path)
            if mod is None:
                continue
            out += imports_of(path.read_text(encoding="utf-8"), mod, str(path.relative_to(REPO)),
                              package=path.name == "__init__.py")
    return out


def test_no_import_crosses_a_forbidden_boundary() -> None:
    imports = project_imports()
    assert len(imports) > 300            # the whole project was read, not an empty glob
    assert any(i.module == "ftwizard.core.backends.hf" for i in imports)
    bad = [f"{imp}  ({why})" for imp in imports if (why := violation(imp))]
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


@pytest.mark.parametrize("module,source,rule", [
    ("ftwizard.core.plan", "def f():\n    from ftwizard.core.backends import hf\n",
     "planning and questions never import backends"),
    ("ftwizard.core.questions", "import ftwizard.core.backends.hf as hf\n",
     "planning and questions never import backends"),
    ("ftwizard.core.runs", "def f():\n    import importlib\n    importlib.import_module('ftwizard.tui.app')\n",
     "core never imports the UI"),
    ("ftwizard.core.hardware", "if True:\n    from textual.app import App\n", "core never imports the UI"),
    ("ftwizard.core.probe", "from ftwizard.commands.plan import render_plan\n",
     "core never imports the entry point"),
    ("ftwizard.core.launch", "class A:\n    def m(self):\n        from .backends import hf\n",
     "launch never imports backends"),
    ("ftwizard.core.launch_cluster", "from ftwizard.core import backends\n",
     "launch never imports backends"),
    ("ftwizard.core.backends.hf", "def f():\n    from ..plan import make_plan\n",
     "backends never import the planner or launch"),
    ("ftwizard.core.backends.jax", "from ftwizard.core import launch\n",
     "backends never import the planner or launch"),
    ("ftwizard.core.backends.pipeline", "from ftwizard.core.session import Session\n",
     "backends never import the planner or launch"),
])
def test_the_checker_sees_each_kind_of_crossing(module: str, source: str, rule: str) -> None:
    found = [violation(i) for i in imports_of(source, module)]
    assert rule in found, found


@pytest.mark.parametrize("module,source", [
    ("ftwizard.core.plan", "from ftwizard.core import memory, schedule\n"),
    ("ftwizard.core.questions", "from ftwizard.core.launch import jax_available\n"),
    ("ftwizard.core.questions", "from ftwizard.core.backends.jax_env import available\n"),
    ("ftwizard.core.backends.hf", "from ftwizard.core import events\nfrom . import export\n"),
    ("ftwizard.core.train", "from ftwizard.core.backends import hf\n"),
    ("ftwizard.tui.app", "from textual.app import App\nfrom ftwizard.core.session import Session\n"),
])
def test_allowed_imports_pass(module: str, source: str) -> None:
    assert [violation(i) for i in imports_of(source, module)] == [None] * len(imports_of(source, module))
