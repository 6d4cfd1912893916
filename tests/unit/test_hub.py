"""The Hub only when asked: `ftwizard models pull`, plan after --config-only, push's model card.

huggingface_hub's real client talks to a small Hub on 127.0.0.1 (the real one is out of reach
here): HEAD/GET of /ORG/NAME/resolve/main/config.json, and the error codes the Hub sends for gated
and missing repositories. Offline is tested for real: this machine has no route to huggingface.co.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ftwizard.core import events as ev

CONFIG = json.dumps({
    "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 32000,
    "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": True}).encode()


class _Hub(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def _answer(self, body: bool) -> None:
        _Hub.requests.append(f"{self.command} {self.path}")
        if self.path.startswith("/org/gated/"):
            self.send_response(401)
            self.send_header("X-Error-Code", "GatedRepo")
            self.end_headers()
            return
        if not self.path.startswith("/org/small/resolve/main/config.json"):
            self.send_response(404)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", "a" * 40)
        self.send_header("ETag", f'"{hashlib.sha1(CONFIG).hexdigest()}"')
        self.send_header("Content-Length", str(len(CONFIG)))
        self.end_headers()
        if body:
            self.wfile.write(CONFIG)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's names
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def hub(tmp_path: Path):  # noqa: ANN201
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hub.requests = []
    env = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
               HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="0", HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_CACHE", None)
    yield env
    server.shutdown()


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_config_only_pull_then_plan(hub: dict, tmp_path: Path) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text("version: 1\nname: small\nmodel: {name: org/small}\nmethod: {kind: lora}\n"
                   "hardware: {target: RTX 4090}\ndata: {sequences: 1000, block_size: 1024}\n")
    before = _cli(hub, "plan", str(cfg))
    assert before.returncode == 2 and "models pull org/small --config-only" in before.stderr
    assert not any("config.json" in r for r in _Hub.requests)      # planning never downloads
    pulled = _cli(hub, "models", "pull", "org/small", "--config-only")
    assert pulled.returncode == 0, pulled.stderr
    assert any(r.startswith("GET /org/small/resolve/main/config.json") for r in _Hub.requests)
    assert not any("safetensors" in r for r in _Hub.requests)      # only config.json
    after = _cli(hub, "plan", str(cfg), "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["model"]["id"] == "org/small"


@pytest.mark.parametrize("repo,words", [("org/gated", ["gated", "HF_TOKEN"]),
                                        ("org/nothing", ["no repository org/nothing"]),
                                        ("not-an-id", ["ORG/NAME"])])
def test_hub_refusals_are_messages(hub: dict, repo: str, words: list[str]) -> None:
    res = _cli(hub, "models", "pull", repo, "--config-only")
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


def test_push_offline_is_a_message_and_writes_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "config.yaml").write_text("version: 1\nname: r\nmodel: {name: gpt2}\n")
    env = dict(os.environ, HF_HUB_OFFLINE="0")
    env.pop("HF_ENDPOINT", None)
    res = _cli(env, "export", str(run), "--push", "me/my-model")
    assert res.returncode == 2 and "out of reach" in res.stderr and "Traceback" not in res.stderr
    assert not (run / "final" / "README.md").exists()
