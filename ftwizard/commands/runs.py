"""`ftwizard run | runs | attach | stop | resume`: headless launch and the runs that outlive SSH.

`run` replays a preset or a saved config: plan (with the real data), safety checks, run dir, then
the training in its own process session. Without --detach it shows the live progress; Ctrl-C or a
dropped connection only closes the view, never the training. Exit codes: 0 finished (or detached,
or stopped on request), 1 training failed, 2 bad input, 3 the plan (or the disk) does not fit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from ftwizard.core.errors import EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT, EXIT_FAILED, EXIT_OK, InputError

GiB = 1024**3


def _console():  # noqa: ANN202
    from rich.console import Console  # ~60 ms

    return Console(highlight=False)


# ---------------------------------------------------------------------------- run

@click.command("run")
@click.argument("file", type=click.Path(dir_okay=True))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.max_steps=100 (repeatable).")
@click.option("--dry-run", is_flag=True, help="Write the run dir and print the plan and command; start nothing.")
@click.option("--detach", "-d", is_flag=True, help="Start and return at once (watch later with `ftwizard attach`).")
@click.option("--name", default=None, help="Run dir name under output.dir (default: the config's name).")
@click.option("--resume", is_flag=True, help="Continue the run in the existing run dir from its newest checkpoint.")
@click.option("--overwrite", is_flag=True, help="Delete the existing run dir of this name and start over.")
@click.option("--force", is_flag=True, help="Launch even if the plan does not fit memory or disk.")
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Processes on this node (default: one per GPU for ddp/deepspeed/fsdp, else 1).")
@click.option("--slurm", is_flag=True, help="Write run.sbatch (srun + torchrun) instead of starting here.")
@click.option("--partition", default=None, help="Slurm partition for --slurm.")
@click.option("--time", "time_limit", default=None, help="Slurm time limit for --slurm, e.g. 24:00:00.")
@click.option("--node-rank", type=click.IntRange(min=0), default=None,
              help="Many nodes: this node's rank (start this node's part here).")
@click.option("--master-addr", default=None, help="Many nodes: address of node 0.")
@click.option("--master-port", type=click.IntRange(1, 65535), default=None, help="Many nodes: port on node 0.")
@click.option("--hosts", default=None, help="Many nodes: host names for DeepSpeed's hostfile, comma-separated.")
@click.option("--tpu-name", default=None, help="TPU VM pod: write tpu_pod.sh (gcloud ... --worker=all).")
@click.option("--zone", default=None, help="TPU VM pod: its zone.")
@click.option("--plain", is_flag=True, help="Progress as lines, not a bar.")
def run(file: str, overrides: tuple[str, ...], dry_run: bool, detach: bool, name: str | None,
        resume: bool, overwrite: bool, force: bool, nproc: int | None, slurm: bool,
        partition: str | None, time_limit: str | None, node_rank: int | None,
        master_addr: str | None, master_port: int | None, hosts: str | None,
        tpu_name: str | None, zone: str | None, plain: bool) -> int:
    """Plan and launch a preset or saved config; the training survives the terminal."""
    from ftwizard.core import runs
    from ftwizard.core.config import load_config
    from rich.markup import escape

    from ftwizard.core.preflight import preflight
    from ftwizard.core.session import Session

    if resume and overwrite:
        raise InputError("--resume and --overwrite contradict each other", field="--resume",
                         value=True, fix="--resume continues the run; --overwrite deletes it")
    con = _console()
    sets = list(overrides) + ([f"hardware.devices={nproc}"] if nproc else [])
    cfg = load_config(file, sets)
    plan = Session(fetch_configs=True).plan_for(cfg)  # the wizard's and `plan`'s planning session
    hw = plan.hardware

    _print_plan(con, plan)
    # the one launch gate (core/preflight.py), as `plan` and the wizard use it
    report = preflight(plan, mode="dry-run" if dry_run else "launch")
    for f in report.warnings:
        con.print(f"[bold yellow]warning:[/] {escape(f.line())}", soft_wrap=True)
    if report.bad_input:
        for f in report.bad_input:
            con.print(f"[bold red]error:[/] {escape(f.line())}", soft_wrap=True)
        return EXIT_BAD_INPUT
    if report.does_not_fit and not force:
        for f in report.does_not_fit:
            con.print(f"[bold red]not launched:[/] {escape(f.line())}", soft_wrap=True)
        moved = any(f.check == "hardware" for f in report.warnings)
        con.print("the plan does not fit this hardware" + (" any more" if moved else "")
                  + "; apply a suggestion above (`--set key=value`) or add --force", soft_wrap=True)
        return EXIT_DOES_NOT_FIT
    for f in report.does_not_fit:
        con.print(f"[bold yellow]--force:[/] launching although {escape(f.error.message)}",
                  soft_wrap=True)
    if cfg.model.trust_remote_code:
        con.print("[bold yellow]trust_remote_code is on[/]: the model's own Python code will run")

    tpu = hw.is_tpu or cfg.hardware.target.strip().lower().startswith("tpu") or cfg.method.parallel == "jax"
    if (tpu_name or zone) and tpu and not (tpu_name and zone):
        raise InputError("a TPU VM pod needs both --tpu-name and --zone", field="--tpu-name",
                         value=tpu_name or zone, fix="e.g. --tpu-name my-v3-8 --zone europe-west4-a")
    run_dir = runs.create_run_dir(cfg, name=name, overwrite=overwrite, resume=resume)
    node = {"node_rank": node_rank, "master_addr": master_addr, "master_port": master_port,
            "hosts": [h for h in (hosts or "").split(",") if h.strip()] or None}
    node = {k: v for k, v in node.items() if v is not None}
    prep = runs.write_run_files(
        cfg, run_dir, hardware=hw, plan=plan, nproc=nproc, resume=resume, node=node,
        slurm={"partition": partition, "time_limit": time_limit, "master_port": master_port}
        if slurm else None,
        tpu={"tpu_name": tpu_name, "zone": zone} if tpu and tpu_name and zone else None)
    con.print(f"run dir: [bold]{run_dir}[/]")
    con.print(f"command: {prep.command}", soft_wrap=True, markup=False)
    for note in prep.notes:
        con.print(note, soft_wrap=True, markup=False)
    elsewhere = slurm or (tpu and tpu_name and zone)
    if dry_run:
        con.print(f"dry run: nothing started. `bash {run_dir / runs.LAUNCH_FILE}` trains it without "
                  f"ftwizard; `ftwizard run {run_dir / runs.CONFIG_FILE}` launches it.", soft_wrap=True)
        return EXIT_OK
    if elsewhere:
        return EXIT_OK
    if cfg.hardware.nodes > 1 and ("node_rank" not in node or "master_addr" not in node) \
            and not prep.argv[0] == "deepspeed":
        con.print(f"{cfg.hardware.nodes} nodes: on each node run `NODE_RANK=i MASTER_ADDR=<node 0> bash "
                  f"{run_dir / runs.LAUNCH_FILE}`, or `ftwizard run ... --node-rank i --master-addr "
                  "ADDR` to start one node's part under ftwizard.", soft_wrap=True)
        return EXIT_OK
    runs.spawn(run_dir, resume=resume)
    if detach:
        _print_detached(con, run_dir)
        return EXIT_OK
    return follow(run_dir, con, plain=plain)


def _print_plan(con, plan) -> None:  # noqa: ANN001
    try:
        from ftwizard.commands.plan import render_plan

        con.print(render_plan(plan))
    except ImportError:
        con.print(plan.summary_line())
    if plan.config.model.trust_remote_code:
        con.print("trust_remote_code: [bold]on[/] (the model folder's Python code will run)")


def _print_detached(con, run_dir: Path) -> None:  # noqa: ANN001
    n = run_dir.name
    con.print(f"started [bold]{n}[/] in the background (its own session: closing this terminal "
              "does not stop it)")
    con.print(f"  watch: ftwizard attach {n}    stop: ftwizard stop {n}    log: {run_dir / 'stdout.log'}",
              soft_wrap=True)


# ---------------------------------------------------------------------------- live view

def _fmt_step_line(p: Any) -> str:
    parts = [f"step {p.step}/{p.total if p.total else '?'}"]
    if p.loss is not None:
        parts.append(f"loss {p.loss:.4f}")
    if p.tokens_per_s:
        parts.append(f"{p.tokens_per_s:,.0f} tok/s")
    if p.eta_s is not None:
        from ftwizard.core.plan import format_duration

        parts.append(f"eta {format_duration(p.eta_s)}")
    if p.mem_bytes:
        parts.append(f"mem {p.mem_bytes / GiB:.2f} GiB ({p.mem_counter})")
    from ftwizard.core.objective_metrics import metrics_text  # the Run screen's renderer
    parts.append(metrics_text(p.metrics))   # the objective's figures; "" for sft
    return "  ".join(x for x in parts if x)


def _describe_event(e: dict) -> str | None:
    t = e.get("type")
    if t == "start":
        extra = f" (resumed from step {e['resumed_from']})" if e.get("resumed_from") else ""
        total = e.get("total_steps") or e.get("planned_steps")
        return f"start: {e.get('run', '')} {total} steps, world size {e.get('world_size', 1)}{extra}"
    if t == "eval":
        loss = e.get("eval_loss")
        return f"eval at step {e.get('step')}: loss " + (f"{loss:.4f}" if isinstance(loss, (int, float))
                                                         else str(loss))
    if t == "checkpoint":
        return f"checkpoint at step {e.get('step')}: {e.get('path')}"
    if t == "log":
        return str(e.get("text", ""))
    if t == "end":
        msg = f" - {e['message']}" if e.get("message") else ""
        from ftwizard.core.events import COUNTERS, figure, memory_on_counter

        (peak, counter), est = memory_on_counter(e), figure(e, "estimate_bytes")
        mem = (f"  peak {peak / GiB:.2f} GiB (estimate {est / GiB:.2f} GiB; "
               f"{COUNTERS.get(counter or '', counter)})" if peak and est else "")
        return f"end: {e.get('status')} at step {e.get('step')}{mem}{msg}"
    return None


def follow(run_dir: Path, con=None, *, plain: bool = False, poll: float = 0.5) -> int:  # noqa: ANN001
    """Show the run's events live until it ends; Ctrl-C leaves it running."""
    from ftwizard.core import runs

    con = con or _console()
    f = runs.Follower(run_dir)
    name = run_dir.name
    bar_mode = con.is_terminal and not plain
    try:
        if bar_mode:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[info]}"), console=con, transient=False) as bar:
                task = bar.add_task(name, total=None, info="starting...")
                state = _loop(f, run_dir, poll, lambda e: con.print(e),
                              lambda p: bar.update(task, completed=p.step, total=p.total,
                                                   info=_fmt_step_line(p).split("  ", 1)[-1]))
        else:
            state = _loop(f, run_dir, poll, lambda e: con.print(e, soft_wrap=True),
                          lambda p: con.print(_fmt_step_line(p), soft_wrap=True), step_lines=True)
    except KeyboardInterrupt:
        con.print(f"\ndetached: {name} goes on. `ftwizard attach {name}` re-opens this view, "
                  f"`ftwizard stop {name}` stops it.", soft_wrap=True)
        return EXIT_OK
    end = f.progress.end or {}
    status = end.get("status") or state
    if status == "lost":
        con.print(f"[bold red]lost[/]: no process of {name} is alive and it never reported its end")
    if status == "failed":
        from ftwizard.core import events as ev
        from ftwizard.core.runs import LOG_FILE

        lines, folded = ev.fold_tracebacks(end.get("last_log_lines") or [])
        for line in lines[-10:]:
            con.print(f"  | {line}", soft_wrap=True, markup=False)
        if folded:
            con.print(f"  the full traceback is in {run_dir / LOG_FILE}", soft_wrap=True,
                      markup=False)
    return {"finished": EXIT_OK, "stopped": EXIT_OK, "oom": EXIT_DOES_NOT_FIT}.get(status, EXIT_FAILED)


