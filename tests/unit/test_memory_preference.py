"""Issue 15, planning: the memory terms of train.objective dpo / orpo / kto / reward, each against
a hand calculation from the formula (core/memory.py's docstring gives each term's TRL source) and
the model's dimensions, written out in the comments; never copied from the code's output.

The models are catalog configs (no weights needed):

Llama-3.2-1B: P = 1,235,814,400 params, h = 2048, V = 128,256, L = 16, 32 heads of 64, 8 kv heads
(g = 8/32 = 0.25), MLP I = 8192 (gated), tied embeddings (no separate lm_head), SDPA (no s^2
term). Its decoder layer keeps, per token, in bf16 (e = 2), without LoRA dropout:
  attention e*(3h + 2*q + 2*g*q + q + h) with q = 32*64 = 2048:
            2*(6144 + 4096 + 1024 + 2048 + 2048) = 30,720
  MLP       e*(h + 4*I) = 2*(2048 + 32,768)                = 69,632
  per layer                                                  = 100,352 bytes per token
Its Linears per layer: q 2048x2048 + k 2048x512 + v 2048x512 + o 2048x2048 + 3 x 2048x8192
  = 4,194,304 + 1,048,576 + 1,048,576 + 4,194,304 + 50,331,648 = 60,817,408 params.

Llama-2-7B: P = 6,738,415,616, h = 4096, V = 32,000, untied lm_head of 32,000 x 4096 =
131,072,000 params.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.core import memory as mem
from ftwizard.core import models
from ftwizard.core import schedule as sched
from ftwizard.core.config import from_dict, parse_config
from ftwizard.core.plan import apply_suggestion, make_plan, problems_for

GiB = mem.GiB
LLAMA1B = "meta-llama/Llama-3.2-1B"
LLAMA7B = "meta-llama/Llama-2-7b-hf"
P_1B = 1_235_814_400
PER_LAYER_1B = 100_352          # bytes per token per decoder layer (module docstring)
TILE = 32_768 * 2               # the fused head's tile row: 32,768 vocabulary columns in bf16


def setup(objective: str = "dpo", *, kind: str = "lora", parallel: str = "none", world: int = 1,
          dtype: str = "bf16", checkpointing: bool = True, micro_batch: int = 1,
          block: int = 1024, reference: str = "auto", loss_type: str | None = None,
          zero_stage: int = 2, fsdp: str = "full_shard") -> mem.Setup:
    cfg = from_dict({
        "model": {"name": LLAMA1B, "dtype": dtype},
        "method": {"kind": kind, "parallel": parallel, "zero_stage": zero_stage, "fsdp": fsdp,
                   "gradient_checkpointing": checkpointing, "lora": {"dropout": 0.0},
                   "quant_bits": 4 if kind == "qlora" else None},
        "data": {"block_size": block},
        "train": {"objective": objective, "micro_batch": micro_batch,
                  "preference": {"reference": reference, "loss_type": loss_type}},
    })
    return mem.Setup.from_config(cfg, world)


def terms(s: mem.Setup, model: str = LLAMA1B, on_cpu: bool = False) -> dict[str, float]:
    return mem._terms(models.resolve(model), s, on_cpu=on_cpu, tpu=False)


def needed(s: mem.Setup, model: str = LLAMA1B) -> int:
    return mem.required_bytes(terms(s, model))


# ---------------------------------------------------------------- the reference model

def test_full_dpo_holds_a_frozen_copy_in_the_model_dtype() -> None:
    # pure bf16 (no fp32 master): the reference is P x 2 bytes = 2,471,628,800, no grads/states
    d = terms(setup(kind="full"))
    assert d["weights.reference"] == 2 * P_1B == 2_471_628_800
    assert not any(k.startswith(("gradients.reference", "optimizer.reference")) for k in d)


def test_precomputed_removes_exactly_the_reference_copy() -> None:
    # With checkpointing the reference forward's transient is below the backward's (see the
    # reference_forward tests), so precomputing frees exactly the copy: 2 x P bytes.
    auto = setup(kind="full", checkpointing=True)
    pre = setup(kind="full", checkpointing=True, reference="precomputed")
    assert terms(auto)["activations.reference_forward"] == 0
    assert needed(auto) - needed(pre) == 2 * P_1B
    assert "weights.reference" not in terms(pre)
    assert "activations.reference_forward" not in terms(pre)


def test_lora_reference_is_the_base_with_adapters_off() -> None:
    # TRL disables the adapters for the reference: no second copy, so with LoRA (and QLoRA) the
    # reference costs nothing beyond its forward's transient (0 here, with checkpointing).
    for kind in ("lora", "qlora"):
        d = terms(setup(kind=kind))
        assert "weights.reference" not in d
        assert d["activations.reference_forward"] == 0
        assert needed(setup(kind=kind)) == needed(setup(kind=kind, reference="precomputed"))
    # full > LoRA by the copy in the reference terms: LoRA has none, full has 2 x P
    full, lora = terms(setup(kind="full")), terms(setup(kind="lora"))
    ref = [k for k in full if "reference" in k and full[k]]
    assert ref == ["weights.reference"] and not [k for k in lora if "reference" in k and lora[k]]


def test_reference_is_placed_like_the_policy() -> None:
    # ZeRO-2 (and 1): prepare_deepspeed runs the reference at stage 0: a whole 16-bit copy.
    assert terms(setup(kind="full", parallel="deepspeed", world=4))["weights.reference"] == 2 * P_1B
    # ZeRO-3 over 4 GPUs: partitioned 2P/4 = 617,907,200, plus its own gathered parameters, bounded
    # like the policy's: 2 x min(1e9, P x 3/4 = 926,860,800) = 1,853,721,600.
    z3 = terms(setup(kind="full", parallel="deepspeed", world=4, zero_stage=3))
    assert z3["weights.reference"] == 2 * P_1B / 4 == 617_907_200
    assert z3["weights.reference_live"] == 2 * P_1B * 3 / 4 == 1_853_721_600
    # FSDP full_shard over 4: sharded like the weights, 2P/4; shard_grad_op keeps it whole.
    assert terms(setup(kind="full", parallel="fsdp", world=4))["weights.reference"] == 617_907_200
    assert terms(setup(kind="full", parallel="fsdp", world=4,
                       fsdp="shard_grad_op"))["weights.reference"] == 2 * P_1B


def test_mixed_precision_reference_is_held_in_the_compute_dtype() -> None:
    # fp16 AMP keeps an fp32 policy (4 x P), but the backend loads the reference in the compute
    # dtype with requires_grad off: 2 x P = 2,471,628,800, and no autocast cache of its weights.
    d = terms(setup(kind="full", dtype="fp16"))
    assert d["weights.model"] == 4 * P_1B
    assert d["weights.reference"] == 2 * P_1B == 2_471_628_800
    assert not any(k.startswith("other.reference") for k in d)
    # fp32 training: 4 x P
    assert terms(setup(kind="full", dtype="fp32"))["weights.reference"] == 4 * P_1B


def test_reference_load_copy_on_the_host() -> None:
    # The reference is loaded on the host while the policy's load copy is still there:
    # one more copy per process, in the compute dtype. ddp over 4 GPUs in bf16: 4 x 2 x P.
    spec = models.resolve(LLAMA1B)
    h = mem.host_terms(spec, setup(kind="full", parallel="ddp", world=4))
    assert h["host.reference_load"] == 4 * 2 * P_1B
    assert "host.reference_load" not in mem.host_terms(spec, setup(kind="lora", parallel="ddp", world=4))
    assert "host.reference_load" not in mem.host_terms(
        spec, setup(kind="full", parallel="ddp", world=4, reference="precomputed"))
    # FSDP: one copy per node (only the first process reads the checkpoint); with precomputed
    # log-probs TRL loads its own copy, in the policy's dtype, for the precompute pass
    assert mem.host_terms(spec, setup(kind="full", parallel="fsdp", world=4))[
        "host.reference_load"] == 2 * P_1B
    assert mem.host_terms(spec, setup(kind="full", parallel="fsdp", world=4, dtype="fp16",
                                      reference="precomputed"))["host.reference_load"] == 4 * P_1B


# ---------------------------------------------------------------- the paired batch

def test_paired_line_is_the_rejected_half() -> None:
    # DPO LoRA, 2 pairs of 1024 tokens, checkpointing. The chosen half is T = 2 x 1024 = 2048
    # tokens, the whole batch 4096. Per token: checkpoints L*e*h = 16*2*2048 = 65,536; the
    # recomputed layer 100,352; embeddings 2*e*h = 8192; fused head kept e*h + 16 = 4112; head
    # backward h*(4 + e) = 12,288 (LoRA: the head is frozen, no weight gradient). The head's tile
    # is min(T, 4096) x 32,768 x 2: 2048 rows for the half, 4096 for the batch.
    d = terms(setup(micro_batch=2))
    per_token = 65_536 + PER_LAYER_1B + 8_192 + 4_112 + 12_288          # 190,480
    assert d["activations.paired"] == 2048 * per_token + (4096 - 2048) * TILE == 524_320_768
    # and the chosen half shows as SFT's own lines, for b sequences
    assert d["activations.checkpoints"] == 65_536 * 2048
    assert d["activations.recompute_layer"] == PER_LAYER_1B * 2048
    assert d["activations.fused_head"] == 4_112 * 2048
    assert d["activations.head_backward"] == 12_288 * 2048 + 2048 * TILE


def test_full_dpo_head_backward_has_the_head_weight_gradient() -> None:
    # Full fine-tuning trains the (tied) head: the kernel's fp32 gradient of V x h plus its cast to
    # bf16: 128,256 x 2048 x (4 + 2) = 1,576,009,728 on top of LoRA's head backward.
    full, lora = terms(setup(kind="full")), terms(setup(kind="lora"))
    assert full["activations.head_backward"] - lora["activations.head_backward"] == \
        128_256 * 2048 * 6 == 1_576_009_728


def test_a_pair_costs_what_two_sequences_cost() -> None:
    # reward: b pairs store exactly the activations of 2b sequences (SFT's activation_bytes at
    # micro_batch 2b), plus the value head's (2b, s, 1) scores, and nothing over the vocabulary.
    s = setup("reward", micro_batch=3, block=512)
    d = terms(s)
    acts = sum(v for k, v in d.items() if k.startswith("activations."))
    two_b = mem.activation_bytes(models.resolve(LLAMA1B), s, with_logits=False, micro_batch=6)
    assert acts == sum(two_b.values()) + 6 * 512 * 2


def test_kto_is_unpaired_and_its_kl_batch_stores_nothing() -> None:
    # KTO trains b completions (no paired line); the KL completions run under no_grad, so the
    # loss with a KL batch (kto) and without (apo_zero_unpaired) need the same memory.
    kl = setup("kto", micro_batch=2)
    assert kl.kl_batch and not setup("kto", micro_batch=2, loss_type="apo_zero_unpaired").kl_batch
    assert "activations.paired" not in terms(kl)
    assert needed(kl) == needed(setup("kto", micro_batch=2, loss_type="apo_zero_unpaired"))


# ---------------------------------------------------------------- heads

def test_reward_model_has_no_vocabulary_logits_and_no_lm_head() -> None:
    # Llama-2-7B's reward model: P - lm_head + score = 6,738,415,616 - 131,072,000 + 4096
    # = 6,607,347,712 params; full bf16 weights 2 x that = 13,214,695,424.
    s = setup("reward", kind="full")
    d = terms(s, LLAMA7B)
    assert d["weights.model"] == 2 * 6_607_347_712 == 13_214_695_424
    assert mem.trainable_params(models.resolve(LLAMA7B), s) == 6_607_347_712
    assert "activations.logits" not in d and "activations.fused_head" not in d
    assert d["activations.value_head"] == 1 * 1024 * 2          # b x s x e scores
    # tied embeddings stay (the input table): Llama-3.2-1B's reward model is P + h params
    assert terms(setup("reward", kind="full"))["weights.model"] == 2 * (P_1B + 2048)
    # LoRA trains the value head too (modules_to_save): r16 all-linear on Llama-2-7B is
    # 32 layers x 16 x [4 x (4096+4096) + 2 x (4096+11008) + (11008+4096)] = 39,976,960; + 4096
    assert mem.trainable_params(models.resolve(LLAMA7B), setup("reward")) == 39_976_960 + 4096


def test_orpo_keeps_its_logits_and_sft_keeps_its_own() -> None:
    # ORPO calls the model without labels: 2b x s x V logits in bf16, ~4e = 8 bytes x V per token.
    # One pair of 512 tokens: the chosen half's line is 8 x 128,256 x 512 = 525,336,576.
    d = terms(setup("orpo", block=512))
    assert d["activations.logits"] == 8 * 128_256 * 512 == 525_336_576
    # SFT: (e + 10) x V per token = 12 x 128,256 x 512 (the HF loss upcasts to fp32)
    assert terms(setup("sft", block=512))["activations.logits"] == 12 * 128_256 * 512


def test_dpo_has_no_vocabulary_logits() -> None:
    # TRL's fused head: nothing of size batch x sequence x vocabulary.
    d = terms(setup(micro_batch=4, block=2048))
    assert "activations.logits" not in d
    assert d["activations.fused_head"] < 128_256 * 4 * 2048


# ---------------------------------------------------------------- the reference forward

def test_reference_forward_is_the_max_not_the_sum() -> None:
    # Without checkpointing the backward's transient is the head's alone. DPO LoRA, 1 pair of 1024:
    # the reference forward runs the whole batch (T = 2048): one layer 100,352 x 2048, its tile
    # 2048 x 65,536 and its hidden copy + stats 4112 x 2048; the backward's head transient is
    # 12,288 x 2048 + 2048 x 65,536. The line is the difference:
    # 2048 x (100,352 + 65,536 + 4112 - 12,288 - 65,536) = 2048 x 92,176 = 188,776,448.
    d = terms(setup(checkpointing=False))
    assert d["activations.reference_forward"] == 2048 * 92_176 == 188_776_448
    # kto: the reference runs the b completions (T = 1024), then the KL ones, one after the other
    k = terms(setup("kto", checkpointing=False, micro_batch=2))
    assert k["activations.reference_forward"] == 2048 * 92_176
    # orpo and reward have no reference
    for o in ("orpo", "reward"):
        assert not any("reference" in key for key in terms(setup(o, kind="full")))


# ---------------------------------------------------------------- fit, batch, suggestions

def test_largest_micro_batch_counts_pairs_and_the_reference() -> None:
    spec = models.resolve(LLAMA1B)
    usable = 16 * GiB
    for s in (setup(kind="full", micro_batch=1), setup("orpo", micro_batch=1),
              setup("reward", kind="full", micro_batch=1)):
        b = mem.max_micro_batch(spec, s, usable)
        assert b >= 1
        assert mem.required_bytes(mem._terms(spec, mem._with(s, micro_batch=b), on_cpu=False,
                                             tpu=False)) <= usable
        assert mem.required_bytes(mem._terms(spec, mem._with(s, micro_batch=b + 1), on_cpu=False,
                                             tpu=False)) > usable
    # a pair weighs more than one sequence: ORPO fits fewer pairs than SFT fits sequences
    assert mem.max_micro_batch(spec, setup("orpo"), usable) < mem.max_micro_batch(spec, setup("sft"), usable)


DPO_FULL_24GB = """
name: dpo-full
model: {name: Qwen/Qwen2.5-1.5B, dtype: bf16}
method: {kind: full, gradient_checkpointing: true}
hardware: {target: RTX 4090}
data: {block_size: 20480, sequences: 1000}
train: {micro_batch: 1, grad_accum: 8, objective: dpo}
"""


def test_precomputing_the_reference_is_offered_and_fits() -> None:
    p = make_plan(parse_config(DPO_FULL_24GB))
    assert not p.fits
    pre = [s for s in p.memory.suggestions if s["set"] == {"train.preference.reference": "precomputed"}]
    assert pre, [s["text"] for s in p.memory.suggestions]
    cfg = apply_suggestion(p.config, pre[0])
    fixed = make_plan(cfg)
    assert fixed.fits and not fixed.problems
    assert not problems_for(cfg, fixed.hardware, fixed.model, fixed.world_size)
    # it frees the reference copy: Qwen2.5-1.5B's params x 2 bytes
    assert p.memory.needed_bytes - fixed.memory.needed_bytes == 2 * fixed.model.params


def test_kto_with_a_kl_batch_needs_two_per_device() -> None:
    cfg = parse_config(DPO_FULL_24GB, ["train.objective=kto", "train.micro_batch=1"])
    p = make_plan(cfg)
    assert any(e.field == "train.micro_batch" for e in p.problems)
    ok = make_plan(parse_config(DPO_FULL_24GB, ["train.objective=kto", "train.micro_batch=1",
                                                "train.preference.loss_type=apo_zero_unpaired"]))
    assert not any(e.field == "train.micro_batch" for e in ok.problems)
    for s in p.memory.suggestions:     # no fix offers a micro batch of 1 for KTO's KL term
        assert apply_suggestion(p.config, s).train.micro_batch >= 2, s["text"]


# ---------------------------------------------------------------- steps and time

def test_steps_count_rows_and_time_counts_every_pass() -> None:
    # 1000 pairs, micro batch 2, grad-accum 4: ceil(ceil(1000 / 2) / 4) = 125 steps per epoch, as
    # the HF Trainer (every TRL trainer subclasses it) counts.
    cfg = parse_config(DPO_FULL_24GB, ["method.kind=lora", "data.block_size=1024",
                                       "train.micro_batch=2", "train.grad_accum=4"])
    p = make_plan(cfg)
    assert p.steps.total == 125
    sp = p.model
    train = sched.flops_per_token(sp.params, n_layers=sp.n_layers, hidden=sp.hidden, seq=1024,
                                  trainable="adapter", recompute=True)
    fwd = sched.forward_flops_per_token(sp.params, n_layers=sp.n_layers, hidden=sp.hidden, seq=1024)
    # dpo: chosen + rejected trained, both through the reference forward: 2 forward-only
    # sequences per 2 trained, so one forward per trained token
    assert p.time.flops_per_token == pytest.approx(train + fwd)
    # tokens per step: 2 sequences x 2 pairs x 4 micro batches x 1024
    assert p.time.step_s == pytest.approx(2 * 2 * 4 * 1024 / p.time.tokens_per_s)
    pre = make_plan(parse_config(DPO_FULL_24GB, ["method.kind=lora", "data.block_size=1024",
                                                 "train.micro_batch=2", "train.grad_accum=4",
                                                 "train.preference.reference=precomputed"]))
    assert pre.time.flops_per_token == pytest.approx(train)
    assert "reference precompute" in pre.time.assumptions
    # kto: the completion trained, its KL completion forward through the policy, and both through
    # the reference: 3 forwards per trained token
    kto = make_plan(parse_config(DPO_FULL_24GB, ["method.kind=lora", "data.block_size=1024",
                                                 "train.micro_batch=2", "train.objective=kto"]))
    assert kto.time.flops_per_token == pytest.approx(train + 3 * fwd)
    # orpo: the pair, no reference
    orpo = make_plan(parse_config(DPO_FULL_24GB, ["method.kind=lora", "data.block_size=1024",
                                                  "train.objective=orpo"]))
    assert orpo.time.flops_per_token == pytest.approx(train)


def test_reward_flops_leave_out_the_lm_head() -> None:
    # Qwen2.5-1.5B ties its embeddings: the reward model still holds the table, but no token goes
    # through the V x h head: 6N counts P - V x h.
    p = make_plan(parse_config(DPO_FULL_24GB, ["method.kind=lora", "data.block_size=1024",
                                               "train.objective=reward"]))
    sp = p.model
    assert sp.tied_embeddings and sp.architecture.endswith("ForSequenceClassification")
    n = sp.params - sp.vocab * sp.hidden
    assert p.time.flops_per_token == pytest.approx(sched.flops_per_token(
        n, n_layers=sp.n_layers, hidden=sp.hidden, seq=1024, trainable="adapter", recompute=True))


# ---------------------------------------------------------------- what runs where

@pytest.mark.parametrize("parallel", ["pipeline", "jax"])
def test_pipeline_and_jax_refuse_preference_objectives(parallel: str) -> None:
    from ftwizard.core import capabilities

    assert capabilities.why_not(parallel, "full", None, "sft") is None
    for o in ("dpo", "orpo", "kto", "reward"):
        why = capabilities.why_not(parallel, "full", None, o)
        assert why and "sft" in why
    cfg = from_dict({"model": {"name": LLAMA1B}, "method": {"kind": "full", "parallel": parallel},
                     "train": {"objective": "dpo"}})
    errs = capabilities.problems(cfg, None)
    assert errs and errs[0].field == "method.parallel"
    assert "train.objective=sft" in errs[0].fix and "ddp" in errs[0].fix


def test_reward_with_qlora_and_every_objective_on_the_hf_backends() -> None:
    from ftwizard.core import capabilities

    for p in ("none", "ddp", "deepspeed", "split"):
        for o in ("dpo", "orpo", "kto", "reward"):
            assert capabilities.why_not(p, "qlora", "gpu", o) is None, (p, o)
    for p in ("none", "ddp", "deepspeed", "fsdp"):
        assert capabilities.why_not(p, "full", "gpu", "dpo") is None


def ftw(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=180, env={**__import__("os").environ,
                                                                "COLUMNS": "200"})


def test_ftwizard_plan_shows_the_objective_reference_and_paired_lines(tmp_path: Path) -> None:
    f = tmp_path / "dpo.yaml"
    f.write_text(DPO_FULL_24GB.replace("block_size: 20480", "block_size: 2048"))
    r = ftw("plan", str(f), cwd=tmp_path)
    out = " ".join(r.stdout.split())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "objective dpo" in out
    assert "reference model copy" in out
    assert "rejected half of pairs" in out
    assert "fused LM head" in out
    assert "pairs per epoch 1,000" in out
    # pipeline + dpo is bad input: exit 2, with the fix
    r2 = ftw("plan", str(f), "--set", "method.parallel=pipeline", cwd=tmp_path)
    assert r2.returncode == 2, r2.stdout + r2.stderr
    assert "train.objective=sft" in " ".join((r2.stdout + r2.stderr).split())


def test_session_counts_rows_as_trl_does_and_times_the_data_s_own_length(tmp_path: Path) -> None:
    # The plan's sequences are the rows core.data.count_sequences gives for the objective (the
    # trainer's dataset length: pairs, kto completions), and its time runs the data's mean tokens
    # per sequence, while memory stays at data.block_size.
    from ftwizard.core import data
    from ftwizard.core.session import Session

    pairs = Path(__file__).resolve().parents[2] / "presets" / "data" / "preferences.jsonl"
    cfg = from_dict({"name": "dpo", "model": {"name": "tiny-llama", "dtype": "fp32"},
                     "method": {"kind": "full"}, "hardware": {"target": "auto"},
                     "data": {"train": [{"path": str(pairs)}], "block_size": 64},
                     "train": {"objective": "dpo", "micro_batch": 4}})
    p = Session().plan_for(cfg)
    tok = data.load_tokenizer(cfg.model)
    assert p.steps.sequences == data.count_sequences(cfg, tok)
    assert p.steps.total == -(-p.steps.sequences // 4)
    stats = data.inspect(cfg.data, tok, seed=cfg.train.seed, train=cfg.train)
    mean = (stats.chosen_tokens_mean + stats.rejected_tokens_mean) / 2
    assert 0 < mean < 64
    assert f"{mean:.0f} tokens per sequence (the data's mean" in p.time.assumptions
    # memory at the longest: the same as planned without the data, from data.sequences
    bare = make_plan(cfg.model_copy(update={"data": cfg.data.model_copy(
        update={"train": [], "sequences": p.steps.sequences})}), hardware=p.hardware)
    assert bare.memory.needed_bytes == p.memory.needed_bytes
    assert bare.steps.total == p.steps.total


def test_fused_head_on_the_cpu_counts_the_torch_fallback_tiles() -> None:
    # Without Triton the fused head's fold runs as whole-tile fp32 torch ops: measured ~11 tiles
    # of min(tokens, 4096) x min(V, 32768) x 4 bytes alive in the backward. One pair of 1024 in
    # bf16 on the CPU, the chosen half (T = 1024): the fp32 hidden gradient and its cast
    # 1024 x 2048 x (4 + 2) = 12,582,912, plus 11 x 1024 x 32,768 x 4 = 1,476,395,008.
    d = terms(setup(), on_cpu=True)
    assert d["activations.head_backward"] == 12_582_912 + 1_476_395_008 == 1_488_977_920
    # on a GPU the Triton kernels fold in place: one mm_buf tile, 1024 x 32,768 x 2
    assert terms(setup())["activations.head_backward"] == 12_582_912 + 1024 * TILE


def test_an_sft_measurement_never_corrects_a_preference_plan() -> None:
    # core/calibration.py scales a plan by a similar run's measured ratio; a DPO step holds a
    # reference and a paired batch that an SFT run's ratio knows nothing of.
    from ftwizard.core import calibration as cal

    sft = parse_config(DPO_FULL_24GB, ["train.objective=sft"])
    rec = {"counter_kind": "device_used", "config": cal.config_fingerprint(sft), "hardware": {}}
    assert cal.similar(rec, cal.config_fingerprint(sft), {}, "device_used")
    for objective in ("dpo", "orpo", "kto", "reward"):
        other = parse_config(DPO_FULL_24GB, [f"train.objective={objective}", "train.micro_batch=2"])
        assert not cal.similar(rec, cal.config_fingerprint(other), {}, "device_used"), objective
    dpo = parse_config(DPO_FULL_24GB)
    pre = parse_config(DPO_FULL_24GB, ["train.preference.reference=precomputed"])
    rec_dpo = {**rec, "config": cal.config_fingerprint(dpo)}
    assert cal.similar(rec_dpo, cal.config_fingerprint(dpo), {}, "device_used")
    assert not cal.similar(rec_dpo, cal.config_fingerprint(pre), {}, "device_used")
    # a record written before train.objective existed is an sft run
    old = {**rec, "config": {k: v for k, v in rec["config"].items()
                             if k not in ("objective", "reference")}}
    assert cal.similar(old, cal.config_fingerprint(sft), {}, "device_used")
