"""The hardware a config was planned on, so a replay elsewhere can say what changed.

A saved config is replayed weeks later on another rented box: a plan that fitted 8x A100-80GB
does not fit 4x A100-40GB. The fingerprint is the few facts the plan depends on (accelerator
kind, count per node, memory per device, nodes, backend), kept in the run dir (hardware.json) and
in the saved config (`hardware.planned_on`). Free memory, driver versions and the host name are
left out: they change from one minute to the next without changing the plan.
"""

from __future__ import annotations

from typing import Any

GiB = 1024**3
KEYS = ("backend", "kind", "device", "count", "memory_gib", "nodes")


def fingerprint(hw: Any) -> dict[str, Any]:
    """The plan-relevant facts of a Hardware (detected or from a --target)."""
    kind = getattr(hw.kind, "key", None) if hw.kind is not None else None
    device = hw.devices[0].name if hw.devices else (hw.cpu_name or "cpu")
    return {
        "backend": hw.backend,
        "kind": kind or ("cpu" if hw.is_cpu_only else None),
        "device": device,
        "count": hw.device_count,
        # rounded: two "24 GiB" cards report a few MiB apart
        "memory_gib": round(hw.device_memory / GiB, 1) if hw.devices else None,
        "nodes": hw.nodes,
    }


def describe(fp: dict[str, Any] | None) -> str:
    """`2 x NVIDIA A100-SXM4-80GB (80.0 GiB) x 1 node` / `CPU only`."""
    if not fp:
        return "unknown hardware"
    nodes = fp.get("nodes") or 1
    tail = f" x {nodes} nodes" if nodes > 1 else ""
    if not fp.get("count"):
        return f"CPU only ({fp.get('device') or 'cpu'}){tail}"
    mem = f" ({fp['memory_gib']} GiB)" if fp.get("memory_gib") else ""
    return f"{fp['count']} x {fp.get('device') or fp.get('kind')}{mem}{tail}"


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Human lines for what differs between the planned-on and the current hardware; [] if same.

    The CPU model name is not a change worth a warning (the plan of a CPU run does not use it).
    """
    if not old:
        return []
    out = []
    labels = {"backend": "backend", "kind": "accelerator", "device": "device", "count": "devices per node",
              "memory_gib": "memory per device (GiB)", "nodes": "nodes"}
    for key in KEYS:
        if key == "device" and not new.get("count") and not old.get("count"):
            continue
        if key == "device" and old.get("kind") and old.get("kind") == new.get("kind"):
            continue  # same catalog kind under another marketing name
        a, b = old.get(key), new.get(key)
        if a != b:
            out.append(f"{labels[key]}: {a} -> {b}")
    return out
