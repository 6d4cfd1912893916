"""Other tools' configs (issue 17): axolotl, LLaMA-Factory, TrainingArguments + DeepSpeed JSON.

The fixtures in tests/fixtures/imports were written from those projects' documented key names.
Each test reads one as a user would and checks what every key became; the round trip writes it
back with `export-config` and reads it again; bad files exit 2 naming the file, key, value and fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ftwizard.core.config import load_config
from ftwizard.core.errors import InputError
from ftwizard.core.importers import detect, export_config, foreign_format, import_file

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
DATA = FIX / "data"


def ftw(*args: str, cwd: Path | None = None, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, env=env)


def rows_by_key(result) -> dict[str, object]:  # noqa: ANN001
    return {r.key: r for r in result.rows}


def source_keys_all_listed(path: Path, result) -> None:  # noqa: ANN001
    """Nothing unknown is silently dropped: every top-level key of the file has a row."""
    data = yaml.safe_load(path.read_text())
    listed = {r.key.split("[")[0].split(".")[0].split(":")[0] for r in result.rows}
    missing = set(data) - listed
    assert not missing, f"keys without a row: {missing}"
    keys = [r.key for r in result.rows if r.key != "(not set)"]
    assert len(keys) == len(set(keys)), "a key listed twice"


# ---------------------------------------------------------------- axolotl

def test_axolotl_qlora_maps_every_documented_key(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # data paths resolve beside the config, as axolotl users run it there
    r = import_file(FIX / "axolotl_qlora.yaml")
    assert r.format == "axolotl"
    cfg = r.config
    rows = rows_by_key(r)
    assert cfg.model.name == "meta-llama/Meta-Llama-3-8B"
    assert (cfg.model.dtype, cfg.model.attn_implementation) == ("bf16", "flash_attention_2")
    assert (cfg.method.kind, cfg.method.quant_bits) == ("qlora", 4)
    lora = cfg.method.lora
    assert (lora.r, lora.alpha, lora.dropout, lora.target_modules) == (32, 16, 0.05, "all-linear")
    assert cfg.data.block_size == 4096
    assert rows["sample_packing"].status == "mapped" and "attending only to itself" in rows["sample_packing"].note
    assert (cfg.data.mode, cfg.data.packing) == ("entries", True)   # chat data packed, no cross-attention
    assert [s.path for s in cfg.data.train] == [str(DATA / "chat.jsonl"), "hf:example-org/support-notes"]
    assert cfg.data.train[1].text_field == "body"
    assert cfg.data.validation.split == 0.05
    t = cfg.train
    assert (t.micro_batch, t.grad_accum, t.epochs, t.max_steps) == (2, 4, 4, None)
    assert (t.lr, t.scheduler, t.end_lr) == (2e-4, "cosine", pytest.approx(2e-5))
    assert t.warmup_steps == 10 and t.log_every == 1
    assert cfg.method.optimizer == "paged_adamw_8bit"
    assert cfg.method.gradient_checkpointing is True
    assert cfg.data.mask_prompt is True                      # train_on_inputs: false
    assert (cfg.method.parallel, cfg.method.zero_stage, cfg.method.offload_optimizer) == ("deepspeed", 2, True)
    assert cfg.output.dir == "./outputs/qlora-out"
    assert cfg.output.report_to == "wandb" and "WANDB_PROJECT=llama3-support" in rows["wandb_project"].note
    assert rows["wandb_entity"].status == "not carried" and "WANDB_" in rows["wandb_entity"].note
    assert rows["tf32"].status == "not carried"
    assert rows["lora_model_dir"].status == "empty"
    assert rows["special_tokens"].status == "not carried"
    source_keys_all_listed(FIX / "axolotl_qlora.yaml", r)


def test_axolotl_full_fsdp_completion_packed_is_corpus() -> None:
    r = import_file(FIX / "axolotl_full_fsdp.yaml")
    cfg, rows = r.config, rows_by_key(r)
    assert (cfg.model.dtype, cfg.method.kind) == ("fp16", "full")
    assert (cfg.method.parallel, cfg.method.fsdp) == ("fsdp", "full_shard")
    assert rows["fsdp_config.fsdp_transformer_layer_cls_to_wrap"].status == "not carried"
    assert cfg.data.mode == "corpus" and rows["sample_packing"].status == "mapped"
    assert cfg.data.validation is None                              # val_set_size: 0
    t = cfg.train
    assert (t.max_steps, t.warmup_ratio, t.scheduler, t.lr) == (500, 0.1, "linear", 1e-5)
    assert (t.save_every, t.eval_every, t.keep_checkpoints, t.seed) == (100, 50, 3, 7)
    assert cfg.method.optimizer == "adamw" and cfg.method.gradient_checkpointing
    assert cfg.output.report_to == "tensorboard"
    source_keys_all_listed(FIX / "axolotl_full_fsdp.yaml", r)


def test_axolotl_defaults_are_axolotls_not_ftwizards() -> None:
    """Silent keys get axolotl's values (1 epoch, 3 % warmup, no dropout, fp32), said as defaults."""
    r = import_file(FIX / "axolotl_dpo.yaml")
    cfg = r.config
    assert cfg.train.warmup_ratio == 0.03 and cfg.method.lora.dropout == 0.0
    assert cfg.data.block_size == 512
    assert any(x.status == "default" and "warmup" in x.became for x in r.rows)


