"""The planning session: config + hardware + model spec + data stats -> Plan, cached by the inputs.

The wizard, plain mode, `ftwizard plan` and `ftwizard run` all plan through a Session, so the
same answers give the same steps, time and verdict wherever they are typed. Before this module
each front end gathered the plan's inputs its own way (plain mode never counted the data, so its
time line read "~0 s"), and the differences were the bugs.

A plan needs four inputs; each has one way in here and one cache:

- hardware: the machine detected once per session (`detect()`), or a catalog target;
- the model spec: a catalog entry (instant), or a folder / the HF cache (read once per name);
- data stats: the data counted with the model's tokenizer when it is at hand, approximately
  otherwise (data_stats also caches on disk, by content); `data.sequences` when the data is not
  here;
- the config itself.

Front ends that must not block (the wizard) ask for what is already known (`known_spec`,
`known_data`) and run the slow parts (`detect`, `resolve_spec`, `count_data`) in their own
workers; front ends that may block (plain mode, the CLI) call `plan_for(cfg)`, which does it all.
The arithmetic itself is core.plan.make_plan; this module only decides what goes into it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftwizard.core.config import PAIRED_OBJECTIVES, RunConfig
from ftwizard.core.errors import InputError

GIB = 1024**3
_PLAN_CACHE = 64


@dataclass
class DataResult:
    """What counting the data gave: stats (None when planning with data.sequences), or an error."""

    stats: Any = None                  # core.data.DataStats
    error: InputError | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def sequences(self) -> int | None:
        return self.stats.sequences if self.stats is not None else None


@dataclass
class PreviewResult:
    """One example as the model sees it (core.data_preview.PreviewExample), or why there is none:
    a note (no local tokenizer, no example) or an error (a bad record, an unknown template)."""

    example: Any = None
    note: str | None = None
    error: InputError | None = None
    rest: tuple = ()   # a pair's other sequence (prompt + rejected) after the first (chosen)


def preview_key(cfg: RunConfig) -> str:
    """Everything the first example's tokens and mask depend on."""
    d = cfg.data
    return json.dumps([[s.model_dump(mode="json") for s in d.train], d.mode, d.block_size,
                       d.train_on, d.mask_prompt, d.chat_template, d.packing, cfg.model.name,
                       cfg.model.tokenizer, cfg.model.pad_token_id, cfg.train.objective,
                       cfg.train.preference.truncation], sort_keys=True)


def data_key(cfg: RunConfig) -> str:
    """Everything the data count depends on (not data.sequences: that is the fallback)."""
    d = cfg.data.model_dump(mode="json")
    d.pop("sequences", None)
    key = [d, cfg.model.name, cfg.model.tokenizer, cfg.model.pad_token_id, cfg.train.seed]
    if cfg.train.objective != "sft":  # preference data: rows counted as its TRL trainer counts
        key.append([cfg.train.objective, cfg.train.preference.truncation])
    return json.dumps(key, sort_keys=True)


def sequence_tokens(stats: Any) -> float | None:
    """The data's mean tokens per sequence the trainer runs, for the plan's time (memory stays at
    data.block_size, the worst case): a pair's two sequences (prompt + chosen, prompt + rejected)
    or a kto completion, each cut at block_size (core/data_stats.py). None for sft, whose
    sequences are block_size long, and when the data was not counted."""
    objective = getattr(stats, "objective", "sft")
    if objective in PAIRED_OBJECTIVES:
        mean = (stats.chosen_tokens_mean + stats.rejected_tokens_mean) / 2
    elif objective == "kto":
        mean = stats.completion_tokens_mean
    else:
        return None
    return mean or None


def missing_data(cfg: RunConfig) -> list[str]:
    """Training (and validation) paths that are not on this machine (hf: sources are looked up
    when read)."""
    paths = [s.path for s in cfg.data.train]
    if cfg.data.validation is not None and cfg.data.validation.path:
        paths.append(cfg.data.validation.path)
    return [p for p in paths if not p.startswith("hf:") and not Path(p).expanduser().exists()]


