"""Snapshots of every wizard step at 80x24 and 120x40, a plan that does not fit, and the Run screen.

Deterministic by construction: planned against a catalog RTX 4090 (no detection), relative paths
inside a temporary folder, a fixed event log for the Run screen, no cursor blink, no timings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui.conftest import make_app, snapshot_config

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

DATA = [{"text": ("the quick brown fox jumps over the lazy dog " * (1 + i % 7)).strip()}
        for i in range(120)]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in DATA) + "\n")
    return tmp_path


async def _settle(pilot) -> None:  # noqa: ANN001
    """Until no worker runs after the messages they posted were handled: a data count starts a
    re-plan, which starts the Data step's token preview (a chain, however long each takes)."""
    for _ in range(20):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers):
            await pilot.pause()
            if not any(w.is_running for w in pilot.app.workers):
                return


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("step", ["hardware", "model", "method", "objective", "train", "review"])
def test_step(snap_compare, workdir: Path, step: str, size: tuple[int, int]) -> None:
    """A step with the estimate panel beside it (LR curve on Train at 120x40)."""
    assert snap_compare(make_app(step=step), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_data_step(snap_compare, workdir: Path, size: tuple[int, int]) -> None:
    """Data step after token counting of a small JSONL (histogram at 120x40)."""
    cfg = snapshot_config(**{"data.train": [{"path": "train.jsonl"}], "data.sequences": None,
                             "data.block_size": 64, "data.mode": "entries"})
    assert snap_compare(make_app(cfg, step="data"), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_does_not_fit(snap_compare, workdir: Path, size: tuple[int, int]) -> None:
    """Llama-2-7B full fine-tuning in fp16 on one 24 GiB card: red, by how much, ranked fixes."""
    cfg = snapshot_config(**{"model.name": "meta-llama/Llama-2-7b-hf", "model.dtype": "fp16",
                             "method.kind": "full"})
    assert snap_compare(make_app(cfg, step="method"), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES)
def test_objective_dpo(snap_compare, workdir: Path, size: tuple[int, int]) -> None:
    """DPO with LoRA on the Objective step: its knobs, the choice's help, and the warning that the
    learning rate is SFT-sized."""
    cfg = snapshot_config(**{"train.objective": "dpo"})
    assert snap_compare(make_app(cfg, step="objective"), terminal_size=size, run_before=_settle)


def test_data_step_dpo(snap_compare, workdir: Path, tiny_llama: Path) -> None:
    """The Data step of DPO on the tiny Llama at 120x40: pairs and their token lengths as the
    trainer counts them, and the first pair's chosen and rejected sequences, trained tokens lit."""
    rows = [{"prompt": f"Question {i}:", "chosen": " a kind and useful answer.",
             "rejected": " no."} for i in range(30)]
    (workdir / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = snapshot_config(**{"model.name": "tiny-llama", "model.dtype": "fp32",
                             "method.kind": "full", "train.objective": "dpo", "train.lr": 5e-6,
                             "data.train": [{"path": "pairs.jsonl"}], "data.sequences": None,
                             "data.block_size": 64, "data.validation": {"split": 0.1}})
    assert snap_compare(make_app(cfg, step="data"), terminal_size=(120, 40), run_before=_settle)


def test_review_kto(snap_compare, workdir: Path) -> None:
    """Review of a KTO run at 80x24: the objective and its knobs in the first line."""
    cfg = snapshot_config(**{"train.objective": "kto", "train.lr": 5e-6})
    assert snap_compare(make_app(cfg, step="review"), terminal_size=(80, 24), run_before=_settle)


def write_run(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(snapshot_config(name="demo").to_yaml())
    events = [{"type": "start", "total_steps": 40,
               "plan": {"memory": {"per_device_bytes": 3 * 2**30, "capacity_bytes": 24 * 2**30}}}]
    for s in range(1, 17):
        events.append({"type": "step", "step": s, "total": 40, "loss": round(3.0 - 0.1 * s, 3),
                       "lr": 1e-4, "tokens_per_s": 1240.0, "mem_allocated": int(2.5 * 2**30),
                       "eta_s": 3 * (40 - s)})
    events.append({"type": "eval", "step": 16, "eval_loss": 1.52})
    (run_dir / "events.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    (run_dir / "stdout.log").write_text("".join(
        f"step {s}  loss {3.0 - 0.1 * s:.3f}  lr 1.0e-04\n" for s in range(1, 17)))


@pytest.mark.parametrize("size", SIZES)
def test_run_screen(snap_compare, workdir: Path, size: tuple[int, int]) -> None:
    """Run screen attached to a run dir mid-training: progress, loss, memory, log tail."""
    write_run(workdir / "runs" / "demo-1")

    async def settle(pilot) -> None:  # noqa: ANN001
        for _ in range(20):
            await pilot.pause(0.1)
            if pilot.app.screen.state.step == 16:
                break
        await pilot.pause()

    app = make_app(run_dir="runs/demo-1")
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_run_screen_dpo(snap_compare, workdir: Path, size: tuple[int, int]) -> None:
    """A DPO run mid-training: the objective's figures in one line (their trends at 120x40)."""
    run_dir = workdir / "runs" / "dpo-1"
    write_run(run_dir)
    lines = []
    for line in (run_dir / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["type"] == "step":
            s = e["step"]
            e["loss"] = round(0.693 - 0.02 * s, 3)
            e["metrics"] = {"rewards/chosen": round(0.01 * s, 3),
                            "rewards/rejected": round(-0.012 * s + 0.004 * (s % 3), 3),
                            "rewards/margins": round(0.022 * s - 0.004 * (s % 3), 3),
                            "rewards/accuracies": round(min(1.0, 0.5 + 0.03 * s), 3),
                            "logps/chosen": -31.5}
        elif e["type"] == "eval":
            e["eval_loss"] = 0.41
        lines.append(json.dumps(e))
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")

    async def settle(pilot) -> None:  # noqa: ANN001
        for _ in range(20):
            await pilot.pause(0.1)
            if pilot.app.screen.state.step == 16:
                break
        await pilot.pause()

    assert snap_compare(make_app(run_dir="runs/dpo-1"), terminal_size=size, run_before=settle)


def test_help_screen(snap_compare, workdir: Path) -> None:
    """? over the Method step at 80x24: the step's keys first (footer keys, the number-key
    jumps), then the focused field's, read from the live bindings."""

    async def open_help(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(step="method"), terminal_size=(80, 24), run_before=open_help)


def test_too_small(snap_compare, workdir: Path) -> None:
    """One column and one row below the smallest size that works: one message, both sizes."""
    assert snap_compare(make_app(step="method"), terminal_size=(59, 19), run_before=_settle)


def test_smallest_size_that_works(snap_compare, workdir: Path) -> None:
    """60x20, a plan that does not fit: the panel goes under the form and scrolls (tab reaches
    it) instead of squeezing the form; the step bar keeps only the current step's title."""
    cfg = snapshot_config(**{"model.name": "meta-llama/Llama-2-7b-hf", "model.dtype": "fp16",
                             "method.kind": "full"})
    assert snap_compare(make_app(cfg, step="method"), terminal_size=(60, 20), run_before=_settle)


def test_host_ram_short(snap_compare, workdir: Path) -> None:
    """Seed 001 (GPT-J fp16, ZeRO-3, both offloads) on one RTX 4090 at 80x24, Hardware step:
    the Host RAM field beside the target shows the catalog's typical host (its default), and
    the panel says host RAM is short at this size too."""
    cfg = snapshot_config(**{
        "model.name": "EleutherAI/gpt-j-6B", "model.dtype": "fp16", "method.kind": "full",
        "method.parallel": "deepspeed", "method.zero_stage": 3, "method.offload_optimizer": True,
        "method.offload_params": True, "method.gradient_checkpointing": True,
        "method.optimizer": "adamw", "train.micro_batch": 7, "train.grad_accum": 1})
    assert snap_compare(make_app(cfg, step="hardware"), terminal_size=(80, 24), run_before=_settle)


def test_method_pipeline_stage_layers(snap_compare, workdir: Path) -> None:
    """Seed 002 (GPT-NeoX-20B, 8 pipeline stages on A100-80GB x8) at 80x24, Method step, the
    Stage layers field focused: the preset's 6,6,6,6,5,5,5,5 under Pipeline stages, and the help
    saying why 44 layers need it and that empty is the even split."""
    from tests.tui.test_pipeline_layers import seed_002

    async def focus_layers(pilot) -> None:  # noqa: ANN001
        await _settle(pilot)
        row = pilot.app.screen.query_one("#f-method-pipeline_layers")
        for _ in range(20):
            if pilot.app.focused is row:
                break
            await pilot.press("down")
        await _settle(pilot)

    assert snap_compare(make_app(seed_002(), step="method"), terminal_size=(80, 24),
                        run_before=focus_layers)
