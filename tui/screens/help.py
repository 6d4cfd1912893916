"""The help screen (`?` or F1): every key of the screen it was opened over.

It reads the live binding chain of that screen (the focused widget, its containers, the screen,
the app), the same chain Textual dispatches keys through, so it lists what each key does right
now and cannot go stale when someone adds a binding. Hidden bindings (number-key jumps, a field's
arrows) are listed too; a binding whose action is not possible now (the Run screen's `r` before
an out-of-memory end) is listed with "not now" and its tooltip, so the user learns it exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


@dataclass(frozen=True)
class KeyLine:
    """One line of the help: the keys that do one thing, and what that thing is."""

    section: str        # "this screen", "this field", "scrolling", "everywhere"
    keys: tuple[str, ...]
    what: str
    available: bool = True
    note: str = ""      # the binding's tooltip: when it applies, what it really does
    shown: bool = True  # in the footer too (listed first in its section)


# The screen's own keys first (what the footer shows), then the focused field's, then the rest.
SECTIONS = ("this screen", "this field", "typing", "this box", "scrolling", "everywhere")

# Scroll actions a widget skips (SkipAction) when it cannot scroll that way: the key then goes on
# to the next binding in the chain (the picker's ↑↓ move its list, not the search box).
VERTICAL = ("scroll_up", "scroll_down", "page_up", "page_down", "scroll_home", "scroll_end")
HORIZONTAL = ("scroll_left", "scroll_right", "page_left", "page_right")


def _skipped(node: Any, action: str) -> bool:
    if action in VERTICAL:
        return not getattr(node, "allow_vertical_scroll", True)
    if action in HORIZONTAL:
        return not getattr(node, "allow_horizontal_scroll", True)
    return False


def _section(node: Any, screen: Screen) -> str:
    if node is screen:
        return "this screen"
    if node is screen.app:
        return "everywhere"
    from ftwizard.tui.widgets.field_row import FieldRow

    if isinstance(node, FieldRow):
        return "this field"
    from textual.widgets import Input

    if isinstance(node, Input):
        return "typing"
    actions = [b.action for _, b in node._bindings]
    if actions and all(a.startswith(("scroll_", "page_")) for a in actions):
        return "scrolling"      # a list, the log, the panel: its dozen scroll keys fold to one
    return "this box"


def _keys_text(keys: list[str]) -> tuple[str, ...]:
    """Digit keys that jump in a row read as one range ("1-6"); others stay as they are."""
    if len(keys) > 2 and all(k.isdigit() and len(k) == 1 for k in keys):
        nums = sorted(int(k) for k in keys)
        if nums == list(range(nums[0], nums[-1] + 1)):
            return (f"{nums[0]}-{nums[-1]}",)
    return tuple(dict.fromkeys(keys))


def _merge_what(descs: list[str]) -> str:
    """ "go to 1 Hardware", "go to 2 Model" -> "go to 1 Hardware, 2 Model"."""
    descs = list(dict.fromkeys(d for d in descs if d))
    # "Quit" beside "quit at once (…)": the longer one says it all
    descs = [d for d in descs if not any(o != d and o.lower().startswith(d.lower()) for o in descs)]
    if len(descs) <= 1:
        return descs[0] if descs else ""
    words = [d.split(" ") for d in descs]
    common = 0
    while all(len(w) > common + 1 and w[common] == words[0][common] for w in words):
        common += 1
    head = " ".join(words[0][:common])
    tails = [" ".join(w[common:]) for w in words]
    return (head + " " if head else "") + ", ".join(tails)


def key_lines(screen: Screen) -> list[KeyLine]:
    """What each key does on `screen` now, in the order Textual looks keys up (priority bindings
    first, then the focused widget outwards to the app); a key bound twice is listed where it
    takes effect. Keys the focused widget consumes (typing into an input) are left out, as
    Textual leaves them out."""
    app = screen.app
    # Textual's public `active_bindings` drops a binding whose check_action says False (the Run
    # screen's r before an OOM end), the very kind of key the help must still name; so this
    # walks the chain that property walks, and asks the same _check_action_state per binding.
    chain = screen._binding_chain     # (node, BindingsMap), focused widget first, app last
    taken: set[str] = set()
    groups: dict[tuple[int, str], list[tuple[str, Binding, bool]]] = {}
    for priority_pass in (True, False):
        for depth, (node, bindings) in enumerate(chain):
            for key, binding in bindings:
                if bool(binding.priority) != priority_pass or key in taken:
                    continue
                if _skipped(node, binding.action):
                    continue
                taken.add(key)
                state = app._check_action_state(binding.action, node)
                base = re.sub(r"\(.*\)$", "", binding.action)
                group = base if key.isdigit() else binding.action
                groups.setdefault((depth, group), []).append(
                    (app.get_key_display(binding), binding, state is not False and bool(state)))
    lines: list[KeyLine] = []
    for (depth, _), items in sorted(groups.items(), key=lambda kv: kv[0][0]):
        node = chain[depth][0]
        bindings = [b for _, b, _ in items]
        what = _merge_what([b.description for b in bindings]) or bindings[0].action
        if all(w[:1].isupper() for w in what.split()):   # Textual's "Focus Next" style
            what = what.lower()
        lines.append(KeyLine(
            section=_section(node, screen),
            keys=_keys_text([k for k, _, _ in items]),
            what=what,
            available=any(ok for _, _, ok in items),
            note=next((b.tooltip for b in bindings if b.tooltip), ""),
            shown=any(b.show for b in bindings)))
    lines = _fold_scrolling(lines)
    order = {id(ln): i for i, ln in enumerate(lines)}
    return sorted(lines, key=lambda ln: (SECTIONS.index(ln.section), not ln.shown, order[id(ln)]))


def _fold_scrolling(lines: list[KeyLine]) -> list[KeyLine]:
    """A scroll container's dozen keys (home, end, ctrl+pgup…) as one line."""
    scroll = [ln for ln in lines if ln.section == "scrolling"]
    if len(scroll) <= 2:
        return lines
    keys = tuple(k for ln in scroll for k in ln.keys)
    folded = KeyLine("scrolling", keys, "scroll the focused pane", True, shown=False)
    return [ln for ln in lines if ln.section != "scrolling"] + [folded]


