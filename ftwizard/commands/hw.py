"""`ftwizard hw`: what this machine (or a --target machine) offers a training run.

Headless twin of the wizard's hardware step. It must answer in well under two seconds on a box
with no GPU, so it never imports torch or jax (see ftwizard.core.hardware).
"""

from __future__ import annotations

import json

import click

GIB = 1024**3


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GIB:,.1f} GiB"


@click.command("hw")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (Hardware.to_dict()).")
@click.option("--target", default=None, metavar="TEXT",
              help='Show a catalog machine instead of this one, e.g. "A100-80GB x8", "TPU v3-8".')
@click.option("--nodes", default=1, show_default=True, type=click.IntRange(min=1), help="Nodes for --target.")
@click.option("--host-ram", "host_ram_gib", default=None, type=float, metavar="GIB",
              help="Host RAM per node in GiB for --target (default: the catalog's typical figure).")
def hw(as_json: bool, target: str | None, nodes: int, host_ram_gib: float | None) -> int:
    """Hardware report: accelerators, CPU, RAM, disk, training libraries, and warnings with fixes."""
    from ftwizard.core import hardware  # ~30 ms: psutil, pynvml (a ctypes wrapper)

    if target is None and (nodes != 1 or host_ram_gib is not None):
        from ftwizard.core.errors import InputError

        raise InputError("--nodes and --host-ram describe a --target machine", field="--target",
                         value=None, fix='add --target, e.g. --target "A100-80GB x8"')
    hwinfo = hardware.resolve(target or "auto", nodes=nodes, host_ram_gib=host_ram_gib)
    if as_json:
        click.echo(json.dumps(hwinfo.to_dict(), indent=2))
        return 0
    _render(hwinfo)
    return 0


def _render(hw) -> None:
    from rich.console import Console  # ~60 ms
    from rich.table import Table

    con = Console(highlight=False)
    if hw.source == "target":
        con.print(f"[bold]Target:[/] {hw.target}  [dim](from the catalog, not measured)[/]")
    else:
        con.print("[bold]This machine[/]")

    if hw.is_cpu_only:
        con.print("[bold yellow]No GPU or TPU found[/]: training will run on the CPU "
                  "(tiny models only).")
    else:
        t = Table(title=None, show_edge=False, pad_edge=False)
        for col in ("#", "device", "backend", "memory", "free", "compute cap.", "bf16"):
            t.add_column(col, justify="right" if col in ("#", "memory", "free") else "left")
        for d in hw.devices:
            t.add_row(str(d.index), d.name, d.backend, _gib(d.memory_total),
                      _gib(d.memory_free) if d.memory_free is not None else "?",
                      d.compute_capability or "-", "yes" if d.bf16 else "no")
        con.print(t)
        per = f"{hw.device_count} device(s)"
        if hw.nodes > 1:
            per += f" x {hw.nodes} nodes = world size {hw.world_size}"
        con.print(per)
        if hw.kind is not None:
            k = hw.kind
            speeds = ", ".join(f"{dt} {k.tflops[dt]:g}" for dt in ("fp32", "tf32", "fp16", "bf16", "fp8")
                               if dt in k.tflops)
            con.print(f"kind: [bold]{k.key}[/] ({k.vendor}); dense peak TFLOP/s per device: {speeds}")
        if hw.driver_version or hw.cuda_version:
            con.print(f"driver {hw.driver_version or '?'}, CUDA (driver) {hw.cuda_version or '?'}")
        if hw.interconnect:
            ic = hw.interconnect
            line = f"NVLink: {'yes' if ic.get('nvlink') else 'no'}"
            p2p = ic.get("p2p")
            if p2p:
                ok = sum(1 for v in p2p.values() if v == "ok")
                line += f"; P2P: {ok}/{len(p2p)} pairs"
            con.print(line)

    con.print()
    if hw.cpu_name or hw.source == "detected":
        con.print(f"CPU: {hw.cpu_name or '?'}, {hw.cpu_count} core(s)"
                  + (f"  ~{hw.peak_tflops('fp32'):.2f} TFLOP/s fp32 (estimate)" if hw.is_cpu_only else ""))
    per_node = " per node" if hw.nodes > 1 else ""
    if hw.source == "target":
        con.print(f"RAM: {_gib(hw.ram_total)}{per_node} (typical for this machine; --host-ram to set)"
                  if hw.ram_total else "RAM: unknown (give --host-ram)")
    else:
        con.print(f"RAM: {_gib(hw.ram_total)} total, {_gib(hw.ram_available)} available")
        con.print(f"Disk: {_gib(hw.disk_free)} free here")

    if hw.libraries:
        con.print()
        t = Table(show_edge=False, pad_edge=False, show_header=True)
        t.add_column("library")
        t.add_column("version")
        for name, ver in hw.libraries.items():
            label = "cuda (torch's)" if name == "cuda" else name
            if name == "cuda" and not ver and hw.libraries.get("torch"):
                shown = "none (torch is a CPU build)"
            else:
                shown = ver if ver else "[dim]absent[/]"
            t.add_row(label, shown)
        con.print(t)

    if hw.warnings:
        con.print()
        for w in hw.warnings:
            con.print(f"[bold yellow]warning:[/] {w.message}")
            con.print(f"  [green]fix:[/] {w.fix}")
