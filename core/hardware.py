"""What the machine (or the machine a user plans for) can do: devices, memory, speed, libraries.

Detection must be fast and must never grab an accelerator, because `ftwizard hw` and the wizard
run it at start-up, often on a box where training is already running:

- NVIDIA GPUs are read through NVML (the `nvidia-ml-py` distribution, imported as `pynvml`): it
  sees memory, compute capability, driver and NVLink without creating a CUDA context.
- torch is consulted only when NVML found nothing and there is a sign of an accelerator (device
  nodes for NVIDIA or AMD, Apple silicon), and then in a child process with a timeout, so the caller
  never pays torch's import or a CUDA context.
- TPUs are read through JAX in a child process with a timeout, and only when something hints at a
  TPU: TPU runtime start can hang, and it takes the chips for as long as the process lives.
- Library versions come from installed metadata; the libraries themselves are never imported.

A catalog of accelerator kinds (core/catalog/accelerators.json) lets a user plan for a machine they
are not on (`--target "A100-80GB x8"`): `from_target` builds a `Hardware` from it.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ftwizard.core.errors import InputError, did_you_mean

GIB = 1024**3
MIB = 1024**2

# CPU-only speed: a modern x86 core sustains ~60 GFLOP/s fp32 in PyTorch GEMMs (AVX2/AVX-512 FMA),
# so 8 cores ~0.5 TFLOP/s. Used only to say "this will be slow" with a number.
CPU_TFLOPS_PER_CORE = 0.5 / 8

LOW_DISK_BYTES = 20 * GIB  # a 7B full-run checkpoint with optimizer states is ~80 GB; 20 GiB is the floor

LIBRARIES: dict[str, str] = {  # key in Hardware.libraries -> distribution name
    "torch": "torch",
    "transformers": "transformers",
    "accelerate": "accelerate",
    "peft": "peft",
    "trl": "trl",
    "deepspeed": "deepspeed",
    "bitsandbytes": "bitsandbytes",
    "datasets": "datasets",
    "jax": "jax",
    "tunix": "google-tunix",
}

_DTYPE_ALIASES = {
    "fp32": "fp32", "float32": "fp32", "float": "fp32", "f32": "fp32",
    "tf32": "tf32",
    "fp16": "fp16", "float16": "fp16", "half": "fp16", "f16": "fp16",
    "bf16": "bf16", "bfloat16": "bf16",
    "fp8": "fp8", "float8": "fp8", "e4m3": "fp8",
}


def _norm_dtype(dtype: str) -> str:
    d = _DTYPE_ALIASES.get(str(dtype).strip().lower())
    if d is None:
        raise InputError(f"unknown dtype {dtype!r}", field="dtype", value=dtype,
                         fix="use one of fp32, tf32, fp16, bf16, fp8")
    return d


@dataclass(frozen=True)
class AcceleratorKind:
    """One catalog entry: what a device of this kind can hold and how fast it can multiply."""

    key: str
    vendor: str
    memory_bytes: int
    tflops: dict[str, float]
    bf16: bool
    compute_capability: str | None
    devices: int = 1
    host_ram_bytes: int | None = None
    aliases: tuple[str, ...] = ()

    @property
    def is_tpu(self) -> bool:
        return self.vendor == "google"

    def peak_tflops(self, dtype: str) -> float:
        """Dense peak per device for `dtype`, falling back to the path the hardware really takes.

        No bf16 tensor path (V100, T4): bf16 runs at the fp32 rate. No tf32: fp32 rate. No fp8: the
        16-bit rate. No fp16 (TPU): the bf16 rate. TPU fp32 has no vendor figure; XLA runs fp32
        matmuls as several bf16 passes, so we use a third of the bf16 rate (precision=HIGH).
        """
        d = _norm_dtype(dtype)
        t = self.tflops
        if d in t:
            return float(t[d])
        if d == "fp32":
            return float(t["bf16"]) / 3 if "bf16" in t else float(max(t.values()))
        if d == "tf32":
            return self.peak_tflops("fp32")
        if d == "bf16":
            return self.peak_tflops("fp32")
        if d == "fp16":
            return float(t["bf16"]) if "bf16" in t else self.peak_tflops("fp32")
        # fp8
        return max(self.peak_tflops("bf16"), self.peak_tflops("fp16"))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        d["memory_gib"] = round(self.memory_bytes / GIB, 2)
        return d


@dataclass(frozen=True)
class Device:
    """One accelerator as a training process will see it."""

    index: int
    name: str
    backend: str
    memory_total: int
    memory_free: int | None
    compute_capability: str | None = None
    bf16: bool = False


@dataclass(frozen=True)
class HardwareWarning:
    """Something that will hurt a run, and what to do about it."""

    message: str
    fix: str


@dataclass(frozen=True)
class Hardware:
    """The machine a plan is for: detected here, or synthesized from a catalog target."""

    devices: tuple[Device, ...]
    kind: AcceleratorKind | None
    source: str
    target: str | None
    nodes: int = 1
    cpu_name: str = ""
    cpu_count: int = 1
    ram_total: int = 0
    ram_available: int = 0
    disk_free: int = 0
    driver_version: str | None = None
    cuda_version: str | None = None
    interconnect: dict = field(default_factory=dict)
    libraries: dict[str, str | None] = field(default_factory=dict)
    warnings: tuple[HardwareWarning, ...] = ()

    @property
    def device_count(self) -> int:
        return len(self.devices)

    @property
    def world_size(self) -> int:
        return max(1, self.device_count) * max(1, self.nodes)

    @property
    def device_memory(self) -> int:
        """Memory of the smallest device: the one that runs out first. CPU-only: RAM."""
        if not self.devices:
            return self.ram_total
        return min(d.memory_total for d in self.devices)

    @property
    def is_cpu_only(self) -> bool:
        return not self.devices

    @property
    def is_tpu(self) -> bool:
        return any(d.backend == "tpu" for d in self.devices)

    @property
    def supports_bf16(self) -> bool:
        if not self.devices:
            return True  # PyTorch CPU kernels do bf16 (slowly on CPUs without AVX512-BF16/AMX)
        return all(d.bf16 for d in self.devices)

    @property
    def backend(self) -> str:
        return self.devices[0].backend if self.devices else "cpu"

    def peak_tflops(self, dtype: str) -> float:
        """Dense peak per device. CPU-only: CPU_TFLOPS_PER_CORE x cores for every dtype (a stated
        guess: ~0.5 TFLOP/s per 8 cores). An accelerator missing from the catalog borrows the
        slowest catalog kind with its compute capability (or the slowest of its vendor)."""
        if self.kind is not None:
            return self.kind.peak_tflops(dtype)
        if not self.devices:
            _norm_dtype(dtype)
            return max(1, self.cpu_count) * CPU_TFLOPS_PER_CORE
        stand_in = _stand_in_kind(self.devices[0])
        if stand_in is None:
            _norm_dtype(dtype)
            return max(1, self.cpu_count) * CPU_TFLOPS_PER_CORE
        return stand_in.peak_tflops(dtype)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "target": self.target,
            "backend": self.backend,
            "nodes": self.nodes,
            "device_count": self.device_count,
            "world_size": self.world_size,
            "device_memory": self.device_memory,
            "is_cpu_only": self.is_cpu_only,
            "is_tpu": self.is_tpu,
            "supports_bf16": self.supports_bf16,
            "peak_tflops": {d: round(self.peak_tflops(d), 3) for d in ("fp32", "tf32", "fp16", "bf16", "fp8")},
            "kind": self.kind.to_dict() if self.kind else None,
            "devices": [asdict(d) for d in self.devices],
            "cpu": {"name": self.cpu_name, "count": self.cpu_count},
            "ram_total": self.ram_total,
            "ram_available": self.ram_available,
            "disk_free": self.disk_free,
            "driver_version": self.driver_version,
            "cuda_version": self.cuda_version,
            "interconnect": self.interconnect,
            "libraries": dict(self.libraries),
            "warnings": [asdict(w) for w in self.warnings],
        }


# --------------------------------------------------------------------------------------- catalog

def _load_catalog() -> dict[str, AcceleratorKind]:
    raw = json.loads((Path(__file__).parent / "catalog" / "accelerators.json").read_text())
    out: dict[str, AcceleratorKind] = {}
    for e in raw["kinds"]:
        host = e.get("host_ram_gib")
        out[e["key"]] = AcceleratorKind(
            key=e["key"], vendor=e["vendor"], memory_bytes=int(e["memory_gib"] * GIB),
            tflops={k: float(v) for k, v in e["tflops"].items()}, bf16=bool(e["bf16"]),
            compute_capability=e.get("compute_capability"), devices=int(e.get("devices", 1)),
            host_ram_bytes=int(host * GIB) if host else None, aliases=tuple(e.get("aliases", ())),
        )
    return out


CATALOG: dict[str, AcceleratorKind] = _load_catalog()

_VENDOR_WORDS = re.compile(r"\b(nvidia|tesla|geforce|quadro|amd|instinct|radeon|google|cloud)\b")
_FORM_WORDS = re.compile(r"\b(sxm\d?|pcie|hbm\d?e?|nvl|oam)\b")


def _norm(text: str, *, strip_form: bool) -> str:
    t = str(text).lower().replace("_", " ").replace("-", " ")
    t = _VENDOR_WORDS.sub(" ", t)
    if strip_form:
        t = _FORM_WORDS.sub(" ", t)
    return re.sub(r"[^a-z0-9]", "", t)


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], dict[str, str]]:
    """normalized name -> key, once keeping form-factor words (H100 PCIe != H100 SXM), once without."""
    exact: dict[str, str] = {}
    loose: dict[str, str] = {}
    for key, kind in CATALOG.items():
        for name in (key, *kind.aliases):
            exact.setdefault(_norm(name, strip_form=False), key)
            loose.setdefault(_norm(name, strip_form=True), key)
    return exact, loose


def _split_memory(text: str) -> tuple[str, int | None]:
    """("a100", 80) from "NVIDIA A100 80GB PCIe": the normalized family and the size in GB, if any."""
    t = str(text).lower()
    m = re.search(r"(\d+)\s*gi?b", t)
    if not m:
        return _norm(t, strip_form=True), None
    return _norm(t[:m.start()] + " " + t[m.end():], strip_form=True), int(m.group(1))


def find_kind(name: str) -> AcceleratorKind | None:
    """The catalog kind a user's or a driver's name means, or None.

    Accepts catalog keys in any case and spacing ("a100 80gb"), NVML names ("NVIDIA A100-SXM4-80GB",
    "NVIDIA H100 80GB HBM3"), short names ("h100", "4090") and TPU types ("tpu v4-8", "v5e-8").
    A bare family with several memory sizes means the smallest ("A100" -> A100-40GB), so a plan
    never promises memory the card may not have.
    """
    if not name or not str(name).strip():
        return None
    exact, loose = _index()
    for n, table in ((_norm(name, strip_form=False), exact), (_norm(name, strip_form=True), loose)):
        if n in table:
            return CATALOG[table[n]]
    n = _norm(name, strip_form=True)
    if not n:
        return None
    # A name with a memory size the aliases lack ("A100 80GB PCIe"): the family member of that size.
    family, gib = _split_memory(name)
    if gib is not None and family:
        hits = [k for k in CATALOG.values()
                if _split_memory(k.key)[0] == family and round(k.memory_bytes / GIB) == gib]
        if len(hits) == 1:
            return hits[0]
    # A bare model number ("4090") that is part of exactly one catalog name.
    if n.isdigit() and len(n) >= 3:
        hits = {key for alias, key in loose.items() if n in alias}
        if len(hits) == 1:
            return CATALOG[hits.pop()]
    return None


def _stand_in_kind(dev: Device) -> AcceleratorKind | None:
    """For an accelerator the catalog lacks: the slowest known kind like it, so estimates err slow."""
    vendor = {"cuda": "nvidia", "rocm": "amd", "tpu": "google"}.get(dev.backend)
    if vendor is None:
        return None
    same = [k for k in CATALOG.values() if k.vendor == vendor]
    if dev.compute_capability:
        cc = [k for k in same if k.compute_capability == dev.compute_capability]
        same = cc or [k for k in same if (k.compute_capability or "").split(".")[0]
                      == dev.compute_capability.split(".")[0]] or same
    return min(same, key=lambda k: k.peak_tflops("fp16")) if same else None


# ---------------------------------------------------------------------------------------- target

_COUNT_AFTER = re.compile(r"^(.*?)\s*[x×*]\s*(\d+)\s*$", re.IGNORECASE)
_COUNT_BEFORE = re.compile(r"^\s*(\d+)\s*[x×*]\s*(.+)$", re.IGNORECASE)
_TPU_SLICE = re.compile(r"^(?:tpu[\s_-]*)?(v\d+[a-z]*)[\s_-]*(\d+)$", re.IGNORECASE)


def _unknown_target(text: str) -> InputError:
    names = list(CATALOG)
    guess = did_you_mean(text, names) or did_you_mean(text, [a for k in CATALOG.values() for a in k.aliases])
    if guess and guess not in CATALOG:
        guess = find_kind(guess).key  # an alias: name its catalog key
    hint = f"did you mean {guess!r}? " if guess else ""
    return InputError(
        f"unknown accelerator {text!r}", field="hardware.target", value=text,
        fix=f"{hint}known kinds: {', '.join(names)}; add a count like \"A100-80GB x8\", or use \"auto\" "
            "for this machine")


def _parse_target(text: str) -> tuple[AcceleratorKind, int, int]:
    """(kind, devices per node, hosts) from "A100-80GB x8", "2x H100", "TPU v4-32"."""
    t = " ".join(str(text).split())
    kind = find_kind(t)
    if kind is not None:
        return kind, kind.devices, 1
    for pat, kind_group, count_group in ((_COUNT_BEFORE, 2, 1), (_COUNT_AFTER, 1, 2)):
        m = pat.match(t)
        if m:
            kind = find_kind(m.group(kind_group))
            if kind is not None:
                count = int(m.group(count_group))
                if not 1 <= count <= 4096:
                    raise InputError(f"device count {count} in {text!r} is out of range",
                                     field="hardware.target", value=text, fix="use a count from 1 to 4096")
                if kind.is_tpu:  # one TPU unit is one host: "TPU v4-8 x2" is two hosts
                    return kind, kind.devices, count
                return kind, count, 1
    m = _TPU_SLICE.match(t)
    if m:  # a slice bigger than one host: "TPU v4-32" = 4 hosts of a v4-8
        unit = find_kind(f"tpu {m.group(1)}-8")
        size = int(m.group(2))
        if unit is not None:
            if size % 8:
                raise InputError(f"TPU slice {text!r} is not a whole number of hosts",
                                 field="hardware.target", value=text,
                                 fix=f"use a multiple of 8, e.g. \"TPU {m.group(1)}-8\" or \"TPU {m.group(1)}-16\"")
            return unit, unit.devices, size // 8
    raise _unknown_target(t)


def from_target(text: str, nodes: int = 1, host_ram_gib: float | None = None) -> Hardware:
    """Hardware for a machine the user is not on, synthesized from the catalog.

    `nodes` multiplies the hosts the text names. Host RAM per node is `host_ram_gib` if given,
    else the catalog's typical figure per device unit times the units per node (a node with 8 GPUs
    has about 8 times one GPU's share). Nothing here is measured, so libraries stay empty.
    """
    if not isinstance(nodes, int) or nodes < 1:
        raise InputError(f"nodes must be a whole number >= 1, got {nodes!r}", field="hardware.nodes",
                         value=nodes, fix="use 1 for a single machine")
    kind, per_node, hosts = _parse_target(text)
    backend = {"nvidia": "cuda", "amd": "rocm", "google": "tpu", "apple": "mps"}.get(kind.vendor, "cpu")
    devices = tuple(
        Device(index=i, name=kind.key, backend=backend, memory_total=kind.memory_bytes,
               memory_free=kind.memory_bytes, compute_capability=kind.compute_capability, bf16=kind.bf16)
        for i in range(per_node))
    if host_ram_gib is not None:
        if host_ram_gib <= 0:
            raise InputError(f"host RAM must be positive, got {host_ram_gib!r} GiB", field="host_ram_gib",
                             value=host_ram_gib, fix="give the RAM of one node in GiB, e.g. 512")
        ram = int(host_ram_gib * GIB)
    elif kind.host_ram_bytes:
        units = 1 if kind.is_tpu else per_node
        ram = kind.host_ram_bytes * units
    else:
        ram = 0
    warnings: list[HardwareWarning] = []
    if not kind.bf16:
        warnings.append(_no_bf16_warning(kind.key, kind.compute_capability))
    return Hardware(devices=devices, kind=kind, source="target", target=str(text).strip(),
                    nodes=nodes * hosts, ram_total=ram, ram_available=ram,
                    interconnect={}, libraries={}, warnings=tuple(warnings))


def resolve(target: str = "auto", nodes: int = 1, host_ram_gib: float | None = None) -> Hardware:
    """The hardware a plan is for: this machine ("auto"), or a catalog target."""
    if target is None or str(target).strip().lower() in ("", "auto"):
        hw = detect()
        if nodes != 1 or host_ram_gib is not None:
            from dataclasses import replace

            ram = int(host_ram_gib * GIB) if host_ram_gib else hw.ram_total
            hw = replace(hw, nodes=nodes, ram_total=ram)
        return hw
    return from_target(target, nodes=nodes, host_ram_gib=host_ram_gib)


# ------------------------------------------------------------------------------------- detection

def _no_bf16_warning(name: str, cc: str | None) -> HardwareWarning:
    where = f" (compute capability {cc})" if cc else ""
    return HardwareWarning(
        f"{name}{where} has no bf16 support: bf16 training fails or runs emulated at fp32 speed",
        "use fp16 mixed precision (model.dtype: fp16) on this GPU; bf16 needs Ampere (compute capability 8.0) or newer")


def _visible_filter(n: int, uuids: list[str]) -> list[int]:
    """Indices CUDA_VISIBLE_DEVICES leaves visible (integers or GPU-/MIG- UUID prefixes)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        return list(range(n))
    out: list[int] = []
    for tok in (t.strip() for t in env.split(",")):
        if not tok:
            break
        if tok.lstrip("-").isdigit():
            i = int(tok)
            if i < 0 or i >= n:
                break  # CUDA stops at the first invalid entry
            out.append(i)
        else:
            hit = [i for i, u in enumerate(uuids) if u and u.startswith(tok)]
            if not hit:
                break
            out.append(hit[0])
    return out


