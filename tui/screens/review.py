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
from ftwizard.tui.widgets.paths import short_path


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
        cfg = app.config
        run_dir, files = self._rendered(app)
        saved = app.default_save_path()
        head = Text()
        if cfg.train.objective != "sft":   # the knobs sit deep in the YAML: said first, in one line
            from ftwizard.core.questions import objective_summary

            head.append("objective: ", style="bold")
            head.append(objective_summary(cfg) + "\n", style="magenta")
        head.append("replay: ", style="bold")
        head.append(f"ftwizard run {saved}\n", style="cyan")
        head.append("trains with: ", style="bold")
        if files is None:
            head.append(f"{run_dir}\n", style="yellow")
        else:
            head.append(files.command + "\n", style="cyan")
            head.append("run dir: ", style="bold")
            made = ["stdout.log", "events.jsonl", "status.json", "checkpoints/", "final/"]
            head.append(f"{short_path(run_dir)}/  "   # relative: fits 80 columns
                        + " ".join(sorted(files.files, key=_file_order) + made) + "\n")
        yaml_text = highlight_yaml(cfg.to_yaml())
        self.query_one("#review-yaml", Static).update(Group(head, yaml_text))

    @staticmethod
    def _rendered(app: Any) -> tuple[Any, Any]:
        """(run dir, launch.render's RunFiles) as launching now would write them; (message, None)
        when they cannot be rendered yet. The command is the exact line launch.sh execs."""
        from ftwizard.core import launch, runs

        cfg = app.config
        hw, err = app.planning_hardware()
        if hw is None:
            return f"(waiting for the hardware: {err})" if err else "(detecting the hardware...)", None
        try:
            run_dir = runs.runs_root(cfg) / runs.unique_name(cfg)
            return run_dir, launch.render(cfg, hw, app.plan, run_dir)
        except Exception as err:  # noqa: BLE001 - shown, not raised: the user fixes the answers
            return f"(cannot build the launch line: {err})", None

    def _hw(self) -> Any:
        hw, _ = self.app.planning_hardware()
        return hw

    def action_dry_run(self) -> None:
        self.app.gate_launch(self._dry_run, mode="dry-run")  # the one preflight, as `run` uses it

    def _dry_run(self) -> None:
        from ftwizard.core import runs

        cfg = self.app.config
        try:
            run_dir = runs.prepare_run(cfg, name=runs.unique_name(cfg), hardware=self._hw(),
                                       plan=self.app.plan)
        except Exception as err:  # noqa: BLE001
            self.notify(f"dry run failed: {err}", severity="error", timeout=8)
            return
        self.notify(f"dry run: wrote {run_dir} (nothing started)", timeout=6)

    def action_launch(self) -> None:
        self.app.gate_launch(self._launch)  # refuses bad input, asks when it does not fit

    def _launch(self) -> None:
        from ftwizard.core import runs
        from ftwizard.tui.screens.run import RunScreen

        plan = self.app.plan
        cfg = self.app.config
        try:
            run_dir = runs.start_run(cfg, name=runs.unique_name(cfg), hardware=self._hw(), plan=plan)
        except Exception as err:  # noqa: BLE001
            self.notify(f"launch failed: {err}", severity="error", timeout=8)
            return
        self.app.run_dir = run_dir
        self.app.switch_screen(RunScreen(run_dir))


def _file_order(name: str) -> tuple[int, str]:
    """config.yaml and launch.sh first: the two a user opens."""
    first = ("config.yaml", "launch.sh")
    return (first.index(name) if name in first else len(first), name)