def _loop(f, run_dir: Path, poll: float, say, show, *, step_lines: bool = False) -> str:  # noqa: ANN001
    from ftwizard.core import runs

    while True:
        for e in f.poll():
            if e.get("type") == "step":
                if step_lines:
                    from ftwizard.core.events import Progress

                    show(Progress().fold_all([e]))
                continue
            text = _describe_event(e)
            if text:
                say(text)
        if not step_lines:
            show(f.progress)
        state = runs.run_state(run_dir).state
        if state != "running":
            for e in f.poll():   # the last lines written before the exit
                if e.get("type") != "step":
                    text = _describe_event(e)
                    if text:
                        say(text)
            return state
        time.sleep(poll)


# ---------------------------------------------------------------------------- runs / attach / stop / resume

@click.command("runs")
@click.option("--dir", "root", default=None, type=click.Path(), help="List the runs under this folder only.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
def runs(root: str | None, as_json: bool) -> int:
    """List runs with their state: running, finished, failed, stopped, lost (or created)."""
    from ftwizard.core import runs as core_runs

    infos = core_runs.list_runs(root)
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in infos], indent=2, default=str))
        return EXIT_OK
    con = _console()
    if not infos:
        con.print("no runs yet: `ftwizard run CONFIG` starts one")
        return EXIT_OK
    from rich.table import Table

    colour = {"running": "green", "finished": "bold", "failed": "red", "lost": "red",
              "stopped": "yellow", "created": "dim"}
    t = Table(show_edge=False, pad_edge=False)
    for col in ("name", "state", "step", "started", "path"):
        t.add_column(col, justify="right" if col == "step" else "left")
    for i in infos:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.started)) if i.started else "-"
        step = f"{i.step}/{i.total}" if i.total else str(i.step)
        t.add_row(i.name, f"[{colour.get(i.state, '')}]{i.state}[/]", step, started, str(i.path))
    con.print(t)
    for i in infos:
        if i.extra.get("status") == "oom":
            con.print(f"{oom_hint(i.name, i.message)}", soft_wrap=True, markup=False)
    return EXIT_OK


