"""Preference and reward configs of axolotl and LLaMA-Factory (issues 15 and 17).

The fixtures follow the shape of LLaMA-Factory's examples/train_lora/llama3_lora_{dpo,kto,reward}
.yaml and axolotl's rl/reward-model examples (key names and values from their documentation,
written here). Each test reads a file as a user would and checks the objective and knobs it
became, what is not carried and why, that the data it names is read as the pairs or KTO rows the
trainer gets, and that `ftwizard plan` / `run --dry-run` plan that objective.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ftwizard.core.data_sources import iter_records
from ftwizard.core.errors import InputError
from ftwizard.core.importers import export_config, import_data, import_file
from ftwizard.core.preference_data import read_row

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
DATA = FIX / "data"


def ftw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env)


def rows(result) -> dict:  # noqa: ANN001
    return {r.key: r for r in result.rows}


def every_key_listed(path: Path, result) -> None:  # noqa: ANN001
    data = yaml.safe_load(path.read_text())
    listed = {r.key.split("[")[0].split(".")[0].split(":")[0] for r in result.rows}
    assert not set(data) - listed, f"keys without a row: {set(data) - listed}"


def first_row(src):  # noqa: ANN001, ANN201
    """The first record of a source as core/preference_data reads it, with the source's columns."""
    rec, where = next(iter_records(src))
    return read_row(rec, where, src.columns)


def variant(fixture: str, change: dict, drop: tuple[str, ...] = ()):  # noqa: ANN201
    data = yaml.safe_load((FIX / fixture).read_text())
    data.update(change)
    for k in drop:
        data.pop(k, None)
    return import_data(data, str(FIX / fixture), FIX)


# ---------------------------------------------------------------- LLaMA-Factory

def test_llamafactory_lora_dpo_example() -> None:
    """llama3_lora_dpo.yaml's shape: stage dpo, pref_beta, pref_loss; a ShareGPT ranking entry and
    an alpaca ranking entry with renamed columns, both read as the pairs TRL gets."""
    r = import_file(FIX / "llamafactory_lora_dpo.yaml")
    cfg, by = r.config, rows(r)
    assert cfg.train.objective == "dpo" and by["stage"].status == "mapped"
    assert (cfg.train.preference.beta, cfg.train.preference.loss_type) == (0.2, "hinge")
    assert cfg.data.chat_template == "llama-3" and not cfg.data.packing
    sharegpt, alpaca = cfg.data.train
    assert sharegpt.columns is None
    assert alpaca.columns == {"instruction": "question", "input": "context", "chosen": "better",
                              "rejected": "worse"}
    row = first_row(sharegpt)
    assert (row.shape, row.prompt[-1]["role"], row.chosen, row.rejected) == (
        "sharegpt", "user", [{"role": "assistant", "content": "4."}],
        [{"role": "assistant", "content": "5."}])
    row = first_row(alpaca)
    assert (row.shape, row.prompt[-1]["content"], row.chosen[0]["content"]) == ("alpaca", "What is 2+2?", "4.")
    assert [x.key for x in r.not_carried] == ["max_samples"]
    every_key_listed(FIX / "llamafactory_lora_dpo.yaml", r)


@pytest.mark.parametrize("change,key,status,expect", [
    ({"pref_loss": "orpo", "pref_beta": 0.25}, "pref_loss", "mapped", ("orpo", None, 0.25)),
    ({"pref_loss": "ipo"}, "pref_loss", "mapped", ("dpo", "ipo", 0.2)),
    ({"pref_loss": "sigmoid"}, "pref_loss", "mapped", ("dpo", "sigmoid", 0.2)),
    ({"pref_loss": "kto_pair"}, "pref_loss", "not carried", ("dpo", None, 0.2)),
    ({"pref_loss": "simpo", "simpo_gamma": 0.5}, "simpo_gamma", "not carried", ("dpo", None, 0.2)),
    ({"pref_ftx": 0.5}, "pref_ftx", "not carried", ("dpo", "hinge", 0.2)),
    ({"pref_ftx": 0.0}, "pref_ftx", "same", ("dpo", "hinge", 0.2)),
    ({"dpo_label_smoothing": 0.1}, "dpo_label_smoothing", "not carried", ("dpo", "hinge", 0.2)),
    ({"pref_bco_weight": 0.3}, "pref_bco_weight", "not carried", ("dpo", "hinge", 0.2)),
    ({"ld_alpha": 0.5}, "ld_alpha", "not carried", ("dpo", "hinge", 0.2)),
    ({"ref_model": "meta-llama/Llama-3.1-8B-Instruct"}, "ref_model", "not carried", ("dpo", "hinge", 0.2)),
    ({"kto_chosen_weight": 2.0}, "kto_chosen_weight", "same", ("dpo", "hinge", 0.2)),
])
def test_llamafactory_pref_keys(change: dict, key: str, status: str, expect: tuple) -> None:
    r = variant("llamafactory_lora_dpo.yaml", change)
    assert rows(r)[key].status == status, rows(r)[key]
    p = r.config.train.preference
    assert (r.config.train.objective, p.loss_type, p.beta) == expect
    if status == "not carried":
        assert rows(r)[key].note      # always says why
    if key == "ref_model":
        assert "reference" in rows(r)[key].note and "LoRA" in rows(r)[key].note
    if change.get("pref_loss") == "simpo":
        assert rows(r)["pref_loss"].status == "not carried" and "CPOTrainer" in rows(r)["pref_loss"].note


