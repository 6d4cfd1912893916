"""The Objective step: SFT, DPO, ORPO, KTO or a reward model, the knobs of that trainer, and what
the choice costs on this plan.

Below the questions, the memory terms the objective adds to the estimate beside it (the rejected
half of each pair, the reference model's copy or forward, a reward model's value head), read from
the plan's own breakdown (core/memory.py names them; this screen only labels them), so the user
sees before launch why DPO on a full fine-tune needs more than SFT did, and what `precomputed`
or LoRA saves. From 110 columns the planner's notes on the objective follow.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from ftwizard.core.config import REFERENCE_OBJECTIVES
from ftwizard.core.memory import OBJECTIVE_TERMS
from ftwizard.tui.screens.step import StepScreen
from ftwizard.tui.widgets.estimate import gib


def objective_terms(detail: dict[str, int]) -> list[tuple[str, int]]:
    """(label, bytes) of the objective's own terms in a plan's memory detail, with the labels and
    in the order `ftwizard plan` shows them (core.memory.OBJECTIVE_TERMS: one list for both)."""
    return [(label, detail[k]) for k, label in OBJECTIVE_TERMS.items() if k in detail]


class ObjectiveScreen(StepScreen):
    def __init__(self) -> None:
        super().__init__("objective")

    def compose_extra(self) -> ComposeResult:
        yield Static("", id="objective-info")

    def render_extra(self, app: Any) -> None:
        cfg, plan = app.config, app.plan
        t = Text()
        objective = cfg.train.objective
        if objective != "sft" and plan is not None:
            terms = objective_terms(plan.memory.detail)
            t.append(f"{objective} in the estimate:\n", style="bold")
            wide = self.has_class("-wide")   # then the planner's notes say it in full
            if objective in REFERENCE_OBJECTIVES and not wide and not any(
                    "copy" in label for label, _ in terms):
                how = ("precomputed" if cfg.train.preference.reference == "precomputed"
                       else "adapters off")
                t.append(f"reference: {how}, no copy held\n")
            for label, n in terms:
                t.append(f"{label:<24}{gib(n):>5} GiB\n")
            if wide:
                words = (objective, "reference", "reward", "pair", "kl")
                for note in plan.memory.notes:
                    if any(w in note.lower() for w in words):
                        t.append(f"{note}\n", style="dim")
        t.rstrip()
        box = self.query_one("#objective-info", Static)
        if t != getattr(box, "_shown", None):
            box._shown = t
            box.update(t)
