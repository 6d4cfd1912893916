"""The calibration store: what runs and probes really used, beside what the plan said.

No formula survives every kernel and allocator, so every ended run and every probe leaves one
line in DATA_DIR/calibration.jsonl: the estimate, the measured peak, the counter it was read from,
the config and hardware fingerprints and the library versions. A later plan on the same hardware
for a similar config (same model, method, dtype, parallelism, checkpointing, optimizer and world;
micro batch and block size may differ) shows the estimate scaled by the measured/estimated ratio
of the nearest such measurement, and says which measurement it was.

The wizard plans on every key press, so :func:`correct` reads the store once per process and again
only when the file changes (one stat call per plan), and never imports anything heavy.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_FILE = "calibration.jsonl"
SCHEMA = 1
# Measured/estimated ratios outside this band say more about a broken measurement (a probe killed
# while loading, a shared GPU) than about the estimator: they never correct a plan.
SANE_RATIO = (0.25, 4.0)
LIBRARIES = ("torch", "transformers", "deepspeed", "bitsandbytes", "peft")
# Config fields that change peak memory in ways a ratio cannot carry over: they must match.
MATCH_KEYS = ("model", "params", "kind", "quant_bits", "parallel", "zero_stage", "offload_optimizer",
              "offload_params", "checkpointing", "optimizer", "dtype", "world")
HW_KEYS = ("backend", "kind", "device", "count", "memory_gib", "nodes")
# FTWIZARD_CALIBRATION=off: neither record nor correct (the test suite sets it, so one test's
# measurement never changes another test's plan).
ENV_SWITCH = "FTWIZARD_CALIBRATION"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in ("off", "0", "false", "no")


# ---------------------------------------------------------------- fingerprints

def config_fingerprint(cfg: Any, *, model_id: str | None = None, params: int | None = None,
                       world: int | None = None) -> dict[str, Any]:
    """The config fields peak memory depends on."""
    m = cfg.method
    return {
        "model": model_id or cfg.model.name, "params": params,
        "kind": m.kind, "quant_bits": m.quant_bits if m.kind == "qlora" else None,
        "lora_r": m.lora.r if m.kind != "full" else None,
        "parallel": m.parallel, "zero_stage": m.zero_stage if m.parallel == "deepspeed" else None,
        "offload_optimizer": bool(m.offload_optimizer and m.parallel == "deepspeed"),
        "offload_params": bool(m.offload_params and m.parallel == "deepspeed"),
        "checkpointing": m.gradient_checkpointing, "optimizer": m.optimizer,
        "dtype": cfg.model.dtype, "micro_batch": cfg.train.micro_batch,
        "block_size": cfg.data.block_size, "world": world, "nodes": cfg.hardware.nodes,
        # issue 15: a DPO step holds a reference and a paired batch an SFT ratio knows nothing of
        "objective": cfg.train.objective,
        "reference": cfg.train.preference.reference if cfg.train.objective != "sft" else None,
    }


def plan_fingerprint(plan: Any) -> dict[str, Any]:
    return config_fingerprint(plan.config, model_id=plan.model.id, params=plan.model.params,
                              world=plan.world_size)


def hardware_fingerprint(hw: Any) -> dict[str, Any]:
    from ftwizard.core.fingerprint import fingerprint

    return fingerprint(hw)


def counter_kind(device: str) -> str:
    """The estimate's counter on this device: peak RSS (cpu), device memory as nvidia-smi shows it
    (gpu), XLA's per-chip peak (tpu). Only measurements of the same counter correct a plan."""
    return {"cpu": "rss", "gpu": "device_used", "tpu": "tpu_peak"}.get(device, device)


def library_versions() -> dict[str, str | None]:
    from ftwizard.core.hardware import library_versions as all_versions

    v = all_versions()
    return {k: v.get(k) for k in LIBRARIES}


# ---------------------------------------------------------------- the store

_CACHE: dict[str, Any] = {"key": None, "records": []}


def store_path() -> Path:
    from ftwizard.core.paths import data_dir

    return data_dir() / STORE_FILE


def _path_cached() -> Path:
    """store_path() without data_dir()'s mkdir on every plan; follows FTWIZARD_HOME changes."""
    home = os.environ.get("FTWIZARD_HOME", "")
    if _CACHE.get("home") != home or _CACHE.get("path") is None:
        _CACHE["home"], _CACHE["path"] = home, store_path()
    return _CACHE["path"]


