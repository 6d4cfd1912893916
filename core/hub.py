"""The Hugging Face Hub, only when a command asks: pull a model, fetch one config.json, push a
finished run with its model card.

Nothing here runs on the wizard's keypress path and nothing downloads on its own: `ftwizard
models pull ID` downloads (with resume: huggingface_hub keeps partial files and continues them),
`--config-only` fetches the 1 KB config.json the planner needs, and `ftwizard export RUN --push`
uploads. The Hub is asked through huggingface_hub (imported inside the functions, ~0.3 s).

Before any request, `reachable()` opens one TCP connection to the endpoint with a short timeout:
offline, huggingface_hub would retry for ~25 s before failing with a message about the cache.
Tokens come from HF_TOKEN or `hf auth login` and are never written anywhere by ftwizard.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from ftwizard.core.errors import InputError

DEFAULT_ENDPOINT = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def check_repo_id(repo_id: str, field: str = "ID") -> str:
    if not REPO_ID.match(repo_id or ""):
        raise InputError(f"{repo_id!r} is not a Hub repository id", field=field, value=repo_id,
                         fix="write it as ORG/NAME, e.g. meta-llama/Llama-3.2-1B")
    return repo_id


def offline_reason(timeout: float = 3.0) -> str | None:
    """None when the Hub's endpoint answers a TCP connect; else why not, in a few words."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return "HF_HUB_OFFLINE is set"
    url = urlparse(endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"cannot resolve {url.hostname} (no network or no DNS)"
    except OSError as err:
        return f"cannot connect to {url.hostname}:{port} ({err.strerror or err})"


def _require_online(what: str, field: str, value: str) -> None:
    reason = offline_reason()
    if reason:
        raise InputError(f"cannot {what}: the Hub is out of reach ({reason})", field=field,
                         value=value,
                         fix="connect this machine (or set HF_ENDPOINT to a mirror); to plan "
                             "offline, use a catalog id (`ftwizard plan --help`) or a local folder")


def _hub_error(err: Exception, repo_id: str, field: str = "ID") -> InputError:
    """huggingface_hub's errors as what the user does next."""
    from huggingface_hub import errors as he

    if isinstance(err, he.GatedRepoError):
        return InputError(f"{repo_id} is gated: its authors must grant you access", field=field,
                          value=repo_id,
                          fix=f"accept the licence at {endpoint()}/{repo_id}, then set HF_TOKEN "
                              "(a read token) or run `hf auth login`")
    if isinstance(err, he.RepositoryNotFoundError):
        return InputError(f"no repository {repo_id} on the Hub (or it is private)", field=field,
                          value=repo_id,
                          fix="check the spelling; for a private repository set HF_TOKEN")
    if isinstance(err, (he.EntryNotFoundError, he.RemoteEntryNotFoundError)):
        return InputError(f"{repo_id} has no config.json: not a transformers model", field=field,
                          value=repo_id, fix="pick the repository of a causal language model")
    return InputError(f"the Hub refused the request for {repo_id}: {err}", field=field,
                      value=repo_id, fix="try again; if it persists, check HF_TOKEN and the id")


def fetch_config(repo_id: str) -> Path:
    """Only config.json, into the Hugging Face cache (where core.models finds it afterwards)."""
    check_repo_id(repo_id)
    _require_online("fetch config.json", "ID", repo_id)
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, "config.json")).parent
    except Exception as err:  # noqa: BLE001 - every Hub failure becomes an actionable message
        raise _hub_error(err, repo_id) from None


def pull(repo_id: str, *, revision: str | None = None) -> Path:
    """The whole model (weights, tokenizer, config) into the cache, with a progress bar; an
    interrupted pull continues where it stopped (huggingface_hub resumes .incomplete files)."""
    check_repo_id(repo_id)
    _require_online("download the model", "ID", repo_id)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, revision=revision,
                                      allow_patterns=["*.json", "*.safetensors", "*.model",
                                                      "*.txt", "*.jinja", "tokenizer*"]))
    except Exception as err:  # noqa: BLE001
        raise _hub_error(err, repo_id) from None


# ---------------------------------------------------------------------------- model card

def _final_loss(run_dir: Path) -> float | None:
    from ftwizard.core import events as ev

    loss = None
    evts, _ = ev.read_events(run_dir / ev.EVENTS_FILE)
    for e in evts:
        if e.get("type") == "step" and e.get("loss") is not None:
            loss = e["loss"]
    return loss


def model_card(run_dir: str | Path) -> str:
    """README.md for the Hub: base model, data sources (names, not contents), objective, method,
    steps, final loss, and the run config with secrets redacted."""
    import yaml

    from ftwizard import __version__
    from ftwizard.core import events as ev
    from ftwizard.core.secrets import Redactor

    d = Path(run_dir)
    cfg = yaml.safe_load((d / "config.yaml").read_text()) or {}
    status = ev.read_status(d) or {}
    model, method, train = cfg.get("model", {}), cfg.get("method", {}), cfg.get("train", {})
    sources = [Path(str(s.get("path", ""))).name or str(s.get("path")) for s in
               (cfg.get("data", {}).get("train") or [])]
    base = str(model.get("name", ""))
    base_meta = base if REPO_ID.match(base) else None
    loss = _final_loss(d)
    adapter = method.get("kind") in ("lora", "qlora")
    kind = {"full": "full fine-tuning", "lora": "LoRA",
            "qlora": f"QLoRA {method.get('quant_bits') or 4}-bit"}.get(method.get("kind", "full"), "full fine-tuning")
    front = {"library_name": "peft" if adapter else "transformers", "tags": ["ftwizard", "fine-tuned"]}
    if base_meta:
        front["base_model"] = base_meta
    body = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        f"# {cfg.get('name') or d.name}", "",
        cfg.get("description") or "Fine-tuned with ftwizard.", "",
        "| | |", "|---|---|",
        f"| base model | `{base}` |",
        f"| objective | {train.get('objective') or 'sft'} |",
        f"| method | {kind}, parallel {method.get('parallel', 'none')} |",
        f"| data | {', '.join(sources) or '-'} |",
        f"| steps | {status.get('step', '-')} of {status.get('total') or '-'} |",
        f"| final training loss | {f'{loss:.4f}' if isinstance(loss, (int, float)) else '-'} |",
        f"| precision | {model.get('dtype', '-')} |",
        "",
        "## Run config", "",
        f"Written by ftwizard {__version__}; replay it with `ftwizard run config.yaml`.", "",
        "```yaml", yaml.safe_dump(cfg, sort_keys=False).strip(), "```", "",
    ]
    return Redactor().text("\n".join(body))


def push(run_dir: str | Path, repo_id: str, *, folder: Path, private: bool = False) -> str:
    """Upload `folder` (the merged model or the adapter) with the model card; returns its URL."""
    check_repo_id(repo_id, field="--push")
    from huggingface_hub import HfApi, get_token

    if not get_token():
        raise InputError("pushing needs a Hugging Face token with write access", field="--push",
                         value=repo_id,
                         fix="set HF_TOKEN to a write token (Hub settings > Access Tokens) or run "
                             "`hf auth login`; ftwizard never stores it")
    _require_online("push", "--push", repo_id)

    card = folder / "README.md"
    card.write_text(model_card(run_dir), encoding="utf-8")
    api = HfApi(endpoint=endpoint())
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                          commit_message="ftwizard export --push",
                          ignore_patterns=["checkpoint-*", "*.pt", "optimizer*", "rng_state*"])
    except Exception as err:  # noqa: BLE001
        raise _hub_error(err, repo_id, field="--push") from None
    return str(url)

