"""Test fit: the real configuration for a few steps, measured, before a ten-hour launch.

"Test fit" is the one name users see (the wizard's `t`, `ftwizard plan --test-fit`, the plan
JSON's "test_fit"); inside the code a test fit is a probe (run_probe, ProbeResult), a name kept
for the module and its calibration records.

A user trusts a number they watched being measured. :func:`run_probe` trains the config as it
would be launched (same `python -m ftwizard.core.train` entry and launcher, same model, method,
batch, sequence length and data) for a few optimizer steps in a throw-away run dir, with checkpoints,
evaluation and the sample generation switched off, under a time limit. It reads the peak from the
child itself (RSS high-water mark on the CPU; the device memory NVML says the probe's processes
hold on a GPU, with torch's own peaks from the backend's events) and tokens/s after the first step,
and puts them beside the plan's estimate.

A probe that runs out of memory says "does not fit" with ranked changes: the planner's own, or,
when the planner thought it fits, the planner's suggestions against the memory the probe proved
to be there (scaled by what past measurements say about the estimator). :func:`probe_again_with`
applies one and probes again (the wizard's "Test fit" loop). A real run that died of OOM is
relaunched with its first fix by :func:`relaunch_with_fix`.

On the CPU a memory cap (`memory_limit_bytes`) is a per-process address-space limit (RLIMIT_AS)
set in the child: an allocation beyond it fails for real and the backend reports status "oom".
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

GiB = 1024**3
PROBE_MARKER = "probe.json"
POLL_S = 0.1
# Share of the memory an OOM probe proved available that a suggested change may plan to use.
AFTER_OOM_SHARE = 0.8


@dataclass
class ProbeResult:
    status: str                              # ok | oom | failed | timeout
    steps: int                               # asked for
    steps_done: int = 0
    peak_bytes: int | None = None            # measured, counter below
    estimate_bytes: int | None = None        # the plan's estimate (uncorrected)
    calibrated_bytes: int | None = None      # the plan's figure corrected by past measurements
    diff_ratio: float | None = None          # measured / estimate
    tokens_per_s: float | None = None        # after warm-up (first step left out)
    estimate_tokens_per_s: float | None = None
    counter: str = ""
    counter_kind: str = ""                   # rss | device_used
    capacity_bytes: int | None = None
    message: str = ""
    suggestions: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    started: float = 0.0
    torch_peak_allocated: int | None = None  # GPU: from the backend's events when it got there
    torch_peak_reserved: int | None = None
    peak_virtual_bytes: int | None = None    # CPU: address space (what RLIMIT_AS limits)
    memory_limit_bytes: int | None = None
    log_tail: list[str] = field(default_factory=list)
    run_dir: str | None = None               # kept only with keep=True

    @property
    def fits(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fits"] = self.fits
        return d

    def summary(self) -> str:
        """A few plain lines: measured beside estimated, the verdict, and what to change."""
        lines = []
        head = {"ok": "Probe: fits", "oom": "Probe: does NOT fit (out of memory)",
                "failed": "Probe: failed", "timeout": "Probe: time limit reached"}[self.status]
        lines.append(f"{head} after {self.steps_done}/{self.steps} steps in {self.seconds:.0f} s")
        if self.peak_bytes:
            est = f"{self.estimate_bytes / GiB:.2f} GiB" if self.estimate_bytes else "?"
            diff = f" ({(self.diff_ratio - 1) * 100:+.0f} %)" if self.diff_ratio else ""
            verb = "reached before failing" if self.status == "oom" else "measured"
            lines.append(f"  memory  {verb} {self.peak_bytes / GiB:.2f} GiB, estimated {est}{diff}"
                         f"  [{self.counter}]")
            if self.calibrated_bytes:
                lines.append(f"          corrected estimate was {self.calibrated_bytes / GiB:.2f} GiB")
        if self.tokens_per_s:
            est = f"{self.estimate_tokens_per_s:,.0f}" if self.estimate_tokens_per_s else "?"
            ratio = (f" (x{self.tokens_per_s / self.estimate_tokens_per_s:.2f})"
                     if self.estimate_tokens_per_s else "")
            lines.append(f"  speed   {self.tokens_per_s:,.0f} tokens/s after warm-up, "
                         f"estimated {est}{ratio}")
        if self.message:
            lines.append(f"  {self.message}")
        for i, s in enumerate(self.suggestions[:5], 1):
            sets = " ".join(f"--set {k}={v}" for k, v in (s.get("set") or {}).items())
            lines.append(f"  {i}. {s['text']}  {sets}")
        return "\n".join(lines)


# ---------------------------------------------------------------- the probe config

def probe_config(cfg: Any, steps: int) -> Any:
    """`cfg` as a probe runs it: a few steps, step events every step, nothing saved, no eval, no
    sample, no logging service; data and model paths absolute (the probe dir is elsewhere)."""
    from ftwizard.core.config import from_dict

    data = cfg.to_dict()
    big = 10**9
    data["train"].update(max_steps=int(steps), log_every=1, save_every=big, eval_every=big)
    data["output"].update(sample_prompt=None, merge=False, report_to="none")
    for src in data["data"]["train"] + ([data["data"]["validation"]] if data["data"]["validation"] else []):
        path = src.get("path")
        if path and not path.startswith("hf:") and Path(path).expanduser().exists():
            src["path"] = str(Path(path).expanduser().resolve())
    name = data["model"]["name"]
    if Path(name).expanduser().exists():
        data["model"]["name"] = str(Path(name).expanduser().resolve())
    return from_dict(data)


def _probe_dir(cfg: Any) -> Path:
    from ftwizard.core.paths import cache_dir

    root = cache_dir() / "probes"
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    d = root / f"{cfg.name}-{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    d.mkdir()
    return d


def _limit_address_space(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


# ---------------------------------------------------------------- measuring the child

class TreeMemory:
    """Peak memory of a process tree, polled: RSS and address-space high-water marks from
    /proc (the kernel keeps them, so polling misses nothing of a live process), and on a GPU what
    NVML says the tree's processes hold on each device."""

    def __init__(self, pid: int, gpu: bool) -> None:
        self.pid = pid
        self.rss_peak = 0
        self.vm_peak = 0
        self.gpu_peak = 0
        self._nvml = None
        self._baseline: dict[int, int] = {}
        if gpu:
            self._init_nvml()

    def _init_nvml(self) -> None:
        try:
            import pynvml  # nvidia-ml-py, ~5 ms

            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = (pynvml, handles)
            self._baseline = {i: int(pynvml.nvmlDeviceGetMemoryInfo(h).used) for i, h in enumerate(handles)}
        except Exception:  # noqa: BLE001 - no NVML: the backend's own counters are used instead
            self._nvml = None

    def pids(self) -> list[int]:
        try:
            import psutil  # ~10 ms

            p = psutil.Process(self.pid)
            return [self.pid] + [c.pid for c in p.children(recursive=True)]
        except Exception:  # noqa: BLE001 - gone
            return [self.pid]

    def poll(self) -> None:
        pids = self.pids()
        for pid in pids:
            hwm, vmp = _proc_status(pid)
            self.rss_peak = max(self.rss_peak, hwm)
            self.vm_peak = max(self.vm_peak, vmp)
        if self._nvml is not None:
            self.gpu_peak = max(self.gpu_peak, self._gpu_used(set(pids)))

    def _gpu_used(self, pids: set[int]) -> int:
        pynvml, handles = self._nvml
        best = 0
        for i, h in enumerate(handles):
            try:
                procs = pynvml.nvmlDeviceGetComputeRunningProcesses(h)
                ours = [p.usedGpuMemory for p in procs if p.pid in pids and p.usedGpuMemory]
                if ours:
                    used = sum(int(u) for u in ours)
                else:  # containers often hide pids from NVML: the device's growth since start
                    used = max(0, int(pynvml.nvmlDeviceGetMemoryInfo(h).used) - self._baseline.get(i, 0))
            except Exception:  # noqa: BLE001
                continue
            best = max(best, used)
        return best

    def close(self) -> None:
        if self._nvml is not None:
            with contextlib.suppress(Exception):
                self._nvml[0].nvmlShutdown()


