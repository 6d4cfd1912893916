"""The estimator against measured figures (shared/calibration/README.md) and its own invariants."""

from __future__ import annotations

import pytest

from ftwizard.core.config import parse_config
from ftwizard.core.hardware import from_target
from ftwizard.core.memory import GiB, MiB
from ftwizard.core.plan import make_plan

GPTJ = """
name: gptj
model: {name: EleutherAI/gpt-j-6B, dtype: fp16, attn_implementation: eager}  # as seed 001 measured
method: {kind: full, parallel: deepspeed, zero_stage: 3, offload_optimizer: true,
         offload_params: true, gradient_checkpointing: true}
hardware: {target: RTX 3090, host_ram_gib: 256}
data: {block_size: 2048, sequences: 250}
train: {micro_batch: 1, grad_accum: 16}
"""


def gptj_plan(batch: int):
    return make_plan(parse_config(GPTJ, [f"train.micro_batch={batch}"]))


@pytest.mark.parametrize("batch,measured_mib", [(1, 8104), (7, 23568)])
def test_gptj_zero3_offload_within_10_percent(batch: int, measured_mib: int) -> None:
    """Seed 001: GPT-J-6B fp16 ZeRO-3 with optimizer+param offload, seq 2048, recompute."""
    est = gptj_plan(batch).memory.per_device_bytes / MiB
    assert abs(est - measured_mib) / measured_mib < 0.10, est


def test_gptj_batch_7_fits_24gib_and_8_does_not() -> None:
    assert gptj_plan(7).memory.fits
    assert not gptj_plan(8).memory.fits
    assert gptj_plan(7).memory.max_micro_batch == 7
    assert gptj_plan(8).memory.max_micro_batch == 7


def test_batch_8_suggests_batch_7_with_more_accumulation_first() -> None:
    plan = gptj_plan(8)
    first = plan.memory.suggestions[0]
    assert first["set"]["train.micro_batch"] == 7
    assert first["set"]["train.grad_accum"] == 19          # keeps the global batch >= 8 x 16
    assert "batch 8 -> 7" in first["text"]


def test_suggestions_really_fit_when_applied() -> None:
    from ftwizard.core.plan import apply_suggestion

    plan = gptj_plan(8)
    assert plan.memory.suggestions
    for s in plan.memory.suggestions:
        fixed = make_plan(apply_suggestion(plan.config, s), sequences=250)
        assert fixed.fits, s["text"]


def test_attention_implementation_is_read_from_the_config() -> None:
    """Seed 001 ran GPT-J's eager attention (the s^2 scores are kept); SDPA does not keep them, so
    the same config planned with sdpa needs less memory, and the plan records which one it used."""
    eager = gptj_plan(7)
    sdpa = make_plan(parse_config(GPTJ, ["train.micro_batch=7", "model.attn_implementation=sdpa"]))
    assert eager.to_dict()["model"]["attn_implementation"] == "eager"
    assert sdpa.to_dict()["model"]["attn_implementation"] == "sdpa"
    assert sdpa.memory.per_device_bytes < eager.memory.per_device_bytes


def test_estimate_grows_with_batch_and_sequence() -> None:
    a = gptj_plan(2).memory.per_device_bytes
    b = gptj_plan(3).memory.per_device_bytes
    c = make_plan(parse_config(GPTJ, ["train.micro_batch=2", "data.block_size=1024"])).memory.per_device_bytes
    assert a < b and c < a


def _llama(kind: str, extra: list[str] | None = None):
    cfg = parse_config(f"model: {{name: meta-llama/Llama-2-7b-hf, dtype: bf16}}\n"
                       f"method: {{kind: {kind}, gradient_checkpointing: true}}\n"
                       "hardware: {target: RTX 4090}\ndata: {block_size: 1024, sequences: 1000}",
                       extra or [])
    return make_plan(cfg)


def test_method_ladder_orders_memory() -> None:
    """Seed 004's ladder: full > LoRA > QLoRA 8-bit > QLoRA 4-bit."""
    full = _llama("full").memory.per_device_bytes
    lora = _llama("lora").memory.per_device_bytes
    q8 = _llama("qlora", ["method.quant_bits=8"]).memory.per_device_bytes
    q4 = _llama("qlora").memory.per_device_bytes
    assert full > lora > q8 > q4


