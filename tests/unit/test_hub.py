"""The Hub only when asked: `ftwizard models pull`, plan after --config-only, push with its card.

huggingface_hub's real client, unchanged, talks to a small Hub on 127.0.0.1 (tests/hub_server.py:
the real one is out of reach here). Offline is tested for real: this machine has no route to
huggingface.co.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.core import events as ev

CONFIG = json.dumps({
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
    "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": True}).encode()
TOKEN = "hf_" + "t" * 34


@pytest.fixture
def hub(tmp_path: Path):  # noqa: ANN201
    """A local Hub (tests/hub_server.py) holding org/small (config, weights, tokenizer) and a gated
    org/gated; the environment points huggingface_hub's real client at it."""
    from hub_server import Hub

    h = Hub().start()
    h.repos["org/small"] = {"config.json": CONFIG, "model.safetensors": b"w" * 4096,
                            "tokenizer.json": b"{}", "notes.bin": b"x"}
    h.repos["org/gated"] = {"config.json": CONFIG}
    h.gated.add("org/gated")
    env = dict(os.environ, HF_ENDPOINT=h.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="0",
               HF_HUB_DISABLE_TELEMETRY="1")
    for k in ("HF_HUB_CACHE", "HF_TOKEN"):
        env.pop(k, None)
    h.env = env
    yield h
    h.stop()


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_offline_plan_says_so_then_config_only_pull_then_plan(hub, tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text("version: 1\nname: small\nmodel: {name: org/small}\nmethod: {kind: lora}\n"
                   "hardware: {target: RTX 4090}\ndata: {sequences: 1000, block_size: 1024}\n")
    offline = _cli(dict(hub.env, HF_HUB_OFFLINE="1"), "plan", str(cfg))
    assert offline.returncode == 2 and "HF_HUB_OFFLINE is set" in offline.stderr
    assert "models pull" not in offline.stderr or "config.json" in offline.stderr
    assert not hub.requests                                         # offline: nothing asked
    pulled = _cli(hub.env, "models", "pull", "org/small", "--config-only")
    assert pulled.returncode == 0, pulled.stderr
    assert any(r.startswith("GET /org/small/resolve/main/config.json") for r in hub.requests)
    assert not any("safetensors" in r for r in hub.requests)       # only config.json
    after = _cli(hub.env, "plan", str(cfg), "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["model"]["id"] == "org/small"


def test_planning_an_uncached_hub_id_fetches_only_its_config(hub, tmp_path: Path) -> None:
    """`ftwizard plan` of a hub id that is neither in the catalog nor cached: online, only its
    config.json is fetched (and cached: the second plan asks nothing)."""
    cfg = tmp_path / "small.yaml"
    cfg.write_text("version: 1\nname: small\nmodel: {name: org/small}\nmethod: {kind: lora}\n"
                   "hardware: {target: RTX 4090}\ndata: {sequences: 1000, block_size: 1024}\n")
    first = _cli(hub.env, "plan", str(cfg), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["model"]["params"] > 10**9
    asked = [r for r in hub.requests if "/org/small/" in r]
    assert asked and all("config.json" in r for r in asked)
    hub.requests.clear()
    again = _cli(hub.env, "plan", str(cfg))
    assert again.returncode == 0 and not [r for r in hub.requests if "/org/small/" in r]


@pytest.mark.parametrize("repo,words", [("org/gated", ["gated", "HF_TOKEN"]),
                                        ("org/nothing", ["no repository org/nothing"]),
                                        ("not-an-id", ["ORG/NAME"])])
def test_hub_refusals_are_messages(hub, repo: str, words: list[str]) -> None:
    res = _cli(hub.env, "models", "pull", repo, "--config-only")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    for w in words:
        assert w in res.stderr


def test_offline_says_so_at_once(tmp_path: Path) -> None:
    """No route to the Hub here: one failed connect, not huggingface_hub's ~25 s of retries."""
    env = dict(os.environ, HF_HUB_OFFLINE="0", HF_HOME=str(tmp_path / "hf"))
    env.pop("HF_ENDPOINT", None)
    res = _cli(env, "models", "pull", "meta-llama/Llama-3.2-1B")
    assert res.returncode == 2 and "out of reach" in res.stderr and "Traceback" not in res.stderr
    env["HF_HUB_OFFLINE"] = "1"
    res = _cli(env, "models", "pull", "meta-llama/Llama-3.2-1B")
    assert res.returncode == 2 and "HF_HUB_OFFLINE is set" in res.stderr


def test_model_card_records_the_run_without_secrets(tmp_path: Path, monkeypatch) -> None:
    from ftwizard.core.hub import model_card

    fake = "hf_" + "x" * 34
    monkeypatch.setenv("HF_TOKEN", fake)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(
        "version: 1\nname: my-run\ndescription: uses " + fake + "\n"
        "model: {name: meta-llama/Llama-3.2-1B, dtype: bf16}\n"
        "method: {kind: qlora, quant_bits: 4}\n"
        "data: {train: [{path: /data/secret-folder/chats.jsonl}]}\n")
    with ev.EventWriter(run / ev.EVENTS_FILE) as w:
        w.emit("step", step=1, total=2, loss=2.5)
        w.emit("step", step=2, total=2, loss=1.25)
    ev.write_status(run, "finished", step=2, total=2)
    card = model_card(run)
    assert "base_model: meta-llama/Llama-3.2-1B" in card and "library_name: peft" in card
    assert "| final training loss | 1.2500 |" in card and "| steps | 2 of 2 |" in card
    assert "| data | chats.jsonl |" in card and "QLoRA 4-bit" in card
    assert fake not in card


def _finished_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "config.json").write_text('{"model_type": "llama"}')
    (run / "final" / "model.safetensors").write_bytes(b"m" * 2048)
    (run / "config.yaml").write_text("version: 1\nname: r\nmodel: {name: gpt2}\n")
    return run


def test_full_pull_downloads_the_model_files(hub) -> None:
    res = _cli(hub.env, "models", "pull", "org/small")
    assert res.returncode == 0, res.stderr
    folder = Path(res.stdout.strip().split(": ", 1)[1])
    assert (folder / "model.safetensors").read_bytes() == b"w" * 4096
    assert (folder / "tokenizer.json").is_file() and not (folder / "notes.bin").exists()


def test_push_uploads_model_and_card_and_reads_back(hub, tmp_path: Path) -> None:
    run = _finished_run(tmp_path)
    env = dict(hub.env, HF_TOKEN=TOKEN)
    res = _cli(env, "export", str(run), "--push", "me/my-model", "--private")
    assert res.returncode == 0, res.stderr
    pushed = hub.repos["me/my-model"]
    assert pushed["model.safetensors"] == b"m" * 2048 and b"ftwizard" in pushed["README.md"]
    assert f"Bearer {TOKEN}" in hub.tokens                            # sent to the Hub ...
    for f in run.rglob("*"):                                          # ... never written
        assert not f.is_file() or TOKEN.encode() not in f.read_bytes(), f
    back = _cli(hub.env, "models", "pull", "me/my-model")
    assert back.returncode == 0, back.stderr
    folder = Path(back.stdout.strip().split(": ", 1)[1])
    assert (folder / "model.safetensors").read_bytes() == b"m" * 2048


def test_push_without_token_or_offline_is_a_message_and_writes_nothing(hub, tmp_path: Path) -> None:
    run = _finished_run(tmp_path)
    res = _cli(hub.env, "export", str(run), "--push", "me/my-model")
    assert res.returncode == 2 and "HF_TOKEN" in res.stderr and "Traceback" not in res.stderr
    env = dict(os.environ, HF_HUB_OFFLINE="0", HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"))
    env.pop("HF_ENDPOINT", None)
    res = _cli(env, "export", str(run), "--push", "me/my-model")
    assert res.returncode == 2 and "out of reach" in res.stderr and "Traceback" not in res.stderr
    assert not (run / "final" / "README.md").exists() and "me/my-model" not in hub.repos
