"""A wizard step: its questions on the left, the estimate panel on the right (below when narrow).

Hardware, Model and Method are this screen as is; Data, Train and Review add their own pane. The
screen holds no state of its own: it renders the app's config and plan whenever the app publishes
`plan_changed`, and turns key presses into answers.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Static

from ftwizard.core import questions as q
from ftwizard.tui.widgets.estimate import EstimatePanel
from ftwizard.tui.widgets.field_row import FieldRow
from ftwizard.tui.widgets.keybar import KeyBar
from ftwizard.tui.widgets.stepbar import StepBar

TITLES = [s.title for s in q.STEPS] + ["Run"]

NARROW = 80   # below this many columns the panel goes under the form (and scrolls)
WIDE = 110    # from this many columns the panel and the steps show their extras


class FieldList(VerticalScroll, inherit_bindings=False, can_focus=False):
    """The questions, scrolled by focus (↑ ↓ move between fields) and the mouse: no keys of its
    own, so pgup/pgdn reach the screen (the step before / the next step) from any field."""


class StepScreen(Screen):
    # Short descriptions: the footer must fit 80 columns on every step (Review adds two keys);
    # the help screen (?) shows the tooltips as well.
    BINDINGS = [
        Binding("n,pagedown", "next", "next"),
        Binding("b,pageup", "back", "back"),
        Binding("f", "fit", "fit", tooltip="make it fit: apply the panel's first fix (after a "
                "test fit ran out of memory: its measured fix, then test again)"),
        Binding("t", "test_fit", "test fit", tooltip="train a few real steps with these answers; "
                "measured memory and speed show beside the estimate"),
        Binding("s", "save", "save", tooltip="the config file, or a preset"),
        Binding("q", "quit", "quit", tooltip="asks first when answers are not saved"),
    ] + [Binding(str(i + 1), f"jump({i})", f"go to {i + 1} {s.title}", show=False)
         for i, s in enumerate(q.STEPS)]

    def __init__(self, step_id: str) -> None:
        super().__init__(id=f"step-{step_id}")
        self.step = q.step(step_id)
        self.index = q.STEP_IDS.index(step_id)
        self.error: str | None = None
        self.error_field: str | None = None

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StepBar(id="stepbar")
        with Horizontal(id="body"):
            with Vertical(id="form") as form:
                form.border_title = self.step.title
                with FieldList(id="fields"):
                    for f in self.step.fields:
                        yield FieldRow(f)
                yield from self.compose_extra()
                yield Static("", id="help")
            with VerticalScroll(id="estimate-box"):
                yield EstimatePanel(id="estimate")
        yield KeyBar()   # the footer's keys, wrapped onto two lines when narrow

    @property
    def help_title(self) -> str:
        """What the help screen (?) calls this screen."""
        return f"step {self.index + 1}, {self.step.title}"

    def compose_extra(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.app.plan_changed.subscribe(self, self.on_plan_changed)
        self._layout_for(self.app.size.width)
        self.on_plan_changed(self.app)
        rows = [r for r in self.query(FieldRow) if r.display]
        if rows:
            rows[0].focus()

    def on_screen_resume(self) -> None:
        self.on_plan_changed(self.app)

    def on_resize(self, event: Resize) -> None:
        self._layout_for(event.size.width)

    def _layout_for(self, width: int) -> None:
        self.set_class(width < NARROW, "-narrow")
        self.set_class(width >= WIDE, "-wide")
        panel = self.query_one(EstimatePanel)
        if panel.wide != (width >= WIDE):
            panel.wide = width >= WIDE
            panel.refresh(layout=True)

    # ---------------------------------------------------------------- render from app state

    def on_plan_changed(self, app: Any) -> None:
        ctx = app.context()
        for row in self.query(FieldRow):
            show = row.field.applies(ctx.config)
            if row.display != show:
                row.display = show
            row.sync(ctx)
        self.query_one(EstimatePanel).show(app.plan, app.plan_state, app.plan_message,
                                           app.probe, app.probe_current())
        self.query_one(StepBar).show(TITLES, self.index, self._flagged(app))
        self.render_extra(app)
        self._show_help()

    def render_extra(self, app: Any) -> None:
        """Subclasses draw their own pane (histogram, LR curve, YAML)."""

    def _flagged(self, app: Any) -> set[int]:
        plan = app.plan
        out: set[int] = set()
        if plan is None:
            return out
        where = {f.id: i for i, s in enumerate(q.STEPS) for f in s.fields}
        for p in plan.problems:
            if p.field in where:
                out.add(where[p.field])
            elif p.field and p.field.split(".")[0] == "method":
                out.add(q.STEP_IDS.index("method"))
        if not plan.fits:   # the step holding the field each shortfall names (core.plan)
            short = [sf for sf in plan.shortfalls() if sf.get("field") in where]
            # Disk only when nothing else is short: free space is this machine's, not the plan's.
            named = ([where[sf["field"]] for sf in short if sf.get("resource") != "disk"]
                     or [where[sf["field"]] for sf in short])
            out.update(named or [q.STEP_IDS.index("method")])
        return out

    def _show_help(self) -> None:
        help_box = self.query_one("#help", Static)
        row = self.focused if isinstance(self.focused, FieldRow) else None
        if row is None and self.focused is not None:
            parent = self.focused.parent
            row = parent if isinstance(parent, FieldRow) else None
        t = Text()
        if self.error:
            t.append("✗ " + self.error + "\n", style="bold red")
        if row is not None:
            f = row.field
            keys = {"choice": "◂▸ change" if not f.picker else "enter: pick",
                    "bool": "space: toggle", "int": "◂▸ ±1, enter: type"}.get(f.kind, "enter: edit")
            t.append(f"{keys} · ", style="bold dim")   # first: the one line that always shows
            ctx = self.app.context()
            t.append(f.help_for(ctx) or f.label)
            greyed = [c for c in f.options(ctx) if not c.available] if not f.picker else []
            for c in greyed[:2]:
                t.append(f"\n✗ {c.label}: {c.reason}", style="yellow")
            if f.validate is not None:
                warn = f.validate(f.get(ctx.config), ctx)
                if warn:
                    t.append(f"\n⚠ {warn}", style="yellow")
        elif self.step.blurb:
            t.append(self.step.blurb)
        if t != getattr(help_box, "_shown", None):
            help_box._shown = t
            help_box.update(t)
            if row is not None:   # a taller help leaves the fields less room: keep the row seen
                self.call_after_refresh(row.scroll_visible, animate=False)

    @on(FieldRow.Answered)
    def _answered(self, event: FieldRow.Answered) -> None:
        err = self.app.answer(event.row.field, event.value)
        self.error = err
        self.error_field = event.field_id if err else None
        if err:
            self._show_help()

    def on_descendant_focus(self, event: Any) -> None:
        if self.error and not isinstance(event.widget.parent, FieldRow):
            self.error = None
        self._show_help()

    # ---------------------------------------------------------------- actions

    def action_next(self) -> None:
        ids = list(q.STEP_IDS)
        if self.index + 1 < len(ids):
            self.app.goto(ids[self.index + 1])

    def action_back(self) -> None:
        if self.index > 0:
            self.app.goto(q.STEP_IDS[self.index - 1])

    def action_jump(self, i: int) -> None:
        if i != self.index:
            self.app.goto(q.STEP_IDS[i])

    def action_test_fit(self) -> None:
        why = self.app.start_probe()
        if why:
            self.notify(why, severity="warning", timeout=3)

    def action_fit(self) -> None:
        pv = self.app.probe
        if pv.state == "done" and pv.result.status == "oom" and self.app.probe_current():
            why = self.app.start_probe(fix_first=True)   # the measured fix, then measure again
            if why:
                self.notify(why, severity="warning", timeout=3)
            return
        text = self.app.make_it_fit()
        if text:
            self.notify(f"applied: {text}", timeout=4)
        elif self.app.plan is not None and self.app.plan.fits:
            self.notify("it already fits", timeout=3)
        else:
            self.notify("no suggestion to apply", severity="warning", timeout=3)

    def action_save(self) -> None:
        from ftwizard.tui.screens.save import SaveScreen

        def done(path: Any) -> None:
            if path:
                p = self.app.save(path)
                self.notify(f"saved {p}", timeout=5)

        self.app.push_screen(SaveScreen(str(self.app.default_save_path()),
                                        str(self.app.preset_path())), done)

    def action_quit(self) -> None:
        """Quit at once when nothing would be lost; otherwise ask (the safe answer focused)."""
        if not self.app.unsaved:
            self.app.exit(0)
            return
        from ftwizard.tui.screens.confirm import ConfirmScreen

        def answered(quit_: bool | None) -> None:
            if quit_:
                self.app.exit(0)

        self.app.push_screen(ConfirmScreen(
            "Quit without saving your answers?",
            "They are not written anywhere yet: n or Esc goes back, then s saves them.",
            yes="quit without saving", no="stay"), answered)
