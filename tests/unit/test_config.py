"""RunConfig validation: every error names the field, the bad value and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core.config import RunConfig, apply_override, load_config, parse_config
from ftwizard.core.errors import InputError, InputErrors
from ftwizard.core.presets import list_presets

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "presets"


def err(text: str, overrides: list[str] | None = None) -> InputError:
    with pytest.raises(InputError) as e:
        parse_config(text, overrides)
    return e.value


def test_unknown_key_gets_did_you_mean() -> None:
    e = err("train: {micro_bach: 4}")
    assert e.field == "train.micro_bach" and "train.micro_batch" in e.fix


def test_unknown_section() -> None:
    e = err("trian: {micro_batch: 4}")
    assert "train" in e.fix


def test_bad_choice_lists_choices_and_closest() -> None:
    e = err("method: {kind: qlra}")
    assert e.field == "method.kind" and "qlora" in e.fix and e.value == "qlra"


@pytest.mark.parametrize("key", ["eval_every", "save_every", "log_every"])
def test_every_must_be_positive(key: str) -> None:
    """Seed 000: a *_every of 0 divides by zero."""
    e = err(f"train: {{{key}: 0}}")
    assert e.field == f"train.{key}" and "> 0" in e.message


def test_weight_must_be_positive() -> None:
    e = err("data: {train: ['a.jsonl:-1']}")
    assert e.field == "data.train" and "-1" in e.message
    e = err("data: {train: [{path: a.jsonl, weight: 0}]}")
    assert "weight" in e.message


def test_path_weight_strings_parse_and_normalise_later() -> None:
    cfg = parse_config("data: {train: ['a.jsonl:0.2', 'hf:org/set:train', 'b.txt']}")
    assert [(s.path, s.weight) for s in cfg.data.train] == [
        ("a.jsonl", 0.2), ("hf:org/set:train", 1.0), ("b.txt", 1.0)]


def test_several_problems_reported_together() -> None:
    e = err("train: {micro_batch: 0, save_every: 0}")
    assert isinstance(e, InputErrors) and len(e.errors) == 2


def test_set_overrides_types_and_typos() -> None:
    cfg = parse_config("", ["train.micro_batch=4", "method.gradient_checkpointing=true",
                            "method.lora.target_modules=[q_proj, v_proj]"])
    assert cfg.train.micro_batch == 4 and cfg.method.gradient_checkpointing is True
    assert cfg.method.lora.target_modules == ["q_proj", "v_proj"]
    e = err("", ["train.grad_acum=1"])
    assert e.field == "train.grad_acum" and "train.grad_accum" in e.fix
    e = err("", ["train.micro_batch"])
    assert "=" in e.message


def test_quant_bits_only_with_qlora() -> None:
    assert parse_config("method: {kind: qlora}").method.quant_bits == 4
    e = err("method: {kind: lora, quant_bits: 4}")
    assert "qlora" in e.message


def test_yaml_round_trip_keeps_everything() -> None:
    cfg = parse_config("name: x\nmodel: {name: gpt2}\ntrain: {micro_batch: 3}", ["data.train=a.txt:2"])
    again = parse_config(cfg.to_yaml())
    assert again == cfg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  micro_batch: [1\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert "line" in e.value.message


def test_missing_file_suggests_preset() -> None:
    with pytest.raises(InputError) as e:
        load_config("tiny-cpu-dmo")
    assert "tiny-cpu-demo" in e.value.fix


def test_every_shipped_preset_loads_and_keeps_the_contract_keys() -> None:
    presets = list_presets()
    for name in ["gptj-6b-zero3-24gb", "gpt2-xl-deepspeed-v100", "llama2-7b-qlora-int4",
                 "llama2-7b-qlora-int8", "llama2-7b-lora", "llama2-7b-full-fsdp",
                 "gpt-neox-20b-pipeline", "gptj-6b-tpu-v3-8", "tiny-cpu-demo"]:
        assert name in presets
        cfg = load_config(name)
        assert cfg.name == name and cfg.version == 1


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("v1_*.yaml")), ids=lambda p: p.name)
def test_versioned_fixtures_load(path: Path) -> None:
    """Backward compatibility: every committed v1 config keeps loading (STYLE.md #11)."""
    assert isinstance(load_config(path), RunConfig)


def test_apply_override_does_not_mutate() -> None:
    d = {"train": {"micro_batch": 1}}
    out = apply_override(d, "train.micro_batch=2")
    assert d["train"]["micro_batch"] == 1 and out["train"]["micro_batch"] == 2


@pytest.mark.parametrize("train,words", [
    ({"objective": "dpo", "preference": {"loss_type": "sigmod"}}, ["'sigmod'", "did you mean 'sigmoid'", "ipo"]),
    ({"objective": "kto", "preference": {"loss_type": "ipo"}}, ["'ipo'", "kto losses", "apo_zero_unpaired"]),
    ({"objective": "sft", "preference": {"loss_type": "ipo"}}, ["applies to dpo and kto", "remove"]),
    ({"objective": "dpo", "preference": {"loss_type": "exo_pair"}}, ["label_smoothing > 0", "0.001"]),
    ({"objective": "ppo"}, ["train.objective", "'ppo'", "dpo"]),
])
def test_preference_knobs_are_checked_as_trl_checks_them(train, words) -> None:
    """What TRL's trainer would refuse when training starts is refused when the config is read,
    with the field, the value and the fix."""
    with pytest.raises((InputError, InputErrors)) as err:
        parse_config(f"train: {train!r}\n")   # a Python dict's repr is a YAML flow mapping
    text = str(err.value)
    for w in words:
        assert w in text, (w, text)
    ok = parse_config("train: {objective: dpo, preference: {loss_type: exo_pair, label_smoothing: 0.001}}")
    assert ok.train.preference.loss_type == "exo_pair" and ok.train.objective == "dpo"
