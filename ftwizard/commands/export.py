"""`ftwizard export RUN [--merge] [--out DIR]`: a finished run's model, ready to use elsewhere.

Without --merge it reports where the final model (or adapter) is. With --merge it folds a
LoRA/QLoRA adapter into a 16-bit copy of its base (seed 004's lora_merge) and checks the result
by generating a few tokens from it.
"""

from __future__ import annotations

from pathlib import Path

import click

from ftwizard.core.errors import EXIT_OK, InputError


def _run_dir(run: str) -> Path:
    p = Path(run).expanduser()
    if (p / "config.yaml").is_file():
        return p
    try:
        from ftwizard.core.runs import find_run

        return Path(find_run(run))
    except ImportError:  # pragma: no cover - runs.py is part of the package
        raise InputError(f"no run directory {run!r}", field="RUN", value=run,
                         fix="give the run's folder (see `ftwizard runs`)") from None


@click.command("export")
@click.argument("run")
@click.option("--merge", is_flag=True, help="Merge the LoRA adapter into its base model.")
@click.option("--format", "fmt", type=click.Choice(["hf", "gguf", "ollama"]), default="hf",
              show_default=True,
              help="hf: the Hugging Face folder; gguf: one GGUF file for llama.cpp / LM Studio; "
                   "ollama: the GGUF plus a Modelfile.")
@click.option("--quant", default="f16", show_default=True,
              help="GGUF tensor type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 "
                   "(k-quants such as q4_k_m: from the f16 file with llama.cpp's llama-quantize).")
@click.option("--out", "-o", "out", type=click.Path(), default=None,
              help="Where the result goes (default: RUN/final/merged for --merge, "
                   "RUN/export/NAME-QUANT.gguf for gguf and ollama).")
@click.option("--prompt", default=None, help="Text to continue as a check (default: the run's sample_prompt).")
@click.option("--push", "push_to", default=None, metavar="ORG/NAME",
              help="Upload the model (merged with --merge, else final/: adapter or model) to the "
                   "Hugging Face Hub with a model card; HF_TOKEN must allow writing.")
@click.option("--private", is_flag=True, help="With --push: create the repository private.")
def export(run: str, merge: bool, fmt: str, quant: str, out: str | None, prompt: str | None,
           push_to: str | None, private: bool) -> int:
    """Show, merge, convert or push the final model of RUN."""
    run_dir = _run_dir(run)
    final = run_dir / "final"
    if not final.is_dir():
        raise InputError(f"{run_dir} has no final model yet", field="RUN", value=run,
                         fix="wait for the run to finish, or `ftwizard resume` it")
    if push_to:
        from ftwizard.core import hub

        hub.check_repo_id(push_to, field="--push")
        if fmt != "hf":
            raise InputError("--push uploads the Hugging Face folder", field="--format", value=fmt,
                             fix="push without --format; convert to GGUF locally")
    if fmt != "hf":
        return _export_gguf(run_dir, final, fmt, quant, out)
    if push_to and not merge:
        url = hub.push(run_dir, push_to, folder=final, private=private)
        click.echo(f"pushed {final} to {url}")
        return EXIT_OK
    from ftwizard.core.backends import export as ex  # ~2 s: torch

    if not merge:
        from ftwizard.core import export_plan

        kind = "LoRA adapter" if ex.is_adapter_dir(final) else "model"
        click.echo(f"{kind}: {final}")
        click.echo(f"exports ({export_plan.free_disk(run_dir) / 1e9:,.1f} GB free here):")
        for c in export_plan.choices(run_dir):
            click.echo(f"  ftwizard export {run} {' '.join(c.args):32} {export_plan.describe(c)}")
        return EXIT_OK
    if not ex.is_adapter_dir(final):
        raise InputError(f"{final} holds a full model, not an adapter: nothing to merge",
                         field="--merge", value=True, fix="drop --merge; the model is ready as is")
    from ftwizard.core.config import load_config

    cfg = load_config(run_dir / "config.yaml")
    target = Path(out) if out else final / "merged"
    merged = ex.merge_adapter(final, target, dtype=cfg.model.dtype)
    model, tok = ex.load_for_generation(merged)
    text = ex.sample(model, tok, prompt or cfg.output.sample_prompt or "The", max_new_tokens=16)
    click.echo(f"merged model: {merged}")
    click.echo(f"sample: {text!r}")
    if push_to:
        url = hub.push(run_dir, push_to, folder=Path(merged), private=private)
        click.echo(f"pushed {merged} to {url}")
    return EXIT_OK


