"""How far core/memory.py's per-device estimate (and plan's time estimate) is from what our backend
really used, over every committed results file of bench/measure_vram.py.

    python bench/estimate_accuracy.py                 # table, current estimator
    python bench/estimate_accuracy.py --stored        # the estimates stored when measured
    python bench/estimate_accuracy.py --json

Like is compared with like. The estimate models the counter a user sees: on a GPU nvidia-smi, i.e.
torch reserved + the CUDA context, so it is compared with NVML's used memory of the training
process (or the device's used memory above its idle baseline where NVML cannot tell processes
apart); on a CPU, the peak RSS of the training process. Each file states its counter and this
script prints it.

By default every estimate is recomputed with the current core/memory.py from the config and the
model config stored with the point, so an improvement to the estimator shows here at once;
`--stored` uses the figures written at measurement time (the "before" of a change).
Errors are relative: (estimate - measured) / measured; median and p90 are of the absolute value,
and `bias` is the signed median (negative: the estimate is low, the dangerous side).
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def result_files(pattern: str | None = None) -> list[Path]:
    return sorted(Path(p) for p in glob.glob(pattern or str(RESULTS / "vram_*.json")))


def quantile(values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default), None for no values."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


# ---------------------------------------------------------------------------- re-estimating

def _hardware(env: dict[str, Any]):  # noqa: ANN202
    """The machine the file was measured on, as core/hardware describes it."""
    from ftwizard.core import hardware

    if env.get("gpu", "cpu") == "cpu":
        return hardware.Hardware(devices=(), kind=None, source="recorded", target=None,
                                 cpu_count=int(env.get("cpu_count") or 1),
                                 ram_total=int(env.get("ram_total") or 0))
    kind = hardware.find_kind(env["gpu"])
    dev = hardware.Device(index=0, name=env["gpu"], backend="cuda",
                          memory_total=int(env.get("gpu_memory_bytes") or (kind.memory_bytes if kind else 0)),
                          memory_free=None, compute_capability=None, bf16=True)
    return hardware.Hardware(devices=(dev,), kind=kind, source="recorded", target=None,
                             cpu_count=int(env.get("cpu_count") or 1),
                             ram_total=int(env.get("ram_total") or 0))


def _matrix_model_config(point: dict[str, Any], matrix: dict[str, Any] | None) -> dict[str, Any] | None:
    """A results file written before points stored their model config: read it off the matrix."""
    if not matrix:
        return None
    spec = (matrix.get("models") or {}).get(point.get("model"))
    if spec is None:
        return None
    sys.path.insert(0, str(REPO / "bench"))
    from measure_vram import model_config_of

    return model_config_of(spec)[0]


def reestimate(point: dict[str, Any], env: dict[str, Any],
               matrix: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The estimate the current code gives for a measured point (None if it cannot be rebuilt)."""
    from ftwizard.core import memory as mem
    from ftwizard.core.config import from_dict
    from ftwizard.core.models import spec_from_config
    from ftwizard.core.plan import estimate_time, layout

    model_config = point.get("model_config") or _matrix_model_config(point, matrix)
    if not model_config or not point.get("config"):
        return None
    cfg_dict = json.loads(json.dumps(point["config"]))
    cfg = from_dict(cfg_dict)
    spec = spec_from_config(model_config, id=point.get("model", "model"), source="local",
                            attn_impl=point.get("attn_impl"))
    hw = _hardware(env)
    world, _ = layout(cfg, hw)
    setup = mem.Setup.from_config(cfg, world)
    on_cpu = hw.is_cpu_only
    capacity = point.get("memory_limit_bytes") or hw.device_memory
    est = mem.estimate(spec, setup, capacity=int(capacity), host_capacity=int(hw.ram_total),
                       on_cpu=on_cpu)
    t = estimate_time(cfg, spec, hw, setup, None, world, on_cpu=on_cpu, tpu=False)
    return {"per_device_bytes": est.per_device_bytes, "fits": est.fits, "counter": est.counter,
            "tokens_per_s": t.tokens_per_s}


# ---------------------------------------------------------------------------- the table

def _label(point: dict[str, Any]) -> str | None:
    """The method label of measure_vram.py, from the stored config (so older files group alike)."""
    if not point.get("config"):
        return point.get("method")
    sys.path.insert(0, str(REPO / "bench"))
    from measure_vram import method_label

    return method_label(point["config"])


