"""`ftwizard calibration list|clear`: the measurements that correct later plans."""

from __future__ import annotations

import datetime as _dt
import json

import click

GiB = 1024**3


@click.group()
def calibration() -> None:
    """Measured peaks of past runs and probes, beside their estimates."""


@calibration.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON lines.")
def list_cmd(as_json: bool) -> int:
    """Every stored measurement, oldest first."""
    from ftwizard.core import calibration as cal

    recs = cal.records()
    if as_json:
        for r in recs:
            click.echo(json.dumps(r, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not recs:
        console.print(f"no measurements yet ({cal.store_path()}): `ftwizard plan FILE --test-fit` "
                      "or any finished run adds one")
        return 0
    t = Table(title=f"calibration store: {cal.store_path()}", title_justify="left")
    for col in ("when", "source", "config", "hardware", "estimate", "measured", "ratio", "status"):
        t.add_column(col, justify="right" if col in ("estimate", "measured", "ratio") else "left")
    for r in recs:
        c = r.get("config") or {}
        when = _dt.datetime.fromtimestamp(float(r.get("time") or 0)).strftime("%m-%d %H:%M")
        model = str(c.get("model") or "?").rstrip("/").rsplit("/", 1)[-1]
        conf = (f"{model} {c.get('kind')} {c.get('dtype')}"
                f"{'' if c.get('parallel') == 'none' else ' ' + str(c.get('parallel'))}"
                f"{' ckpt' if c.get('checkpointing') else ''} {c.get('micro_batch')}x{c.get('block_size')}")
        est, meas = r.get("estimate_bytes"), r.get("measured_bytes")
        ratio = r.get("ratio")
        t.add_row(when, r.get("source", "?") + (f" {r['run']}" if r.get("run") else ""), conf,
                  _hardware(r.get("hardware") or {}),
                  f"{est / GiB:.2f}G" if est else "-", f"{meas / GiB:.2f}G" if meas else "-",
                  f"x{ratio:.2f}" if ratio else "-",
                  (r.get("status") or "?") + ("" if cal.usable(r) else " (not used)"))
    console.print(t)
    return 0


def _hardware(fp: dict) -> str:
    if not fp.get("count"):
        return "CPU"
    return f"{fp['count']}x {fp.get('kind') or fp.get('device')}"


@calibration.command("clear")
@click.option("--yes", is_flag=True, help="Do not ask.")
def clear_cmd(yes: bool) -> int:
    """Delete every stored measurement (plans go back to the bare estimate)."""
    from ftwizard.core import calibration as cal

    n = len(cal.records())
    if n and not yes and not click.confirm(f"delete {n} measurement(s) from {cal.store_path()}?",
                                           default=False):
        click.echo("kept")
        return 0
    cal.clear()
    click.echo(f"deleted {n} measurement(s)")
    return 0
