"""The training objective's own figures, as step events carry them (TRL's names: rewards/chosen,
rewards/margins, kl, accuracy ...), in short labelled values: the one renderer behind the Run
screen's metrics line and the step lines of `ftwizard run --plain`, so both name and round them
alike.

Only the figures a user reads to judge preference training are shown, in the order they are
compared: what the policy gives the chosen and the rejected answers, the margin between them, how
often chosen wins (DPO, ORPO), KTO's KL estimate, ORPO's odds-ratio term, a reward model's
accuracy and margin. The rest (logps, logits, entropy, token counts) stay in events.jsonl.
"""

from __future__ import annotations

from collections.abc import Mapping

SHOWN: tuple[tuple[str, str], ...] = (   # (TRL's name, short label)
    ("rewards/chosen", "chosen"),
    ("rewards/rejected", "rejected"),
    ("rewards/margins", "margin"),
    ("rewards/accuracies", "acc"),       # dpo, orpo (kto logs none)
    ("kl", "kl"),                        # kto
    ("log_odds_ratio", "log-odds"),      # orpo
    ("nll_loss", "nll"),                 # orpo's SFT term
    ("accuracy", "acc"),                 # reward model
    ("margin", "margin"),                # reward model
)


def number(value: float) -> str:
    """Three decimals in the usual range (rewards, accuracies and KL sit around 0..10)."""
    if value != value:   # NaN: say so rather than print a misleading figure
        return "nan"
    if abs(value) >= 1000 or (value and abs(value) < 0.001):
        return f"{value:.2e}"
    return f"{value:.3f}"


def metric_items(metrics: Mapping[str, float]) -> list[tuple[str, str, str]]:
    """(TRL name, label, value text) of the shown figures present in `metrics`, in SHOWN order;
    one per label (a trainer logs either DPO's or the reward model's names, never both)."""
    out: list[tuple[str, str, str]] = []
    labels: set[str] = set()
    for name, label in SHOWN:
        if name in metrics and label not in labels and isinstance(metrics[name], (int, float)):
            labels.add(label)
            out.append((name, label, number(float(metrics[name]))))
    return out


def metrics_text(metrics: Mapping[str, float], width: int | None = None) -> str:
    """`chosen 0.412  rejected -0.301  margin 0.713  acc 0.875`, cut item by item to `width`."""
    text = ""
    for _, label, value in metric_items(metrics):
        piece = f"{label} {value}"
        candidate = f"{text}  {piece}" if text else piece
        if width is not None and len(candidate) > width:
            break
        text = candidate
    return text