def _proc_status(pid: int) -> tuple[int, int]:
    """(VmHWM, VmPeak) in bytes from /proc/PID/status; zeros where unreadable."""
    hwm = vmp = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
                elif line.startswith("VmPeak:"):
                    vmp = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return hwm, vmp


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


# ---------------------------------------------------------------- the probe

def run_probe(cfg: Any, *, steps: int = 6, plan: Any = None, time_limit_s: float = 300,
              memory_limit_bytes: int | None = None, keep: bool = False, record: bool = True,
              hardware: Any = None, on_progress: Callable[[dict[str, Any]], None] | None = None,
              ) -> ProbeResult:
    """Train `cfg` for `steps` optimizer steps in a child process and measure it.

    `plan`: the plan shown to the user (made here if None); its estimate is the one compared.
    `memory_limit_bytes`: address-space cap of the child (CPU OOM for real; tests, or "would it
    fit in 8 GiB of RAM"). `on_progress(event)` gets each event the backend writes (for a live
    view). The result is stored in the calibration store unless `record=False`.
    """
    from ftwizard.core import events as ev
    from ftwizard.core import runs
    from ftwizard.core.calibration import counter_kind
    from ftwizard.core.plan import hardware_for, make_plan

    steps = max(2, int(steps))  # the first step is warm-up: at least one more is measured
    hw = hardware or (plan.hardware if plan is not None else
                      hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib))
    if plan is None:
        plan = make_plan(cfg, hardware=hw)
    from ftwizard.core.plan import probe_blocker

    blocker = probe_blocker(plan)
    if blocker:   # says what it would need instead of trying to train what cannot load here
        return ProbeResult(status="failed", steps=steps, message=blocker,
                           estimate_bytes=int(plan.memory.per_device_bytes), started=time.time())
    pcfg = probe_config(cfg, steps)
    d = _probe_dir(cfg)
    cpu = bool(hw.is_cpu_only)
    m = plan.memory
    result = ProbeResult(
        status="failed", steps=steps, estimate_bytes=int(m.per_device_bytes),
        calibrated_bytes=getattr(m, "calibrated_bytes", None),
        estimate_tokens_per_s=plan.time.tokens_per_s if plan.time else None,
        counter_kind=counter_kind(m.device), capacity_bytes=int(m.capacity_bytes),
        counter=("peak RSS of the training process (VmHWM)" if cpu else
                 "device memory held by the probe's processes (NVML, as nvidia-smi shows)"),
        memory_limit_bytes=memory_limit_bytes, started=time.time())
    (d / PROBE_MARKER).write_text(json.dumps({"steps": steps, "memory_limit_bytes": memory_limit_bytes,
                                              "config": cfg.name, "started": result.started}))
    # the files and launch.sh a real run gets (launch.render), in the throw-away dir
    runs.write_run_files(pcfg, d, hardware=hw, plan=plan)
    argv = ["bash", str(d / runs.LAUNCH_FILE)]
    env = dict(os.environ)
    log = open(d / "stdout.log", "ab")  # noqa: SIM115 - the child's
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=os.getcwd(), start_new_session=True,
                                preexec_fn=_limit_address_space(memory_limit_bytes) if memory_limit_bytes else None)
    finally:
        log.close()
    mem = TreeMemory(proc.pid, gpu=not cpu)
    offset = 0
    prog = ev.Progress()            # the one fold of the events (its steps, its end)
    step_events = prog.steps
    end: dict[str, Any] | None = None
    try:
        while True:
            mem.poll()
            new, offset = ev.read_events(d / ev.EVENTS_FILE, offset)
            for e in new:
                if on_progress is not None:
                    with contextlib.suppress(Exception):
                        on_progress(e)
                prog.fold(e)
            end = prog.end
            done = prog.step >= steps
            if done and end is None:
                # Measured: the final save a real run makes next is not part of the probe.
                mem.poll()
                _kill_group(proc)
                result.status = "ok"
                break
            if end is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=15)
                if proc.poll() is None:
                    _kill_group(proc)
                result.status = {"finished": "ok", "oom": "oom"}.get(end.get("status"), "failed")
                break
            if proc.poll() is not None:
                new, offset = ev.read_events(d / ev.EVENTS_FILE, offset)
                end = prog.fold_all(new).end
                if end is not None:
                    result.status = {"finished": "ok", "oom": "oom"}.get(end.get("status"), "failed")
                elif proc.returncode == -signal.SIGKILL:
                    result.status = "oom"
                    result.message = ("killed by SIGKILL without a word: most likely the kernel's "
                                      "out-of-memory killer")
                else:
                    result.status = "failed"
                    result.message = f"the training process exited with code {proc.returncode}"
                break
            if time.monotonic() - t0 > time_limit_s:
                _kill_group(proc)
                result.status = "timeout"
                result.message = (f"stopped after the {time_limit_s:.0f} s time limit: probe "
                                  "fewer steps or allow more time")
                break
            time.sleep(POLL_S)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
        mem.close()
    result.seconds = round(time.monotonic() - t0, 1)
    result.steps_done = int(step_events[-1]["step"]) if step_events else 0
    result.tokens_per_s = training_rate(step_events)
    _fill_memory(result, mem, end, step_events, cpu=cpu)
    if end is not None and end.get("status") != "finished":
        result.message = result.message or str(end.get("message") or "")
    if result.status == "oom":
        result.message = result.message or "out of memory"
        result.suggestions = suggestions_after_oom(cfg, plan, result.peak_bytes)
    elif result.status == "failed":
        result.log_tail = list((end or {}).get("last_log_lines") or ev.tail_lines(d / "stdout.log", 20))
    if result.peak_bytes and result.estimate_bytes:
        result.diff_ratio = round(result.peak_bytes / result.estimate_bytes, 4)
    if record:
        with contextlib.suppress(Exception):  # the store must never hide a probe's answer
            from ftwizard.core import calibration

            calibration.record_probe(result, cfg, hw, plan)
    if keep:
        result.run_dir = str(d)
    else:
        shutil.rmtree(d, ignore_errors=True)
    return result


