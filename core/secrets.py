"""Keep tokens out of every file a run writes (config.yaml, launch.sh, stdout.log, hardware.json).

The training process keeps the secrets it needs in its environment (a gated model needs
HF_TOKEN, wandb needs WANDB_API_KEY); what it must never do is leave them on disk, where run
dirs get copied, zipped into bug reports and pushed to shared storage. So:

- launch.sh names a secret (`# from your environment: HF_TOKEN`) and never holds its value;
- the child's stdout/stderr goes through :class:`Redactor` before it reaches stdout.log (a stack
  trace or a library's debug print of its environment must not leak);
- every text file the run dir gets passes :func:`redact_text` on the way out.

A secret is the value of any variable whose name looks like one (TOKEN, KEY, SECRET, PASSWORD,
CREDENTIAL, ...), plus anything shaped like a known token (hf_..., sk-..., wandb's 40-hex keys,
GitHub and AWS tokens), wherever it appears.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"

# Substrings of a variable name that make its value a secret.
SECRET_NAME_PARTS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "PRIVATE")
# Names that match the parts above but hold no secret (keys to a keyboard layout, a path, ...).
NOT_SECRET = frozenset({"KEYBOARD", "XKB_DEFAULT_LAYOUT", "GPG_AGENT_INFO", "SSH_AUTH_SOCK",
                        "HF_TOKEN_PATH", "TOKENIZERS_PARALLELISM", "KEYTIMEOUT"})
# Values shorter than this are not treated as secrets even under a secret-looking name: masking
# "1" or "true" everywhere would mangle the log without protecting anything.
MIN_SECRET_LEN = 6

TOKEN_PATTERNS = [
    re.compile(r"\bhf_[A-Za-z0-9]{10,}"),                 # Hugging Face
    re.compile(r"\bsk-[A-Za-z0-9_\-]{10,}"),              # OpenAI / Anthropic style
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),          # GitHub
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),                  # AWS access key id
    re.compile(r"\bxox[abpr]-[A-Za-z0-9\-]{10,}"),        # Slack
]


def is_secret_name(name: str) -> bool:
    up = name.upper()
    if up in NOT_SECRET:
        return False
    return any(part in up for part in SECRET_NAME_PARTS)


def looks_like_token(value: str) -> bool:
    return any(p.search(value) for p in TOKEN_PATTERNS)


def secret_names(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of the variables in `env` (default: os.environ) whose values are secrets."""
    env = os.environ if env is None else env
    return sorted(k for k, v in env.items()
                  if v and len(v) >= MIN_SECRET_LEN and (is_secret_name(k) or looks_like_token(v)))


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return sorted({env[k] for k in secret_names(env)}, key=len, reverse=True)


class Redactor:
    """Replaces known secret values and token-shaped strings with ***.

    Built once from the environment the child runs with, so it knows the exact values to hide,
    including ones no pattern would recognise (a custom WANDB_API_KEY, a password).
    """

    def __init__(self, values: Iterable[str] = (), env: Mapping[str, str] | None = None) -> None:
        found = set(v for v in values if v and len(v) >= MIN_SECRET_LEN)
        found.update(secret_values(env))
        self.values = sorted(found, key=len, reverse=True)   # longest first: no partial leftovers
        self._bytes = [v.encode() for v in self.values]

    def text(self, s: str) -> str:
        for v in self.values:
            if v in s:
                s = s.replace(v, MASK)
        for p in TOKEN_PATTERNS:
            s = p.sub(MASK, s)
        return s

    def bytes(self, b: bytes) -> bytes:
        for v in self._bytes:
            if v in b:
                b = b.replace(v, MASK.encode())
        if any(marker in b for marker in (b"hf_", b"sk-", b"gh", b"AKIA", b"xox", b"github_pat_")):
            return self.text(b.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        return b


def redact_text(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with every secret of `env` (default: os.environ) and every token-shaped string masked."""
    return Redactor(env=env).text(text)


def safe_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the secret variables (what may be written to a file)."""
    hidden = set(secret_names(env))
    return {k: v for k, v in env.items() if k not in hidden}