def test_qlora_7b_weights_in_4_to_5_gb() -> None:
    """Seed 004: "7B goes from needing 14GB VRAM to 4-5GB"."""
    w = _llama("qlora").memory.breakdown["weights"]
    assert 3.5e9 < w < 5.0e9
    w16 = _llama("lora").memory.breakdown["weights"]
    assert 13e9 < w16 < 14.5e9


def test_qlora_70b_in_36_to_38_gb_band() -> None:
    """Seed 004: "70B goes from needing 140GB VRAM to 36-38GB": like its 140 GB (fp16 weights
    alone), the figure is the weights; NF4 + double quant on the decoder Linears, 16-bit rest."""
    cfg = parse_config("model: {name: meta-llama/Llama-2-70b-hf}\nmethod: {kind: qlora, "
                       "gradient_checkpointing: true}\nhardware: {target: A100-80GB}\n"
                       "data: {block_size: 512, sequences: 100}")
    mem = make_plan(cfg).memory
    assert 36e9 <= mem.breakdown["weights"] <= 38e9, mem.breakdown["weights"] / 1e9
    assert mem.fits


def test_double_quant_saves_about_0_37_bits_per_weight() -> None:
    a = _llama("qlora").memory.breakdown["weights"]
    b = _llama("qlora", ["method.double_quant=false"]).memory.breakdown["weights"]
    lin = 32 * 4096 * (4 * 4096 + 3 * 11008)
    assert b - a == pytest.approx(lin * (4.5 - 4.127) / 8, rel=0.01)


def test_zero_stages_shard_more_as_they_go() -> None:
    base = ("model: {name: meta-llama/Llama-2-7b-hf, dtype: bf16}\nmethod: {kind: full, "
            "parallel: deepspeed, gradient_checkpointing: true}\nhardware: {target: A100-80GB x8}\n"
            "data: {block_size: 1024, sequences: 100}")
    z = [make_plan(parse_config(base, [f"method.zero_stage={s}"])).memory.per_device_bytes for s in (1, 2, 3)]
    assert z[0] > z[1] > z[2]


def test_offload_moves_memory_to_host() -> None:
    base = ("model: {name: meta-llama/Llama-2-7b-hf, dtype: bf16}\nmethod: {kind: full, "
            "parallel: deepspeed, zero_stage: 3, gradient_checkpointing: true}\n"
            "hardware: {target: A100-80GB, host_ram_gib: 512}\ndata: {block_size: 1024, sequences: 100}")
    on = make_plan(parse_config(base, ["method.offload_optimizer=true", "method.offload_params=true"]))
    off = make_plan(parse_config(base))
    assert on.memory.per_device_bytes < off.memory.per_device_bytes
    assert on.memory.host_bytes > off.memory.host_bytes


def test_offload_with_too_little_host_ram_does_not_fit_and_names_the_offload() -> None:
    """Too little host RAM is a resource that binds (exit 3 with fixes), not bad input (exit 2)."""
    cfg = parse_config(GPTJ, ["hardware.host_ram_gib=32"])
    plan = make_plan(cfg)
    assert not plan.fits and not plan.problems
    host = [s for s in plan.shortfalls() if s["resource"] == "host RAM"]
    assert host and host[0]["field"] == "method.offload_params"


def test_largest_batch_is_the_boundary() -> None:
    plan = _llama("lora", ["train.micro_batch=1"])
    b = plan.memory.max_micro_batch
    assert b >= 1
    assert _llama("lora", [f"train.micro_batch={b}"]).memory.fits
    assert not _llama("lora", [f"train.micro_batch={b + 1}"]).memory.fits


def test_gradient_checkpointing_cuts_activations() -> None:
    on = _llama("full").memory.breakdown["activations"]
    off = _llama("full", ["method.gradient_checkpointing=false"]).memory.breakdown["activations"]
    assert off > 5 * on


def test_bigger_gpu_fits_what_smaller_does_not() -> None:
    cfg = parse_config("model: {name: meta-llama/Llama-2-7b-hf, dtype: bf16}\nmethod: {kind: full}\n"
                       "data: {block_size: 1024, sequences: 100}")
    assert not make_plan(cfg, hardware=from_target("RTX 4090")).memory.fits
    assert make_plan(cfg, hardware=from_target("H200")).memory.capacity_bytes > 130 * GiB
