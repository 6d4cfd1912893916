"""Time `ftwizard data inspect` on a 50 MB text corpus with the tiny-llama tokenizer.

Goal (issue 3): under 10 s wall on a 2-core CPU box, cold (no inspection cache). Big data is
tokenized on a sample and extrapolated, so the time is dominated by reading and hashing the files
and by Python start-up; the cached second run shows what reopening the wizard costs.

    python bench/data_inspect.py [--mb 50] [--layout folder|file] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at "
         "which but have an they you were her she there been one all we their has would when if "
         "model training data token sequence gradient memory batch learning rate epoch layer "
         "attention weight optimizer checkpoint corpus example validation loss step").split()


def make_corpus(root: Path, mb: int, layout: str, seed: int = 0) -> Path:
    rng = random.Random(seed)
    target = mb * 1_000_000
    para = lambda: " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 160))) + ".\n\n"  # noqa: E731
    # A pool of paragraphs reused in random order: generation stays fast, text stays varied.
    pool = [para() for _ in range(2000)]
    if layout == "file":
        out = root / "corpus.txt"
        with out.open("w") as f:
            written = 0
            while written < target:
                s = rng.choice(pool)
                f.write(s)
                written += len(s)
        return out
    out = root / "corpus"
    out.mkdir()
    written, i = 0, 0
    while written < target:
        size = rng.randint(20_000, 200_000)
        parts, n = [], 0
        while n < size:
            s = rng.choice(pool)
            parts.append(s)
            n += len(s)
        (out / f"doc{i:05d}.txt").write_text("".join(parts))
        written += n
        i += 1
    return out


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return wall, json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--layout", choices=["folder", "file", "both"], default="both")
    args = ap.parse_args()

    from ftwizard.core.tiny import ensure_tiny

    tok = ensure_tiny("tiny-llama")  # built once into the cache; not part of the timing
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="true")
    layouts = ["folder", "file"] if args.layout == "both" else [args.layout]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env["FTWIZARD_HOME"] = str(Path(tmp) / "home")  # a cold inspection cache
        for layout in layouts:
            root = Path(tmp) / layout
            root.mkdir()
            t = time.perf_counter()
            path = make_corpus(root, args.mb, layout)
            made = time.perf_counter() - t
            size = sum(f.stat().st_size for f in ([path] if path.is_file() else path.rglob("*")))
            cmd = [sys.executable, "-m", "ftwizard", "data", "inspect", str(path), "--model",
                   str(tok), "--block-size", "2048", "--json"]
            cold, stats = timed(cmd, env)
            warm, again = timed(cmd, env)
            exact_note = "exact" if stats["tokens_exact"] else f"±{stats['tokens_error']:.1%}"
            print(f"{layout:6s} {size / 1e6:6.1f} MB ({made:.1f} s to generate): cold {cold:5.2f} s,"
                  f" cached {warm:5.2f} s; {stats['examples']:,} examples, "
                  f"{stats['tokens']:,} tokens ({exact_note}), {stats['sequences']:,} sequences"
                  f"{' [cache hit]' if again.get('cached') else ''}")
            results.append({"layout": layout, "bytes": size, "cold_s": round(cold, 2),
                            "cached_s": round(warm, 2), "tokens": stats["tokens"],
                            "tokens_error": stats["tokens_error"], "goal_s": 10.0,
                            "ok": cold < 10.0})
    out = Path(__file__).parent / "results" / "data_inspect.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2) + "\n")
    worst = max(r["cold_s"] for r in results)
    print(f"worst cold time {worst:.2f} s (goal < 10 s): {'OK' if worst < 10 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