def test_llamafactory_ppo_and_a_bad_pref_loss() -> None:
    r = variant("llamafactory_lora_dpo.yaml", {"stage": "ppo", "reward_model": "saves/rm"})
    assert r.config.train.objective == "sft" and rows(r)["stage"].status == "not carried"
    assert rows(r)["reward_model"].status == "not carried"
    assert rows(r)["pref_beta"].status == "same"        # unused outside dpo/kto
    with pytest.raises(InputError) as err:
        variant("llamafactory_lora_dpo.yaml", {"pref_loss": "dpop"})
    assert "pref_loss" in err.value.field and "sigmoid" in err.value.fix


def test_llamafactory_kto_example_reads_kto_tag_rows() -> None:
    """llama3_lora_kto.yaml's shape; kto_en_demo's entry names the kto_tag column `label`."""
    r = import_file(FIX / "llamafactory_lora_kto.yaml")
    cfg = r.config
    assert cfg.train.objective == "kto"
    p = cfg.train.preference
    assert (p.beta, p.desirable_weight, p.undesirable_weight) == (0.1, 1.0, 1.33)
    assert cfg.data.validation.split == 0.1
    row = first_row(cfg.data.train[0])
    assert (row.shape, row.label, row.completion[0]["role"]) == ("kto_tag", False, "assistant")
    assert not r.not_carried
    every_key_listed(FIX / "llamafactory_lora_kto.yaml", r)
    renamed = json.loads((DATA / "dataset_info.json").read_text())["kto_en_chat"]
    assert renamed["columns"]["kto_tag"] == "label"


def test_llamafactory_reward_example() -> None:
    r = import_file(FIX / "llamafactory_lora_reward.yaml")
    assert r.config.train.objective == "reward" and rows(r)["stage"].status == "mapped"
    assert r.config.method.kind == "lora" and r.config.train.lr == 1e-4
    assert not r.not_carried


def test_llamafactory_tools_column_is_read_and_written_back(tmp_path: Path) -> None:
    """A renamed `tools` column (glaive-style function calling) -> columns.tools, which
    core/data_formats reads with the turns; export writes it back into dataset_info.json."""
    from ftwizard.core.data_formats import apply_columns, record_tools

    r = variant("llamafactory_lora_sft.yaml", {"dataset": "glaive_tools", "dataset_dir": "data"})
    src = r.config.data.train[0]
    assert src.columns == {"tools": "functions"}
    assert not [x for x in r.not_carried if "tools" in x.key]
    rec, where = next(iter_records(src))
    tools = record_tools(apply_columns(rec, src.columns, where), where)
    assert tools[0]["function"]["name"] == "add"
    out, _ = _export(r.config, "llamafactory", tmp_path)
    assert import_file(out).config.data.train[0].columns == {"tools": "functions"}


def test_llamafactory_kto_alpaca_columns(tmp_path: Path) -> None:
    """An alpaca KTO entry (prompt / response / kto_tag columns) -> prompt/completion/label rows;
    a query column has no place in them and is said so."""
    (tmp_path / "dataset_info.json").write_text(json.dumps({"qa_kto": {
        "file_name": str(DATA / "kto_intel.jsonl"),
        "columns": {"prompt": "question", "response": "completion", "kto_tag": "label",
                    "query": "context"}}}))
    data = yaml.safe_load((FIX / "llamafactory_lora_kto.yaml").read_text())
    data.update({"dataset": "qa_kto", "dataset_dir": str(tmp_path)})
    r = import_data(data, str(FIX / "llamafactory_lora_kto.yaml"), FIX)
    src = r.config.data.train[0]
    assert src.columns == {"prompt": "question"}
    assert rows(r)["dataset[qa_kto].columns.query"].status == "not carried"
    row = first_row(src)
    assert (row.shape, row.prompt, row.label) == ("kto", "What is 2+2?", False)