def test_axolotl_rl_dpo_is_the_dpo_objective() -> None:
    r = import_file(FIX / "axolotl_dpo.yaml")
    rows = rows_by_key(r)
    assert rows["rl"].status == "mapped" and r.config.train.objective == "dpo"
    assert rows["rl_beta"].status == "mapped"
    assert rows["datasets[0].type"].status == "mapped"          # chatml.intel: read as intel pairs
    assert r.config.method.lora.target_modules == ["q_proj", "v_proj"]


# ---------------------------------------------------------------- LLaMA-Factory

def test_llamafactory_lora_sft_with_dataset_info_and_deepspeed() -> None:
    r = import_file(FIX / "llamafactory_lora_sft.yaml")
    assert r.format == "llamafactory"
    cfg, rows = r.config, rows_by_key(r)
    assert cfg.model.name == "meta-llama/Meta-Llama-3-8B" and cfg.model.trust_remote_code
    assert cfg.data.mode == "entries"
    lora = cfg.method.lora
    assert (cfg.method.kind, lora.r, lora.alpha, lora.dropout, lora.target_modules) == (
        "lora", 16, 32, 0.1, "all-linear")
    assert cfg.data.block_size == 2048
    assert [s.path for s in cfg.data.train] == [str(DATA / "chat.jsonl"), str(DATA / "qa.jsonl")]
    assert cfg.data.validation.split == 0.1
    assert cfg.method.gradient_checkpointing is True              # LLaMA-Factory's default
    t = cfg.train
    assert (t.micro_batch, t.grad_accum, t.epochs, t.lr, t.scheduler, t.warmup_ratio) == (
        2, 8, 3, 1e-4, "cosine", 0.1)
    assert (t.save_every, t.eval_every, t.log_every) == (500, 500, 10)
    assert cfg.model.dtype == "bf16"
    m = cfg.method
    assert (m.parallel, m.zero_stage, m.offload_optimizer, m.offload_params) == ("deepspeed", 3, True, True)
    assert cfg.output.report_to == "wandb"
    assert rows["max_samples"].status == "not carried"
    assert rows["template"].status == "mapped" and cfg.data.chat_template == "llama-3"
    source_keys_all_listed(FIX / "llamafactory_lora_sft.yaml", r)


def test_llamafactory_qlora_defaults_and_min_lr() -> None:
    r = import_file(FIX / "llamafactory_qlora.yaml")
    cfg, rows = r.config, rows_by_key(r)
    assert (cfg.method.kind, cfg.method.quant_bits) == ("qlora", 4)
    lora = cfg.method.lora
    assert (lora.r, lora.alpha, lora.dropout) == (8, 16, 0.0)      # rank 8, alpha 2 x rank, no dropout
    assert lora.target_modules == ["q_proj", "v_proj"]
    assert rows["packing"].status == "mapped" and "neat" in rows["packing"].note
    assert cfg.data.packing is True
    assert (cfg.train.scheduler, cfg.train.end_lr, cfg.train.warmup_steps) == ("cosine", 2e-5, 20)
    assert cfg.method.optimizer == "adamw_8bit" and cfg.model.dtype == "fp16"
    assert cfg.method.gradient_checkpointing is True
    source_keys_all_listed(FIX / "llamafactory_qlora.yaml", r)