def records() -> list[dict[str, Any]]:
    """Every stored measurement, oldest first; re-read only when the file changed.

    A damaged store never stops a plan or `calibration list`: lines that are not a measurement
    (half-written by a crash, edited by hand, garbled bytes) are skipped with one warning naming
    the file, the lines and the fix; the rest still correct plans."""
    path = _path_cached()
    try:
        st = path.stat()
    except OSError:
        _CACHE["key"], _CACHE["records"] = None, []
        return []
    key = (str(path), st.st_mtime_ns, st.st_size)
    if _CACHE["key"] != key:
        from ftwizard.core.local_state import read_text, warn

        text = read_text(path, what="calibration store", fix=_REPAIR.format(path=path)) or ""
        out, bad = [], []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if _well_formed(rec):
                out.append(rec)
            else:
                bad.append(n)
        if bad:
            where = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
            warn(path, f"{len(bad)} line(s) are not measurements and were skipped (line {where})",
                 _REPAIR.format(path=path))
        _CACHE["key"], _CACHE["records"] = key, out
    return _CACHE["records"]


_REPAIR = ("delete those lines, or start over with `ftwizard calibration clear` (plans then use "
           "the bare estimate until the next run or probe)")
_NUMBER = (int, float)


def _well_formed(rec: Any) -> bool:
    """A record every reader can use without checking types again (`list`, best_match, describe)."""
    if not isinstance(rec, dict):
        return False
    for k in ("config", "hardware"):
        if rec.get(k) is not None and not isinstance(rec[k], dict):
            return False
    for k in ("time", "ratio", "estimate_bytes", "measured_bytes"):
        v = rec.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER) or v != v):
            return False
    for k in ("source", "status", "counter_kind", "run", "name"):
        if rec.get(k) is not None and not isinstance(rec[k], str):
            return False
    cfg = rec.get("config") or {}
    for k in ("micro_batch", "block_size"):
        v = cfg.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER) or v <= 0):
            return False
    try:
        _dt.datetime.fromtimestamp(float(rec.get("time") or 0))
    except (OverflowError, OSError, ValueError):
        return False
    return True


def append(record: dict[str, Any]) -> dict[str, Any]:
    """Add one measurement (skipped when its `key` is already stored: recording is idempotent).

    One O_APPEND write per line, so a crash leaves at most one half line (skipped when read); a
    store that cannot be written (full disk, a folder in its place) is a warning, never a failed run.
    """
    if not enabled():
        return record
    if record.get("key") and any(r.get("key") == record["key"] for r in records()):
        return record
    from ftwizard.core.local_state import append_line, warn

    path = _path_cached()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        append_line(path, json.dumps(record, default=str))
    except OSError as err:
        warn(path, f"the measurement of {record.get('name')!r} could not be stored "
             f"({err.strerror or err})", "free disk space, or move what is in the store's place")
    return record


def clear() -> int:
    """Delete the store; returns how many measurements it held."""
    n = len(records())
    path = _path_cached()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        from ftwizard.core.errors import InputError

        raise InputError(f"{path} is a folder, not ftwizard's calibration store", field="store",
                         value=str(path), fix=f"move or delete that folder yourself (`rm -r {path}` "
                         "if nothing in it is yours); ftwizard deletes only its own file") from None
    _CACHE["key"], _CACHE["records"] = None, []
    return n


def make_record(*, source: str, name: str, status: str, estimate_bytes: int | None,
                measured_bytes: int | None, counter: str, kind: str, config: dict[str, Any],
                hardware: dict[str, Any], tokens_per_s: float | None = None,
                estimate_tokens_per_s: float | None = None, key: str | None = None,
                run: str | None = None, when: float | None = None) -> dict[str, Any]:
    from ftwizard import __version__

    ratio = None
    if estimate_bytes and measured_bytes:
        ratio = round(measured_bytes / estimate_bytes, 4)
    return {
        "schema": SCHEMA, "time": round(when or time.time(), 3), "source": source, "name": name,
        "run": run, "status": status, "estimate_bytes": estimate_bytes,
        "measured_bytes": measured_bytes, "ratio": ratio, "counter": counter, "counter_kind": kind,
        "config": config, "hardware": hardware, "versions": library_versions(),
        "ftwizard": __version__, "tokens_per_s": tokens_per_s,
        "estimate_tokens_per_s": estimate_tokens_per_s, "key": key,
    }


def record_probe(result: Any, cfg: Any, hw: Any = None, plan: Any = None) -> dict[str, Any] | None:
    """Store a probe's measurement. An out-of-memory probe is kept too (its peak is only a lower
    bound, so it never corrects a plan, but `calibration list` shows it)."""
    if result.status not in ("ok", "oom") or not result.peak_bytes:
        return None
    if plan is None:
        from ftwizard.core.plan import make_plan

        plan = make_plan(cfg, hardware=hw)
    hw = hw or plan.hardware
    rec = make_record(
        source="probe", name=cfg.name, status=result.status,
        estimate_bytes=result.estimate_bytes, measured_bytes=result.peak_bytes,
        counter=result.counter, kind=result.counter_kind, config=plan_fingerprint(plan),
        hardware=hardware_fingerprint(hw), tokens_per_s=result.tokens_per_s,
        estimate_tokens_per_s=result.estimate_tokens_per_s,
        key=f"probe:{result.started:.3f}:{os.getpid()}")
    return append(rec)