def _nvml_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _detect_nvml() -> dict | None:
    """NVIDIA GPUs through NVML, or None when NVML is absent (no driver, not an NVIDIA box)."""
    try:
        import pynvml  # nvidia-ml-py: ~15 ms, a ctypes wrapper; nvmlInit fails fast without a driver
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None
    try:
        n = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
        uuids = []
        for h in handles:
            try:
                uuids.append(_nvml_str(pynvml.nvmlDeviceGetUUID(h)))
            except Exception:
                uuids.append("")
        visible = _visible_filter(n, uuids)
        devices = []
        for pos, i in enumerate(visible):
            h = handles[i]
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            try:
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(h)
                cc = f"{major}.{minor}"
            except Exception:
                cc, major = None, 0
            devices.append(Device(index=pos, name=_nvml_str(pynvml.nvmlDeviceGetName(h)), backend="cuda",
                                  memory_total=int(mem.total), memory_free=int(mem.free),
                                  compute_capability=cc, bf16=major >= 8))
        try:
            driver = _nvml_str(pynvml.nvmlSystemGetDriverVersion())
        except Exception:
            driver = None
        try:
            v = int(pynvml.nvmlSystemGetCudaDriverVersion())
            cuda = f"{v // 1000}.{(v % 1000) // 10}"
        except Exception:
            cuda = None
        interconnect = _nvml_interconnect(pynvml, [handles[i] for i in visible])
        return {"devices": devices, "driver": driver, "cuda": cuda, "interconnect": interconnect}
    except Exception:
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _nvml_interconnect(pynvml, handles: list) -> dict:
    """Active NVLink links per GPU and pairwise P2P read status, as far as NVML tells."""
    out: dict = {}
    links: dict[str, int] = {}
    max_links = getattr(pynvml, "NVML_NVLINK_MAX_LINKS", 18)
    for i, h in enumerate(handles):
        active = 0
        for link in range(max_links):
            try:
                if pynvml.nvmlDeviceGetNvLinkState(h, link) == getattr(pynvml, "NVML_FEATURE_ENABLED", 1):
                    active += 1
            except Exception:
                break  # NotSupported (no NVLink) or past the last link
        links[str(i)] = active
    out["nvlink"] = any(links.values())
    out["nvlink_links"] = links
    if 1 < len(handles) <= 16 and hasattr(pynvml, "nvmlDeviceGetP2PStatus"):
        p2p: dict[str, str] = {}
        ok = getattr(pynvml, "NVML_P2P_STATUS_OK", 0)
        idx = getattr(pynvml, "NVML_P2P_CAPS_INDEX_READ", 0)
        if isinstance(idx, tuple):  # nvidia-ml-py 13.x defines it as `0,` (a tuple) by mistake
            idx = idx[0]
        for i in range(len(handles)):
            for j in range(i + 1, len(handles)):
                try:
                    status = pynvml.nvmlDeviceGetP2PStatus(handles[i], handles[j], idx)
                    p2p[f"{i}-{j}"] = "ok" if status == ok else "not supported"
                except Exception:
                    p2p[f"{i}-{j}"] = "unknown"
        out["p2p"] = p2p
    return out