def test_llamafactory_pretraining_full_fsdp() -> None:
    r = import_file(FIX / "llamafactory_pt_full.yaml")
    cfg = r.config
    assert (cfg.data.mode, cfg.method.kind) == ("corpus", "full")
    assert cfg.data.train[0].path == str(DATA / "notes.jsonl") and cfg.data.train[0].text_field == "text"
    assert (cfg.method.parallel, cfg.method.fsdp) == ("fsdp", "full_shard")
    assert cfg.method.gradient_checkpointing is False             # disable_gradient_checkpointing
    assert (cfg.train.max_steps, cfg.train.scheduler, cfg.train.warmup_ratio) == (300, "linear", 0.0)
    assert cfg.output.report_to == "none"


def test_llamafactory_dpo_stage_is_the_dpo_objective() -> None:
    r = import_file(FIX / "llamafactory_dpo.yaml")
    rows = rows_by_key(r)
    assert rows["stage"].status == "mapped" and r.config.train.objective == "dpo"
    assert rows["pref_beta"].status == "mapped" and r.config.train.preference.beta == 0.1


# ---------------------------------------------------------------- TrainingArguments / DeepSpeed

def test_hf_trainer_json_with_its_deepspeed_json() -> None:
    r = import_file(FIX / "hf_trainer.json")
    assert r.format == "hf-trainer"
    cfg = r.config
    assert cfg.model.name == "gpt2-medium"
    assert cfg.data.train[0].path == str(DATA / "notes.jsonl")
    assert (cfg.data.validation.split, cfg.data.block_size, cfg.data.mode) == (0.05, 512, "corpus")
    t = cfg.train
    assert (t.micro_batch, t.grad_accum, t.epochs, t.lr, t.scheduler) == (4, 4, 2, 3e-5, "cosine")
    assert (t.warmup_steps, t.weight_decay, t.log_every, t.save_every, t.keep_checkpoints, t.seed) == (
        50, 0.01, 10, 200, 2, 1234)
    assert (cfg.model.dtype, cfg.method.gradient_checkpointing, cfg.output.report_to) == (
        "fp16", True, "tensorboard")
    m = cfg.method
    assert (m.parallel, m.zero_stage, m.offload_optimizer, m.offload_params) == ("deepspeed", 3, True, True)
    assert t.max_grad_norm == 1.0
    source_keys_all_listed(FIX / "hf_trainer.json", r)


def test_deepspeed_json_alone() -> None:
    r = import_file(FIX / "ds_zero3_offload.json")
    assert r.format == "deepspeed"
    c = r.config
    assert (c.method.zero_stage, c.method.offload_params, c.model.dtype) == (3, True, "fp16")
    assert (c.train.micro_batch, c.train.grad_accum) == (4, 4)


def test_detection_by_keys() -> None:
    assert detect({"base_model": "x", "micro_batch_size": 1}) == "axolotl"
    assert detect({"model_name_or_path": "x", "stage": "sft", "finetuning_type": "lora"}) == "llamafactory"
    assert detect({"model_name_or_path": "x", "per_device_train_batch_size": 1}) == "hf-trainer"
    assert detect({"zero_optimization": {"stage": 2}}) == "deepspeed"
    assert detect({"experiment": 1}) is None
    assert foreign_format(FIX / "axolotl_qlora.yaml") == "axolotl"
    assert foreign_format(Path(__file__).resolve().parents[2] / "presets" / "tiny-cpu-demo.yaml") is None


# ---------------------------------------------------------------- round trip

FIXTURES = ["axolotl_qlora.yaml", "axolotl_full_fsdp.yaml",
            "llamafactory_lora_sft.yaml", "llamafactory_qlora.yaml", "llamafactory_pt_full.yaml",
            "hf_trainer.json"]
# Preference configs round-trip exactly to their own tool (tests/unit/test_importers_preference.py
# checks the other direction's listed differences).
PREFERENCE_FIXTURES = [("axolotl_dpo.yaml", "axolotl"), ("axolotl_kto.yaml", "axolotl"),
                       ("axolotl_reward.yaml", "axolotl"),
                       ("llamafactory_dpo.yaml", "llamafactory"),
                       ("llamafactory_lora_dpo.yaml", "llamafactory"),
                       ("llamafactory_lora_kto.yaml", "llamafactory"),
                       ("llamafactory_lora_reward.yaml", "llamafactory")]


