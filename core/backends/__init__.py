"""Training backends (PyTorch: hf.py; JAX: jax.py) and what they share.

This module stays light: the JAX backend imports it from its own environment, without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    """How a backend's train() ended, for the train entry's `end` event."""

    status: str           # finished | stopped
    step: int
    total: int
    sample: str | None = None
    trainer: Any = None   # the backend's trainer object, kept for tests and the bench