def _run_probe(code: str, timeout: float) -> tuple[dict | None, str | None]:
    """Run `code` in a fresh interpreter; it prints one JSON object. (result, error text)."""
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    except OSError as err:
        return None, str(err)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line), None
            except json.JSONDecodeError:
                break
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return None, tail[:300]


_TORCH_PROBE = r"""
import json, torch
out = {"devices": [], "backend": None, "hip": getattr(torch.version, "hip", None)}
if torch.cuda.is_available():
    out["backend"] = "rocm" if out["hip"] else "cuda"
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        try:
            free, total = torch.cuda.mem_get_info(i)
        except Exception:
            free, total = None, p.total_memory
        cc = f"{p.major}.{p.minor}" if not out["hip"] else None
        bf16 = bool(torch.cuda.is_bf16_supported()) if out["hip"] else p.major >= 8
        out["devices"].append({"name": p.name, "total": int(total), "free": free, "cc": cc, "bf16": bf16})
elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
    out["backend"] = "mps"
    try:
        total = int(torch.mps.recommended_max_memory())
    except Exception:
        total = None
    out["devices"].append({"name": "Apple MPS", "total": total, "free": None, "cc": None, "bf16": True})
print(json.dumps(out))
"""

_JAX_PROBE = r"""
import json, jax
out = []
for d in jax.local_devices():
    try:
        s = d.memory_stats() or {}
    except Exception:
        s = {}
    out.append({"platform": d.platform, "kind": getattr(d, "device_kind", ""), "id": d.id,
                "total": s.get("bytes_limit"), "used": s.get("bytes_in_use")})
print(json.dumps({"devices": out}))
"""


