"""hf.objective_metrics: which numbers of a Trainer log become a step (or eval) event's `metrics`.

The logs below are the keys TRL 1.16's DPOTrainer and the plain Trainer really log (the e2e tests
in tests/e2e/test_preference_e2e.py check the live stream); here the edge cases: SFT gets none,
eval keys lose their prefix, throughput and non-finite values stay out.
"""

from __future__ import annotations

import math

from ftwizard.core.backends.hf import objective_metrics


def test_sft_logs_carry_no_objective_metrics() -> None:
    logs = {"loss": 2.31, "grad_norm": 0.9, "learning_rate": 3e-4, "epoch": 0.5}
    assert objective_metrics(logs) == {}


def test_dpo_logs_keep_trls_names_and_drop_the_trainers_own() -> None:
    logs = {"loss": 0.6931, "grad_norm": 0.2, "learning_rate": 1e-3, "epoch": 0.08,
            "rewards/chosen": 0.0, "rewards/rejected": 0.0, "rewards/margins": 0.0,
            "rewards/accuracies": 0.0, "logps/chosen": -40.2, "kl": 0.1, "num_tokens": 512.0,
            "entropy": math.nan, "note": "text"}
    assert objective_metrics(logs) == {
        "rewards/chosen": 0.0, "rewards/rejected": 0.0, "rewards/margins": 0.0,
        "rewards/accuracies": 0.0, "logps/chosen": -40.2, "kl": 0.1}


def test_eval_logs_lose_the_prefix_and_the_timings() -> None:
    metrics = {"eval_loss": 0.5, "eval_runtime": 1.2, "eval_samples_per_second": 40.0,
               "eval_steps_per_second": 10.0, "eval_accuracy": 0.75, "eval_margin": 1.5,
               "epoch": 1.0}
    assert objective_metrics(metrics, prefix="eval_") == {"accuracy": 0.75, "margin": 1.5}
