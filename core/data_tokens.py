"""Tokenizers for counting and preparing data, loaded from local files only.

Two kinds are accepted everywhere: a transformers tokenizer (what the backend trains with) and a
:class:`LightTokenizer`, the same `tokenizer.json` driven by the `tokenizers` library directly.
The light one exists because `from transformers import AutoTokenizer` costs ~7 s here (it pulls
in torch), which alone would break the "inspect 50 MB in under 10 s" goal and make the wizard
sluggish; it reads the same tokenizer.json and the same special tokens, and a test checks that both
give identical ids on the tiny models.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ftwizard.core.errors import InputError

# Used when no tokenizer is at hand: English text runs ~3.5-4.5 characters per token with the BPE
# vocabularies of GPT-2/Llama/Qwen; code and non-Latin scripts run lower. The bound is honest for
# English prose, loose for the rest, and the stats say so.
APPROX_CHARS_PER_TOKEN = 4.0
APPROX_ERROR = 0.30

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def tokenizer_folder(model: Any) -> Path | None:
    """The local folder holding the tokenizer of a ModelSection (its `tokenizer` key first), or
    None when there is none on this machine (a catalog id not in the HF cache)."""
    from ftwizard.core.models import local_path

    name = getattr(model, "tokenizer", None) or getattr(model, "name", None) or str(model)
    p = Path(name).expanduser()
    if p.is_dir() and any((p / f).is_file() for f in _TOKENIZER_FILES):
        return p
    try:
        folder = local_path(name)
    except Exception:  # noqa: BLE001 - a broken cache entry means "not here", not a crash
        folder = None
    if folder is not None and any((Path(folder) / f).is_file() for f in _TOKENIZER_FILES):
        return Path(folder)
    return None


def no_tokenizer_fix(name: str) -> str:
    return (f"for exact counts put {name} in the Hugging Face cache (`hf download {name}` on a "
            "connected machine), or set model.tokenizer to a local folder with its tokenizer "
            "files (`ftwizard data inspect` takes it as --model PATH)")


def load_tokenizer(model: Any, *, light: bool = False) -> Any:
    """The model's tokenizer from local files (never the network).

    `light=True` returns a :class:`LightTokenizer` when the folder has a tokenizer.json (counting
    only needs ids); otherwise, and for training, a transformers AutoTokenizer.
    """
    name = getattr(model, "tokenizer", None) or getattr(model, "name", None) or str(model)
    folder = tokenizer_folder(model)
    if folder is None:
        raise InputError(f"no local tokenizer for {name!r}", field="model.name", value=name,
                         fix=no_tokenizer_fix(name))
    if light and (folder / "tokenizer.json").is_file():
        return LightTokenizer(folder)
    from transformers import AutoTokenizer  # ~7 s here: pulls in torch

    try:
        return AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=bool(getattr(model, "trust_remote_code", False)))
    except Exception as err:  # noqa: BLE001 - many loaders, many error types
        raise InputError(f"cannot load the tokenizer in {folder}: {err}", field="model.name",
                         value=name, fix="check the folder's tokenizer files") from None


class LightTokenizer:
    """tokenizer.json + tokenizer_config.json through the `tokenizers` library (~0.2 s to load).

    Offers the few attributes ftwizard's data code uses: name_or_path, eos/bos/pad token ids,
    chat_template, apply_chat_template(tokenize=False), len(), and batch encoding.
    """

    def __init__(self, folder: str | Path) -> None:
        from tokenizers import Tokenizer  # ~50 ms

        self.folder = Path(folder)
        self.name_or_path = str(folder)
        self._tok = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        cfg = _read_json(self.folder / "tokenizer_config.json")
        smap = _read_json(self.folder / "special_tokens_map.json")
        mcfg = _read_json(self.folder / "config.json")

        def token(key: str) -> str | None:
            v = cfg.get(key, smap.get(key))
            if isinstance(v, dict):
                v = v.get("content")
            return v if isinstance(v, str) else None

        self.eos_token, self.bos_token, self.pad_token = (token("eos_token"), token("bos_token"),
                                                          token("pad_token"))
        self.eos_token_id = self._id(self.eos_token, mcfg.get("eos_token_id"))
        self.bos_token_id = self._id(self.bos_token, mcfg.get("bos_token_id"))
        self.pad_token_id = self._id(self.pad_token, None)
        tmpl = cfg.get("chat_template")
        jinja = self.folder / "chat_template.jinja"
        if tmpl is None and jinja.is_file():
            tmpl = jinja.read_text(encoding="utf-8")
        if isinstance(tmpl, list):  # [{name, template}, ...]: the default one
            tmpl = next((t.get("template") for t in tmpl if t.get("name") == "default"), None)
        self.chat_template = tmpl

    def _id(self, tok: str | None, fallback: Any) -> int | None:
        if tok is not None:
            i = self._tok.token_to_id(tok)
            if i is not None:
                return i
        if isinstance(fallback, list):
            fallback = fallback[0] if fallback else None
        return fallback if isinstance(fallback, int) else None

    def __len__(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: list[str], add_special_tokens: bool) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(texts, add_special_tokens=add_special_tokens)]

    def encode_offsets(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        """(ids, character span of each token) without special tokens added."""
        return [(e.ids, list(e.offsets))
                for e in self._tok.encode_batch(texts, add_special_tokens=False)]

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [self._tok.id_to_token(i) or "" for i in ids]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: list[dict], tokenize: bool = False,
                            add_generation_prompt: bool = False, tools: list[dict] | None = None,
                            **_: Any) -> str:
        """Renders like transformers does (sandboxed jinja2, trim_blocks, lstrip_blocks)."""
        if not self.chat_template:
            raise ValueError("no chat template")
        compiled = getattr(self, "_compiled", None)
        if compiled is None or compiled[0] != self.chat_template:
            # Compiled once per template: the per-turn masks render each chat once per reply.
            from jinja2.sandbox import ImmutableSandboxedEnvironment  # ~30 ms

            def raise_exception(msg: str) -> None:
                raise ValueError(msg)

            def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None,
                       separators: Any = None, sort_keys: bool = False) -> str:
                # transformers' own tojson: keys in their order, no HTML escaping (Jinja's sorts
                # them), so tool schemas and call arguments render as the trainer renders them.
                return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                                  separators=separators, sort_keys=sort_keys)

            def strftime_now(fmt: str) -> str:
                from datetime import datetime

                return datetime.now().strftime(fmt)

            env = ImmutableSandboxedEnvironment(
                trim_blocks=True, lstrip_blocks=True,
                extensions=[_generation_extension(), "jinja2.ext.loopcontrols"])
            env.globals["raise_exception"] = raise_exception
            env.globals["strftime_now"] = strftime_now
            env.filters["tojson"] = tojson
            compiled = self._compiled = (self.chat_template, env.from_string(self.chat_template))
        return compiled[1].render(
            messages=messages, add_generation_prompt=add_generation_prompt, tools=tools,
            bos_token=self.bos_token or "", eos_token=self.eos_token or "")


def _generation_extension() -> Any:
    """`{% generation %}...{% endgeneration %}` (transformers' assistant-mask markers) rendered
    as their body, so a marked template renders here exactly as in transformers."""
    from jinja2.ext import Extension

    class Generation(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    return Generation


GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


def _read_json(p: Path) -> dict:
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class Encoder:
    """One interface over a transformers tokenizer or a LightTokenizer, with the pad rule applied."""

    def __init__(self, tok: Any, pad_token_id: int | None = None,
                 chat_template: str | None = None) -> None:
        """`chat_template` (data.chat_template: a name or a .jinja path) replaces the tokenizer's
        own, on the tokenizer itself: the backend saves that tokenizer with the model."""
        if chat_template:
            from ftwizard.core.chat_templates import resolve

            tok.chat_template = resolve(chat_template)
        self.tok = tok
        self.name = str(getattr(tok, "name_or_path", "") or type(tok).__name__)
        self.vocab = len(tok)
        eos = getattr(tok, "eos_token_id", None)
        if eos is None:
            raise InputError(f"tokenizer {self.name} has no EOS token", field="model.tokenizer",
                             value=self.name, fix="use a tokenizer with an eos_token (every "
                             "causal LM has one); examples are separated by it")
        self.eos = int(eos)
        pad = getattr(tok, "pad_token_id", None)
        self.pad = int(pad if pad is not None else pad_token_id if pad_token_id is not None else eos)
        self._light = isinstance(tok, LightTokenizer)

    def encode(self, texts: list[str], special: bool) -> list[list[int]]:
        if not texts:
            return []
        if self._light:
            return self.tok.encode_batch(texts, add_special_tokens=special)
        # verbose=False: long documents are expected here (they are cut into blocks later), so
        # transformers' "longer than the maximum sequence length" warning would only mislead.
        return list(self.tok(texts, add_special_tokens=special, verbose=False)["input_ids"])

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = False,
                    where: str = "", tools: list[dict] | None = None) -> str:
        if not getattr(self.tok, "chat_template", None):
            raise InputError(f"the data has chat 'messages' but tokenizer {self.name} has no chat "
                             "template", field="data.train", value=self.name,
                             fix="use the model's instruct/chat tokenizer (model.tokenizer), set "
                                 "data.chat_template (chatml, llama-3, mistral, qwen, gemma), or "
                                 "convert the data to prompt/completion or text")
        try:
            return self.tok.apply_chat_template(messages, tokenize=False, tools=tools or None,
                                                add_generation_prompt=add_generation_prompt)
        except InputError:
            raise
        except Exception as err:  # noqa: BLE001 - template errors come as many types
            at = f"{where}: " if where else ""
            raise InputError(f"{at}the chat template of {self.name} cannot render this "
                             f"conversation: {err}", field="messages", value=where or self.name,
                             fix="check the roles in that record, or choose another template "
                                 "(data.chat_template)") from None

    def encode_offsets(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]
                                                        | tuple[list[int], None]]:
        """(ids, character span of each token) of texts without special tokens added; the
        spans are None for a slow tokenizer (no offsets): the caller falls back to token
        prefixes."""
        if not texts:
            return []
        if self._light:
            return self.tok.encode_offsets(texts)
        if getattr(self.tok, "is_fast", False):
            enc = self.tok(texts, add_special_tokens=False, return_offsets_mapping=True,
                           verbose=False)
            return [(list(i), [tuple(o) for o in off])
                    for i, off in zip(enc["input_ids"], enc["offset_mapping"])]
        return [(ids, None) for ids in self.encode(texts, False)]

    def hf_assistant_mask(self, messages: list[dict], tools: list[dict] | None = None
                          ) -> tuple[list[int], list[int]] | None:
        """(ids, 0/1 per token) from transformers' return_assistant_tokens_mask, when this is a
        transformers tokenizer whose template marks replies with {% generation %}; else None."""
        tmpl = getattr(self.tok, "chat_template", None)
        if self._light or not isinstance(tmpl, str) or not GENERATION_TAG.search(tmpl):
            return None
        out = self.tok.apply_chat_template(messages, tokenize=True, return_dict=True,
                                           tools=tools or None, return_assistant_tokens_mask=True)
        return list(out["input_ids"]), list(out["assistant_masks"])

    def tokens(self, ids: list[int]) -> list[str]:
        """The text of each token (for the preview), decoded one by one."""
        return [self.tok.decode([i], skip_special_tokens=False) for i in ids]
