"""Pipeline layouts before launch (issue 19): bad layouts exit 2 from `ftwizard plan` with the
numbers and the nearest valid choice; the plan's memory is the busiest stage's with GPipe's
micro batches in flight; the time estimate pays the bubble; the seed's 8 x 1 launch renders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftwizard.core import pipeline_layout as pl
from ftwizard.core.config import apply_override, from_dict, load_config
from ftwizard.core.errors import InputError

PRESET = "gpt-neox-20b-pipeline"


def ftw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "ftwizard", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=120)


def problems(*sets: str) -> list[dict]:
    args = ["plan", PRESET, "--json"]
    for s in sets:
        args += ["--set", s]
    r = ftw(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)["problems"]


def override(cfg, *items: str):
    data = cfg.to_dict()
    for item in items:
        data = apply_override(data, item)
    return from_dict(data)


def test_layout_arithmetic() -> None:
    assert pl.stage_layers(44, 4) == [11] * 4
    assert pl.stage_layers(44, 8, [6, 6, 6, 6, 5, 5, 5, 5]) == [6, 6, 6, 6, 5, 5, 5, 5]
    assert pl.balanced_split(44, 8) == [6, 6, 6, 6, 5, 5, 5, 5]
    assert pl.replicas(8, 4) == 2
    with pytest.raises(InputError) as err:
        pl.stage_layers(44, 8, [6, 6, 6, 6, 5, 5, 5])
    assert err.value.field == "method.pipeline_layers" and "[6, 6, 6, 6, 5, 5, 5, 5]" in err.value.fix


def test_even_split_that_does_not_divide_names_the_nearest_stage_counts() -> None:
    p = problems("method.pipeline_layers=null")  # 44 layers, 8 stages
    msg = [x for x in p if "split evenly" in x["message"]][0]
    assert "44 layers" in msg["message"] and "8 stages" in msg["message"]
    assert "use 4 or 2 stages" in msg["fix"]  # divide the 44 layers and the 8 GPUs
    assert "[6, 6, 6, 6, 5, 5, 5, 5]" in msg["fix"]


def test_more_stages_than_layers() -> None:
    p = problems("method.pipeline_stages=48", "method.pipeline_layers=null",
                 "hardware.target=A100-80GB x48")
    msg = [x for x in p if "at least one layer" in x["message"]][0]
    assert "48 pipeline stages" in msg["message"] and "44 layers" in msg["message"]
    assert "44 stages" in msg["fix"]


def test_world_not_a_multiple_of_the_stages() -> None:
    p = problems("method.pipeline_stages=3", "method.pipeline_layers=[15,15,14]")
    msg = [x for x in p if "world size" in x["message"]][0]
    assert "world size 8" in msg["message"] and "stages=3" in msg["message"]
    assert "2 or 4 stages" in msg["fix"] and "6 processes" in msg["fix"]


def test_a_family_the_pipeline_cannot_split() -> None:
    r = ftw("plan", PRESET, "--json", "--set", "model.name=gpt2-xl",
            "--set", "method.pipeline_layers=null")
    assert r.returncode == 2, r.stdout + r.stderr
    msg = [x for x in json.loads(r.stdout)["problems"] if x["field"] == "method.parallel"][0]
    assert "gpt2" in msg["message"] and "gpt_neox" in msg["message"]


def test_the_seed_layout_plans_clean_and_memory_is_the_busiest_stage() -> None:
    from ftwizard.core.plan import make_plan

    cfg = load_config(PRESET)
    plan = make_plan(cfg)
    assert not plan.problems and plan.fits
    assert (plan.world_size, plan.data_parallel) == (8, 1)
    bd = plan.memory.detail
    stage_weights = bd["weights.stage"]
    # the busiest stage (6 of 44 layers) decides: an even 11-layer split of 4 stages holds more
    four = make_plan(override(cfg, "method.pipeline_stages=4", "method.pipeline_layers=null"))
    assert four.memory.detail["weights.stage"] > 1.7 * stage_weights


def test_gpipe_keeps_every_micro_batch_and_pays_the_bubble() -> None:
    from ftwizard.core.plan import make_plan

    cfg = load_config(PRESET)
    one = make_plan(override(cfg, "train.grad_accum=1"))
    many = make_plan(override(cfg, "train.grad_accum=64"))
    acts = {k: v for k, v in one.memory.detail.items() if k.startswith("activations")}
    for k, v in acts.items():
        if k != "activations.recompute_layer":
            assert many.memory.detail[k] == pytest.approx(64 * v)
    # 8 stages, 1 micro batch: 7 of 8 stage-slots idle; 64 micro batches: 7 of 71
    assert many.time.tokens_per_s > 4 * one.time.tokens_per_s


def test_dry_run_renders_the_seeds_8_x_1_launch(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    r = ftw("run", PRESET, "--dry-run", "--force", "--set", f"output.dir={out}", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    run = next(out.iterdir())
    launch = (run / "launch.sh").read_text()
    assert "torch.distributed.run" in launch and "--nproc_per_node 8" in launch
    cfg = load_config(run / "config.yaml")
    assert cfg.method.parallel == "pipeline" and cfg.method.pipeline_stages == 8
    assert pl.replicas(8, cfg.method.pipeline_stages) == 1
    assert pl.stage_layers(44, 8, cfg.method.pipeline_layers) == [6, 6, 6, 6, 5, 5, 5, 5]
    assert cfg.method.optimizer == "adamw_8bit"
    assert not (run / "events.jsonl").exists()  # nothing started


def test_two_nodes_render_a_torchrun_rendezvous_and_slurm(tmp_path: Path) -> None:
    """2 nodes x 8 GPUs: 16 processes, the seed's 8 stages x 2 replicas (a pipeline per node)."""
    from ftwizard.core import launch
    from ftwizard.core import launch_cluster as lc
    from ftwizard.core.plan import hardware_for, make_plan

    cfg = override(load_config(PRESET), "hardware.nodes=2")
    plan = make_plan(cfg)
    assert not plan.problems and (plan.world_size, plan.data_parallel) == (16, 2)
    out = launch.render(cfg, hardware_for(cfg.hardware.target, 2, None), plan, tmp_path / "run",
                        slurm={"partition": "gpu"})
    argv = out.argv
    assert "torch.distributed.run" in argv
    assert argv[argv.index("--nnodes") + 1] == "2" and argv[argv.index("--nproc_per_node") + 1] == "8"
    sbatch = out.files[lc.SBATCH]
    assert "--rdzv_backend c10d" in sbatch and "--nproc_per_node 8" in sbatch


def test_8bit_adam_plans_on_the_cpu_but_paged_is_refused(tmp_path: Path) -> None:
    """bitsandbytes' AdamW8bit steps on CPU tensors (the e2e tests train with it); the paged
    variant has no GPU memory to page from: the plan says so before launch."""
    from ftwizard.core.plan import hardware_for

    if not hardware_for("auto", 1, None).is_cpu_only:
        pytest.skip("paged 8-bit AdamW is allowed where there is a GPU")
    tiny = ["model.name=tiny-llama", "method.pipeline_stages=2", "method.pipeline_layers=null",
            "hardware.target=auto", "hardware.devices=2", "data.sequences=64", "data.block_size=32"]
    r = ftw("plan", PRESET, "--json", *[a for s in tiny for a in ("--set", s)],
            "--set", "model.dtype=fp32", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = ftw("plan", PRESET, "--json", *[a for s in tiny for a in ("--set", s)],
            "--set", "model.dtype=fp32", "--set", "method.optimizer=paged_adamw_8bit", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    msg = [p for p in json.loads(r.stdout)["problems"] if p["field"] == "method.optimizer"][0]
    assert "no GPU" in msg["message"] and "adamw_8bit" in msg["fix"]
