"""The training objective as its own wizard step (core/questions.py, rendered by the Textual app):
choosing dpo, orpo, kto or reward shows exactly the knobs TRL's trainer for it reads, the help
says what each choice does, the Data step says what rows the objective needs, Review shows the
objective and its knobs, and what no backend runs is greyed with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ftwizard.core import capabilities as caps
from ftwizard.core import questions as q
from ftwizard.core.config import load_config
from ftwizard.tui.widgets.field_row import FieldRow

from .conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui

KNOBS = {  # what each objective's trainer reads, and so what the step shows
    "sft": ["train.objective"],
    "dpo": ["train.objective", "train.preference.beta", "train.preference.loss_type",
            "train.preference.reference", "train.preference.truncation"],
    "orpo": ["train.objective", "train.preference.beta"],
    "kto": ["train.objective", "train.preference.beta", "train.preference.loss_type",
            "train.preference.reference", "train.preference.desirable_weight",
            "train.preference.undesirable_weight"],
    "reward": ["train.objective", "train.preference.center_rewards"],
}


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def text_of(widget) -> str:  # noqa: ANN001
    con = Console(width=200, record=True, color_system=None)
    con.print(widget.render() if not hasattr(widget, "content") else widget.content)
    return " ".join(con.export_text().split())


def shown_rows(app) -> list[str]:  # noqa: ANN001
    return [r.field.id for r in app.screen.query(FieldRow) if r.display]


async def test_each_objective_shows_its_own_knobs(workdir: Path) -> None:
    """◂ ▸ on the Objective row walks sft -> dpo -> orpo -> kto -> reward: the config follows the
    keys and the rows shown are that trainer's knobs; the help says what the choice does."""
    app = make_app(step="objective")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.screen.id == "step-objective"
        assert shown_rows(app) == KNOBS["sft"]
        for objective in ("dpo", "orpo", "kto", "reward"):
            await pilot.press("right")
            await pilot.pause()
            assert app.config.train.objective == objective
            assert shown_rows(app) == KNOBS[objective], objective
            label = next(label for v, label, _ in q.OBJECTIVES if v == objective)
            assert f"{label}: " in text_of(app.screen.query_one("#help"))
            assert app.plan is not None, app.plan_message    # planned at once, as every answer
        await pilot.press("right")                           # round to sft
        await pilot.pause()
        assert app.config.train.objective == "sft" and shown_rows(app) == KNOBS["sft"]


async def test_dpo_knobs_by_keys_reach_the_config_and_review(workdir: Path) -> None:
    """DPO: beta typed, loss cycled to ipo, reference to precomputed; a bad beta is refused with
    the field named; Review's first line says the objective and its knobs, the YAML holds them,
    and the saved file loads back to the same."""
    app = make_app(step="objective")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right")                           # sft -> dpo
        await pilot.press("down", "enter", "ctrl+u", *"0", "enter")   # beta 0: refused
        await pilot.pause()
        assert app.config.train.preference.beta == 0.1
        assert "train.preference.beta" in (app.screen.error or "")
        assert "greater than 0" in app.screen.error
        await pilot.press("enter", "ctrl+u", *"0.05", "enter")
        await pilot.pause()
        assert app.config.train.preference.beta == 0.05
        await pilot.press("down", "right", "right")          # Loss: sigmoid -> hinge -> ipo
        await pilot.pause()
        assert app.config.train.preference.loss_type == "ipo"
        assert "IPO" in text_of(app.screen.query_one("#help"))
        await pilot.press("down", "right")                   # Reference: adapters off -> precomputed
        await pilot.pause()
        assert app.config.train.preference.reference == "precomputed"
        assert "costs no memory" in text_of(app.screen.query_one("#help"))   # LoRA: a warning
        await pilot.press("7")                               # jump to Review
        await app.workers.wait_for_complete()
        await pilot.pause()
        review = text_of(app.screen.query_one("#review-yaml"))
        assert review.startswith("objective: DPO · beta 0.05 · loss ipo · reference precomputed "
                                 "· truncation keep start")
        assert "objective: dpo" in review and "loss_type: ipo" in review
        path = app.save(workdir / "dpo.yaml")
    loaded = load_config(path)
    assert loaded.train.objective == "dpo"
    assert (loaded.train.preference.beta, loaded.train.preference.loss_type,
            loaded.train.preference.reference) == (0.05, "ipo", "precomputed")


async def test_another_objective_drops_a_loss_it_does_not_know(workdir: Path) -> None:
    """A DPO loss means nothing to KTO or ORPO (the config refuses it there): switching the
    objective starts from that trainer's default instead of refusing the switch. exo_pair, which
    TRL refuses without label smoothing, brings the EXO paper's 0.001 and the row to change it."""
    cfg = snapshot_config(**{"train.objective": "dpo"})
    app = make_app(cfg, step="objective")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "right", "right", "right")   # Loss -> exo_pair
        await pilot.pause()
        pref = app.config.train.preference
        assert (pref.loss_type, pref.label_smoothing) == ("exo_pair", q.EXO_SMOOTHING)
        assert "train.preference.label_smoothing" in shown_rows(app)
        await pilot.press("up", "up", "right", "right")                  # Objective: orpo, kto
        await pilot.pause()
        assert app.config.train.objective == "kto"
        assert app.config.train.preference.loss_type is None
        assert app.screen.error is None
        loss_row = app.screen.query_one("#f-train-preference-loss_type", FieldRow)
        assert [c.label for c in loss_row.field.options(app.context())] == ["kto",
                                                                            "apo_zero_unpaired"]


