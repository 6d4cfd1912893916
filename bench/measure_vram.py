"""Measure what ftwizard's own PyTorch backend really uses, point by point, against the estimate.

    python bench/measure_vram.py --matrix bench/vram_matrix.yaml --section cpu_tiny
    python bench/measure_vram.py --section gpu --only 3,7-9 --out bench/results/vram_h100.json

Why our own measurements: published figures mix frameworks, attention kernels and counters
(allocated < reserved < nvidia-smi, ESTIMATION.md), so only a run of *our* backend says what a
user of ftwizard will see. Each point is a RunConfig fragment (bench/vram_matrix.yaml); it runs
in a fresh process through `ftwizard.core.train.main` (the `python -m ftwizard.core.train RUN_DIR`
entry: same model loading, attention, PEFT, bitsandbytes, DeepSpeed, checkpointing) for a few
optimizer steps. The child is this file with `--child RUN_DIR`, which calls that same main() and
adds harness hooks only: it reads torch's peak counters the moment `Trainer.train` returns, and
it skips checkpoints and the final `save_model` (the Trainer saves at the last step whatever
save_every says; writing an 8B model and its Adam states per point would cost minutes of device
time, and the estimate models training, not saving).

Models are catalog configs with random weights, never fetched: the matrix's `models:` names a
catalog id (config.json from core/catalog/models.json) or a tiny architecture with overrides.
The backend loads a folder with `from_pretrained`, which needs weights, so the folder gets
random weights written once per shape (16-bit, built on the GPU when there is one: seconds for
an 8B model, then ~16 GB of disk) and a tokenizer trained here (core/tiny.train_tokenizer). The
tokenizer's ids are few; the embedding and logits keep the catalog vocabulary, which is what the
memory depends on.

Recorded per point: torch max allocated and max reserved (GPU), NVML device memory used at peak
and that of the child process (sampled every 50 ms by a thread; skipped without NVML), host RSS
peak, tokens/s after the first (warm-up) step, the model FLOP utilisation it implies, and the
outcome: ok, oom, timeout or error (with its message). A point never crashes the bench.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MATRIX = REPO / "bench" / "vram_matrix.yaml"
SCHEMA = 1
GiB = 1024**3

# Messages that mean "the device (or the host, on CPU) ran out of memory". train.py's is_oom knows
# the CUDA ones; the CPU allocator's refusal under a memory limit reads differently.
OOM_PATTERNS = re.compile(r"out of memory|can't allocate memory|cannot allocate memory|MemoryError|"
                          r"std::bad_alloc", re.IGNORECASE)


# ---------------------------------------------------------------------------- the matrix

def load_matrix(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or "sections" not in data:
        raise SystemExit(f"{path}: expected a mapping with `sections:`")
    return data


def deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(a))
    for k, v in (b or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = json.loads(json.dumps(v))
    return out


def point_config(matrix: dict[str, Any], section: str, point: dict[str, Any]) -> dict[str, Any]:
    """defaults + section defaults + base + point's nested fragment + its dotted `set:` keys."""
    from ftwizard.core.config import apply_override

    sec = matrix["sections"][section]
    cfg = deep_merge(matrix.get("defaults") or {}, sec.get("defaults") or {})
    if point.get("base"):
        cfg = deep_merge(cfg, sec["bases"][point["base"]])
    cfg = deep_merge(cfg, point.get("config") or {})
    for key, value in (point.get("set") or {}).items():
        cfg = apply_override(cfg, f"{key}={json.dumps(value)}")
    return cfg


def select(points: list[dict[str, Any]], only: str | None) -> list[tuple[int, dict[str, Any]]]:
    """`--only 3,7-9` (1-based indexes) or point ids, comma separated."""
    indexed = list(enumerate(points, start=1))
    if not only:
        return indexed
    want: set[int] = set()
    for part in only.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+-\d+", part):
            lo, hi = map(int, part.split("-"))
            want.update(range(lo, hi + 1))
        elif part.isdigit():
            want.add(int(part))
        else:
            hits = [i for i, p in indexed if p.get("id") == part]
            if not hits:
                raise SystemExit(f"--only: no point {part!r}")
            want.update(hits)
    return [(i, p) for i, p in indexed if i in want]


# ---------------------------------------------------------------------------- model folders