def record_run(run_dir: str | Path) -> dict[str, Any] | None:
    """Store the peak of an ended run (its last `end` event) against the plan of its `start` event.

    Safe to call more than once (the train process calls it at the end; `ftwizard runs` may too).
    Probe run dirs are skipped: the probe records itself with the counters it polled.
    """
    from ftwizard.core import events as ev

    d = Path(run_dir)
    if (d / "probe.json").exists():
        return None
    evts, _ = ev.read_events(d / ev.EVENTS_FILE)
    end = ev.last_of(evts, "end")
    if end is None or end.get("status") not in ("finished", "stopped", "oom"):
        return None
    start = None
    for e in evts:
        if e.get("type") == "start" and e.get("time", 0) <= end.get("time", 0):
            start = e
    plan = (start or {}).get("plan") or {}
    pm = plan.get("memory") or {}
    peak, kind = ev.memory_on_counter(end)   # the end's peak on the estimate's counter
    device = pm.get("device") or ("gpu" if kind == "device_used" else "cpu")
    if device == "cpu" and kind == "rss":
        measured, counter = peak, "peak RSS of the training process (ru_maxrss)"
    elif device == "gpu" and kind == "device_used":
        measured = peak
        counter = "torch peak reserved + memory beyond it on the device (as nvidia-smi shows)"
    else:
        return None
    estimate = ev.figure(end, "estimate_bytes") or pm.get("per_device_bytes")
    if not measured or not estimate:
        return None
    from ftwizard.core.config import load_config

    try:
        cfg = load_config(d / "config.yaml")
    except Exception:  # noqa: BLE001 - a run without a readable config cannot be matched later
        return None
    model = plan.get("model") or {}
    world = (plan.get("hardware") or {}).get("devices")
    hw_fp = _run_hardware(d, cfg)
    status = "ok" if end["status"] in ("finished", "stopped") else "oom"
    rec = make_record(
        source="run", name=cfg.name, run=d.name, status=status, estimate_bytes=int(estimate),
        measured_bytes=int(measured), counter=counter, kind=counter_kind(device),
        config=config_fingerprint(cfg, model_id=model.get("id"), params=model.get("params"),
                                  world=world),
        hardware=hw_fp, tokens_per_s=_run_tokens_per_s(evts, start),
        estimate_tokens_per_s=(plan.get("time") or {}).get("tokens_per_s"),
        key=f"run:{d.resolve()}:{end.get('time')}", when=end.get("time"))
    return append(rec)