def with_settings(hw: Any, cfg: RunConfig) -> Any:
    """Detected hardware as the config plans it: its node count and, when given, its host RAM."""
    nodes = cfg.hardware.nodes
    ram = cfg.hardware.host_ram_gib
    if nodes == hw.nodes and ram is None:
        return hw
    changes: dict[str, Any] = {"nodes": nodes}
    if ram is not None:
        changes["ram_total"] = int(ram * GIB)
    return replace(hw, **changes)


class Session:
    """One user's planning state: the detected machine and caches of specs, data and plans.

    Thread-safe for the wizard's pattern (workers fill caches, the UI thread reads them).
    """

    def __init__(self, detected: Any = None, *, fetch_configs: bool = False) -> None:
        self.detected = detected          # core.hardware.Hardware of this machine, once known
        # A command that plans a hub id the user named (`ftwizard plan`, `run`) may fetch that
        # model's config.json (1 KB, cached); the wizard's keystrokes never download.
        self.fetch_configs = fetch_configs
        self.detect_error: str | None = None
        self._specs: dict[tuple[str, bool], Any] = {}          # -> ModelSpec | InputError
        self._data: dict[str, DataResult] = {}
        self._previews: dict[str, PreviewResult] = {}
        self._tokenizers: dict[str, Any] = {}   # folder -> light tokenizer (for the preview)
        self._plans: OrderedDict[tuple, tuple[Any, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._settled: dict[tuple, Any] = {}   # (detected id, nodes, RAM) -> that Hardware

    # ------------------------------------------------------------ hardware

    def detect(self) -> Any:
        """This machine (NVML, probes in child processes; never torch). Blocking; once."""
        if self.detected is None:
            from ftwizard.core import hardware

            self.detected = hardware.detect()
        return self.detected

    def hardware(self, cfg: RunConfig, *, block: bool = True) -> Any:
        """The hardware `cfg` is planned for; None when it is this machine and `block` is False
        and detection has not finished. InputError for an unknown target."""
        if str(cfg.hardware.target).strip().lower() in ("", "auto"):
            hw = self.detected if not block else self.detect()
            if hw is None:
                return None
            key = (id(hw), cfg.hardware.nodes, cfg.hardware.host_ram_gib)
            found = self._settled.get(key)
            if found is None or found[0] is not hw:   # one object per setting: plans stay cached
                found = self._settled[key] = (hw, with_settings(hw, cfg))
            return found[1]
        from ftwizard.core.plan import hardware_for

        return hardware_for(cfg.hardware.target, cfg.hardware.nodes, cfg.hardware.host_ram_gib)

    # ------------------------------------------------------------ the model

    def known_spec(self, cfg: RunConfig) -> Any:
        """The ModelSpec (or the InputError that reading it gave) without blocking: catalog ids
        resolve at once (a JSON lookup); a folder or cache entry only once resolve_spec read it.
        None: not read yet."""
        key = (cfg.model.name, cfg.model.trust_remote_code)
        if key in self._specs:
            return self._specs[key]
        from ftwizard.core.models import catalog_id

        if catalog_id(cfg.model.name) is None:
            return None
        return self.resolve_spec(cfg)

    def resolve_spec(self, cfg: RunConfig) -> Any:
        """Read the model's config (a folder may build it on the meta device: seconds). Returns
        the spec or the InputError, cached either way."""
        from ftwizard.core.plan import model_for

        key = (cfg.model.name, cfg.model.trust_remote_code)
        try:
            spec: Any = model_for(*key)
        except InputError as err:
            spec = self._fetched_spec(key, err)
        except Exception as err:  # noqa: BLE001 - a broken folder is the user's input, in words
            spec = InputError(f"cannot read the model: {type(err).__name__}: {err}",
                              field="model.name", value=key[0],
                              fix="check the folder's config.json, or pick a catalog model")
        with self._lock:
            self._specs[key] = spec
        return spec

    def _fetched_spec(self, key: tuple[str, bool], err: InputError) -> Any:
        """An unknown hub id, planned by a command: fetch its config.json and read it; offline
        or refused, the Hub's own message (it says plainly why) replaces the lookup error."""
        from ftwizard.core import hub

        name = key[0]
        if not self.fetch_configs or err.field != "model.name" or not hub.REPO_ID.match(name) \
                or _looks_local(name):
            return err
        from ftwizard.core.plan import model_for

        try:
            hub.fetch_config(name)
            return model_for(*key)
        except InputError as fetch_err:
            return InputError(f"{name!r} is not in the catalog nor the local cache, and fetching "
                              f"its config.json failed: {fetch_err.message}", field="model.name",
                              value=name, fix=fetch_err.fix)

    # ------------------------------------------------------------ the data

    def known_data(self, cfg: RunConfig) -> DataResult | None:
        """The data's count if already known (None: count_data has not run for these inputs)."""
        if not cfg.data.train:
            return DataResult()
        return self._data.get(data_key(cfg))

    def count_data(self, cfg: RunConfig, *, progress: Callable[[float], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> DataResult:
        """Count the training sequences (blocking; the wizard runs it in a worker).

        The tokenizer is the model's own when it is on this machine (its tokenizer.json through
        the light `tokenizers` reader, else transformers); without it, tokens are estimated from
        characters with a stated bound. Data that is not here falls back to data.sequences when
        set, and is otherwise an error naming the file. Cancelled propagates (nothing cached).
        """
        key = data_key(cfg)
        if not cfg.data.train:
            return DataResult()
        found = self._data.get(key)
        if found is not None:
            return found
        result = self._count(cfg, progress, cancel)
        with self._lock:
            self._data[key] = result
        return result

    def _count(self, cfg: RunConfig, progress: Callable[[float], None] | None,
               cancel: Callable[[], bool] | None) -> DataResult:
        from ftwizard.core import data

        notes: list[str] = []
        missing = missing_data(cfg)
        if missing:
            if cfg.data.sequences:
                return DataResult(notes=[f"data not found here ({', '.join(missing)}): planning "
                                         f"with data.sequences={cfg.data.sequences}"])
            return DataResult(error=InputError(
                f"{missing[0]}: no such file or folder", field="data.train", value=missing[0],
                fix="check the path (relative paths start from the current folder), or set "
                    "data.sequences to plan without the data"))
        try:
            tok = None
            if data.tokenizer_folder(cfg.model) is not None:
                tok = data.load_tokenizer(cfg.model, light=True)
            else:
                name = cfg.model.tokenizer or cfg.model.name
                notes.append(f"no local tokenizer for {name}: token counts estimated from "
                             f"characters; {data.no_tokenizer_fix(name)}")
            stats = data.inspect(cfg.data, tok, seed=cfg.train.seed,
                                 pad_token_id=cfg.model.pad_token_id, progress=progress,
                                 cancel=cancel, train=cfg.train)
        except data.Cancelled:
            raise
        except InputError as err:
            return DataResult(error=err)
        except Exception as err:  # noqa: BLE001 - unreadable data is bad input, said in words
            return DataResult(error=InputError(f"cannot read the data: {type(err).__name__}: {err}",
                                               field="data.train", value=cfg.data.train[0].path,
                                               fix="check the file's format and text_field"))
        if not stats.tokens_exact and tok is not None:
            notes.append(f"token count sampled (+-{stats.tokens_error:.0%})")
        notes.extend(n for n in stats.notes if "padding" in n)  # with/without data.packing
        return DataResult(stats=stats, notes=notes)

    # ------------------------------------------------------------ one example, previewed

    def known_preview(self, cfg: RunConfig) -> PreviewResult | None:
        """The first example's preview if already made for these inputs."""
        return self._previews.get(preview_key(cfg))

    def preview(self, cfg: RunConfig) -> PreviewResult:
        """The first training example tokenized and masked as training does it (blocking: the
        tokenizer loads from local files; the wizard runs it in a worker). Cached by its inputs,
        the tokenizer by its folder, so editing block_size does not reload it."""
        key = preview_key(cfg)
        found = self._previews.get(key)
        if found is not None:
            return found
        result = self._preview(cfg)
        with self._lock:
            self._previews[key] = result
        return result

    def _preview(self, cfg: RunConfig) -> PreviewResult:
        from ftwizard.core import data
        from ftwizard.core.data_preview import preview

        name = cfg.model.tokenizer or cfg.model.name
        folder = data.tokenizer_folder(cfg.model)
        if folder is None:
            return PreviewResult(note=f"no local tokenizer, no token preview ({name})")
        try:
            tok = self._tokenizers.get(str(folder))
            if tok is None:
                tok = data.load_tokenizer(cfg.model, light=True)
                with self._lock:
                    self._tokenizers[str(folder)] = tok
            shown = preview(cfg, tok, 1)
        except InputError as err:
            return PreviewResult(error=err)
        except Exception as err:  # noqa: BLE001 - unreadable data is bad input, said in words
            return PreviewResult(error=InputError(
                f"cannot preview the data: {type(err).__name__}: {err}", field="data.train",
                value=cfg.data.train[0].path if cfg.data.train else None,
                fix="check the file's format and text_field"))
        if not shown:
            return PreviewResult(note="no token preview: the data holds no example")
        return PreviewResult(example=shown[0], rest=tuple(shown[1:]))

    # ------------------------------------------------------------ the plan

    def plan(self, cfg: RunConfig, hardware: Any, spec: Any, data: DataResult | None = None) -> Any:
        """core.plan.make_plan on these inputs, cached: the wizard re-plans on every keystroke and
        going back to an earlier answer is free. The data's notes join the plan's notes, and data
        that cannot be read is one of its problems (so every front end refuses to launch it)."""
        from ftwizard.core.plan import make_plan

        data = data or DataResult()
        key = (cfg.model_dump_json(), id(hardware), id(spec), data.sequences)
        hit = self._plans.get(key)
        if hit is not None and hit[0] is hardware and hit[1] is spec:
            self._plans.move_to_end(key)
            return hit[2]
        p = make_plan(cfg, hardware=hardware, spec=spec, sequences=data.sequences,
                      validation_sequences=getattr(data.stats, "validation_sequences", None),
                      sequence_tokens=sequence_tokens(data.stats))
        p.notes.extend(n for n in data.notes if n not in p.notes)
        if data.error is not None:
            p.problems.append(data.error)
        with self._lock:
            self._plans[key] = (hardware, spec, p)   # holding hw and spec keeps their ids unique
            while len(self._plans) > _PLAN_CACHE:
                self._plans.popitem(last=False)
        return p

    def forget_plans(self) -> None:
        """Drop cached plans (a probe just recorded a calibration point the next plan should use)."""
        with self._lock:
            self._plans.clear()

    def plan_for(self, cfg: RunConfig) -> Any:
        """Everything, blocking: hardware, spec, data, plan. For plain mode and the CLI.

        Raises InputError when an input cannot be had (unknown target, unreadable model); data
        that cannot be read is a problem on the plan (the CLI exits 2 on it, plain mode shows it),
        so the rest of the estimate is still there to read.
        """
        hw = self.hardware(cfg)
        spec = self.known_spec(cfg)
        if spec is None:
            spec = self.resolve_spec(cfg)
        if isinstance(spec, InputError):
            raise spec
        return self.plan(cfg, hw, spec, self.count_data(cfg))


def _looks_local(name: str) -> bool:
    """"./org/name" or an existing path is a folder the user meant, never a hub id to fetch."""
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()