def rows(files: list[Path], stored: bool = False) -> list[dict[str, Any]]:
    """One row per measured point: method, memory error, time error, fit verdict."""
    out: list[dict[str, Any]] = []
    for f in files:
        data = json.loads(f.read_text())
        env = data.get("environment", {})
        matrix = None
        try:
            import yaml

            mx = yaml.safe_load((REPO / data.get("matrix", "bench/vram_matrix.yaml")).read_text())
            matrix = mx["sections"][data.get("section")]
        except (OSError, KeyError, TypeError, ValueError):
            matrix = None
        for p in data.get("points", []):
            cmp = p.get("compare") or {}
            est = p.get("estimate") or {}
            if not stored:
                fresh = reestimate(p, env, matrix)
                if fresh is not None:
                    est = {**est, **fresh}
            status = p.get("status")
            measured = cmp.get("measured_bytes")
            row = {"file": f.name, "gpu": env.get("gpu", "cpu"), "id": p.get("id"),
                   "method": _label(p), "status": status, "counter": cmp.get("counter"),
                   "estimate_bytes": est.get("per_device_bytes"), "measured_bytes": measured,
                   "mem_error": None, "time_error": None, "fit_right": None}
            if status == "ok" and measured and est.get("per_device_bytes"):
                row["mem_error"] = (est["per_device_bytes"] - measured) / measured
            tps = (p.get("measured") or {}).get("tokens_per_s")
            if status == "ok" and tps and est.get("tokens_per_s"):
                row["time_error"] = (est["tokens_per_s"] - tps) / tps
            if status in ("ok", "oom") and "fits" in est:
                row["fit_right"] = bool(est["fits"]) == (status == "ok")
            out.append(row)
    return out


def summarise(rs: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(sel: list[dict[str, Any]]) -> dict[str, Any]:
        mem_err = [r["mem_error"] for r in sel if r["mem_error"] is not None]
        t_err = [r["time_error"] for r in sel if r["time_error"] is not None]
        fit = [r["fit_right"] for r in sel if r["fit_right"] is not None]
        return {"points": len(sel), "measured": len(mem_err),
                "mem_median_abs": quantile([abs(e) for e in mem_err], 0.5),
                "mem_p90_abs": quantile([abs(e) for e in mem_err], 0.9),
                "mem_bias": statistics.median(mem_err) if mem_err else None,
                "time_median_abs": quantile([abs(e) for e in t_err], 0.5),
                "time_p90_abs": quantile([abs(e) for e in t_err], 0.9),
                "time_bias": statistics.median(t_err) if t_err else None,
                "fit_right": sum(fit), "fit_judged": len(fit),
                "oom": sum(1 for r in sel if r["status"] == "oom"),
                "errors": sum(1 for r in sel if r["status"] not in ("ok", "oom"))}

    out: dict[str, Any] = {"files": {}}
    for fname in sorted({r["file"] for r in rs}):
        sel = [r for r in rs if r["file"] == fname]
        counters = sorted({r["counter"] for r in sel if r["counter"]})
        per_method = {m: stats([r for r in sel if r["method"] == m])
                      for m in sorted({r["method"] for r in sel if r["method"]})}
        out["files"][fname] = {"gpu": sel[0]["gpu"], "counters": counters,
                               "compared": COUNTER_TEXT.get(sel[0]["gpu"] == "cpu"),
                               "all": stats(sel), "methods": per_method}
    return out


COUNTER_TEXT = {
    True: "estimate (peak RSS of the training process) vs measured peak RSS (ru_maxrss)",
    False: "estimate (nvidia-smi: torch reserved + CUDA context) vs NVML used memory of the "
           "training process",
}


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:+.1%}" if v < 0 else f"{v:.1%}"


def print_table(summary: dict[str, Any], rs: list[dict[str, Any]], verbose: bool) -> None:
    for fname, s in summary["files"].items():
        print(f"{fname}  ({s['gpu']})")
        print(f"  compared: {s['compared']}")
        head = f"  {'method':26s} {'n':>3s} {'mem med':>8s} {'mem p90':>8s} {'bias':>8s} " \
               f"{'time med':>9s} {'time p90':>9s} {'fit ok':>7s} {'oom':>4s} {'err':>4s}"
        print(head)
        for name, st in [*s["methods"].items(), ("ALL", s["all"])]:
            print(f"  {name:26s} {st['measured']:3d} {_pct(st['mem_median_abs']):>8s} "
                  f"{_pct(st['mem_p90_abs']):>8s} {_pct(st['mem_bias']):>8s} "
                  f"{_pct(st['time_median_abs']):>9s} {_pct(st['time_p90_abs']):>9s} "
                  f"{st['fit_right']:>3d}/{st['fit_judged']:<3d} {st['oom']:4d} {st['errors']:4d}")
        if verbose:
            for r in rs:
                if r["file"] != fname:
                    continue
                e = r["estimate_bytes"] or 0
                m = r["measured_bytes"] or 0
                print(f"    {r['id']:32s} {r['status']:7s} est {e / 2**30:7.2f} GiB  meas "
                      f"{m / 2**30:7.2f} GiB  mem {_pct(r['mem_error']):>8s}  time {_pct(r['time_error']):>8s}")
        print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", help="glob of results files (default bench/results/vram_*.json)")
    ap.add_argument("--stored", action="store_true", help="use the estimates stored at measurement")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per point too")
    args = ap.parse_args(argv)
    files = result_files(args.files)
    if not files:
        print("no results files (bench/results/vram_*.json): run bench/measure_vram.py first",
              file=sys.stderr)
        return 2
    rs = rows(files, stored=args.stored)
    summary = summarise(rs)
    summary["estimates"] = "stored at measurement" if args.stored else "recomputed with the current core/memory.py"
    if args.json:
        summary["rows"] = rs
        print(json.dumps(summary, indent=1))
    else:
        print(f"estimates: {summary['estimates']}\n")
        print_table(summary, rs, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