# ---------------------------------------------------------------- axolotl

def test_axolotl_dpo_robust_loss_and_intel_pairs() -> None:
    r = import_file(FIX / "axolotl_dpo.yaml")
    cfg, by = r.config, rows(r)
    p = cfg.train.preference
    assert (cfg.train.objective, p.beta, p.loss_type, p.label_smoothing) == ("dpo", 0.1, "robust", 0.1)
    assert cfg.data.chat_template == "chatml"
    assert by["datasets[0].type"].status == "mapped"
    row = first_row(cfg.data.train[0])
    assert row.shape == "intel" and [m["role"] for m in row.prompt] == ["system", "user"]
    assert not r.not_carried
    every_key_listed(FIX / "axolotl_dpo.yaml", r)


@pytest.mark.parametrize("change,key,status,expect", [
    ({"rl": "ipo", "dpo_loss_type": None, "dpo_label_smoothing": None}, "rl", "mapped", ("dpo", "ipo", 0.1)),
    ({"rl": "orpo", "rl_beta": None, "orpo_alpha": 0.05, "dpo_loss_type": None}, "orpo_alpha", "mapped",
     ("orpo", None, 0.05)),
    ({"rl": "orpo", "orpo_alpha": 0.05, "dpo_loss_type": None}, "orpo_alpha", "same", ("orpo", None, 0.1)),
    ({"trl": {"beta": 0.4, "use_vllm": True}}, "trl.use_vllm", "not carried", ("dpo", "robust", 0.4)),
    ({"rl": "simpo", "simpo_gamma": 0.5}, "rl", "not carried", ("sft", None, 0.1)),
    ({"rl": "grpo"}, "rl", "not carried", ("sft", None, 0.1)),
    ({"dpo_loss_type": ["sigmoid", "sft"], "dpo_loss_weights": [1.0, 0.2]}, "dpo_loss_type",
     "not carried", ("dpo", None, 0.1)),
    ({"rpo_alpha": 0.5}, "rpo_alpha", "not carried", ("dpo", "robust", 0.1)),
    ({"dpo_use_weighting": True}, "dpo_use_weighting", "not carried", ("dpo", "robust", 0.1)),
    ({"precompute_ref_log_probs": True}, "precompute_ref_log_probs", "mapped", ("dpo", "robust", 0.1)),
])
def test_axolotl_rl_keys(change: dict, key: str, status: str, expect: tuple) -> None:
    r = variant("axolotl_dpo.yaml", {k: v for k, v in change.items() if v is not None},
                drop=tuple(k for k, v in change.items() if v is None))
    assert rows(r)[key].status == status, rows(r)[key]
    p = r.config.train.preference
    assert (r.config.train.objective, p.loss_type, p.beta) == expect
    if key == "precompute_ref_log_probs":
        assert p.reference == "precomputed"
    if status == "not carried":
        assert rows(r)[key].note


def test_axolotl_kto_example() -> None:
    r = import_file(FIX / "axolotl_kto.yaml")
    cfg = r.config
    p = cfg.train.preference
    assert (cfg.train.objective, p.beta, p.desirable_weight, p.undesirable_weight, p.reference) == (
        "kto", 0.2, 1.0, 1.5, "precomputed")
    assert cfg.data.train[0].columns == {"prompt": "question"}
    row = first_row(cfg.data.train[0])
    assert (row.shape, row.prompt, row.label) == ("kto", "What is 2+2?", False)
    assert not r.not_carried


