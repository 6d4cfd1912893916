"""Plain mode: the wizard's questions (core.questions, same order) as questionary prompts, one
estimate line after each answer, then the same review and the same file.

For terminals that cannot host the full-screen app (pipes, TERM=dumb, some serial consoles) and for
`ftwizard --plain`. Hardware detection runs once at the start (a fraction of a second here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftwizard.core import questions as q
from ftwizard.core.config import RunConfig
from ftwizard.core.errors import InputError


def _hardware(cfg: RunConfig | None) -> Any:
    from ftwizard.core import hardware

    if cfg is not None and cfg.hardware.target != "auto":
        return None
    try:
        return hardware.detect()
    except Exception:  # noqa: BLE001 - plan against a target instead
        return None


def _planning_hw(cfg: RunConfig, detected: Any) -> Any:
    if cfg.hardware.target == "auto":
        return detected
    from ftwizard.core.plan import hardware_for

    return hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)


def estimate_line(cfg: RunConfig, detected: Any) -> str:
    from ftwizard.core.plan import make_plan

    try:
        plan = make_plan(cfg, hardware=_planning_hw(cfg, detected))
    except InputError as err:
        return f"estimate: cannot plan: {err}"
    line = plan.summary_line()
    if not plan.fits and plan.memory.suggestions:
        line += f"  ·  fix: {plan.memory.suggestions[0]['text']}"
    for p in plan.problems[:1]:
        line += f"  ·  ⚠ {p.message}"
    return line


def _ask(field: q.Field, cfg: RunConfig, ctx: q.Context) -> Any:
    import questionary

    current = field.get(cfg)
    label = field.label
    if field.kind == "choice":
        opts = field.options(ctx)
        choices = [questionary.Choice(title=c.label, value=c.value,
                                      disabled=None if c.available else c.reason) for c in opts]
        if field.allow_other:
            other = "__other__"
            choices.append(questionary.Choice(title="(type another)", value=other))
        default = next((c for c in choices if c.value == current and not c.disabled), None)
        value = questionary.select(label, choices=choices, default=default,
                                   instruction=" ").unsafe_ask()
        if field.allow_other and value == "__other__":
            value = questionary.text(f"{label} (id or folder)").unsafe_ask()
        return value
    if field.kind == "bool":
        return questionary.confirm(label, default=bool(current)).unsafe_ask()
    raw = "" if current is None else (f"{current:g}" if field.kind == "float" else str(current))
    if field.kind == "path":
        return questionary.path(label, default=raw).unsafe_ask()
    return questionary.text(label, default=raw).unsafe_ask()


def run_plain(cfg: RunConfig | None = None, *, out: str | None = None) -> int:
    import questionary

    detected = _hardware(cfg)
    cfg = cfg or q.default_config(detected)
    click.echo(f"ftwizard (plain mode) · {estimate_line(cfg, detected)}")
    for step in q.STEPS:
        click.echo(f"\n== {step.title}: {step.blurb}")
        for field in step.fields:
            if not field.applies(cfg):
                continue
            while True:
                ctx = q.Context(cfg, _planning_hw(cfg, detected) if cfg.hardware.target != "auto"
                                else detected)
                value = _ask(field, cfg, ctx)
                try:
                    new = field.answer(cfg, value)
                except InputError as err:
                    click.echo(f"  ✗ {err}")
                    continue
                cfg = new
                break
            click.echo(f"  {estimate_line(cfg, detected)}")
    click.echo("\n== Review\n" + cfg.to_yaml())
    from ftwizard.core import launch, runs

    click.echo(f"launch: {launch.render(cfg, _planning_hw(cfg, detected), None, runs.runs_root(cfg) / cfg.name).command}")
    path = questionary.text("Save config to", default=out or f"{cfg.name}.yaml").unsafe_ask()
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(cfg.to_yaml(), encoding="utf-8")
    click.echo(f"saved {p}")
    click.echo(f"next: ftwizard plan {p}   ·   ftwizard run {p}")
    return 0