def _gpu_hint() -> bool:
    """Device nodes an NVIDIA or AMD GPU would create (or WSL's GPU bridge)."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/kfd") or os.path.exists("/dev/dxg"))


def _apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


def _tpu_hint() -> bool:
    """Anything that says this is a TPU VM; without it we never start JAX."""
    if os.environ.get("TPU_NAME") or os.environ.get("TPU_ACCELERATOR_TYPE"):
        return True
    if glob.glob("/dev/accel*"):
        return True
    try:  # TPU v5e and later are VFIO devices: numbered groups beside the always-present "vfio"
        if any(e != "vfio" for e in os.listdir("/dev/vfio")):
            return True
    except OSError:
        pass
    import importlib.util

    return importlib.util.find_spec("libtpu") is not None


def _detect_torch(timeout: float = 30.0) -> tuple[dict | None, str | None]:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None, None
    return _run_probe(_TORCH_PROBE, timeout)


def _detect_tpu(timeout: float) -> tuple[list[Device], AcceleratorKind | None, int, str | None]:
    """(this host's TPU devices, their kind, hosts in the slice, error)."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        return [], None, 1, "jax is not installed"
    res, err = _run_probe(_JAX_PROBE, timeout)
    if res is None:
        return [], None, 1, err
    devs = [d for d in res["devices"] if d.get("platform") == "tpu"]
    if not devs:
        return [], None, 1, None
    kind = None
    hosts = 1
    acc = os.environ.get("TPU_ACCELERATOR_TYPE")  # "v4-32" on a TPU VM: the whole slice
    m = _TPU_SLICE.match(acc or "")
    if m:
        kind = find_kind(f"tpu {m.group(1)}-8")
        hosts = max(1, int(m.group(2)) // 8)
    if kind is None:
        kind = find_kind(devs[0].get("kind", ""))
    devices = []
    for i, d in enumerate(devs):
        total = d.get("total") or (kind.memory_bytes if kind else 0)
        used = d.get("used")
        devices.append(Device(index=i, name=d.get("kind") or "TPU", backend="tpu", memory_total=int(total),
                              memory_free=int(total - used) if used is not None else None, bf16=True))
    return devices, kind, hosts, None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                  text=True, timeout=2).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return platform.processor() or platform.machine()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cgroup_memory_limit() -> int | None:
    """A container's memory cap (psutil reports the host's RAM, not what we may use)."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            v = Path(path).read_text().strip()
        except OSError:
            continue
        if v.isdigit() and int(v) < 1 << 60:
            return int(v)
    return None


def _ram() -> tuple[int, int]:
    import psutil  # ~25 ms

    vm = psutil.virtual_memory()
    total, avail = int(vm.total), int(vm.available)
    cap = _cgroup_memory_limit()
    if cap is not None and cap < total:
        total, avail = cap, min(avail, cap)
    return total, avail


def _disk_free() -> int:
    try:
        return int(shutil.disk_usage(Path.cwd()).free)
    except OSError:
        return 0


def _torch_cuda_version() -> tuple[str | None, str | None]:
    """torch's CUDA and HIP versions, read from torch/version.py without importing torch (~2 s)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None, None
    if spec is None or not spec.submodule_search_locations:
        return None, None
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    except OSError:
        return None, None

    def grab(name: str) -> str | None:
        m = re.search(rf"^{name}\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        return m.group(1) if m else None

    return grab("cuda"), grab("hip")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the training stack (None: absent), from metadata only."""
    from importlib import metadata

    out: dict[str, str | None] = {}
    for key, dist in LIBRARIES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    out["cuda"] = _torch_cuda_version()[0] if out.get("torch") else None
    return out


def _nvcc_version() -> str | None:
    """`nvcc --version` (~30 ms) when nvcc is on PATH or in CUDA_HOME; None otherwise."""
    nvcc = shutil.which("nvcc")
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if nvcc is None and home and os.path.exists(os.path.join(home, "bin", "nvcc")):
        nvcc = os.path.join(home, "bin", "nvcc")
    if nvcc is None:
        return None
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"release (\d+\.\d+)", out)
    return m.group(1) if m else None


def detect(*, tpu_timeout: float = 8.0, libraries: bool = True) -> Hardware:
    """This machine as a training run will see it. Never imports torch or jax in this process."""
    devices: list[Device] = []
    kind: AcceleratorKind | None = None
    driver = cuda = None
    interconnect: dict = {}
    warnings: list[HardwareWarning] = []
    probe_error: str | None = None
    nodes = 1

    nv = _detect_nvml()
    if nv and nv["devices"]:
        devices, driver, cuda, interconnect = nv["devices"], nv["driver"], nv["cuda"], nv["interconnect"]
    elif _gpu_hint() or _apple_silicon():
        res, probe_error = _detect_torch()
        if res and res.get("devices"):
            backend = res["backend"]
            for i, d in enumerate(res["devices"]):
                total = d.get("total") or 0
                devices.append(Device(index=i, name=d["name"], backend=backend, memory_total=int(total),
                                      memory_free=d.get("free"), compute_capability=d.get("cc"),
                                      bf16=bool(d.get("bf16"))))
    if not devices and _tpu_hint():
        devices, kind, nodes, probe_error = _detect_tpu(tpu_timeout)
        if probe_error:
            warnings.append(HardwareWarning(
                f"a TPU seems present but JAX could not list it ({probe_error})",
                "check that no other process holds the TPU (only one may), that jax[tpu] is installed, "
                "then run `ftwizard hw` again"))

    if devices and kind is None:
        kinds = {find_kind(d.name) for d in devices}
        if len(kinds) == 1:
            kind = kinds.pop()
        # A detected device whose real memory differs from the kind's (a MIG slice, an unlisted
        # variant) keeps its measured memory; the kind supplies speed only.

    ram_total, ram_avail = _ram()
    libs = library_versions() if libraries else {}
    disk_free = _disk_free()
    hw_warnings = _warnings(devices, kind, libs, disk_free,
                            probe_error if not devices and _gpu_hint() else None)
    return Hardware(
        devices=tuple(devices), kind=kind, source="detected", target=None, nodes=nodes,
        cpu_name=_cpu_name(), cpu_count=_cpu_count(), ram_total=ram_total, ram_available=ram_avail,
        disk_free=disk_free, driver_version=driver, cuda_version=cuda, interconnect=interconnect,
        libraries=libs, warnings=tuple(warnings + hw_warnings),
    )


def _warnings(devices: list[Device], kind: AcceleratorKind | None, libs: dict[str, str | None],
              free: int, gpu_probe_error: str | None) -> list[HardwareWarning]:
    out: list[HardwareWarning] = []
    if not devices:
        msg = ("No GPU or TPU found: training will run on the CPU, which is practical only for tiny models "
               "(a few million parameters) and short runs")
        if gpu_probe_error:
            msg += f"; a GPU device node exists but could not be read ({gpu_probe_error})"
        out.append(HardwareWarning(
            msg, "run on a machine with a GPU, or plan for one from here with --target, e.g. "
                 "`ftwizard plan FILE --target \"A100-80GB x8\"`"))
        if libs.get("bitsandbytes"):
            out.append(HardwareWarning(
                "bitsandbytes is installed but there is no GPU: 8-bit and 4-bit (QLoRA) layers run on its "
                "CPU backend, which saves memory but is slower than plain fp32",
                "on the CPU prefer LoRA without quantization; use QLoRA on a GPU machine"))
    else:
        pre = [d for d in devices if d.backend == "cuda" and not d.bf16]
        if pre:
            d = pre[0]
            out.append(_no_bf16_warning(d.name, d.compute_capability))
        if kind is None and devices[0].backend in ("cuda", "rocm", "tpu"):
            stand_in = _stand_in_kind(devices[0])
            out.append(HardwareWarning(
                f"{devices[0].name} is not in ftwizard's catalog: memory is measured, but time estimates "
                f"borrow {stand_in.key if stand_in else 'a CPU'}'s peak speed",
                "treat time estimates as rough; plan against a listed kind with --target to compare"))
        if devices[0].backend == "cuda" and libs.get("torch") and not libs.get("cuda"):
            out.append(HardwareWarning(
                f"torch {libs['torch']} is a CPU-only build, so training cannot use the GPU",
                "install a CUDA build, e.g. `pip install torch --index-url https://download.pytorch.org/whl/cu124`"))
    torch_cuda = libs.get("cuda")
    if torch_cuda and devices and devices[0].backend == "cuda":
        nvcc = _nvcc_version()
        if nvcc and nvcc.split(".")[0] != torch_cuda.split(".")[0]:
            out.append(HardwareWarning(
                f"nvcc is CUDA {nvcc} but torch was built with CUDA {torch_cuda}: DeepSpeed and other "
                "compiled ops will fail to build",
                f"put a CUDA {torch_cuda.split('.')[0]}.x toolkit first on PATH (or CUDA_HOME), or install "
                f"a torch built for CUDA {nvcc}"))
    if 0 < free < LOW_DISK_BYTES:
        out.append(HardwareWarning(
            f"only {free / GIB:.1f} GiB free on disk at {Path.cwd()}: checkpoints may not fit "
            "(a 7B full fine-tune writes ~80 GB per checkpoint with optimizer states)",
            "free space, run from a bigger disk, or keep fewer checkpoints (save_total_limit) / use LoRA"))
    return out
