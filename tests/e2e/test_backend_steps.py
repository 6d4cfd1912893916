"""The Trainer's own step arithmetic is the judge: it must take exactly the plan's steps.

These run the backend in this process (no launcher), with sequences of 8 tokens so a whole
epoch of 400 samples costs about a second.
"""

from __future__ import annotations

import pytest

from backend_kit import WORDS, config, make_run
from ftwizard.core.config import from_dict
from ftwizard.core.schedule import plan_steps


def _entries(folder, n=400):
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "entries.jsonl"
    path.write_text("".join(json.dumps({"text": f"{WORDS[i % 10]} {WORDS[(i + 3) % 10]}"}) + "\n"
                            for i in range(n)))
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("micro_batch,grad_accum,drop_last,epochs,max_steps,expected", [
    (8, 3, False, 1, None, 17),     # FACTS.md: 50 micro-batches -> 17 steps, last window partial
    (8, 3, True, 1, None, 16),      # seed 001: 16 whole global batches of 24, 16 samples dropped
    (5, 4, False, 1.5, None, 30),   # 80 micro-batches -> 20 per epoch -> ceil(1.5 * 20)
    (8, 3, True, 3, 7, 7),          # max_steps wins over epochs
])
def test_trainer_takes_exactly_the_planned_steps(tmp_path, tiny_llama, micro_batch, grad_accum,
                                                 drop_last, epochs, max_steps, expected):
    from ftwizard.core.backends import hf

    data = _entries(tmp_path / "data")
    cfg_dict = config(tiny_llama, data,
                      data={"mode": "entries", "block_size": 8},
                      train={"micro_batch": micro_batch, "grad_accum": grad_accum,
                             "drop_last": drop_last, "epochs": epochs, "max_steps": max_steps,
                             "save_every": 10_000})
    run = make_run(tmp_path / "run", cfg_dict)
    cfg = from_dict(cfg_dict)
    out = hf.train(cfg, run)
    planned = plan_steps(cfg, 400, 1)
    assert planned.total == expected
    assert out.trainer.state.max_steps == planned.total
    assert out.trainer.state.global_step == planned.total
    if drop_last:
        assert planned.dropped_samples == 400 % (micro_batch * grad_accum)
        assert len(out.trainer.train_dataset) == 400 - planned.dropped_samples
    # the optimizer followed the plan's LR curve (core.schedule.lr_at) to its end
    from ftwizard.core.schedule import lr_at

    last = out.trainer.lr_scheduler.get_last_lr()[0]
    assert last == pytest.approx(lr_at(planned.total, lr=cfg.train.lr, end_lr=cfg.train.end_lr,
                                       warmup=planned.warmup, total=planned.total,
                                       scheduler=cfg.train.scheduler), abs=1e-12)


@pytest.mark.e2e
def test_stop_file_saves_a_checkpoint_and_stops(tmp_path, tiny_llama):
    """`ftwizard stop` leaves RUN_DIR/stop: the run saves where it is and ends as stopped."""
    from ftwizard.core.backends import hf

    data = _entries(tmp_path / "data", 80)
    cfg_dict = config(tiny_llama, data, data={"mode": "entries", "block_size": 8},
                      train={"max_steps": 9, "save_every": 1000})
    run = make_run(tmp_path / "run", cfg_dict)
    (run / "stop").touch()
    out = hf.train(from_dict(cfg_dict), run)
    assert out.status == "stopped" and out.step == 1
    assert hf.newest_checkpoint(run).name == "checkpoint-1"
    assert not (run / "final").exists()