def oom_hint(name: str, message: str | None = None) -> str:
    """The line `ftwizard runs` prints under a run that died of OOM."""
    why = (message or "out of memory").splitlines()[0]
    return f"{name}: {why}; relaunch with fix: ftwizard resume {name} --fix"


@click.command("attach")
@click.argument("run_ref", metavar="RUN")
@click.option("--plain", is_flag=True, help="The rich progress view (or lines), not the Textual screen.")
def attach(run_ref: str, plain: bool) -> int:
    """Re-open the live view of a run (Ctrl-C closes the view; the run goes on)."""
    import sys

    from ftwizard.core import runs as core_runs

    run_dir = core_runs.find_run(run_ref)
    if not plain and sys.stdout.isatty():
        tui_attach = _tui_attach()
        if tui_attach is not None:
            rv = tui_attach(run_dir)
            return rv if isinstance(rv, int) else EXIT_OK
    return follow(run_dir, _console(), plain=plain)


def _tui_attach():  # noqa: ANN202
    """The Textual run screen, when the TUI offers one (`ftwizard.tui.app.run_attach`)."""
    try:
        from ftwizard.tui import app  # noqa: PLC0415 - textual only when attaching in a terminal
    except Exception:  # noqa: BLE001 - the TUI is optional here; the rich view always works
        return None
    return getattr(app, "run_attach", None)


