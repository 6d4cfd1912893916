"""`ftwizard plan FILE`: the estimates before a run, as a rich report or JSON.

Exit codes: 0 fits, 3 does not fit, 2 bad input (including combinations that cannot work).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ftwizard.core.errors import EXIT_DOES_NOT_FIT

GiB = 1024**3


def load_and_plan(file: str, overrides: list[str], target: str | None):  # noqa: ANN201
    """The config with its overrides, planned by the session the wizard and `run` share."""
    from ftwizard.core.config import load_config
    from ftwizard.core.session import Session

    sets = list(overrides)
    if target:
        sets.append(f"hardware.target={json.dumps(target)}")
    cfg = load_config(file, sets)
    return Session(fetch_configs=True).plan_for(cfg)


def print_findings(report, problems: list, echo) -> None:  # noqa: ANN001
    """The preflight's findings that the plan's own report does not already list."""
    label = {"input": "error", "fit": "does not fit", "warning": "warning"}
    for f in report.findings:
        if any(f.error is p for p in problems):
            continue
        echo(f"{label[f.kind]}: {f.line()}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=True))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.micro_batch=4 (repeatable).")
@click.option("--target", default=None, help='Plan for another machine: "A100-80GB x8", "TPU v3-8".')
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--test-fit", "--probe", "probe", is_flag=True,
              help="Test fit: also run the real configuration for a few steps and measure it "
                   "(--probe is the old name).")
@click.option("--steps", "probe_steps", type=int, default=6, show_default=True,
              help="Optimizer steps for --test-fit.")
def plan(file: str, overrides: tuple[str, ...], target: str | None, as_json: bool, probe: bool,
         probe_steps: int) -> int:
    """Estimate memory, fit, steps, time and disk for a run config, without launching it."""
    from ftwizard.core.preflight import preflight

    p = load_and_plan(file, list(overrides), target)
    report = preflight(p, mode="plan")   # the checks `run` makes before launching, made here too
    probe_result = None
    if probe and not report.bad_input:
        from ftwizard.core.probe import run_probe

        probe_result = run_probe(p.config, steps=probe_steps, plan=p)
    if as_json:
        out = p.to_dict()
        out["preflight"] = report.to_list()
        if probe_result is not None:
            out["test_fit"] = probe_result.to_dict()
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        from rich.console import Console

        console = Console()
        console.print(render_plan(p))
        print_findings(report, p.problems, lambda line: console.print(line, markup=False,
                                                                      soft_wrap=True))
        if probe_result is not None:
            console.print(render_probe(probe_result))
    if probe_result is not None and probe_result.status == "oom":
        return EXIT_DOES_NOT_FIT
    return report.exit_code


# ---------------------------------------------------------------- rich rendering

def _gib(b: float) -> str:
    return f"{b / GiB:.1f} GiB"


def _count(n: int) -> str:
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(n)


def bar(used: int, capacity: int, width: int = 30) -> str:
    frac = 0 if capacity <= 0 else min(1.0, used / capacity)
    full = int(round(frac * width))
    return "█" * full + "░" * (width - full)


def render_plan(p) -> Any:  # noqa: ANN001
    """The plan as rich renderables: words carry the verdict, colour only repeats it."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from ftwizard.core.plan import _yaml_value, format_duration

    m = p.memory
    cfg = p.config
    hw_name = p.hardware.kind.key if p.hardware.kind else ("CPU" if p.hardware.is_cpu_only else "device")
    head = Text.assemble(
        (f"{cfg.name}", "bold"), "  ",
        f"{p.model.id} ({_count(p.model.params)} params, "
        f"{_count(m.trainable_params)} trainable)  ·  {cfg.method.kind}"
        f"{'-' + str(cfg.method.quant_bits) + 'bit' if cfg.method.quant_bits else ''}"
        f" · {cfg.method.parallel} · {cfg.model.dtype}  ·  {p.world_size} x {hw_name}"
        + (f"  ·  objective {cfg.train.objective}" if cfg.train.objective != "sft" else ""))
    parts: list[Any] = [head]

    unit = "RAM" if m.device == "cpu" else "VRAM"
    verdict_style = "green" if m.fits else "bold red"
    fig = m.figure()   # core.memory's one definition: capacity - shown - margin = headroom
    from rich.console import Console

    # Two columns, labels never wrapped: at 80 columns the figures (bar and usage in one cell)
    # wrap at their own words, and a shorter bar leaves them room.
    width = 16 if Console().width < 100 else 30
    mt = Table.grid(padding=(0, 2))
    mt.add_column(no_wrap=True)
    mt.add_column()
    mt.add_row(f"{unit} per device",
               Text.assemble((bar(m.needed_bytes, m.capacity_bytes, width), verdict_style), "  ",
                             fig.usage()))
    mt.add_row("", Text(fig.verdict(), style=verdict_style))
    from ftwizard.core.memory import OBJECTIVE_TERMS

    for k, v in m.breakdown.items():
        mt.add_row(f"  {k}", _gib(v))
        for term, label in OBJECTIVE_TERMS.items():   # what the objective costs, by name
            if term.split(".")[0] == k and term in m.detail:
                mt.add_row(f"    {label}", _gib(m.detail[term]))
    if p.calibration:
        mt.add_row("measured correction",
                   f"{_gib(p.calibration['calibrated_bytes'])} (x{p.calibration['ratio']:.2f}, see note)")
    mt.add_row("largest micro batch that fits", str(m.max_micro_batch))
    if m.host_bytes:
        host_v = "ok" if m.host_fits else "NOT enough"
        mt.add_row("host RAM per node", f"{_gib(m.host_bytes)} of {_gib(m.host_capacity_bytes)} ({host_v})")
        for k, v in m.host_detail.items():
            mt.add_row(f"  {k.split('.', 1)[1].replace('_', ' ')}", _gib(v))
    if not p.disk_fits:
        mt.add_row("disk", f"{_gib(p.disk_bytes)} of {_gib(p.disk_free_bytes)} free (NOT enough)")
    parts.append(Text("\nMemory", style="bold"))
    parts.append(mt)
    # two sentences, under the table at full width (in its figures column they wrapped word by word)
    parts.append(Text(f"counter: {m.counter}", style="dim"))
    if fig.reserve_note():
        parts.append(Text(fig.reserve_note(), style="dim"))

    for sf in p.shortfalls():
        parts.append(Text(f"{sf['resource']}: short by {_gib(sf['short_bytes'])} "
                          f"(field: {sf['field']})", style="red"))
    if m.suggestions:
        parts.append(Text("\nTo make it fit (smallest change first)", style="bold"))
        for i, s in enumerate(m.suggestions, 1):
            sets = " ".join(f"--set {k}={_yaml_value(v)}" for k, v in s["set"].items())
            parts.append(Text(f"  {i}. {s['text']}  ({_gib(s['per_device_bytes'])}, "
                              f"time x{s['time_ratio']:.2f}; frees {s.get('frees_text') or '-'})"
                              f"\n     {sets}"))
    elif not p.fits:
        parts.append(Text("\nNo change of these settings fits: a bigger device or more of them",
                          style="red"))
    for n in p.near_misses:
        parts.append(Text(f"  not offered: {n}", style="dim"))

    parts.append(Text("\nSteps", style="bold"))
    st = p.steps
    if st is None:
        parts.append(Text("  sequences unknown: point data.train at your data or set data.sequences",
                          style="yellow"))
    else:
        t = Table.grid(padding=(0, 2))
        rows = {"dpo": "pairs", "orpo": "pairs", "reward": "pairs", "kto": "completions"}
        t.add_row(f"{rows.get(cfg.train.objective, 'sequences')} per epoch", f"{st.sequences:,}")
        t.add_row("global batch", f"{st.global_batch} = {st.micro_batch} x {st.grad_accum} "
                                  f"x {st.world_size} replica(s)")
        t.add_row("steps per epoch", f"{st.per_epoch:,}")
        t.add_row("total steps", f"{st.total:,} ({st.epochs:g} epochs)")
        t.add_row("dropped per epoch", f"{st.dropped_samples}" + (" (drop_last)" if st.dropped_samples else ""))
        from ftwizard.core.schedule import describe_schedule

        t.add_row("schedule", describe_schedule(cfg.train, st))
        g = p.grad_accum_suggestion
        if g:
            t.add_row("grad-accum suggestion",
                      f"x{g['grad_accum']} (global batch {g['global_batch']}, "
                      f"{g['remainder']} left over per epoch)")
        parts.append(t)

    if p.time:
        parts.append(Text("\nTime and disk", style="bold"))
        t = Table.grid(padding=(0, 2))
        t.add_row("throughput", f"~{p.time.tokens_per_s:,.0f} tokens/s")
        if p.time.seconds:
            t.add_row("wall time", f"~{format_duration(p.time.seconds)} (start-up "
                                   f"{format_duration(p.time.startup_s)} + {st.total if st else 0} x "
                                   f"{p.time.step_s:.2f} s/step + eval "
                                   f"{format_duration(p.time.eval_s)} + saves "
                                   f"{format_duration(p.time.save_s)})")
        t.add_row("assumes", Text(p.time.assumptions, style="dim"))
        t.add_row("per checkpoint", f"{p.checkpoint_bytes / 1e9:.2f} GB "
                                    f"(x{cfg.train.keep_checkpoints} kept + final)")
        parts.append(t)

    for w in p.warnings:
        parts.append(Text(f"warning: {w}", style="yellow"))
    if p.problems:
        parts.append(Text("\nProblems", style="bold red"))
        for e in p.problems:
            parts.append(Text(f"  {e.field}: {e.message}\n    fix: {e.fix}", style="red"))
    for n in p.notes:
        parts.append(Text(f"note: {n}", style="dim"))
    return Group(*parts)


def render_probe(r) -> Any:  # noqa: ANN001
    from rich.text import Text

    return Text(r.summary())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(plan())
