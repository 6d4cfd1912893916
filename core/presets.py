"""Presets: run configs shipped with ftwizard (one per seed recipe) and the user's own.

A preset is just a RunConfig in YAML. Names resolve to the user's presets dir first, then the
shipped ones, so `ftwizard run tiny-cpu-demo` works from any folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ftwizard.core.paths import user_presets_dir


def shipped_dir() -> Path:
    return Path(str(resources.files("ftwizard.presets")))


def list_presets() -> dict[str, Path]:
    """name -> file, user presets shadowing shipped ones."""
    out: dict[str, Path] = {}
    for folder in (shipped_dir(), user_presets_dir()):
        for p in sorted(folder.glob("*.yaml")):
            out[p.stem] = p
    return out


def preset_path(name: str) -> Path | None:
    return list_presets().get(name.removesuffix(".yaml"))


def save_preset(cfg, name: str | None = None, folder: Path | None = None) -> Path:  # noqa: ANN001
    """Write `cfg` as a preset YAML (user presets dir unless a folder is given)."""
    target = (folder or user_presets_dir()) / f"{name or cfg.name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(cfg.to_yaml(), encoding="utf-8")
    return target