@click.command("stop")
@click.argument("run_ref", metavar="RUN")
@click.option("--force", is_flag=True, help="Kill at once (no checkpoint).")
@click.option("--wait", "wait_s", type=float, default=None, metavar="SECONDS",
              help="Wait up to this long for the run to end.")
def stop(run_ref: str, force: bool, wait_s: float | None) -> int:
    """Stop a run: the first stop saves a checkpoint and exits; a second stop kills it."""
    from ftwizard.core import runs as core_runs

    run_dir = core_runs.find_run(run_ref)
    con = _console()
    what = core_runs.stop_run(run_dir, force=force)
    n = run_dir.name
    if what == "not running":
        info = core_runs.run_state(run_dir)
        con.print(f"{n} is not running ({info.state})")
        return EXIT_OK
    if what == "killed":
        con.print(f"{n} killed; `ftwizard resume {n}` continues from its newest checkpoint")
        return EXIT_OK
    con.print(f"stop requested: {n} saves a checkpoint and exits (`ftwizard stop {n}` again kills it)")
    if wait_s:
        info = core_runs.wait_run(run_dir, timeout=wait_s)
        con.print(f"{n}: {info.state} at step {info.step}")
    return EXIT_OK


@click.command("resume")
@click.argument("run_ref", metavar="RUN")
@click.option("--detach", "-d", is_flag=True, help="Start and return at once.")
@click.option("--plain", is_flag=True, help="Progress as lines, not a bar.")
@click.option("--fix", is_flag=True,
              help="A run that died of OOM: apply its first fix (batch, accumulation or recompute: "
                   "resumed here; anything else: a new run NAME-fix) and relaunch.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="A new target for a finished run: --set train.max_steps=N (beyond where it ended).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              help="A new target for a finished run: this many epochs in all.")
def resume(run_ref: str, detach: bool, plain: bool, fix: bool, overrides: tuple[str, ...],
           epochs: float | None) -> int:
    """Continue a stopped, failed or lost run from its newest checkpoint, with the same config;
    a finished run only towards a new target (--set train.max_steps=N or --epochs N)."""
    from ftwizard.core import runs as core_runs

    run_dir = core_runs.find_run(run_ref)
    ckpt = core_runs.newest_checkpoint(run_dir)
    con = _console()
    if fix:
        from ftwizard.core.probe import oom_fix, relaunch_with_fix

        change = oom_fix(run_dir)
        new_dir = relaunch_with_fix(run_dir, detach=True)   # InputError when not an OOM run
        con.print(f"relaunched {new_dir.name} with: {change['text'] if change else 'its fix'}"
                  + (f", from {ckpt.name}" if ckpt and new_dir == run_dir else ""))
        if detach:
            _print_detached(con, new_dir)
            return EXIT_OK
        return follow(new_dir, con, plain=plain)
    target = list(overrides) + ([f"train.epochs={epochs}"] if epochs is not None else [])
    before = set(run_dir.glob(f"{core_runs.FINAL_DIR}-step*"))
    core_runs.resume_run(run_dir, target=target or None)
    for kept in sorted(set(run_dir.glob(f"{core_runs.FINAL_DIR}-step*")) - before):
        con.print(f"the finished model is kept: final/ moved to {kept.name}/ "
                  "(the new target writes a new final/)", soft_wrap=True)
    con.print(f"resuming {run_dir.name} from "
              + (f"{ckpt.name}" if ckpt else "the start (no complete checkpoint was saved)"))
    if detach:
        _print_detached(con, run_dir)
        return EXIT_OK
    return follow(run_dir, con, plain=plain)
