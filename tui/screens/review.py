"""Review: the YAML that will be written, the exact launch line, the run dir's files, and the
three ways out: save (or save as preset), dry run (write the run dir, start nothing), launch."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ftwizard.tui.screens.step import StepScreen


def highlight_yaml(text: str) -> Text:
    """Keys, values and list marks in distinct styles. Rich's Syntax paints the terminal's
    default background as black inside Textual; this small highlighter keeps the panel's own."""
    out = Text()
    for line in text.rstrip().splitlines():
        body = line.lstrip(" ")
        out.append(line[: len(line) - len(body)])
        if body.startswith("- "):
            out.append("- ", style="bold magenta")
            body = body[2:]
        key, sep, value = body.partition(":")
        if sep and " " not in key.strip():
            out.append(key, style="bold blue")
            out.append(":")
            v = value.strip()
            style = ("yellow" if v in ("true", "false", "null") else
                     "green" if v[:1].isdigit() or v[:1] == "-" else "")
            out.append(value, style=style)
        else:
            out.append(body)
        out.append("\n")
    out.rstrip()
    return out


class ReviewScreen(StepScreen):
    BINDINGS = [
        Binding("l", "launch", "launch"),
        Binding("d", "dry_run", "dry run"),
    ]

    def __init__(self) -> None:
        super().__init__("review")

    def compose_extra(self) -> ComposeResult:
        with VerticalScroll(id="review-body"):
            yield Static("", id="review-yaml")

    def render_extra(self, app: Any) -> None:
        from ftwizard.tui import launcher

        cfg = app.config
        run_dir = f"{cfg.output.dir}/{cfg.name}"  # core.runs.create_run_dir
        try:
            cmd = launcher.launch_command(cfg, run_dir, env=False)
        except Exception as err:  # noqa: BLE001 - shown, not raised: the user fixes the answers
            cmd = f"(cannot build the launch line: {err})"
        saved = app.default_save_path()
        head = Text()
        head.append("replay: ", style="bold")
        head.append(f"ftwizard run {saved}\n", style="cyan")
        head.append("trains with: ", style="bold")
        head.append(cmd + "\n", style="cyan")
        head.append("run dir: ", style="bold")
        head.append(f"{run_dir}/  " + " ".join(launcher.run_files(cfg)) + "\n")
        yaml_text = highlight_yaml(cfg.to_yaml())
        self.query_one("#review-yaml", Static).update(Group(head, yaml_text))

    def _hw(self) -> Any:
        hw, _ = self.app.planning_hardware()
        return hw

    def action_dry_run(self) -> None:
        from ftwizard.tui import launcher

        try:
            run_dir = launcher.prepare(self.app.config, hardware=self._hw(), plan=self.app.plan)
        except Exception as err:  # noqa: BLE001
            self.notify(f"dry run failed: {err}", severity="error", timeout=8)
            return
        self.notify(f"dry run: wrote {run_dir} (nothing started)", timeout=6)

    def action_launch(self) -> None:
        from ftwizard.tui import launcher
        from ftwizard.tui.screens.run import RunScreen

        plan = self.app.plan
        if plan is not None and plan.problems:
            self.notify(f"fix first: {plan.problems[0].message}", severity="error", timeout=6)
            return
        try:
            run_dir = launcher.start(self.app.config, hardware=self._hw(), plan=self.app.plan)
        except Exception as err:  # noqa: BLE001
            self.notify(f"launch failed: {err}", severity="error", timeout=8)
            return
        self.app.run_dir = run_dir
        self.app.switch_screen(RunScreen(run_dir))