def render_lines(lines: list[KeyLine]) -> Table:
    """A two-column table (keys, what); descriptions wrap at words, never cut."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(style="bold", max_width=12)
    table.add_column(ratio=1, overflow="fold")
    section = None
    for ln in lines:
        if ln.section != section:
            if section is not None:
                table.add_row("", "")
            section = ln.section
            table.add_row(Text(section, style="bold underline"), "")
        what = Text(ln.what)
        if not ln.available:
            what.append("  (not now)", style="dim italic")
        if ln.note:
            what.append(f" · {ln.note}", style="dim")
        table.add_row(Text(" ".join(ln.keys), style="bold" if ln.available else "dim"), what)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key of the screen below, read from its bindings when opened."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-box {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $panel; padding: 0 1;
    }
    HelpScreen #help-keys { height: auto; max-height: 1fr; scrollbar-size-vertical: 1; }
    HelpScreen #help-close { height: 1; color: $text-muted; dock: bottom; }
    """

    BINDINGS = [
        Binding("escape,question_mark,f1,q", "close", "close", show=False),
        Binding("down", "scroll(1)", "scroll", show=False),
        Binding("up", "scroll(-1)", "scroll", show=False),
    ]

    def __init__(self, over: Screen) -> None:
        super().__init__(id="help")
        self.lines = key_lines(over)
        name = getattr(over, "help_title", None) or (
            over.id.capitalize() if over.id else "this dialog" if over.is_modal else "this screen")
        self.title_text = f"Keys: {name}"

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box") as box:
            box.border_title = self.title_text
            with VerticalScroll(id="help-keys"):
                yield Static(render_lines(self.lines), id="help-table")
            yield Static("↑↓ scroll · Esc, ? or q closes this", id="help-close")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, delta: int) -> None:
        self.query_one("#help-keys", VerticalScroll).scroll_relative(y=delta, animate=False)


def toggle_help(app: Any) -> None:
    """`?` / F1 from anywhere: open the help for the screen in front, or close it when open."""
    if isinstance(app.screen, HelpScreen):
        app.screen.dismiss(None)
        return
    app.push_screen(HelpScreen(app.screen))