def _run_hardware(d: Path, cfg: Any) -> dict[str, Any]:
    try:
        return json.loads((d / "hardware.json").read_text())["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        from ftwizard.core.plan import hardware_for

        return hardware_fingerprint(hardware_for(cfg.hardware.target, cfg.hardware.nodes,
                                                 cfg.hardware.host_ram_gib))


def _run_tokens_per_s(evts: list[dict[str, Any]], start: dict[str, Any] | None) -> float | None:
    from ftwizard.core.probe import training_rate  # the probe's measure: training steps only

    after = [e for e in evts if start is None or e.get("time", 0) >= start.get("time", 0)]
    steps = [e for e in after if e.get("type") == "step" and e.get("tokens_per_s")]
    pauses = [e["time"] for e in after if e.get("type") in ("eval", "checkpoint") and e.get("time")]
    return training_rate(steps, pauses)


def steady_rate(steps: list[dict[str, Any]]) -> float | None:
    """Tokens/s after warm-up: the first step event (model load, first kernels) is left out, and
    the others are weighted by the time they cover (total tokens over total time)."""
    if len(steps) < 2:
        return steps[0].get("tokens_per_s") if steps else None
    tokens = secs = 0.0
    for prev, cur in zip(steps, steps[1:]):
        dt = float(cur["time"]) - float(prev["time"])
        if dt > 0 and cur.get("tokens_per_s"):
            tokens += float(cur["tokens_per_s"]) * dt
            secs += dt
    if secs <= 0:
        rates = [float(s["tokens_per_s"]) for s in steps[1:] if s.get("tokens_per_s")]
        return sum(rates) / len(rates) if rates else None
    return round(tokens / secs, 1)


# ---------------------------------------------------------------- correcting a plan

@dataclass
class Correction:
    ratio: float
    calibrated_bytes: int
    record: dict[str, Any]
    note: str

    def to_dict(self) -> dict[str, Any]:
        r = self.record
        return {"ratio": self.ratio, "calibrated_bytes": self.calibrated_bytes, "note": self.note,
                "source": r.get("source"), "name": r.get("name"), "run": r.get("run"),
                "time": r.get("time"), "measured_bytes": r.get("measured_bytes"),
                "estimate_bytes": r.get("estimate_bytes"),
                "micro_batch": (r.get("config") or {}).get("micro_batch"),
                "block_size": (r.get("config") or {}).get("block_size")}


def usable(rec: dict[str, Any]) -> bool:
    ratio = rec.get("ratio")
    return (rec.get("status") == "ok" and isinstance(ratio, (int, float))
            and SANE_RATIO[0] <= ratio <= SANE_RATIO[1])


def similar(rec: dict[str, Any], cfp: dict[str, Any], hfp: dict[str, Any], kind: str) -> bool:
    if rec.get("counter_kind") != kind:
        return False
    rc, rh = rec.get("config") or {}, rec.get("hardware") or {}
    if any(rc.get(k) != cfp.get(k) for k in MATCH_KEYS):
        return False
    # records made before train.objective existed are sft runs
    if (rc.get("objective") or "sft") != (cfp.get("objective") or "sft") \
            or rc.get("reference") != cfp.get("reference"):
        return False
    return all(rh.get(k) == hfp.get(k) for k in HW_KEYS)


def best_match(cfp: dict[str, Any], hfp: dict[str, Any], kind: str,
               recs: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The similar measurement nearest in tokens per micro batch (then the newest)."""
    tokens = (cfp.get("micro_batch") or 1) * (cfp.get("block_size") or 1)
    best, best_key = None, None
    for rec in recs if recs is not None else records():
        if not usable(rec) or not similar(rec, cfp, hfp, kind):
            continue
        rc = rec["config"]
        rt = (rc.get("micro_batch") or 1) * (rc.get("block_size") or 1)
        k = (abs(math.log(rt / tokens)), -float(rec.get("time") or 0))
        if best_key is None or k < best_key:
            best, best_key = rec, k
    return best


def describe(rec: dict[str, Any]) -> str:
    """`probe of 2026-11-22 (tiny-llama, full, mb 4, block 256)`."""
    c = rec.get("config") or {}
    day = _dt.datetime.fromtimestamp(float(rec.get("time") or 0)).strftime("%Y-%m-%d")
    what = "run " + rec["run"] if rec.get("source") == "run" and rec.get("run") else rec.get("source", "?")
    model = str(c.get("model") or "?")
    if os.sep in model:
        model = Path(model).name
    return (f"{what} of {day} ({model}, {c.get('kind')}, mb {c.get('micro_batch')}, "
            f"block {c.get('block_size')})")


def correct(plan: Any) -> Correction | None:
    """Scale `plan`'s memory estimate by the nearest similar measurement; None when there is none.

    Sets plan.calibration (a dict, also in plan.to_dict()) and adds a note naming the measurement.
    The estimate itself (per_device_bytes) is left as computed: it is what every later measurement
    is compared with, so the store never compounds its own corrections. A different micro batch or
    block size reuses the measured ratio on the new estimate, which already scales those terms.
    """
    if not enabled():
        return None
    recs = records()
    if not recs:
        return None
    m = plan.memory
    cfp = plan_fingerprint(plan)
    rec = best_match(cfp, hardware_fingerprint(plan.hardware), counter_kind(m.device), recs)
    if rec is None:
        return None
    ratio = float(rec["ratio"])
    calibrated = int(m.per_device_bytes * ratio)
    note = f"memory corrected x{ratio:.2f} by {describe(rec)}: {calibrated / 1024**3:.2f} GiB"
    usable_bytes = m.capacity_bytes - m.margin_bytes
    need = int(getattr(m, "needed_bytes", 0) or m.per_device_bytes) * ratio  # the verdict's figure
    if m.fits and need > usable_bytes:
        note += " -- by that measurement it would NOT fit"
    elif not m.fits and need <= usable_bytes:
        note += " -- by that measurement it would fit"
    corr = Correction(ratio=ratio, calibrated_bytes=calibrated, record=rec, note=note)
    m.calibrated_bytes = calibrated  # type: ignore[attr-defined] - read by the UI and to_dict
    plan.calibration = corr.to_dict()
    plan.notes.append(note)
    return corr


def ratio_for(plan: Any) -> float | None:
    """The correction ratio that would apply to `plan` (for the probe's after-OOM suggestions)."""
    if not enabled():
        return None
    rec = best_match(plan_fingerprint(plan), hardware_fingerprint(plan.hardware),
                     counter_kind(plan.memory.device))
    return float(rec["ratio"]) if rec else None
