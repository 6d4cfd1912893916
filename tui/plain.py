"""Plain mode: the wizard's questions (core.questions, same order) as questionary prompts, one
estimate line after each answer, then the same review and the same file.

For terminals that cannot host the full-screen app (pipes, TERM=dumb, some serial consoles) and for
`ftwizard --plain`. Plans come from the same planning session as the wizard's (core/session.py):
hardware detected once, the model read once, the data counted once per change, so the steps and
time printed here are the ones the full-screen wizard shows for the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftwizard.core import questions as q
from ftwizard.core.config import RunConfig
from ftwizard.core.errors import InputError
from ftwizard.core.session import Session


def _detect(session: Session, cfg: RunConfig | None) -> None:
    """Detect this machine up front when the answers start from it (a fraction of a second)."""
    if cfg is not None and cfg.hardware.target != "auto":
        return
    try:
        session.detect()
    except Exception as err:  # noqa: BLE001 - plan against a target instead
        session.detect_error = f"{type(err).__name__}: {err}"


def _planning_hw(cfg: RunConfig, session: Session) -> Any:
    try:
        return session.hardware(cfg, block=False)
    except InputError:
        return None


def estimate_line(cfg: RunConfig, session: Session) -> str:
    """One line after each answer: memory and verdict, steps, time (core.plan.Plan.summary_line),
    then the first fix or problem."""
    if cfg.hardware.target == "auto" and session.detected is None:
        if session.detect_error is None:
            _detect(session, cfg)
        if session.detected is None:
            return f"estimate: cannot plan for this machine: {session.detect_error}"
    try:
        plan = session.plan_for(cfg)
    except InputError as err:
        return f"estimate: cannot plan: {err}"
    line = plan.summary_line()
    if not plan.fits and plan.memory.suggestions:
        line += f"  ·  fix: {plan.memory.suggestions[0]['text']}"
    for p in plan.problems[:1]:
        line += f"  ·  ⚠ {p.message}"
    return line


def preflight_lines(cfg: RunConfig, session: Session) -> list[str]:
    """What the launch gate (core/preflight.py, the one `ftwizard run` and the wizard use) says of
    these answers: the refusals and questions a launch would meet, or that it is ready."""
    from ftwizard.core.preflight import preflight

    try:
        report = preflight(session.plan_for(cfg), mode="launch")
    except InputError as err:
        return [f"before launch: ✗ {err}"]
    label = {"input": "✗ refused", "fit": "✗ does not fit (--force launches anyway)",
             "warning": "⚠ warning"}
    lines = [f"before launch: {label[f.kind]}: {f.line()}" for f in report.findings]
    return lines or ["before launch: every check passed"]


def _ask(field: q.Field, cfg: RunConfig, ctx: q.Context) -> Any:
    import questionary

    current = field.get(cfg)
    label = field.label
    if field.kind == "choice":
        opts = field.options(ctx)
        choices = [questionary.Choice(title=c.label, value=c.value,
                                      disabled=None if c.available else c.reason,
                                      description=c.help or None) for c in opts]
        if field.allow_other and current not in (None, "") and all(c.value != current for c in opts):
            # a value typed before (a count like "A100-80GB x8", a model folder) stays the
            # default: Enter keeps the answer, as in the full-screen wizard
            choices.insert(0, questionary.Choice(title=f"{current} (as set)", value=current))
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
    raw = field.edit_text(cfg)
    if field.kind == "path":
        return questionary.path(label, default=raw).unsafe_ask()
    return questionary.text(label, default=raw).unsafe_ask()


def run_plain(cfg: RunConfig | None = None, *, out: str | None = None) -> int:
    import questionary

    session = Session()
    _detect(session, cfg)
    cfg = cfg or q.default_config(session.detected)
    click.echo(f"ftwizard (plain mode) · {estimate_line(cfg, session)}")
    for step in q.STEPS:
        click.echo(f"\n== {step.title}: {step.blurb}")
        for field in step.fields:
            if not field.applies(cfg):
                continue
            if field.hint is not None and field.hint(cfg):
                click.echo(f"  ({field.hint(cfg)})")   # the data shape the objective needs
            while True:
                ctx = q.Context(cfg, _planning_hw(cfg, session))
                value = _ask(field, cfg, ctx)
                try:
                    new = field.answer(cfg, value)
                except InputError as err:
                    click.echo(f"  ✗ {err}")
                    continue
                cfg = new
                break
            if field.validate is not None:
                warn = field.validate(field.get(cfg), q.Context(cfg, _planning_hw(cfg, session)))
                if warn:
                    click.echo(f"  ⚠ {warn}")
            click.echo(f"  {estimate_line(cfg, session)}")
    click.echo("\n== Review\n" + cfg.to_yaml())
    if cfg.train.objective != "sft":
        click.echo(f"objective: {q.objective_summary(cfg)}")
    for line in preflight_lines(cfg, session):
        click.echo(line)
    from ftwizard.core import launch, runs

    click.echo(f"launch: {launch.render(cfg, _planning_hw(cfg, session), None, runs.runs_root(cfg) / cfg.name).command}")
    path = questionary.text("Save config to", default=out or f"{cfg.name}.yaml").unsafe_ask()
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(cfg.to_yaml(), encoding="utf-8")
    click.echo(f"saved {p}")
    click.echo(f"next: ftwizard plan {p}   ·   ftwizard run {p}")
    return 0
