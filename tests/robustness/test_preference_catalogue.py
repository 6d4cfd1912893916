"""Issue 15's rows of the bad-input catalogue: preference data (train.objective dpo, orpo, kto,
reward) as a user meets it through `ftwizard data inspect` and `ftwizard plan`, one row each.

Same harness as test_catalogue.py (catalogue_kit.run_case): the real CLI in a child process, exit 2,
the file and line, the field and the fix in the message, no traceback, no file changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalogue_kit import Case, Work, run_case


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def text(rel: str, content: str):  # noqa: ANN201 - a setup that writes one file
    return lambda w: w.write(rel, content)


def plan_with(rel: str, content: str, objective: str):  # noqa: ANN201
    def setup(w: Work) -> None:
        w.write(rel, content)
        w.config(data={"train": [{"path": rel}], "sequences": None, "block_size": 64},
                 train={"max_steps": 2, "objective": objective})
    return setup


PAIR = {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}
CHAT = {"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go"}]}

CASES = [
    Case("inspect-pref-empty-chosen", "data", ["data", "inspect", "p.jsonl", "--objective", "dpo"],
         text("p.jsonl", jsonl([PAIR, {**PAIR, "chosen": "  "}])), 2,
         ["p.jsonl:2", "chosen is empty", "non-empty chosen"]),
    Case("inspect-pref-missing-rejected", "data",
         ["data", "inspect", "p.jsonl", "--objective", "orpo"],
         text("p.jsonl", jsonl([{"prompt": "a", "chosen": "b"}])), 2,
         ["p.jsonl:1", "rejected", "'chosen' but no 'rejected'", "columns"]),
    Case("inspect-pref-shape-mid-file", "data",
         ["data", "inspect", "p.jsonl", "--objective", "dpo"],
         text("p.jsonl", jsonl([PAIR, PAIR, CHAT])), 2,
         ["p.jsonl:3", "p.jsonl:1", "one file holds one shape"]),
    Case("inspect-kto-label-not-boolean", "data",
         ["data", "inspect", "k.jsonl", "--objective", "kto"],
         text("k.jsonl", jsonl([{"prompt": "a", "completion": "b", "label": "maybe"}])), 2,
         ["k.jsonl:1", "label", "'maybe'", "true for a desirable"]),
    Case("inspect-kto-given-pairs", "data", ["data", "inspect", "p.jsonl", "--objective", "kto"],
         text("p.jsonl", jsonl([PAIR])), 2,
         ["p.jsonl:1", "train.objective", "paired", "unpair"]),
    Case("inspect-pref-bad-json", "data", ["data", "inspect", "p.jsonl", "--objective", "reward"],
         text("p.jsonl", jsonl([PAIR]) + '{"prompt": \n'), 2, ["p.jsonl", "line 2", "not valid json"]),
    Case("plan-pref-no-preference-fields", "data", ["plan", "run.yaml"],
         plan_with("p.jsonl", jsonl([{"text": "just text"}]), "dpo"), 2,
         ["p.jsonl:1", "no preference fields", "text", "columns"]),
    Case("plan-pref-kto-rows-for-dpo", "data", ["plan", "run.yaml"],
         plan_with("k.jsonl", jsonl([{"prompt": "a", "completion": "b", "label": True}]), "dpo"),
         2, ["k.jsonl:1", "kto", "train.objective"]),
    Case("plan-pref-roles-out-of-order", "data", ["plan", "run.yaml"],
         plan_with("c.jsonl", jsonl([{**CHAT, "chosen": CHAT["chosen"] + CHAT["chosen"][1:]}]),
                   "reward"), 2, ["c.jsonl:1", "roles out of order"]),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.category}-{c.id}") for c in CASES])
def test_preference_catalogue(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