def test_axolotl_reward_model_example() -> None:
    """examples/gemma2/reward-model.yaml's shape: reward_model, a sequence-classification
    model_type with one label, center_rewards_coefficient; a chat_template.default dataset with
    renamed fields and a bradley_terry one (not read: said why, path kept)."""
    r = import_file(FIX / "axolotl_reward.yaml")
    cfg, by = r.config, rows(r)
    assert cfg.train.objective == "reward" and cfg.train.preference.center_rewards == 0.01
    assert by["model_type"].status == "same" and by["num_labels"].status == "same"
    assert cfg.data.chat_template == "gemma"
    mine, hub = cfg.data.train
    assert mine.columns == {"messages": "conversation", "chosen": "good", "rejected": "bad"}
    assert first_row(mine).shape == "messages"
    assert hub.path == "hf:argilla/distilabel-intel-orca-dpo-pairs"
    assert by["datasets[1].type"].status == "not carried" and "question" in by["datasets[1].type"].note
    every_key_listed(FIX / "axolotl_reward.yaml", r)
    with pytest.raises(InputError):
        variant("axolotl_reward.yaml", {"rl": "dpo"})


# ---------------------------------------------------------------- export and plan

def _export(cfg, fmt: str, folder: Path) -> tuple[Path, list[str]]:  # noqa: ANN001
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"exported-{fmt}.yaml"
    text, lost, extra = export_config(cfg, fmt, out)
    for name, data in extra.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(data))
    out.write_text(text)
    return out, lost


def test_export_writes_each_tools_own_keys(tmp_path: Path) -> None:
    kto = import_file(FIX / "axolotl_kto.yaml").config
    out, _ = _export(kto, "axolotl", tmp_path / "a")
    d = yaml.safe_load(out.read_text())
    assert (d["rl"], d["rl_beta"], d["kto_undesirable_weight"], d["precompute_ref_log_probs"]) == (
        "kto", 0.2, 1.5, True)
    assert d["datasets"][0]["type"] == "chatml.intel" and "sample_packing" in d
    out, lost = _export(kto, "llamafactory", tmp_path / "l")
    d = yaml.safe_load(out.read_text())
    assert (d["stage"], d["pref_beta"], d["kto_rejected_weight"]) == ("kto", 0.2, 1.5)
    assert any("reference=precomputed" in x for x in lost)
    dpo = import_file(FIX / "llamafactory_lora_dpo.yaml").config
    out, _ = _export(dpo, "axolotl", tmp_path / "a2")
    d = yaml.safe_load(out.read_text())
    assert (d["rl"], d["rl_beta"], d["dpo_loss_type"]) == ("dpo", 0.2, ["hinge"])
    assert d["datasets"][0]["type"] == "chat_template.default"
    orpo = variant("llamafactory_lora_dpo.yaml", {"pref_loss": "orpo"}).config
    for fmt, key, want in (("axolotl", "rl", "orpo"), ("llamafactory", "pref_loss", "orpo")):
        out, _ = _export(orpo, fmt, tmp_path / f"o{fmt}")
        assert yaml.safe_load(out.read_text())[key] == want
        assert import_file(out).config.train.objective == "orpo"
    ipo = variant("axolotl_dpo.yaml", {"rl": "ipo"}, drop=("dpo_loss_type", "dpo_label_smoothing")).config
    out, _ = _export(ipo, "axolotl", tmp_path / "i")
    assert yaml.safe_load(out.read_text())["rl"] == "ipo"
    reward = import_file(FIX / "axolotl_reward.yaml").config
    out, _ = _export(reward, "axolotl", tmp_path / "r")
    d = yaml.safe_load(out.read_text())
    assert (d["reward_model"], d["center_rewards_coefficient"]) == (True, 0.01)


@pytest.mark.parametrize("fixture,fmt", [("axolotl_dpo.yaml", "llamafactory"),
                                         ("axolotl_kto.yaml", "llamafactory"),
                                         ("llamafactory_lora_dpo.yaml", "axolotl"),
                                         ("llamafactory_lora_kto.yaml", "axolotl"),
                                         ("llamafactory_lora_reward.yaml", "axolotl")])
def test_to_the_other_tool_every_difference_is_listed(fixture: str, fmt: str, tmp_path: Path) -> None:
    """The objective and its knobs cross over; what the other tool cannot hold is in the header."""
    first = import_file(FIX / fixture).config
    out, lost = _export(first, fmt, tmp_path)
    assert "\n".join(f"#   - {x}" for x in lost) in out.read_text()
    back = import_file(out).config
    assert back.train.objective == first.train.objective
    a, b = first.train.preference.to_dict() if hasattr(first.train.preference, "to_dict") else \
        first.train.preference.model_dump(), back.train.preference.model_dump()
    for key, value in a.items():
        if b[key] != value:
            assert any(f"train.preference.{key}" in x for x in lost), (key, value, b[key], lost)
    for s, t in zip(first.data.train, back.data.train):
        if (s.columns or {}) != (t.columns or {}):
            assert any(Path(s.path).name in x for x in lost), (s.columns, t.columns, lost)


