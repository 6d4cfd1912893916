"""Issue 13's catalogue: bad inputs and faults as a user meets them, one row each.

Every row runs the real CLI in a child process (see catalogue_kit.py) and asserts the exit code, the
message (field or file, value, fix), no traceback, and that no file that existed before changed.
Categories: config, data, model, runs, disk, terminal, state (ftwizard's own local files).
Rows whose behaviour another engineer is building right now are strict xfails naming the owner:
when it lands the row passes, the xfail fails, and the marker is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalogue_kit import Case, Work, run_case

GARBLE = b"\xff\xfe\x00\x13garbage\x00\n\x80\x81"


def cfg(**sections):  # noqa: ANN001, ANN201 - a setup that writes run.yaml
    return lambda w: w.config(**sections)


def text(rel: str, content: str | bytes, home: bool = False):  # noqa: ANN201
    return lambda w: w.write(rel, content, home=home)


def both(*fns):  # noqa: ANN002, ANN201
    def setup(w: Work) -> None:
        for f in fns:
            f(w)
    return setup


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


ROWS = [{"text": f"row {i}", "label": i} for i in range(10)]


def finished(name: str = "done", **kw):  # noqa: ANN003, ANN201
    return lambda w: w.run_dir(name, "finished", **kw)


def stopped(name: str = "half"):  # noqa: ANN201
    return lambda w: w.run_dir(name, "stopped", step=1, final=False)


def folder_without_weights(w: Work) -> None:
    w.write("m/config.json", json.dumps({
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 2, "n_embd": 64,
        "n_head": 2, "vocab_size": 1000, "n_positions": 128}))
    w.config(model={"name": str(w.d / "m"), "dtype": "fp32"})


def model_positions(w: Work) -> None:
    folder_without_weights(w)
    w.write("m/model.safetensors", b"")  # present, so only the block size is wrong
    w.config(model={"name": str(w.d / "m"), "dtype": "fp32"}, data={"sequences": 10,
                                                                     "block_size": 4096})


def read_only_mount(w: Work) -> None:
    import subprocess

    ro = w.d / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (no privilege)")
    w.env_extra["_RO_MOUNT"] = str(ro)
    w.config(output={"dir": str(ro / "runs")})


CASES: list[Case] = [
    # ------------------------------------------------------------------ config
    Case("missing-file", "config", ["plan", "nope.yaml"], None, 2,
         ["nope.yaml", "file not found", "preset"]),
    Case("preset-typo", "config", ["plan", "tiny-cpu-dem"], None, 2,
         ["tiny-cpu-dem", "did you mean", "tiny-cpu-demo"]),
    Case("folder-without-config", "config", ["plan", "somedir"], text("somedir/x.txt", "x"), 2,
         ["somedir", "without config.yaml", "fix:"]),
    Case("yaml-syntax", "config", ["plan", "run.yaml"],
         text("run.yaml", "name: x\ntrain:\n  lr: [1, 2\n"), 2,
         ["run.yaml", "not valid yaml", "line", "fix the yaml syntax"]),
    Case("section-twice", "config", ["plan", "run.yaml"],
         text("run.yaml", "name: x\ntrain:\n  lr: 0.1\nmodel:\n  name: gpt2\ntrain:\n  epochs: 2\n"),
         2, ["'train' is written twice", "line 2", "line 6", "merge the two"]),
    Case("key-twice", "config", ["plan", "run.yaml"],
         text("run.yaml", "model:\n  name: gpt2\n  dtype: fp32\n  dtype: bf16\n"), 2,
         ["model.dtype", "written twice", "line 3", "line 4"]),
    Case("top-level-list", "config", ["plan", "run.yaml"], text("run.yaml", "- a\n- b\n"), 2,
         ["must be a mapping", "found list", "presets"]),
    Case("section-typo", "config", ["plan", "run.yaml"],
         text("run.yaml", "trian:\n  lr: 0.1\n"), 2, ["trian", "unknown key", "did you mean train"]),
    Case("key-typo", "config", ["plan", "run.yaml"], cfg(train={"lerning_rate": 0.1}), 2,
         ["train.lerning_rate", "unknown key", "known keys"]),
    Case("not-a-number", "config", ["plan", "run.yaml"], cfg(train={"micro_batch": "four"}), 2,
         ["train.micro_batch", "four", "whole number"]),
    Case("negative-lr", "config", ["plan", "run.yaml"], cfg(train={"lr": -0.1}), 2,
         ["train.lr", "-0.1", "larger number"]),
    Case("dtype-typo", "config", ["plan", "run.yaml"], cfg(model={"name": "gpt2", "dtype": "bf61"}),
         2, ["model.dtype", "bf61", "did you mean 'bf16'"]),
    Case("future-version", "config", ["plan", "run.yaml"], cfg(version=99), 2,
         ["version", "99", "upgrade ftwizard"]),
    Case("not-utf8", "config", ["plan", "run.yaml"], text("run.yaml", b"name: caf\xe9\n"), 2,
         ["run.yaml", "not utf-8", "save the file as utf-8"]),
    Case("binary-config", "config", ["plan", "run.yaml"], text("run.yaml", GARBLE), 2,
         ["run.yaml", "utf-8"]),
    Case("set-without-equals", "config", ["plan", "run.yaml", "--set", "train.lr"], cfg(), 2,
         ["--set", "train.lr", "has no '='", "section.key=value"]),
    Case("set-unknown-key", "config", ["plan", "run.yaml", "--set", "train.micro_bach=2"], cfg(), 2,
         ["train.micro_bach", "did you mean train.micro_batch"]),
    Case("eval-every-zero", "config", ["plan", "run.yaml"], cfg(train={"eval_every": 0}), 2,
         ["train.eval_every", "must be > 0", "positive number"]),
    Case("quant-bits-without-qlora", "config", ["plan", "run.yaml"],
         cfg(method={"kind": "full", "quant_bits": 4}), 2,
         ["quant_bits=4", "only applies to kind: qlora", "method.kind=qlora"]),
    Case("validation-split-and-path", "config", ["plan", "run.yaml"],
         cfg(data={"sequences": 10, "validation": {"split": 0.1, "path": "v.jsonl"}}), 2,
         ["data.validation", "either split or path"]),
    Case("two-documents", "config", ["plan", "run.yaml"],
         text("run.yaml", "name: a\n---\nname: b\n"), 2, ["run.yaml", "not valid yaml", "line"]),
    Case("tab-indent", "config", ["plan", "run.yaml"],
         text("run.yaml", "train:\n\tlr: 0.1\n"), 2, ["run.yaml", "not valid yaml", "line 2"]),
    Case("source-weight-zero", "config", ["plan", "run.yaml"],
         cfg(data={"train": [{"path": "a.jsonl", "weight": 0}]}), 2,
         ["data.train.0.weight", "positive number", "normalised"]),
    Case("sequences-but-missing-data", "config", ["run", "run.yaml", "--detach"],
         cfg(data={"sequences": 10, "train": [{"path": "missing.jsonl"}]}), 2,
         ["data.train", "missing.jsonl", "no such file"], forbid=["started"]),
    # ------------------------------------------------------------------ data
    Case("inspect-missing", "data", ["data", "inspect", "gone.jsonl"], None, 2,
         ["gone.jsonl", "no such file", "check the path"]),
    Case("inspect-bad-jsonl", "data", ["data", "inspect", "bad.jsonl"],
         text("bad.jsonl", '{"text": "x"}\n{oops\n'), 2, ["bad.jsonl", "line 2"]),
    Case("inspect-csv-no-column", "data", ["data", "inspect", "t.csv"], text("t.csv", "title\nx\n"),
         2, ["t.csv", "columns found: 'title'"]),
    Case("inspect-latin1", "data", ["data", "inspect", "l.txt"], text("l.txt", b"d\xe9j\xe0 vu"), 2,
         ["l.txt", "byte 1 (0xe9)", "--encoding"]),
    Case("inspect-empty-folder", "data", ["data", "inspect", "empty"],
         lambda w: (w.d / "empty").mkdir(), 2, ["empty", "holds no data files", "put .txt"]),
    Case("inspect-nothing", "data", ["data", "inspect"], None, 2,
         ["path", "no data given", "ftwizard data inspect my.jsonl"]),
    Case("inspect-negative-weight", "data", ["data", "inspect", "a.jsonl:-1"],
         text("a.jsonl", jsonl(ROWS)), 2, ["data.train", "'-1'", "positive number"]),
    Case("inspect-val-both", "data",
         ["data", "inspect", "a.jsonl", "--val-split", "0.1", "--val", "a.jsonl"],
         text("a.jsonl", jsonl(ROWS)), 2, ["--val", "not both"]),
    Case("convert-over-input", "data", ["data", "convert", "a.jsonl", "--out", "a.jsonl"],
         text("a.jsonl", jsonl(ROWS)), 2, ["a.jsonl", "is one of the sources", "--out",
                                          "a.converted.jsonl"]),
    Case("convert-over-input-symlink", "data", ["data", "convert", "a.jsonl", "--out", "l.jsonl"],
         both(text("a.jsonl", jsonl(ROWS)), lambda w: (w.d / "l.jsonl").symlink_to(w.d / "a.jsonl")),
         2, ["a.jsonl", "is one of the sources", "through", "l.jsonl"]),
    Case("convert-over-input-hardlink", "data", ["data", "convert", "a.jsonl", "--out", "h.jsonl"],
         both(text("a.jsonl", jsonl(ROWS)),
              lambda w: __import__("os").link(w.d / "a.jsonl", w.d / "h.jsonl")),
         2, ["is one of the sources", "h.jsonl", "fix:"]),
    Case("convert-val-over-input", "data",
         ["data", "convert", "a.jsonl", "--out", "n.jsonl", "--val-split", "0.2", "--val-out",
          "a.jsonl"], text("a.jsonl", jsonl(ROWS)), 2, ["--val-out", "is one of the sources"]),
    Case("convert-bad-extension", "data", ["data", "convert", "a.jsonl", "--out", "a.txt"],
         text("a.jsonl", jsonl(ROWS)), 2, ["--out", ".txt", "end --out with .csv, .tsv or .jsonl"]),
    Case("convert-out-under-a-file", "data", ["data", "convert", "a.jsonl", "--out", "f/o.jsonl"],
         both(text("a.jsonl", jsonl(ROWS)), text("f", "i am a file")), 2,
         ["cannot write", "o.jsonl", "f is a file where a folder is needed"]),
    Case("convert-all-empty", "data", ["data", "convert", "e.jsonl", "--out", "o.jsonl"],
         text("e.jsonl", jsonl([{"text": ""}, {"text": "  "}])), 2,
         ["sources", "nothing to write", "check the paths"]),
    Case("convert-chat-to-csv", "data", ["data", "convert", "c.jsonl", "--out", "o.csv"],
         text("c.jsonl", jsonl([{"messages": [{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": "yo"}]}])), 2,
         ["o.csv", "one shape", "write .jsonl instead"]),
    Case("plan-data-missing", "data", ["plan", "run.yaml"],
         cfg(data={"train": [{"path": "nowhere.jsonl"}], "sequences": None}), 2,
         ["nowhere.jsonl", "no such file", "check the path"]),
    Case("plan-data-garbled", "data", ["plan", "run.yaml"],
         both(text("g.jsonl", GARBLE), cfg(data={"train": [{"path": "g.jsonl"}], "block_size": 64})),
         2, ["g.jsonl"]),
    # ------------------------------------------------------------------ model
    Case("model-typo", "model", ["plan", "run.yaml"], cfg(model={"name": "gtp2"}), 2,
         ["gtp2", "did you mean"]),
    Case("model-folder-no-config", "model", ["plan", "run.yaml"],
         both(text("m/readme.txt", "x"), lambda w: w.config(model={"name": str(w.d / "m")})), 2,
         ["config.json"]),
    Case("model-folder-garbled-config", "model", ["plan", "run.yaml"],
         both(text("m/config.json", GARBLE), lambda w: w.config(model={"name": str(w.d / "m")})), 2,
         ["config.json"]),
    Case("model-folder-without-weights", "model", ["run", "run.yaml", "--dry-run"],
         folder_without_weights, 2, ["model.name", "no weights", "fix:"]),
    Case("pad-token-outside-vocab", "model", ["run", "run.yaml", "--dry-run"],
         cfg(model={"name": "gpt2", "pad_token_id": 99999999}), 2,
         ["model.pad_token_id", "99999999", "vocabulary", "fix:"]),
    Case("block-beyond-positions", "model", ["run", "run.yaml", "--dry-run"], model_positions, 2,
         ["data.block_size", "4096", "128 positions", "fix:"]),
    Case("model-empty-name", "model", ["plan", "run.yaml"], cfg(model={"name": ""}), 2,
         ["model.name", "fix:"]),
    Case("model-config-without-type", "model", ["plan", "run.yaml"],
         both(text("m/config.json", json.dumps({"hidden_size": 8})),
              lambda w: w.config(model={"name": str(w.d / "m")})), 2, ["config.json", "fix:"]),
    Case("target-unknown", "model", ["plan", "run.yaml", "--target", "RTX 9999"], cfg(), 2,
         ["RTX 9999", "fix:"]),
    # ------------------------------------------------------------------ runs
    Case("attach-unknown", "runs", ["attach", "nosuch"], finished("nosucj"), 2,
         ["nosuch", "no run named", "did you mean 'nosucj'"]),
    Case("resume-unknown", "runs", ["resume", "ghost"], None, 2,
         ["ghost", "no run named", "ftwizard runs"]),
    Case("stop-unknown", "runs", ["stop", "ghost"], None, 2, ["ghost", "no run named"]),
    Case("resume-never-started", "runs", ["resume", "runs/dry"],
         lambda w: (w.d / "runs" / "dry").mkdir(parents=True) or
         (w.d / "runs" / "dry" / "config.yaml").write_text("name: dry\n"), 2,
         ["dry", "never started", "ftwizard run"]),
    Case("resume-and-overwrite", "runs", ["run", "run.yaml", "--resume", "--overwrite"], cfg(), 2,
         ["--resume", "contradict"]),
    Case("bad-run-name", "runs", ["run", "run.yaml", "--dry-run", "--name", "a/b"], cfg(), 2,
         ["--name", "a/b", "cannot be a run name"]),
    Case("name-taken-by-other-folder", "runs", ["run", "run.yaml", "--dry-run"],
         both(cfg(), text("runs/base/notes.txt", "mine")), 2,
         ["runs/base", "not a run dir", "another --name"]),
    Case("name-taken-by-finished-run", "runs", ["run", "run.yaml", "--dry-run", "--name", "done"],
         both(cfg(), finished()), 2, ["already holds a run", "finished", "ftwizard resume done"]),
    Case("resume-flag-nothing-there", "runs", ["run", "run.yaml", "--resume", "--name", "nope"],
         cfg(), 2, ["nothing to resume", "nope", "without --resume"]),
    Case("resume-finished-run", "runs", ["resume", "done", "--detach"], finished(), 2,
         ["done", "has finished", "final", "train.max_steps"]),
    Case("runs-dir-missing", "runs", ["runs", "--dir", "nowhere"], None, 0, ["no runs yet"]),
    Case("run-unknown-flag", "runs", ["run", "run.yaml", "--detatch"], cfg(), 2,
         ["--detatch", "no such option"]),
    # ------------------------------------------------------------------ disk
    Case("output-dir-under-a-file", "disk", ["run", "run.yaml", "--dry-run"],
         both(text("blocker", "a file"), cfg(output={"dir": "blocker/runs"})), 2,
         ["blocker", "fix:"]),
    Case("output-dir-read-only", "disk", ["run", "run.yaml", "--dry-run"], read_only_mount, 2,
         ["read-only", "fix:"]),
    Case("dry-run-disk-full", "disk", ["run", "run.yaml", "--dry-run"], cfg(), 3,
         ["file too large", "config.yaml", "fix: free space"], fsize=0),
    Case("convert-disk-full-keeps-old-output", "disk",
         ["data", "convert", "big.jsonl", "--out", "old.jsonl"],
         both(text("big.jsonl", jsonl([{"text": "x" * 2000}] * 40)), text("old.jsonl", "old\n")), 3,
         ["old.jsonl", "file too large", "nothing was changed"], fsize=16384),
    Case("resume-disk-full", "disk", ["resume", "half", "--detach"], stopped(), 3,
         ["file too large", "half/status.json", "free space"], fsize=0),
    Case("runs-dir-is-a-file", "disk", ["run", "run.yaml", "--dry-run"],
         both(cfg(), text("runs", "not a folder")), 2, ["runs", "fix:"]),
    Case("cache-dir-is-a-file-inspect", "disk", ["data", "inspect", "a.jsonl", "--json"],
         both(text("a.jsonl", jsonl(ROWS)), text("cache", "a file", home=True)), 0,
         ["cache", "cannot be created", '"examples": 10']),
    Case("cache-dir-is-a-file-plan", "disk", ["plan", "run.yaml"],
         both(cfg(), text("cache", "a file", home=True)), 0, ["fits", "total steps"]),
    Case("convert-disk-full-new-output", "disk", ["data", "convert", "big.jsonl", "--out", "n.csv"],
         text("big.jsonl", jsonl([{"text": "y" * 2000}] * 40)), 3,
         ["n.csv", "file too large", "free some disk space"], fsize=16384,
         forbid=["n.csv.tmp"]),
    Case("calibration-clear-folder", "disk", ["calibration", "clear", "--yes"],
         lambda w: (w.home / "data" / "calibration.jsonl").mkdir(parents=True), 2,
         ["calibration.jsonl", "is a folder", "move or delete"]),
    # ------------------------------------------------------------------ terminal
    Case("wizard-without-terminal", "terminal", [], None, 2, ["terminal", "ftwizard plan"]),
    Case("edit-without-terminal", "terminal", ["edit", "run.yaml"], cfg(), 2, ["terminal"]),
    Case("unknown-command", "terminal", ["trian"], None, 2, ["no such command", "trian"]),
    Case("missing-argument", "terminal", ["run"], None, 2, ["missing argument", "FILE"]),
    # ------------------------------------------------------------------ local state
    Case("runs-index-garbled", "state", ["runs"],
         both(finished(), lambda w: open(w.home / "data" / "runs.txt", "ab").write(GARBLE)), 0,
         ["runs.txt", "not text", "delete the bad lines", "done"]),
    Case("runs-index-garbled-new-run", "state", ["run", "run.yaml", "--dry-run"],
         both(cfg(), text("data/runs.txt", GARBLE, home=True)), 0,
         ["runs.txt", "dry run: nothing started"], may_change=["home/data/runs.txt"]),
    Case("runs-index-garbled-attach", "state", ["attach", "done", "--plain"],
         both(finished(), lambda w: open(w.home / "data" / "runs.txt", "ab").write(GARBLE)), 0,
         ["runs.txt", "end: finished"]),
    Case("runs-index-a-folder", "state", ["runs"],
         lambda w: (w.home / "data" / "runs.txt").mkdir(parents=True), 0,
         ["runs.txt", "is a folder", "no runs yet"]),
    Case("runs-index-stale-path", "state", ["runs"],
         text("data/runs.txt", "/no/such/run/dir\n", home=True), 0, ["no runs yet"]),
    Case("data-dir-is-a-file", "state", ["runs"], text("data", "a file", home=True), 0,
         ["data", "cannot be created", "ftwizard_home"]),
    Case("calibration-garbled", "state", ["calibration", "list"],
         text("data/calibration.jsonl", GARBLE, home=True), 0,
         ["calibration.jsonl", "not measurements", "ftwizard calibration clear"]),
    Case("calibration-wrong-types", "state", ["calibration", "list"],
         text("data/calibration.jsonl", jsonl([{"time": "yesterday", "config": "x",
                                                "status": "ok", "ratio": "big"}]), home=True), 0,
         ["calibration.jsonl", "1 line(s)", "line 1", "no measurements yet"]),
    Case("calibration-garbled-plan", "state", ["plan", "run.yaml"],
         both(cfg(), text("data/calibration.jsonl", GARBLE, home=True)), 0,
         ["calibration.jsonl", "not measurements", "fits"]),
    Case("calibration-folder-list", "state", ["calibration", "list"],
         lambda w: (w.home / "data" / "calibration.jsonl").mkdir(parents=True), 0,
         ["calibration.jsonl", "is a folder"]),
    Case("status-garbled-runs", "state", ["runs"],
         both(finished(), lambda w: (w.d / "runs/done/status.json").write_bytes(b'{"state": "fin')),
         0, ["status.json", "not valid json", "rm ", "done │ finished", "end event"]),
    Case("status-garbled-attach", "state", ["attach", "done", "--plain"],
         both(finished(), lambda w: (w.d / "runs/done/status.json").write_bytes(GARBLE)), 0,
         ["status.json", "not text", "rm ", "end: finished"]),
    Case("status-garbled-not-reused", "state", ["run", "run.yaml", "--dry-run", "--name", "done"],
         both(cfg(), finished(), lambda w: (w.d / "runs/done/status.json").write_bytes(b"")), 2,
         ["status.json", "already holds a run"]),
    Case("status-a-list", "state", ["runs"],
         both(finished(), lambda w: (w.d / "runs/done/status.json").write_text("[1, 2]")), 0,
         ["status.json", "json list, not an object"]),
    Case("status-a-folder", "state", ["runs"],
         both(finished(), lambda w: ((w.d / "runs/done/status.json").unlink(),
                                     (w.d / "runs/done/status.json").mkdir())), 0,
         ["status.json", "is a folder"]),
    Case("process-garbled", "state", ["runs"],
         both(finished(), lambda w: (w.d / "runs/done/process.json").write_bytes(b"{{{")), 0,
         ["process.json", "not valid json", "done"]),
    Case("process-garbled-stop", "state", ["stop", "done"],
         both(finished(), lambda w: (w.d / "runs/done/process.json").write_bytes(GARBLE)), 0,
         ["process.json", "is not running"]),
    Case("events-garbled-attach", "state", ["attach", "done", "--plain"],
         both(finished(), lambda w: open(w.d / "runs/done/events.jsonl", "ab").write(GARBLE + b"\n")),
         0, ["end: finished"]),
]


def _param(c: Case):  # noqa: ANN202
    marks = [pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else []
    return pytest.param(c, id=f"{c.category}-{c.id}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_catalogue(case: Case, tmp_path: Path) -> None:
    try:
        run_case(case, tmp_path)
    finally:
        ro = tmp_path / "work" / "ro"
        if case.setup is read_only_mount and ro.is_mount():
            import subprocess

            subprocess.run(["umount", str(ro)], check=False)


def test_catalogue_size_and_spread() -> None:
    """The issue asks for at least 60 rows across these categories; xfails stay few."""
    cats = {c.category for c in CASES}
    assert len(CASES) >= 60
    assert cats == {"config", "data", "model", "runs", "disk", "terminal", "state"}
    assert len({c.id for c in CASES}) == len(CASES)
    assert sum(1 for c in CASES if c.xfail) <= 10
