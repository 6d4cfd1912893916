"""Preparing a big data file for training: the list path against the Arrow path (data_arrow).

    python bench/large_data.py [--mb 200] [--format jsonl] [--mode corpus] [--block-size 512]
                               [--paths list,arrow] [--dir /tmp/ftw_large]

Writes a ~MB-sized file of text records (prose-like word salad; JSONL, CSV, TSV or Parquet hold
the same records for the same --mb, so sequence counts agree across formats) in --dir, builds the
tiny Llama and its tokenizer there (its own FTWIZARD_HOME, so the Arrow cache starts empty), then
prepares the training data as a backend does (core/data.training_sets) four times, each in a
fresh process so its peak RSS is its own: the list path twice (it re-tokenizes every time) and
the Arrow path twice (the second run reads the cache); `--paths arrow` runs only the latter.
Prints seconds, sequences and peak RSS of each; the sequence counts must agree. The figures back
ARROW_THRESHOLD_BYTES's docstring.

Measured here (2 shared CPUs, `python bench/large_data.py`, 200 MiB, corpus, block 512, 130.7 M
tokens): list 118.0 s / 79.5 s, peak RSS 7,658 / 7,650 MiB; Arrow 66.0 s (2 processes, each
worker under 522 MiB) / 1.2 s (cache), peak RSS 1,043 / 566 MiB; 255,275 sequences every run.
A 297 MiB CSV (`--mb 300 --format csv --paths arrow`, 382,202 sequences): Arrow 165.4 s, peak
RSS 1,919 MiB when it read the CSV through the list reader (the whole text, then a copy in a
StringIO); streamed line by line (data_arrow.check_decodes + read_csv over the open file) 150.0 s
/ 1.5 s (cache), peak RSS 1,317 / 550 MiB. The same records as Parquet (`--format parquet`, a
140 MiB file): 135.4 s / 1.5 s, peak RSS 1,326 / 550 MiB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT.parent) not in sys.path:
    sys.path.insert(0, str(ROOT.parent))

WORDS = ("the of and to in is was for on that with as by at from his her it an were are which "
         "this be had not but have they one all she there their would been when who will more "
         "no if out so said what up its about into than them can only other new some could time "
         "these two may then do first any my now such like our over man me even most made after "
         "also did many before must through back years where much your way well down should "
         "because each just those people how too little state good very make world still own see "
         "men work long get here between both life being under never day same another know while "
         "last might us great old year off come since against go came right used take").split()


def texts(mb: int, seed: int = 0) -> Iterator[list[str]]:
    """Batches of records' texts, about `mb` MiB of JSONL in all (the same for every format)."""
    rng = random.Random(seed)
    want = mb << 20
    size = 0
    batch: list[str] = []
    while size < want:
        text = " ".join(rng.choice(WORDS) for _ in range(int(rng.lognormvariate(5.0, 0.8)) + 5))
        batch.append(text)
        size += len(text) + 12  # the JSONL line's {"text": "..."} and newline
        if len(batch) >= 10_000:
            yield batch
            batch = []
    yield batch


def write_data(path: Path, mb: int, fmt: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(tmp, pa.schema([("text", pa.string())])) as w:
            for batch in texts(mb):
                w.write_table(pa.table({"text": batch}))
    else:
        with tmp.open("w", newline="") as fh:
            if fmt == "jsonl":
                for batch in texts(mb):
                    fh.write("".join(json.dumps({"text": t}) + "\n" for t in batch))
            else:
                out = csv.writer(fh, delimiter="\t" if fmt == "tsv" else ",")
                out.writerow(["text"])
                for batch in texts(mb):
                    out.writerows([t] for t in batch)
    os.replace(tmp, path)


def child(args: argparse.Namespace) -> None:
    """One prepare, as hf.load_data does it; prints a JSON line."""
    from ftwizard.core import data
    from ftwizard.core.config import from_dict

    cfg = from_dict({"name": "bench", "model": {"name": args.model, "dtype": "fp32"},
                     "data": {"train": [{"path": args.data}], "mode": args.mode,
                              "block_size": args.block_size}})
    tok = data.load_tokenizer(cfg.model)
    t = time.perf_counter()
    train, _ = data.training_sets(cfg, tok)
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": round(dt, 1), "sequences": len(train),
                      "kind": type(train).__name__, "peak_rss_mib": round(rss),
                      "worker_peak_rss_mib": round(kids)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--format", choices=["jsonl", "csv", "tsv", "parquet"], default="jsonl")
    ap.add_argument("--paths", default="list,arrow", help="which paths to run: list,arrow")
    ap.add_argument("--mode", choices=["corpus", "entries"], default="corpus")
    ap.add_argument("--block-size", type=int, default=512)
    ap.add_argument("--dir", default="/tmp/ftw_large")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / "home"
    os.environ["FTWIZARD_HOME"] = str(home)
    import shutil

    shutil.rmtree(home / "cache" / "arrow", ignore_errors=True)  # the first Arrow run is cold
    from ftwizard.core.data_arrow import threshold
    from ftwizard.core.tiny import ensure_tiny

    model = ensure_tiny("tiny-llama")
    path = folder / f"big-{args.mb}mb.{args.format}"
    if not path.is_file():
        write_data(path, args.mb, args.format)
    size = path.stat().st_size
    print(f"{path}: {size / 2**20:.0f} MiB, mode {args.mode}, block {args.block_size}, "
          f"{os.cpu_count()} CPUs; default threshold {threshold() / 2**20:.0f} MiB")
    rows = []
    for name, limit in (("list", str(size + 1)), ("arrow", "0")):
        if name not in args.paths.split(","):
            continue
        for run in (1, 2):
            env = dict(os.environ, FTWIZARD_ARROW_THRESHOLD_BYTES=limit,
                       TOKENIZERS_PARALLELISM="true")
            out = subprocess.run([sys.executable, __file__, "--child", "--model", str(model),
                                  "--data", str(path), "--mode", args.mode,
                                  "--block-size", str(args.block_size)],
                                 env=env, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name} run {run} failed ({out.returncode}):\n{out.stderr[-3000:]}")
                return
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((name, run, r))
            print(f"{name:5} run {run}: {r['seconds']:7.1f} s  {r['sequences']:>9,} sequences  "
                  f"peak RSS {r['peak_rss_mib']:>6,} MiB (workers {r['worker_peak_rss_mib']:,} "
                  f"MiB)  [{r['kind']}]", flush=True)
    counts = {r["sequences"] for _, _, r in rows}
    print("same sequences in every run:", len(counts) == 1)


if __name__ == "__main__":
    main()
