"""core.session: the plan's inputs gathered one way for every front end, and cached by them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core.config import parse_config
from ftwizard.core.hardware import from_target
from ftwizard.core.session import Session

BASE = """
name: s
model: {name: tiny-llama, dtype: fp32}
method: {kind: lora}
hardware: {target: "RTX 4090"}
data: {train: [{path: train.txt}], block_size: 32}
train: {micro_batch: 2, grad_accum: 1}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_llama: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.txt").write_text("\n".join(f"line {i} of a small corpus" for i in range(300)))
    return tmp_path


def test_plan_counts_the_data_with_the_models_tokenizer(here: Path) -> None:
    s = Session()
    p = s.plan_for(parse_config(BASE))
    from ftwizard.core import data

    tok = data.load_tokenizer(parse_config(BASE).model, light=True)
    exact = data.inspect(parse_config(BASE).data, tok, use_cache=False).sequences
    assert p.steps is not None and p.steps.sequences == exact > 0
    assert not p.problems


def test_same_inputs_same_plan_object_other_inputs_new_plan(here: Path) -> None:
    s = Session()
    cfg = parse_config(BASE)
    first = s.plan_for(cfg)
    assert s.plan_for(parse_config(BASE)) is first          # cached by the inputs, not identity
    other = s.plan_for(parse_config(BASE, ["train.micro_batch=4"]))
    assert other is not first and other.steps.per_epoch < first.steps.per_epoch
    s.forget_plans()
    assert s.plan_for(cfg) is not first


def test_data_counted_once_per_change(here: Path) -> None:
    s = Session()
    cfg = parse_config(BASE)
    a = s.count_data(cfg)
    assert s.count_data(parse_config(BASE, ["train.micro_batch=8"])) is a   # batch: same count
    b = s.count_data(parse_config(BASE, ["data.block_size=16"]))
    assert b is not a and b.sequences > a.sequences


def test_missing_data_is_a_problem_naming_the_file(here: Path) -> None:
    p = Session().plan_for(parse_config(BASE, ["data.train=nothere.txt"]))
    assert [(e.field, e.value) for e in p.problems] == [("data.train", "nothere.txt")]
    assert "data.sequences" in p.problems[0].fix


def test_missing_data_with_assumed_sequences_plans_with_them(here: Path) -> None:
    p = Session().plan_for(parse_config(BASE, ["data.train=nothere.txt", "data.sequences=500"]))
    assert not p.problems and p.steps.sequences == 500
    assert any("data.sequences" in n for n in p.notes)


def test_no_local_tokenizer_plans_with_approximate_counts(here: Path) -> None:
    p = Session().plan_for(parse_config(BASE, ["model.name=EleutherAI/gpt-j-6B"]))
    assert p.steps is not None and p.steps.sequences > 0
    assert any("no local tokenizer" in n for n in p.notes)


def test_auto_target_uses_the_detected_machine_with_the_configs_nodes(here: Path) -> None:
    hw = from_target("A100-80GB x8")
    s = Session(hw)                                # as the wizard hands over its detection
    got = s.hardware(parse_config(BASE, ["hardware.target=auto", "hardware.nodes=2",
                                         "hardware.host_ram_gib=512"]))
    assert (got.device_count, got.nodes, got.ram_total) == (8, 2, 512 * 1024**3)
    assert Session().hardware(parse_config(BASE, ["hardware.target=auto"]), block=False) is None


def test_a_detected_machine_with_settings_keeps_plans_cached(here: Path) -> None:
    s = Session(from_target("A100-80GB x8"))
    cfg = parse_config(BASE, ["hardware.target=auto", "hardware.host_ram_gib=512",
                              "data.sequences=100", "data.train=[]"])
    hw = s.hardware(cfg)
    assert s.hardware(cfg) is hw                       # the same object for the same settings
    spec = s.known_spec(cfg)
    assert s.plan(cfg, hw, spec) is s.plan(cfg, s.hardware(cfg), spec)
