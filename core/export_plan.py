"""What a finished run can be exported as, and the disk each choice needs, before any of it runs.

The Run screen's export list and `ftwizard export RUN` (without a format) show these; choosing
one runs `ftwizard export` with the argv given here. Sizes are arithmetic on the run's own facts:
the parameter count from plan.json (or the safetensors headers of final/) times the bytes per
weight of the chosen format, so nothing heavy is imported and nothing is read but headers.
"""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bytes per weight of each GGUF type, blocks' scales included (ggml's block layouts)
GGUF_BYTES_PER_WEIGHT = {"f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32,
                         "q4_1": 20 / 32, "q5_0": 22 / 32, "q5_1": 24 / 32}
HF_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
OVERHEAD = 1 << 20   # tokenizer, config, metadata


@dataclass
class ExportChoice:
    key: str             # short id: merged, gguf-f16, gguf-q8_0, ollama, ...
    label: str
    args: list[str]      # after `ftwizard export RUN`
    bytes: int           # disk it needs
    fits: bool
    note: str = ""


def safetensors_params(folder: Path) -> int:
    """Element count of every tensor in the folder's .safetensors files (headers only)."""
    n = 0
    for f in sorted(folder.glob("*.safetensors")):
        try:
            with open(f, "rb") as fh:
                size = struct.unpack("<Q", fh.read(8))[0]
                header = json.loads(fh.read(size))
        except (OSError, ValueError, struct.error):
            continue
        for key, meta in header.items():
            if key != "__metadata__":
                count = 1
                for d in meta.get("shape", []):
                    count *= int(d)
                n += count
    return n


def _params(run_dir: Path, final: Path, adapter: bool) -> int:
    """The full model's parameters: plan.json's count, else the weights' headers."""
    try:
        params = int(json.loads((run_dir / "plan.json").read_text())["model"]["params"])
        if params > 0:
            return params
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return safetensors_params(final / "merged" if adapter else final)


def choices(run_dir: str | Path) -> list[ExportChoice]:
    """The exports of a finished run (empty when final/ holds nothing yet)."""
    d = Path(run_dir)
    final = d / "final"
    if not final.is_dir():
        return []
    adapter = (final / "adapter_config.json").is_file()
    merged = adapter and (final / "merged" / "config.json").is_file()
    try:
        import yaml

        cfg = yaml.safe_load((d / "config.yaml").read_text()) or {}
    except (OSError, ValueError):
        cfg = {}
    dtype = ((cfg.get("model") or {}).get("dtype")) or "bf16"
    params = _params(d, final, adapter)
    free = shutil.disk_usage(d).free
    merge_bytes = 0 if not adapter or merged else params * HF_BYTES.get(dtype, 2) + OVERHEAD
    out: list[ExportChoice] = []

    def add(key: str, label: str, args: list[str], need: int, note: str = "") -> None:
        out.append(ExportChoice(key, label, args, int(need), need <= free, note))

    if adapter:
        add("merged", f"merged model ({dtype}, Hugging Face folder)", ["--merge"], merge_bytes,
            "already merged: final/merged" if merged else "the adapter folded into its base")
    for quant in ("f16", "q8_0", "q4_0"):
        need = params * GGUF_BYTES_PER_WEIGHT[quant] + OVERHEAD + merge_bytes
        add(f"gguf-{quant}", f"GGUF {quant} (llama.cpp, LM Studio)", ["--format", "gguf", "--quant", quant],
            need, "merges first" if merge_bytes else "")
    add("ollama", "Ollama: GGUF q8_0 + Modelfile", ["--format", "ollama", "--quant", "q8_0"],
        params * GGUF_BYTES_PER_WEIGHT["q8_0"] + OVERHEAD + merge_bytes)
    return out


def describe(choice: ExportChoice) -> str:
    """'GGUF q8_0 (llama.cpp, LM Studio)  ~7.6 GB' with why it cannot run when it cannot."""
    size = f"~{choice.bytes / 1e9:,.1f} GB" if choice.bytes >= 1e8 else f"~{choice.bytes / 1e6:,.1f} MB"
    text = f"{choice.label}  {size}"
    if choice.note:
        text += f" ({choice.note})"
    if not choice.fits:
        text += "  not enough free disk"
    return text


def free_disk(run_dir: str | Path) -> int:
    return shutil.disk_usage(Path(run_dir)).free


def as_dict(choice: ExportChoice) -> dict[str, Any]:
    return {"key": choice.key, "label": choice.label, "args": choice.args, "bytes": choice.bytes,
            "fits": choice.fits, "note": choice.note}