def _write_export(cfg, fmt: str, folder: Path) -> Path:  # noqa: ANN001
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"exported-{fmt}.yaml"
    text, _, extra = export_config(cfg, fmt, out)
    for name, data in extra.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(data))
    out.write_text(text)
    return out


@pytest.mark.parametrize("fixture,fmt", [(f, t) for f in FIXTURES for t in ("axolotl", "llamafactory")]
                         + PREFERENCE_FIXTURES)
def test_round_trip_keeps_every_mapped_key(fixture: str, fmt: str, tmp_path: Path) -> None:
    """import -> export-config -> import gives the same run config (name and description aside)."""
    first = import_file(FIX / fixture).config
    again = import_file(_write_export(first, fmt, tmp_path))
    assert again.format == fmt
    a, b = first.to_dict(), again.config.to_dict()
    for d in (a, b):
        d.pop("name"), d.pop("description")
    assert a == b


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "planned_on":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _abs_paths(d: dict) -> dict:
    """Local data paths as absolute ones: a relative path means the same file from the working
    directory, which is how the export writes it."""
    for src in d["data"]["train"] + ([d["data"]["validation"]] if d["data"]["validation"] else []):
        if src.get("path") and not src["path"].startswith("hf:"):
            src["path"] = str(Path(src["path"]).resolve())
    return d


@pytest.mark.parametrize("preset", ["llama2-7b-qlora-int4", "llama2-7b-qlora-int8", "llama2-7b-lora",
                                    "llama2-7b-full-fsdp", "gptj-6b-zero3-24gb", "tiny-cpu-demo",
                                    "llama3.1-8b-dpo-lora-24gb", "llama3.2-3b-kto-full-80gb",
                                    "mistral-7b-orpo-qlora-24gb", "qwen2.5-1.5b-reward-full-40gb",
                                    "tiny-cpu-dpo-demo"])
def test_export_names_every_setting_it_cannot_write(preset: str, tmp_path: Path) -> None:
    """A seed preset exported and read back differs only in settings the export header lists."""
    cfg = load_config(preset)
    for fmt in ("axolotl", "llamafactory"):
        out = _write_export(cfg, fmt, tmp_path / fmt)
        _, lost, _ = export_config(cfg, fmt, out)
        assert "\n".join(f"#   - {x}" for x in lost) in out.read_text()
        orig, back = _flat(_abs_paths(cfg.to_dict())), _flat(_abs_paths(import_file(out).config.to_dict()))
        for key, value in orig.items():
            if key in ("name", "description") or back[key] == value:
                continue
            where = "hardware" if key.startswith("hardware.") else key
            assert any(where in x for x in lost), (fmt, key, value, back[key], lost)


# ---------------------------------------------------------------- CLI