WARMUP_SLOWER = 2.0
"""A step interval more than this many times the median of the later ones is still warm-up."""


def training_rate(step_events: list[dict[str, Any]], pauses: Any = ()) -> float | None:
    """Tokens/s of the training steps after warm-up: total tokens over total time of the
    intervals between consecutive step events, leaving out the first step (model load, first
    kernels, the optimizer's lazily built states) and every following interval that is still
    warming up (more than WARMUP_SLOWER x the median of the later intervals: allocator growth,
    oneDNN/cuBLAS autotuning), and any interval with an evaluation or checkpoint in it (the times
    of those events in `pauses`, or a step event carrying `eval_loss` or `checkpoint`). Each
    interval's tokens are the backend's rate for it times its length, so a step of any size counts
    as it ran. A real run's record (core.calibration) is measured the same way.

    The earlier measure (every interval after the first, time-weighted) let one or two slow
    warm-up steps of a six-step probe dominate: 531 tokens/s reported where the same run trains at
    15-24k.
    """
    stops = sorted(float(t) for t in pauses)
    iv: list[tuple[float, float]] = []   # (seconds, tokens)
    for prev, cur in zip(step_events, step_events[1:]):
        t0, t1 = float(prev.get("time") or 0), float(cur.get("time") or 0)
        dt = t1 - t0
        tps = cur.get("tokens_per_s")
        if dt <= 0 or not tps or cur.get("eval_loss") is not None or cur.get("checkpoint"):
            continue
        if any(t0 <= t <= t1 for t in stops):
            continue
        iv.append((dt, float(tps) * dt))
    if not iv:
        return step_events[-1].get("tokens_per_s") if step_events else None
    start = 0
    while start < len(iv) - 1:
        later = sorted(d for d, _ in iv[start + 1:])
        median = later[len(later) // 2]
        if iv[start][0] <= WARMUP_SLOWER * median:
            break
        start += 1
    kept = iv[start:]
    secs = sum(d for d, _ in kept)
    return round(sum(t for _, t in kept) / secs, 1) if secs > 0 else None


def _fill_memory(result: ProbeResult, mem: TreeMemory, end: dict[str, Any] | None,
                 step_events: list[dict[str, Any]], *, cpu: bool) -> None:
    end = end or {}
    from ftwizard.core.events import figure, memory_on_counter

    peak, counter = memory_on_counter(end) if end else (None, None)
    if cpu:
        # ru_maxrss from the end event is the same high-water mark, read by the child itself
        result.peak_bytes = max(mem.rss_peak, int(peak or 0)) or None
        result.peak_virtual_bytes = mem.vm_peak or None
        return
    reserved = [int(figure(e, "reserved_bytes") or 0) for e in step_events]
    result.torch_peak_reserved = figure(end, "peak_reserved_bytes") or (max(reserved) if reserved else None)
    result.torch_peak_allocated = end.get("peak_allocated_bytes") or end.get("peak_mem") or None
    result.peak_bytes = mem.gpu_peak or (peak if counter == "device_used" else None) \
        or result.torch_peak_reserved
    if not mem.gpu_peak and result.peak_bytes:
        result.counter = "torch reserved memory (NVML unavailable; the CUDA context is not counted)"


# ---------------------------------------------------------------- after an OOM

def suggestions_after_oom(cfg: Any, plan: Any, reached_bytes: int | None) -> list[dict]:
    """Ranked changes for a config that ran out of memory.

    The planner's own suggestions when it already said "does not fit". Otherwise the planner
    under-counted: it plans again against the memory the probe proved available (what it reached
    before failing, or the device), in the estimator's units (divided by the stored correction
    ratio, and by at least reached/estimate: the run needed more than it reached), keeping
    AFTER_OOM_SHARE of it.
    """
    m = plan.memory
    if m.suggestions:
        return list(m.suggestions)
    from ftwizard.core.calibration import ratio_for
    from ftwizard.core.plan import make_plan, suggestions

    est = float(m.per_device_bytes)
    room = float(min(x for x in (reached_bytes, m.capacity_bytes) if x))
    under = max(room / est if est else 1.0, ratio_for(plan) or 1.0, 1.0)
    target = AFTER_OOM_SHARE * room / under   # estimator units a change may use
    margin_share = (m.margin_bytes / m.capacity_bytes) if m.capacity_bytes else 0.0
    capacity = int(target / max(1e-6, 1.0 - margin_share))
    hw = _with_capacity(plan.hardware, capacity)
    n = plan.steps.sequences if plan.steps else None
    tight = make_plan(cfg, hardware=hw, sequences=n, with_suggestions=False)
    if tight.fits:
        return []
    found = suggestions(tight)
    for s in found:
        s["after_oom"] = True
    return found


def _with_capacity(hw: Any, capacity: int) -> Any:
    """The same hardware with `capacity` bytes per device; host RAM (the offload check) unchanged,
    also on a CPU-only machine where both are the RAM."""
    from ftwizard.core.hardware import Hardware

    @dataclasses.dataclass(frozen=True)
    class Capped(Hardware):
        cap: int = 0

        @property
        def device_memory(self) -> int:
            return self.cap

    fields = {f.name: getattr(hw, f.name) for f in dataclasses.fields(Hardware)}
    return Capped(**fields, cap=int(capacity))


def probe_again_with(cfg: Any, suggestion: dict, **probe_kwargs: Any) -> tuple[Any, ProbeResult]:
    """Apply one suggestion and probe the result: the wizard's "apply the fix, test again"."""
    from ftwizard.core.plan import apply_suggestion

    new = apply_suggestion(cfg, suggestion)
    return new, run_probe(new, **probe_kwargs)


def apply_first_and_probe_again(cfg: Any, result: ProbeResult, **probe_kwargs: Any
                                ) -> tuple[Any, ProbeResult] | None:
    """After an OOM probe: the config with its first suggestion, and that config's probe; None
    when there is nothing to suggest."""
    if not result.suggestions:
        return None
    return probe_again_with(cfg, result.suggestions[0], **probe_kwargs)


# ---------------------------------------------------------------- a real run's OOM

# Changes that keep the checkpoint loadable: the same weights and optimizer state, another batch
# layout or recompute. Anything else starts a new run.
RESUMABLE_KEYS = frozenset({"train.micro_batch", "train.grad_accum", "method.gradient_checkpointing"})


def oom_fix(run_dir: str | Path) -> dict | None:
    """The first fix for a run that ended out of memory, or None (not an OOM, nothing to offer).

    The planner's suggestions when it says the config does not fit; otherwise those against the
    memory the run reached (its end event's peak), as for a probe.
    """
    from ftwizard.core import events as ev
    from ftwizard.core.config import load_config
    from ftwizard.core.plan import make_plan

    d = Path(run_dir)
    end = ev.last_of(ev.read_events(d / ev.EVENTS_FILE)[0], "end")
    if end is None or end.get("status") != "oom":
        return None
    cfg = load_config(d / "config.yaml")
    plan = make_plan(cfg)
    reached = ev.memory_on_counter(end)[0]
    found = suggestions_after_oom(cfg, plan, int(reached) if reached else None)
    if found:
        return found[0]
    t = cfg.train
    if t.micro_batch > 1:  # same math, half the activations
        mb = t.micro_batch // 2
        return {"text": f"batch {t.micro_batch} -> {mb} with grad-accum x{t.grad_accum * 2}",
                "set": {"train.micro_batch": mb, "train.grad_accum": t.grad_accum * 2}}
    if not cfg.method.gradient_checkpointing:
        return {"text": "turn on gradient checkpointing", "set": {"method.gradient_checkpointing": True}}
    return None


def relaunch_with_fix(run_dir: str | Path, *, detach: bool = True) -> Path:
    """Relaunch a run that died of OOM with its first fix applied; returns the run dir started.

    A fix that keeps the checkpoint loadable (batch layout, recompute) rewrites the run's
    config.yaml (the old one is kept as config.before-fix.yaml), re-renders launch.sh and resumes
    from the newest checkpoint. Any other fix (method, precision, sharding) starts a new run
    `<name>-fix` from the fixed config, since the checkpoint could not be loaded into it.
    """
    from ftwizard.core import runs
    from ftwizard.core.config import load_config
    from ftwizard.core.errors import InputError
    from ftwizard.core.plan import apply_suggestion

    d = Path(run_dir).resolve()
    fix = oom_fix(d)
    if fix is None:
        raise InputError(f"run {d.name!r} did not end out of memory, or no change would help",
                         field="RUN", value=d.name,
                         fix="`ftwizard plan CONFIG` shows what fits; `ftwizard resume RUN` resumes as is")
    cfg = load_config(d / "config.yaml")
    new = apply_suggestion(cfg, fix)
    if set(fix["set"]) <= RESUMABLE_KEYS:
        shutil.copyfile(d / "config.yaml", d / "config.before-fix.yaml")
        runs.write_run_files(new, d)
        (d / "fix.json").write_text(json.dumps({"applied": fix, "time": time.time()}, default=str))
        return runs.resume_run(d, detach=detach)
    data = new.to_dict()
    data["name"] = f"{cfg.name}-fix"
    from ftwizard.core.config import from_dict

    return runs.start_run(from_dict(data), name=f"{d.name}-fix", detach=detach)