def model_folder(spec: dict[str, Any], cache: Path, on_gpu: bool) -> Path:
    """A folder holding config.json, random 16-bit weights and a tokenizer for a matrix model."""
    from ftwizard.core.tiny import train_tokenizer

    config, arch = model_config_of(spec)
    key = re.sub(r"[^A-Za-z0-9._-]", "_", json.dumps(config, sort_keys=True))
    import hashlib

    out = cache / (re.sub(r"[^A-Za-z0-9]", "-", spec.get("catalog", arch)) + "-"
                   + hashlib.sha1(key.encode()).hexdigest()[:10])
    if (out / "config.json").exists() and any(out.glob("*.safetensors")):
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    train_tokenizer(tmp, arch=arch)
    # In a child process: the bench itself never touches the GPU, so no CUDA context of ours sits
    # on the device (and in NVML's figures) while the points run.
    (tmp / "random_config.json").write_text(json.dumps(config))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--write-weights", str(tmp)]
                   + (["--on-gpu"] if on_gpu else []), check=True, cwd=str(REPO))
    (tmp / "random_config.json").unlink()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def model_config_of(spec: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(config.json dict, tokenizer flavour) of a matrix model entry."""
    from ftwizard.core.tiny import tiny_config

    if "catalog" in spec:
        from ftwizard.core.models import _catalog

        config = json.loads(json.dumps(_catalog()[spec["catalog"]]["config"]))
        arch = {"gpt2": "gpt2", "qwen2": "qwen2"}.get(config["model_type"], "llama")
    else:
        arch = spec["arch"]
        config = tiny_config(arch)
    config.update(spec.get("overrides") or {})
    return config, arch


def write_random_weights(folder: Path, config: dict[str, Any], on_gpu: bool) -> None:
    """Random weights in bf16 (fp32 for the tiny CPU shapes, which are small anyway); the backend
    loads them in the dtype the method asks for, as it would a hub checkpoint."""
    import torch  # ~1.5 s
    from transformers import AutoConfig, AutoModelForCausalLM  # ~2 s

    c = dict(config)
    mt = c.pop("model_type")
    conf = AutoConfig.for_model(mt, **{k: v for k, v in c.items() if k not in ("architectures", "transformers_version")})
    conf.architectures = config.get("architectures")
    dtype = torch.bfloat16 if on_gpu else torch.float32
    torch.manual_seed(0)
    with torch.device("cuda" if on_gpu else "cpu"):
        model = AutoModelForCausalLM.from_config(conf, dtype=dtype)
    model.save_pretrained(folder, safe_serialization=True)
    del model
    if on_gpu:
        torch.cuda.empty_cache()


def write_corpus(path: Path, tokens_needed: int) -> Path:
    """Plain text with enough tokens for every step of the biggest point (corpus mode cuts it into
    block_size sequences). Words from a fixed list, so the tiny BPE needs few ids."""
    words = ["red", "blue", "green", "cat", "dog", "runs", "jumps", "the", "a", "big", "small",
             "over", "under", "model", "memory", "step"]
    n_words = int(tokens_needed * 0.5) + 200   # the tiny BPE gives ~2.7 tokens per word
    if path.exists():
        return path
    import random

    rnd = random.Random(0)
    with open(path, "w") as fh:
        line: list[str] = []
        for _ in range(n_words):
            line.append(rnd.choice(words))
            if len(line) == 24:
                fh.write(" ".join(line) + ".\n")
                line = []
        fh.write(" ".join(line) + "\n")
    return path


# ---------------------------------------------------------------------------- NVML sampling

class NvmlSampler(threading.Thread):
    """Peak device memory used (whole device) and of one process, every `period` seconds."""

    def __init__(self, pid: int | None = None, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.period = period
        self.device_peak = 0
        self.process_peak = 0
        self.samples = 0
        self._stop = threading.Event()
        import pynvml  # nvidia-ml-py, ~10 ms

        self.nv = pynvml
        self.h = pynvml.nvmlDeviceGetHandleByIndex(0)

    def used(self) -> int:
        return int(self.nv.nvmlDeviceGetMemoryInfo(self.h).used)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.device_peak = max(self.device_peak, self.used())
                for p in self.nv.nvmlDeviceGetComputeRunningProcesses(self.h):
                    if self.pid is None or p.pid == self.pid:
                        self.process_peak = max(self.process_peak, int(p.usedGpuMemory or 0))
                self.samples += 1
            except Exception:  # noqa: BLE001 - a missed sample is not a failed point
                pass
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        self.join(timeout=2)


def nvml_available() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no GPU
        return False


# ---------------------------------------------------------------------------- one point

def run_point(cfg: dict[str, Any], work: Path, *, timeout: float, memory_limit: int | None,
              nvml: bool) -> dict[str, Any]:
    """Train one config in a fresh process; every outcome becomes a record, never an exception."""
    from ftwizard.core.config import from_dict

    run_dir = Path(tempfile.mkdtemp(prefix="pt-", dir=work))
    (run_dir / "config.yaml").write_text(from_dict(cfg).to_yaml())
    env = dict(os.environ)
    env.update({"PYTHONUNBUFFERED": "1", "WANDB_DISABLED": "true", "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "DS_SKIP_CUDA_CHECK": "1"})

    def limit() -> None:
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    sampler = None
    base_used = None
    if nvml:
        sampler = NvmlSampler()
        base_used = sampler.used()
    t0 = time.time()
    with open(run_dir / "stdout.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", str(run_dir)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(REPO),
                                preexec_fn=limit, start_new_session=True)
    if sampler:
        sampler.pid = proc.pid
        sampler.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)   # rusage of the child: its peak RSS even if killed
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.time() - t0
    if sampler:
        sampler.stop()
    rec: dict[str, Any] = {"wall_s": round(wall, 1), "exit_code": proc.returncode}
    child = _read_json(run_dir / "measure.json") or {}
    events = _events(run_dir)
    end = next((e for e in reversed(events) if e.get("type") == "end"), None)
    steps = [e for e in events if e.get("type") == "step"]
    rss = child.get("rss_peak_bytes") or int(usage.ru_maxrss) * 1024
    m = {"torch_max_allocated": child.get("torch_max_allocated"),
         "torch_max_reserved": child.get("torch_max_reserved"),
         "nvml_device_peak_used": sampler.device_peak if sampler else None,
         "nvml_device_baseline_used": base_used,
         "nvml_process_peak_used": (sampler.process_peak or None) if sampler else None,
         "rss_peak_bytes": rss,
         "rss_peak_during_train": child.get("rss_peak_during_train"),
         "steps_done": max((e.get("step") or 0 for e in steps), default=0)}
    tps = [e["tokens_per_s"] for e in steps[1:] if e.get("tokens_per_s")]
    m["tokens_per_s"] = round(statistics.median(tps), 2) if tps else None
    m["step_time_s"] = child.get("step_times")
    rec["measured"] = m
    log_tail = _tail(run_dir / "stdout.log")
    if timed_out.is_set():
        rec["status"], rec["error"] = "timeout", f"killed after {timeout:.0f} s"
    elif end is not None and end.get("status") == "finished":
        rec["status"] = "ok"
    elif (end is not None and (end.get("status") == "oom" or OOM_PATTERNS.search(end.get("message") or ""))) \
            or (end is None and OOM_PATTERNS.search(log_tail)):
        rec["status"] = "oom"
        rec["error"] = (end or {}).get("message") or _last_error(log_tail)
    elif proc.returncode == -signal.SIGKILL and end is None:
        rec["status"], rec["error"] = "oom", "killed by SIGKILL (the kernel's OOM killer?)"
    else:
        rec["status"] = "error"
        rec["error"] = (end or {}).get("message") or _last_error(log_tail) or f"exit {proc.returncode}"
    if rec["status"] != "ok":
        rec["log_tail"] = log_tail.splitlines()[-15:]
    shutil.rmtree(run_dir, ignore_errors=True)
    return rec


def _read_json(p: Path) -> Any:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def _events(run_dir: Path) -> list[dict[str, Any]]:
    from ftwizard.core import events as ev

    return ev.read_events(run_dir / ev.EVENTS_FILE)[0]


def _tail(p: Path, n: int = 60) -> str:
    try:
        return "\n".join(p.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _last_error(text: str) -> str | None:
    for line in reversed(text.splitlines()):
        if re.search(r"(Error|Exception)\b", line):
            return line.strip()[:500]
    return None


# ---------------------------------------------------------------------------- estimate

def estimate_for(cfg_dict: dict[str, Any], memory_limit: int | None) -> dict[str, Any]:
    """core/memory.py's per-device estimate (via make_plan, as `ftwizard plan` shows it) and the
    time estimate, for the config as launched."""
    from ftwizard.core import memory as mem
    from ftwizard.core import schedule as sched
    from ftwizard.core.config import from_dict
    from ftwizard.core.plan import make_plan

    cfg = from_dict(cfg_dict)
    plan = make_plan(cfg, with_suggestions=False)
    est = plan.memory
    capacity, fits = est.capacity_bytes, est.fits
    if memory_limit:
        # The point runs under an address-space limit: that is its capacity.
        capacity = memory_limit
        margin = int(capacity * 0.10) if est.device == "cpu" else max(int(capacity * mem.SAFETY_MARGIN), mem.SAFETY_MARGIN_MIN)
        fits = mem.required_bytes(est.detail) <= capacity - margin
    sp = plan.model
    mfpt = sched.flops_per_token(sp.params, n_layers=sp.n_layers, hidden=sp.hidden,
                                 seq=cfg.data.block_size,
                                 trainable="full" if cfg.method.kind == "full" else "adapter",
                                 recompute=False)
    t = plan.time
    return {"per_device_bytes": est.per_device_bytes, "counter": est.counter, "device": est.device,
            "capacity_bytes": capacity, "fits": bool(fits), "host_bytes": est.host_bytes,
            "detail": est.detail, "trainable_params": est.trainable_params, "params": sp.params,
            "tokens_per_s": round(t.tokens_per_s, 2) if t else None,
            "peak_tflops": t.peak_tflops if t else None,
            "flops_per_token": t.flops_per_token if t else None,
            "model_flops_per_token": mfpt}


# ---------------------------------------------------------------------------- environment

def environment(nvml: bool) -> dict[str, Any]:
    from importlib import metadata

    def ver(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    env: dict[str, Any] = {"gpu": "cpu", "driver": None, "cuda": None,
                           "python": platform.python_version(), "machine": platform.machine(),
                           "cpu_count": os.cpu_count(), "host": platform.node()}
    try:
        from ftwizard.core.hardware import detect

        hw = detect(libraries=False)
        env["cpu_name"] = hw.cpu_name
        env["ram_total"] = hw.ram_total
        if hw.devices:
            env["gpu"] = hw.devices[0].name
            env["gpu_memory_bytes"] = hw.devices[0].memory_total
            env["gpu_count"] = hw.device_count
            env["driver"] = hw.driver_version
            env["cuda"] = hw.cuda_version
    except Exception as err:  # noqa: BLE001 - the results still matter without this
        env["detect_error"] = str(err)
    env["libraries"] = {n: ver(n) for n in ("torch", "transformers", "accelerate", "peft",
                                            "bitsandbytes", "deepspeed", "trl", "nvidia-ml-py")}
    return env


def gpu_slug(name: str) -> str:
    """"NVIDIA H100 80GB HBM3" -> "h100"; CPU -> "cpu"."""
    if name == "cpu":
        return "cpu"
    m = re.search(r"\b([A-Z]{1,2}\d{2,4}[A-Z]?)\b", name.upper())
    return (m.group(1) if m else re.sub(r"[^a-z0-9]+", "-", name.lower())).lower()


# ---------------------------------------------------------------------------- main

def measure(args: argparse.Namespace) -> int:
    matrix = load_matrix(args.matrix)
    if args.section not in matrix["sections"]:
        raise SystemExit(f"--section: choose one of {', '.join(matrix['sections'])}")
    sec = matrix["sections"][args.section]
    nvml = nvml_available()
    on_gpu = nvml
    if args.section == "gpu" and not on_gpu:
        raise SystemExit("the gpu section needs a GPU (NVML found none); use --section cpu_tiny here")
    env = environment(nvml)
    out = Path(args.out) if args.out else REPO / "bench" / "results" / f"vram_{gpu_slug(env['gpu'])}.json"
    chosen = select(sec["points"], args.only)
    work = Path(args.work or tempfile.mkdtemp(prefix="ftw-vram-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else work / "models"
    cache.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"schema": SCHEMA, "section": args.section, "environment": env,
                               "matrix": _repo_relative(Path(args.matrix)), "points": []}
    if args.append and out.exists():
        old = _read_json(out) or {}
        if old.get("schema") == SCHEMA and old.get("section") == args.section:
            results["points"] = [p for p in old.get("points", [])
                                 if p["id"] not in {q.get("id") for _, q in chosen}]
    for idx, point in chosen:
        cfg = point_config(matrix, args.section, point)
        model_key = cfg["model"]["name"]
        spec = (sec.get("models") or {}).get(model_key)
        rec: dict[str, Any] = {"index": idx, "id": point.get("id", str(idx)), "model": model_key,
                               "factor": point.get("factor"), "expect": point.get("expect"),
                               "method": method_label(cfg)}
        try:
            if spec is not None:
                rec["model_config"] = model_config_of(spec)[0]
                cfg["model"]["name"] = str(model_folder(spec, cache, on_gpu))
            # Each point gets the data it needs and no more: on the CPU the prepared sequences are
            # Python lists in the training process (~380 B per token measured), which the
            # estimate does not model and which would otherwise dominate a tiny model's RSS.
            need = _tokens_needed(cfg)
            corpus = write_corpus(work / f"corpus-{need}.txt", need)
            cfg.setdefault("data", {})["train"] = [{"path": str(corpus)}]
            limit = int(point["memory_limit_gib"] * GiB) if point.get("memory_limit_gib") else None
            rec["config"] = _public_config(cfg, model_key)
            rec["memory_limit_bytes"] = limit
            rec["estimate"] = estimate_for(cfg, limit)
            print(f"[{idx}] {rec['id']}: estimate {rec['estimate']['per_device_bytes'] / GiB:.2f} GiB "
                  f"({'fits' if rec['estimate']['fits'] else 'does not fit'}) ...", flush=True)
            rec.update(run_point(cfg, work, timeout=args.timeout, memory_limit=limit, nvml=nvml))
        except Exception as err:  # noqa: BLE001 - a broken point is recorded, the bench goes on
            rec["status"] = "error"
            rec["error"] = f"{type(err).__name__}: {err}"
        rec["compare"] = compare(rec)
        results["points"].append(rec)
        c = rec["compare"]
        print(f"[{idx}] {rec['id']}: {rec['status']}"
              + (f", measured {c['measured_bytes'] / GiB:.2f} GiB ({c['counter']}), "
                 f"error {c['rel_error']:+.1%}" if c.get("measured_bytes") else "")
              + (f", {rec['measured']['tokens_per_s']} tok/s" if rec.get("measured", {}).get("tokens_per_s") else "")
              + (f" [{rec.get('error', '')[:120]}]" if rec["status"] != "ok" else ""), flush=True)
        results["points"].sort(key=lambda p: p["index"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")   # after each point: a killed bench keeps what it did
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out}")
    return 0


def _repo_relative(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p.resolve())


def _tokens_needed(cfg: dict[str, Any]) -> int:
    t, d = cfg.get("train", {}), cfg.get("data", {})
    return (int(t.get("max_steps") or 4) + 1) * int(t.get("micro_batch", 1)) * int(t.get("grad_accum", 1)) \
        * int(d.get("block_size", 1024))


def _public_config(cfg: dict[str, Any], model_key: str) -> dict[str, Any]:
    """The config as run, without this machine's temp paths."""
    c = json.loads(json.dumps(cfg))
    c["model"]["name"] = model_key
    c.get("data", {}).pop("train", None)
    return c


def method_label(cfg: dict[str, Any]) -> str:
    """A short method name to group errors by: full-bf16, lora, qlora-nf4-dq, full-bf16-zero3-offload,
    full-fp32+adafactor..."""
    m, dtype = cfg.get("method", {}), cfg.get("model", {}).get("dtype", "bf16")
    kind = m.get("kind", "full")
    if kind == "qlora":
        label = "qlora-8bit" if m.get("quant_bits") == 8 else ("qlora-nf4-dq" if m.get("double_quant", True) else "qlora-nf4")
    elif kind == "lora":
        label = "lora"
    else:
        label = f"full-{dtype}"
    if m.get("parallel") == "deepspeed":
        label += f"-zero{m.get('zero_stage', 2)}"
        if m.get("offload_optimizer") or m.get("offload_params"):
            label += "-offload"
    if m.get("optimizer", "adamw") != "adamw":
        label += f"+{m['optimizer']}"
    return label


def compare(rec: dict[str, Any]) -> dict[str, Any]:
    """The measured figure on the counter the estimate models, and the relative error.

    GPU: the estimate models nvidia-smi (torch reserved + CUDA context), so it is compared with
    NVML's per-process used memory (else the device's used memory above its idle baseline).
    CPU: peak RSS of the training process.
    """
    est, m = rec.get("estimate"), rec.get("measured") or {}
    out: dict[str, Any] = {"counter": None, "measured_bytes": None, "rel_error": None,
                           "fit_verdict_right": None}
    if not est:
        return out
    if est["device"] == "cpu":
        out["counter"], val = "rss_peak", m.get("rss_peak_bytes")
    elif m.get("nvml_process_peak_used"):
        out["counter"], val = "nvml_process_peak", m.get("nvml_process_peak_used")
    elif m.get("nvml_device_peak_used") and m.get("nvml_device_baseline_used") is not None:
        out["counter"] = "nvml_device_peak_minus_idle"
        val = m["nvml_device_peak_used"] - m["nvml_device_baseline_used"]
    else:
        val = None
    status = rec.get("status")
    if status == "ok" and val:
        out["measured_bytes"] = int(val)
        out["rel_error"] = (est["per_device_bytes"] - val) / val
    if status in ("ok", "oom"):
        out["fit_verdict_right"] = bool(est["fits"]) == (status == "ok")
    tps = m.get("tokens_per_s")
    if status == "ok" and tps and est.get("tokens_per_s"):
        out["time_rel_error"] = (est["tokens_per_s"] - tps) / tps
        if est.get("peak_tflops"):
            out["mfu"] = tps * est["model_flops_per_token"] / (est["peak_tflops"] * 1e12)
            out["hfu"] = tps * est["flops_per_token"] / (est["peak_tflops"] * 1e12)
    return out


# ---------------------------------------------------------------------------- the child

def child(run_dir: Path) -> int:
    """The training process: ftwizard.core.train.main plus the two harness hooks (module doc)."""
    import transformers

    from ftwizard.core import train as ftrain

    record: dict[str, Any] = {}
    orig_train = transformers.Trainer.train

    def train_and_record(self, *a: Any, **kw: Any) -> Any:  # noqa: ANN001
        out = orig_train(self, *a, **kw)
        record.update(_peaks())
        record["rss_peak_during_train"] = record.get("rss_peak_bytes")
        return out

    transformers.Trainer.train = train_and_record
    # No checkpoint, no final model: the Trainer saves one at the last step even when save_every
    # is beyond it, and writing an 8B model with its optimizer states costs minutes per point.
    transformers.Trainer._save_checkpoint = lambda self, *a, **kw: None
    transformers.Trainer.save_model = lambda self, *a, **kw: None
    code = 1
    try:
        code = ftrain.main([str(run_dir)])
    finally:
        if not record:
            record.update(_peaks())
        (run_dir / "measure.json").write_text(json.dumps(record))
    return code


def _peaks() -> dict[str, Any]:
    out: dict[str, Any] = {"rss_peak_bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        out["torch_max_allocated"] = int(torch.cuda.max_memory_allocated())
        out["torch_max_reserved"] = int(torch.cuda.max_memory_reserved())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--matrix", type=Path, default=DEFAULT_MATRIX)
    ap.add_argument("--section", default="cpu_tiny", help="cpu_tiny or gpu")
    ap.add_argument("--only", help="1-based indexes or ids, e.g. 1,3,5-7 or l8-lora")
    ap.add_argument("--out", help="results file (default bench/results/vram_<gpu>.json)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per point")
    ap.add_argument("--append", action="store_true", help="keep the other points already in --out")
    ap.add_argument("--work", help="scratch folder (kept); default a temp folder, removed")
    ap.add_argument("--cache", help="folder for the random-weight model folders (reused)")
    ap.add_argument("--list", action="store_true", help="list the section's points and exit")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--write-weights", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--on-gpu", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.write_weights:
        write_random_weights(args.write_weights,
                             json.loads((args.write_weights / "random_config.json").read_text()),
                             args.on_gpu)
        return 0
    if args.child:
        return child(args.child)
    if args.list:
        matrix = load_matrix(args.matrix)
        for i, p in select(matrix["sections"][args.section]["points"], args.only):
            cfg = point_config(matrix, args.section, p)
            print(f"{i:3d} {p.get('id', ''):32s} {method_label(cfg):24s} {cfg['model']['name']:14s} "
                  f"b{cfg['train'].get('micro_batch', 1)} s{cfg['data'].get('block_size')} "
                  f"ckpt={cfg['method'].get('gradient_checkpointing', False)} "
                  f"opt={cfg['method'].get('optimizer', 'adamw')} {p.get('expect') or ''}")
        return 0
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