def test_plan_and_dry_run_on_imported_preference_configs(tmp_path: Path) -> None:
    r = ftw("plan", str(FIX / "llamafactory_lora_dpo.yaml"), "--target", "A100-80GB x1", "--json")
    assert r.returncode == 0, r.stderr
    assert "read as a LLaMA-Factory config" in r.stderr
    d = json.loads(r.stdout)
    assert d["objective"] == "dpo" and d["steps"]["sequences"] == 48        # 24 + 24 pairs
    r = ftw("plan", str(FIX / "llamafactory_lora_reward.yaml"), "--target", "A100-80GB x1", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["objective"] == "reward"
    # LLaMA-Factory's KTO example trains one row per device; TRL's KTOTrainer needs two (its KL
    # term pairs rows of one micro batch): the plan says so and plans it once that is set.
    r = ftw("plan", str(FIX / "llamafactory_lora_kto.yaml"), "--target", "A100-80GB x1", "--json")
    assert r.returncode == 2 and "train.micro_batch" in r.stdout + r.stderr
    r = ftw("plan", str(FIX / "llamafactory_lora_kto.yaml"), "--target", "A100-80GB x1", "--json",
            "--set", "train.micro_batch=2")
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(r.stdout)
    assert d["objective"] == "kto" and d["steps"]["sequences"] == 22   # 24 rows, 10 % held out
    cfg = tmp_path / "dpo.yaml"
    cfg.write_text(yaml.safe_dump({
        "base_model": "gpt2", "rl": "dpo", "rl_beta": 0.3, "sequence_len": 64, "micro_batch_size": 2,
        "num_epochs": 1, "learning_rate": 1e-5, "output_dir": str(tmp_path / "runs"),
        "datasets": [{"path": str(DATA / "intel_pairs.jsonl"), "type": "chatml.intel"}]}))
    r = ftw("run", str(cfg), "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "read as an axolotl config" in r.stderr and "dpo" in r.stdout
    from ftwizard.core.config import load_config

    written = load_config(tmp_path / "runs" / "dpo" / "config.yaml")
    assert (written.train.objective, written.train.preference.beta, written.data.chat_template) == (
        "dpo", 0.3, "chatml")


# ---------------------------------------------------------------- TRL config dumps

def test_trl_config_dumps_are_read_as_their_objective(tmp_path: Path) -> None:
    """A DPOConfig / KTOConfig / RewardConfig / ORPOConfig saved as JSON (TrainingArguments plus
    TRL's fields, as TRL itself writes them) plans the trainer it configures."""
    from trl import DPOConfig, KTOConfig, RewardConfig
    from trl.experimental.orpo import ORPOConfig

    cases = [(DPOConfig, {"beta": 0.2, "loss_type": ["robust"], "label_smoothing": 0.1,
                          "max_length": 512, "precompute_ref_log_probs": True},
              ("dpo", {"beta": 0.2, "loss_type": "robust", "label_smoothing": 0.1,
                       "reference": "precomputed"}, 512)),
             (DPOConfig, {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, 0.5]},
              ("dpo", {}, 1024)),
             (KTOConfig, {"undesirable_weight": 1.5, "beta": 0.05},
              ("kto", {"beta": 0.05, "loss_type": "kto", "undesirable_weight": 1.5}, 1024)),
             (RewardConfig, {"center_rewards_coefficient": 0.01}, ("reward", {"center_rewards": 0.01}, 1024)),
             (ORPOConfig, {"beta": 0.3}, ("orpo", {"beta": 0.3}, 1024))]
    for i, (cls, kw, (objective, pref, block)) in enumerate(cases):
        d = cls(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, **kw).to_dict()
        d["model_name_or_path"] = "gpt2"
        path = tmp_path / f"{cls.__name__}-{i}.json"
        path.write_text(json.dumps(d))
        r = import_file(path)
        cfg = r.config
        assert r.format == "hf-trainer"
        assert (cfg.train.objective, cfg.train.preference.model_dump(exclude_defaults=True),
                cfg.data.block_size) == (objective, pref, block), cls
        if "loss_weights" in kw:
            assert rows(r)["loss_type"].status == "not carried"
            assert rows(r)["loss_weights"].status == "not carried"
        assert not [x for x in r.not_carried if x.key in ("beta", "max_length", "disable_dropout")]