def test_import_cli_prints_the_table_and_writes_yaml(tmp_path: Path) -> None:
    out = tmp_path / "ftwizard.yaml"
    r = ftw("import", str(FIX / "llamafactory_qlora.yaml"), "-o", str(out), columns=200)
    assert r.returncode == 0, r.stderr
    assert "detected format llamafactory (a LLaMA-Factory config)" in r.stdout
    assert "quantization_bit" in r.stdout and "not carried" in r.stdout
    assert load_config(out).to_dict() == import_file(FIX / "llamafactory_qlora.yaml").config.to_dict()
    again = ftw("import", str(FIX / "llamafactory_qlora.yaml"), "-o", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    same = ftw("import", str(FIX / "llamafactory_qlora.yaml"), "-o", str(FIX / "llamafactory_qlora.yaml"))
    assert same.returncode == 2 and "replace" in same.stderr


def test_plan_reads_the_foreign_file_and_names_the_format() -> None:
    r = ftw("plan", str(FIX / "axolotl_full_fsdp.yaml"), "--target", "A100-80GB x8", "--json")
    assert r.returncode in (0, 3), r.stderr
    assert "read as an axolotl config" in r.stderr
    d = json.loads(r.stdout)
    assert d["name"] == "axolotl_full_fsdp"
    assert d["steps"]["total"] == 500                      # max_steps carried
    r = ftw("plan", str(FIX / "axolotl_full_fsdp.yaml"), "--target", "A100-80GB x8", "--json",
            "--set", "train.max_steps=7")
    assert json.loads(r.stdout)["steps"]["total"] == 7     # --set applies on top of the import


def test_run_dry_run_on_an_axolotl_file(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({
        "base_model": "gpt2", "sequence_len": 64, "sample_packing": True, "micro_batch_size": 2,
        "num_epochs": 1, "learning_rate": 1e-4, "output_dir": str(tmp_path / "runs"),
        "datasets": [{"path": str(DATA / "notes.jsonl"), "type": "completion"}]}))
    r = ftw("run", str(cfg), "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "read as an axolotl config" in r.stderr
    written = load_config(tmp_path / "runs" / "tiny" / "config.yaml")
    assert (written.data.mode, written.data.block_size, written.train.micro_batch) == ("corpus", 64, 2)


def test_export_config_cli_writes_deepspeed_and_dataset_info(tmp_path: Path) -> None:
    out = tmp_path / "lf.yaml"
    r = ftw("export-config", str(FIX / "axolotl_qlora.yaml"), "--format", "llamafactory", "--out", str(out))
    assert r.returncode == 0, r.stderr
    exported = yaml.safe_load(out.read_text())
    assert exported["stage"] == "sft" and exported["quantization_bit"] == 4
    ds = json.loads(Path(exported["deepspeed"]).read_text())
    assert ds["zero_optimization"]["stage"] == 2
    info = json.loads((Path(exported["dataset_dir"]) / "dataset_info.json").read_text())
    assert sorted(info) == exported["dataset"].split(",")


@pytest.mark.parametrize("name, words", [
    ("not_yaml.yaml", ["not valid", "line 2"]),
    ("unknown.yaml", ["not a config format", "experiment"]),
    ("bad_optimizer.yaml", ["optimizer", "lion_8bit"]),
    ("bad_stage.yaml", ["finetuning_type", "freeze"]),
    ("bad_lr.yaml", ["learning_rate", "-0.1"]),
    ("ds_conflict.yaml", ["train_micro_batch_size_per_gpu", "per_device_train_batch_size"]),
    ("duplicate_key.yaml", ["micro_batch_size", "twice"]),
])
def test_bad_input_exits_2_with_file_key_value_and_fix(name: str, words: list[str]) -> None:
    path = FIX / "bad" / name
    for cmd in (["import"], ["plan"]):
        r = ftw(*cmd, str(path))
        text = r.stdout + r.stderr
        if cmd == ["plan"] and name in ("not_yaml.yaml", "unknown.yaml"):
            assert r.returncode == 2 and "Traceback" not in text   # native loader's own message
            continue
        assert r.returncode == 2, text
        assert "Traceback" not in text
        assert str(path) in text and "fix:" in text
        for w in words:
            assert w in text, (w, text)


def test_bad_value_is_an_input_error_naming_the_source_key() -> None:
    with pytest.raises(InputError) as err:
        import_file(FIX / "bad" / "bad_lr.yaml")
    assert err.value.field.endswith("bad_lr.yaml:learning_rate") and err.value.value == -0.1


JUNK = ("abc", [1, "x"], {"x": 1}, -3, True, 0.5, None)


@pytest.mark.parametrize("fixture", FIXTURES + ["ds_zero3_offload.json", "axolotl_chat_columns.yaml",
                                     "axolotl_template_jinja.yaml", "llamafactory_chat_columns.yaml"]
                         + [f for f, _ in PREFERENCE_FIXTURES])
def test_any_wrong_value_is_an_input_error_never_a_crash(fixture: str) -> None:
    """Every key of every fixture, set to a value of the wrong type or range, either imports or
    fails as an InputError that names this file (exit 2 at the CLI), never another exception."""
    import copy

    from ftwizard.core.importers import import_data

    path = FIX / fixture
    data = yaml.safe_load(path.read_text())
    refused = 0
    for key in data:
        for junk in JUNK:
            d = copy.deepcopy(data)
            d[key] = junk
            try:
                import_data(d, str(path), FIX)
            except InputError as err:
                refused += 1
                assert str(path) in err.render(), err.render()
    assert refused > 0


def test_edit_reads_the_foreign_file_and_leaves_it_alone(tmp_path: Path) -> None:
    """`ftwizard edit` loads an axolotl file through the importer (the note names the format); with
    no terminal to ask on it stops with exit 2, and the axolotl file is byte-for-byte unchanged."""
    src = tmp_path / "ax.yaml"
    src.write_bytes((FIX / "axolotl_full_fsdp.yaml").read_bytes())
    r = ftw("edit", str(src), "--plain", cwd=tmp_path)
    assert r.returncode == 2 and "terminal" in r.stderr and "Traceback" not in r.stderr
    assert "read as an axolotl config" in r.stderr
    assert src.read_bytes() == (FIX / "axolotl_full_fsdp.yaml").read_bytes()


# ---------------------------------------------------------------- data formats (issue 14's keys)

def _cols(cfg) -> list:  # noqa: ANN001
    return [s.columns for s in cfg.data.train]


def test_axolotl_chat_columns_template_and_packing() -> None:
    """Dataset types alpaca / chat_template / a custom instruction type, field_messages,
    message_property_mappings and the custom type's fields become data.train[].columns;
    chat_template, sample_packing and roles_to_train their data keys."""
    r = import_file(FIX / "axolotl_chat_columns.yaml")
    cfg, rows = r.config, rows_by_key(r)
    assert [Path(s.path).name for s in cfg.data.train] == [
        "sharegpt.jsonl", "speakers.jsonl", "alpaca.jsonl", "tasks.jsonl"]
    assert _cols(cfg) == [None, {"messages": "dialogue", "role": "speaker", "content": "text"}, None,
                          {"instruction": "task", "input": "context", "output": "answer",
                           "system": "persona"}]
    d = cfg.data
    assert (d.mode, d.packing, d.chat_template, d.train_on) == ("entries", True, "chatml", "completion")
    assert rows["chat_template"].status == "mapped"
    assert rows["datasets[1].chat_template"].status == "mapped"       # agrees with the top level
    assert rows["datasets[0].roles_to_train"].status == "same"        # [assistant]: completion
    assert rows["datasets[1].roles"].status == "same"
    assert rows["datasets[1].message_property_mappings"].became == (
        "data.train[].columns.role = speaker, data.train[].columns.content = text")
    assert not r.not_carried, [(x.key, x.note) for x in r.not_carried]
    source_keys_all_listed(FIX / "axolotl_chat_columns.yaml", r)


def test_axolotl_jinja_file_roles_to_train_and_templates_it_lacks() -> None:
    r = import_file(FIX / "axolotl_template_jinja.yaml")
    cfg, rows = r.config, rows_by_key(r)
    assert cfg.data.chat_template == str(DATA / "chat.jinja")
    assert cfg.data.train_on == "all"                                  # roles_to_train: [user, assistant]
    assert rows["datasets[1].chat_template"].status == "not carried"
    assert "phi_3" in rows["datasets[1].chat_template"].note and "chatml" in rows["datasets[1].chat_template"].note
    assert rows["datasets[0].drop_system_message"].status == "not carried"
    assert "name" in rows["datasets[1].message_property_mappings"].note   # a property ftwizard does not read
    assert cfg.data.packing is False
    source_keys_all_listed(FIX / "axolotl_template_jinja.yaml", r)


@pytest.mark.parametrize("change, key, status, train_on", [
    ({"train_on_inputs": True}, "train_on_inputs", "mapped", "all"),
    ({"train_on_inputs": False}, "train_on_inputs", "same", "completion"),
    ({"chat_template": "qwen_25"}, "chat_template", "mapped", "completion"),
    ({"chat_template": "tokenizer_default_fallback_chatml"}, "chat_template", "not carried", "completion"),
    ({"chat_template": "tokenizer_default"}, "chat_template", "same", "completion"),
    ({"chat_template": "llama3"}, "datasets[1].chat_template", "not carried", "completion"),
])
def test_axolotl_train_on_and_template_variants(change: dict, key: str, status: str, train_on: str) -> None:
    from ftwizard.core.importers import import_data

    data = yaml.safe_load((FIX / "axolotl_chat_columns.yaml").read_text())
    data.update(change)
    r = import_data(data, str(FIX / "axolotl_chat_columns.yaml"), FIX)
    assert rows_by_key(r)[key].status == status
    assert r.config.data.train_on == train_on
    if key == "datasets[1].chat_template":    # the top level chose llama3, the dataset chatml: one wins
        assert r.config.data.chat_template == "llama-3" and "one template" in rows_by_key(r)[key].note


def test_axolotl_sharegpt_type_and_bad_roles() -> None:
    from ftwizard.core.importers import import_data

    data = {"base_model": "gpt2", "micro_batch_size": 1, "sequence_len": 128, "datasets": [
        {"path": str(DATA / "sharegpt.jsonl"), "type": "sharegpt", "conversation": "chatml",
         "roles": {"user": ["customer"], "assistant": ["gpt"]}, "roles_to_train": ["user"],
         "train_on_eos": "all"}]}
    r = import_data(data, "x.yaml", FIX)
    rows = rows_by_key(r)
    assert rows["datasets[0].type"].status == "mapped"
    assert r.config.data.chat_template == "chatml"
    assert rows["datasets[0].roles"].status == "not carried" and "customer" in rows["datasets[0].roles"].note
    assert rows["datasets[0].roles_to_train"].status == "not carried"
    assert rows["datasets[0].train_on_eos"].status == "not carried"


def test_llamafactory_columns_tags_template_packing_and_mask_history() -> None:
    r = import_file(FIX / "llamafactory_chat_columns.yaml")
    cfg, rows = r.config, rows_by_key(r)
    assert _cols(cfg) == [None, {"messages": "dialogue", "role": "speaker", "content": "text"}, None,
                          {"instruction": "task", "input": "context", "output": "answer",
                           "system": "persona"}]
    d = cfg.data
    assert (d.mode, d.packing, d.chat_template, d.train_on) == ("entries", True, "gemma", "last_turn")
    assert rows["neat_packing"].status == "mapped" and rows["packing"].status == "same"
    assert rows["mask_history"].status == "mapped" and rows["template"].status == "mapped"
    assert not r.not_carried, [(x.key, x.note) for x in r.not_carried]
    source_keys_all_listed(FIX / "llamafactory_chat_columns.yaml", r)


@pytest.mark.parametrize("change, key, status, expect", [
    ({"train_on_prompt": True, "mask_history": False}, "train_on_prompt", "mapped", ("train_on", "all")),
    ({"train_on_prompt": True}, "mask_history", "not carried", ("train_on", "all")),
    ({"neat_packing": False}, "packing", "mapped", ("packing", True)),
    ({"neat_packing": False, "packing": False}, "packing", "same", ("packing", False)),
    ({"template": "qwen"}, "template", "mapped", ("chat_template", "qwen")),
    ({"template": "qwen3"}, "template", "not carried", ("chat_template", None)),
    ({"dataset": "steps_history,odd_roles"}, "dataset[odd_roles].tags.user_tag", "not carried",
     ("train_on", "last_turn")),
])
def test_llamafactory_variants(change: dict, key: str, status: str, expect: tuple) -> None:
    from ftwizard.core.importers import import_data

    data = yaml.safe_load((FIX / "llamafactory_chat_columns.yaml").read_text())
    data.update(change)
    r = import_data(data, str(FIX / "llamafactory_chat_columns.yaml"), FIX)
    rows = rows_by_key(r)
    assert rows[key].status == status, rows[key]
    assert getattr(r.config.data, expect[0]) == expect[1]
    if "odd_roles" in change.get("dataset", ""):
        assert _cols(r.config) == [{"instruction": "question", "output": "answer", "history": "past"},
                                   {"messages": "dialogue", "tools": "functions", "role": "speaker",
                                    "content": "text"}]
        assert rows["dataset[odd_roles].tags.assistant_tag"].status == "not carried"
        assert "tools" in rows["dataset[odd_roles]"].became          # function schemas are read


NEW_FIXTURES = ["axolotl_chat_columns.yaml", "axolotl_template_jinja.yaml", "llamafactory_chat_columns.yaml"]


@pytest.mark.parametrize("fmt", ["axolotl", "llamafactory"])
@pytest.mark.parametrize("fixture", NEW_FIXTURES)
def test_round_trip_keeps_columns_template_packing_train_on(fixture: str, fmt: str, tmp_path: Path) -> None:
    """Back to its own tool the import round-trips exactly; to the other tool, whatever comes back
    different (a .jinja template for LLaMA-Factory, last_turn for axolotl) is named in the
    export's header."""
    first = import_file(FIX / fixture)
    out = _write_export(first.config, fmt, tmp_path)
    _, lost, _ = export_config(first.config, fmt, out)
    a, b = first.config.to_dict(), import_file(out).config.to_dict()
    for d in (a, b):
        d.pop("name"), d.pop("description")
    if fmt == first.format:
        assert a == b
        assert not [x for x in lost if x.startswith("data.")], lost
        return
    fa, fb = _flat(a), _flat(b)
    for key, value in fa.items():
        if fb[key] != value:
            assert any(key in x for x in lost), (key, value, fb[key], lost)
    if fixture == "llamafactory_chat_columns.yaml":
        assert fb["data.train_on"] == "completion" and any("last_turn" in x for x in lost)
    if fixture == "axolotl_template_jinja.yaml":
        assert fb["data.chat_template"] is None and any("chat.jinja" in x for x in lost)


def test_export_writes_the_data_keys_back(tmp_path: Path) -> None:
    cfg = import_file(FIX / "llamafactory_chat_columns.yaml").config
    ax = yaml.safe_load(_write_export(cfg, "axolotl", tmp_path / "ax").read_text())
    assert (ax["chat_template"], ax["sample_packing"], ax["train_on_inputs"]) == ("gemma", True, False)
    assert ax["datasets"][1] == {"path": str(DATA / "speakers.jsonl"), "type": "chat_template",
                                 "field_messages": "dialogue", "ds_type": "json",
                                 "message_property_mappings": {"role": "speaker", "content": "text"}}
    assert ax["datasets"][2]["type"] == "alpaca"
    assert ax["datasets"][3]["type"]["field_system"] == "persona"
    out = _write_export(cfg, "llamafactory", tmp_path / "lf")
    lf = yaml.safe_load(out.read_text())
    assert (lf["template"], lf["packing"], lf["neat_packing"], lf["mask_history"]) == ("gemma", True, True, True)
    info = json.loads((Path(lf["dataset_dir"]) / "dataset_info.json").read_text())
    entries = [info[n] for n in lf["dataset"].split(",")]
    assert entries[1]["columns"] == {"messages": "dialogue"}
    assert (entries[1]["tags"]["role_tag"], entries[1]["tags"]["content_tag"]) == ("speaker", "text")
    assert entries[3]["columns"] == {"prompt": "task", "query": "context", "response": "answer",
                                     "system": "persona"}


def test_export_lists_what_the_other_tool_cannot_hold(tmp_path: Path) -> None:
    """A ShareGPT system column renamed and alpaca history: LLaMA-Factory holds them, axolotl not."""
    from ftwizard.core.config import from_dict

    base = import_file(FIX / "llamafactory_chat_columns.yaml").config.to_dict()
    base["data"]["train"] = [
        {"path": str(DATA / "history.jsonl"), "columns": {"instruction": "question", "output": "answer",
                                                          "history": "past"}},
        {"path": str(DATA / "sharegpt.jsonl"), "columns": {"conversations": "conversations",
                                                           "system": "system"}}]
    cfg = from_dict(base)
    _, lost, _ = export_config(cfg, "axolotl", tmp_path / "a.yaml")
    assert any("history" in x for x in lost) and any("columns.system" in x for x in lost)
    out = _write_export(cfg, "llamafactory", tmp_path / "lf")
    back = import_file(out).config
    assert _cols(back)[0] == {"instruction": "question", "output": "answer", "history": "past"}


@pytest.mark.parametrize("fixture", ["axolotl_chat_columns.yaml", "axolotl_template_jinja.yaml"])
def test_wrong_values_inside_a_dataset_are_input_errors(fixture: str) -> None:
    """The same for every key of every `datasets:` entry (and of a custom type's mapping)."""
    import copy

    from ftwizard.core.importers import import_data

    path = FIX / fixture
    data = yaml.safe_load(path.read_text())
    for i, entry in enumerate(data["datasets"]):
        keys = [(k, None) for k in entry] + [("type", k) for k in (entry["type"] if isinstance(entry["type"], dict) else {})]
        for key, inner in keys:
            for junk in JUNK:
                d = copy.deepcopy(data)
                if inner is None:
                    d["datasets"][i][key] = junk
                else:
                    d["datasets"][i][key][inner] = junk
                try:
                    import_data(d, str(path), FIX)
                except InputError as err:
                    assert str(path) in err.render(), err.render()