async def test_data_step_says_what_rows_the_objective_needs(workdir: Path) -> None:
    """The Train files help starts with the shape; Mode (packing) is gone for pairs; SFT's
    help is as before."""
    for objective, shape in (("dpo", "prompt, chosen and rejected"),
                             ("kto", "prompt, completion and label"),
                             ("sft", None)):
        app = make_app(snapshot_config(**{"train.objective": objective}), step="data")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            focused = app.screen.focused
            assert isinstance(focused, FieldRow) and focused.field.id == "data.train"
            help_text = text_of(app.screen.query_one("#help"))
            if shape:
                assert shape in help_text.split(" · ", 1)[1][:90], help_text
                assert "data.mode" not in shown_rows(app)
            else:
                assert "chosen" not in help_text and "data.mode" in shown_rows(app)


async def test_what_no_backend_trains_is_greyed_with_the_reason(workdir: Path) -> None:
    """On the pipeline backend (sft only, core/capabilities.py) the preference objectives are
    offered greyed, ◂ ▸ skips them, and the help names why."""
    cfg = snapshot_config(**{"method.kind": "full", "method.parallel": "pipeline",
                             "hardware.target": "A100-80GB x8"})
    app = make_app(cfg, step="objective")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        row = app.screen.query_one("#f-train-objective", FieldRow)
        opts = {c.value: c for c in row.field.options(app.context())}
        for objective in ("dpo", "orpo", "kto", "reward"):
            assert not opts[objective].available
            assert opts[objective].reason == caps.why_not("pipeline", "full", "gpu", objective)
        assert opts["sft"].available
        await pilot.press("right")
        await pilot.pause()
        assert app.config.train.objective == "sft"
        assert "pipeline backend trains the next-token objective" in text_of(
            app.screen.query_one("#help"))


def test_objective_summary_and_shapes_without_a_ui() -> None:
    """The questions as data (no Textual): the summary Review and plain mode print, and the
    Method step's choices follow the objective (a pipeline cannot take DPO)."""
    cfg = snapshot_config(**{"train.objective": "kto", "train.preference.desirable_weight": 1.33})
    assert q.objective_summary(cfg) == ("KTO · beta 0.1 · loss kto · reference adapters off · "
                                        "desirable weight 1.33 · undesirable weight 1")
    assert q.objective_summary(snapshot_config()) == "SFT"
    assert q.objective_summary(snapshot_config(**{
        "train.objective": "reward", "train.preference.center_rewards": 0.01})) == (
        "reward model · centre rewards 0.01")
    full = snapshot_config(**{"method.kind": "full", "train.objective": "dpo"})
    assert "frozen copy" in q.objective_summary(full)
    par = q.step("method").fields[[f.id for f in q.step("method").fields].index("method.parallel")]
    pipe = next(c for c in par.options(q.Context(full)) if c.value == "pipeline")
    assert not pipe.available and "sft" in pipe.reason
    assert "prompt, chosen and rejected" in q.data_shape("orpo")
    assert q.data_shape("sft") == ""


@pytest.mark.parametrize("objective", ["dpo", "kto"])
async def test_data_step_counts_and_previews_pairs_as_the_trainer(workdir: Path, tiny_llama: Path,
                                                                  objective: str) -> None:
    """With preference data and a local tokenizer: the Data step counts pairs (kto: desirable and
    undesirable rows) as core.data.inspect does for the trainer, and previews the first pair's two
    sequences (kto: its one) with their own counts."""
    import json

    from ftwizard.core import data

    with open(workdir / "prefs.jsonl", "w") as fh:
        for i in range(30):
            row = ({"prompt": f"Question {i}:", "completion": " yes." if i % 3 else " no.",
                    "label": bool(i % 3)} if objective == "kto" else
                   {"prompt": f"Question {i}:", "chosen": " a kind answer.", "rejected": " no."})
            fh.write(json.dumps(row) + "\n")
    cfg = snapshot_config(**{"model.name": "tiny-llama", "model.dtype": "fp32",
                             "method.kind": "full", "train.objective": objective,
                             "data.train": [{"path": "prefs.jsonl"}], "data.sequences": None,
                             "data.block_size": 64, "data.validation": {"split": 0.1}})
    app = make_app(cfg, step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(30):
            await app.workers.wait_for_complete()
            await pilot.pause()
            if not any(w.is_running for w in app.workers) and app.screen.query_one(
                    "#data-preview").result is not None:
                break
        tok = data.load_tokenizer(cfg.model)
        st = data.inspect(cfg.data, tok, seed=cfg.train.seed, train=cfg.train)
        info = text_of(app.screen.query_one("#data-info"))
        preview = text_of(app.screen.query_one("#data-preview"))
    if objective == "kto":
        assert info.startswith(f"{st.sequences} rows ({st.desirable} desirable, "
                               f"{st.undesirable} undesirable) · {st.validation_sequences} held out")
        assert "with completion" in info and "completion (undesirable):" in preview   # row 0
    else:
        assert info.startswith(f"{st.sequences} pairs · {st.validation_sequences} held out")
        assert f"with chosen ~{st.chosen_tokens_mean:.0f} (max {st.chosen_tokens_max})" in info
        assert "chosen:" in preview and "rejected:" in preview
        assert preview.index("chosen:") < preview.index("rejected:")
    assert st.sequences + st.validation_sequences == 30