def _export_gguf(run_dir: Path, final: Path, fmt: str, quant: str, out: str | None) -> int:
    """A merged model (an adapter is merged first, into final/merged) -> GGUF (+ Modelfile)."""
    from ftwizard.core.backends import gguf_export as gx  # numpy + gguf; torch for the merge

    quant = gx.check_quant(quant)                   # refuse before any work
    from ftwizard.core.backends import export as ex
    from ftwizard.core.config import load_config

    cfg = load_config(run_dir / "config.yaml")
    source = final
    if ex.is_adapter_dir(final):
        source = final / "merged"
        if not (source / "config.json").is_file():
            click.echo(f"merging the adapter into its base first: {source}")
            ex.merge_adapter(final, source, dtype="fp32" if quant == "f32" else cfg.model.dtype)
    name = run_dir.name
    target = Path(out) if out else run_dir / "export" / f"{name}-{quant}.gguf"
    if target.suffix != ".gguf":
        target = target / f"{name}-{quant}.gguf"     # a folder was given
    result = gx.convert(source, target, quant=quant, name=name)
    click.echo(f"wrote {result.path} ({result.arch}, {quant}, {result.tensors} tensors, "
               f"{result.bytes / 1e6:,.1f} MB)")
    if fmt == "ollama":
        mf = target.parent / "Modelfile"
        mf.write_text(gx.modelfile(target.name, result, num_ctx=cfg.data.block_size), encoding="utf-8")
        click.echo(f"wrote {mf}: `ollama create {name} -f {mf}`")
    return EXIT_OK


@click.command("export-config")
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["mesh-transformer-jax", "axolotl", "llamafactory"]),
              required=True, help="The other tool's config format.")
@click.option("--bucket", default="YOUR-BUCKET", show_default=True, help="Cloud storage bucket.")
@click.option("--model-dir", default=None, help="Checkpoint folder in the bucket (default: the run name).")
@click.option("--train-index", default=None, help="Index file of training tfrecords (data/NAME.train.index).")
@click.option("--val-index", default=None, help="Index file of validation tfrecords, if any.")
@click.option("--tpu-size", type=int, default=None, help="TPU cores (default: from hardware.target).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here (default: print it).")
def export_config(source: str, fmt: str, bucket: str, model_dir: str | None,
                  train_index: str | None, val_index: str | None, tpu_size: int | None,
                  out: str | None) -> int:
    """Write a run's plan as another tool's config: seed 000's mesh-transformer-jax JSON for GPT-J
    on TPUs, with the plan's steps, warmup and anneal and every *_every above zero; or an axolotl /
    LLaMA-Factory YAML (with its DeepSpeed JSON and dataset_info.json beside --out)."""
    import json

    from ftwizard.core.config import load_config

    if fmt in ("axolotl", "llamafactory"):
        return _export_other(source, fmt, out)
    from ftwizard.core.mtj import mesh_transformer_jax_config, write_mesh_transformer_jax_config
    from ftwizard.core.plan import data_sequences, make_plan

    cfg = load_config(source)
    plan = make_plan(cfg, sequences=data_sequences(cfg))
    if plan.steps is None:
        raise InputError("the plan has no step count", field="data.sequences", value=None,
                         fix="point data.train at the data or set data.sequences")
    name = cfg.name
    conf = mesh_transformer_jax_config(
        cfg, plan.steps, bucket=bucket, model_dir=model_dir or f"{name}/checkpoints",
        train_index=train_index or f"data/{name}.train.index", val_index=val_index,
        tpu_size=tpu_size)
    if out:
        path = write_mesh_transformer_jax_config(out, conf)
        click.echo(f"wrote {path}")
    else:
        click.echo(json.dumps(conf, indent=2))
    return EXIT_OK


def _export_other(source: str, fmt: str, out: str | None) -> int:
    """axolotl / LLaMA-Factory YAML from a run config (core/importers writes it; this only saves)."""
    import json

    from ftwizard.core.config import load_config
    from ftwizard.core.importers import export_config

    cfg = load_config(source)
    text, lost, extra = export_config(cfg, fmt, out)
    if not out:
        click.echo(text, nl=False)
        for name, data in extra.items():
            click.echo(f"# {name} (written beside the config with --out):\n"
                       + "\n".join("# " + line for line in json.dumps(data, indent=2).splitlines()))
        return EXIT_OK
    target = Path(out)
    if target.exists() and target.resolve() == Path(source).resolve():
        raise InputError("--out is the config being exported", field="--out", value=out,
                         fix="give another file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    for name, data in extra.items():
        path = target.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {path}")
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}" + (f" ({len(lost)} ftwizard settings not expressible, listed at its "
                                    "top)" if lost else ""))
    return EXIT_OK
