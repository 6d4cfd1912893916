"""Model specs: the shapes and exact parameter counts the planner needs, without loading weights.

A model name is resolved offline only. It can be a tiny model (built here), a local folder with a
config.json, a snapshot in the local Hugging Face cache, or an id in the shipped catalog
(core/catalog/models.json). Nothing is ever downloaded: the planner must answer on an air-gapped
box and on every keypress of the wizard.
"""

from __future__ import annotations

import os
from pathlib import Path

TINY_NAMES = ("tiny-llama", "tiny-gpt2", "tiny-qwen2")


def _hub_cache_dirs() -> list[Path]:
    """Where huggingface_hub keeps snapshots, in its own order of precedence (HF_HUB_CACHE, then
    HF_HOME/hub, then ~/.cache/huggingface/hub); read directly so that no hub client is imported."""
    dirs: list[Path] = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]).expanduser())
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        dirs.append(Path(os.environ["HUGGINGFACE_HUB_CACHE"]).expanduser())
    if os.environ.get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        dirs.append(Path(xdg).expanduser() / "huggingface" / "hub")
    dirs.append(Path.home() / ".cache" / "huggingface" / "hub")
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of `repo_id` ("org/name") in the local HF cache, or None.

    Prefers the revision `refs/main` points at; otherwise the most recently modified snapshot
    that has a config.json (a partial download without one is useless to us).
    """
    if not repo_id or repo_id.startswith(("/", ".", "~")) or repo_id.count("/") > 1:
        return None
    folder = "models--" + repo_id.replace("/", "--")
    for cache in _hub_cache_dirs():
        repo = cache / folder
        snaps = repo / "snapshots"
        if not snaps.is_dir():
            continue
        ref = repo / "refs" / "main"
        if ref.is_file():
            rev = ref.read_text().strip()
            if (snaps / rev / "config.json").is_file():
                return snaps / rev
        found = [p for p in snaps.iterdir() if (p / "config.json").is_file()]
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    return None


def local_path(name: str) -> Path | None:
    """The folder holding `name`'s config.json (and weights, if any), or None if there is none here.

    Order: a local folder, a tiny model (built on first use), the local Hugging Face cache.
    """
    if not name:
        return None
    p = Path(name).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return p
    if name in TINY_NAMES:
        from ftwizard.core.tiny import ensure_tiny  # builds with torch the first time (~5 s)

        return ensure_tiny(name)
    return cached_snapshot(name)
