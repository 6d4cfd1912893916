"""The record formats people bring, detected per record and turned into one of three shapes.

Users arrive from LLaMA-Factory, axolotl and the OpenAI fine-tuning API with files in five
formats; each record is recognised by its fields (after the source's `columns` mapping renames
the user's names to ours):

=================  ===============================================  ===========================
format             fields                                           becomes
=================  ===============================================  ===========================
text               text_field (default `text`)                      text, trained whole
prompt/completion  prompt, completion                               prompt + completion
alpaca             instruction, output; optional input, system,     a chat: system, history
                   history ([[question, answer], ...])              turns, user, assistant
sharegpt           conversations: [{from, value}], from in human,   a chat (roles mapped to
                   user, gpt, assistant, system, tool ...)           user / assistant / ...)
messages           messages: [{role, content}], role in system,     a chat
                   user, assistant, tool
=================  ===============================================  ===========================

Function calling, as the OpenAI fine-tuning format, axolotl's chat_template type and
LLaMA-Factory's sharegpt write it, keeps its calls (:func:`tool_calls_of`, :func:`record_tools`):
an assistant turn's `tool_calls` (or the older `function_call`; LLaMA-Factory's `function_call`
role, whose value is the call as JSON) becomes `tool_calls: [{type: function, function: {name,
arguments}}]` with the arguments as an object (the form transformers' chat templates render,
`arguments | tojson`); a tool turn keeps `tool_call_id` and `name`; the record's `tools` (OpenAI
`functions`, LLaMA-Factory's JSON string of function schemas) becomes the list of
`{type: function, function: {...}}` passed as `apply_chat_template(tools=...)`. A call turn is
the model's output, so it is trained like any assistant turn; tool results are inputs, never
trained. Without this the calls were dropped and the model learnt empty assistant turns.

One file holds one format: a record that differs from its file's first record is an error that
names both lines (a stray record is most often a broken export, and mixing formats in one file
would silently change what is trained). Conversations are checked when the data is prepared
(:func:`check_chat`): empty, no assistant turn, or roles out of order is exit 2 with the file,
line and field, because a chat that cannot be masked correctly must not be trained.
"""

from __future__ import annotations

import json
from typing import Any

from ftwizard.core.errors import InputError

FORMATS = ("text", "prompt_completion", "alpaca", "sharegpt", "messages")
FORMAT_LABELS = {"text": "text", "prompt_completion": "prompt/completion", "alpaca": "alpaca",
                 "sharegpt": "ShareGPT", "messages": "OpenAI messages"}
TOP_KEYS = ("text", "prompt", "completion", "instruction", "input", "output", "system",
            "history", "conversations", "messages", "tools")
ROLES = {  # every role name found in the wild -> the chat template's role
    "system": "system", "user": "user", "human": "user", "assistant": "assistant",
    "gpt": "assistant", "model": "assistant", "bot": "assistant", "function_call": "assistant",
    "tool": "tool", "observation": "tool", "function": "tool", "ipython": "tool",
}
# Which role may follow which (system only first; a tool answers a call and is answered).
_NEXT = {None: {"system", "user"}, "system": {"user"}, "user": {"assistant"},
         "assistant": {"user", "tool"}, "tool": {"tool", "assistant"}}


def apply_columns(rec: dict, columns: dict[str, str] | None, where: str,
                  keys: tuple[str, ...] = TOP_KEYS) -> dict:
    """The record with the user's column names renamed to ours (those of `keys`: the top-level
    fields of the reader's formats); a mapped name missing from the record is an error naming the
    line and the mapping."""
    if not columns:
        return rec
    out = dict(rec)
    for ours, theirs in columns.items():
        if ours not in keys:
            continue  # role/content/from/value: inside the conversation (nested_keys)
        if theirs not in rec:
            found = ", ".join(map(str, list(rec)[:12])) or "none"
            raise InputError(f"{where}: columns.{ours} names {theirs!r}, which this record does "
                             f"not have (fields found: {found})",
                             field=f"data.train.columns.{ours}", value=theirs,
                             fix=f"set columns.{ours} to one of: {found}")
        out[ours] = rec[theirs]
    return out


def nested_keys(columns: dict[str, str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names tried for a turn's role and its text, the mapped ones first."""
    c = columns or {}
    role = tuple(dict.fromkeys([c[k] for k in ("role", "from") if k in c] + ["role", "from"]))
    text = tuple(dict.fromkeys([c[k] for k in ("content", "value") if k in c]
                               + ["content", "value"]))
    return role, text


def detect(rec: dict, text_field: str) -> str | None:
    """The format of one (already renamed) record, or None when no format fits."""
    if text_field in rec:
        return "text"
    if "prompt" in rec or "completion" in rec:
        return "prompt_completion"
    if "instruction" in rec and "output" in rec:
        return "alpaca"
    if "conversations" in rec:
        return "sharegpt"
    if "messages" in rec:
        return "messages"
    return None


def detect_fields(names: list[str], text_field: str,
                  columns: dict[str, str] | None) -> tuple[str | None, list[str]]:
    """(format, the file's columns it reads) from a table's column names (CSV header, Parquet
    schema), so a table is checked once and only its needed columns are read."""
    c = {k: v for k, v in (columns or {}).items() if k in TOP_KEYS}
    have = {k: k for k in names}
    for ours, theirs in c.items():
        if theirs in have:
            have[ours] = theirs
    fmt = detect(have, text_field)
    if fmt is None:
        return None, []
    wanted = {"text": [text_field], "prompt_completion": ["prompt", "completion"],
              "alpaca": ["instruction", "input", "output", "system", "history"],
              "sharegpt": ["conversations", "system", "tools"],
              "messages": ["messages", "tools"]}[fmt]
    return fmt, list(dict.fromkeys(have[k] for k in wanted if k in have))


def suggest_mapping(rec: dict) -> str:
    """The `columns` mapping that would most likely read a record of an unknown shape."""
    lists = [k for k, v in rec.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if lists:
        turn = rec[lists[0]][0]
        keys = list(turn)
        extra = ""
        if len(keys) >= 2 and not {"role", "content"} <= set(keys) \
                and not {"from", "value"} <= set(keys):
            extra = f", role: {keys[0]}, content: {keys[1]}"
        return f"columns: {{messages: {lists[0]}{extra}}}"
    texts = [k for k, v in rec.items() if isinstance(v, str)]
    if len(texts) >= 2:
        return f"columns: {{prompt: {texts[0]}, completion: {texts[1]}}}"
    if texts:
        return f"text_field: {texts[0]}"
    return "columns: {prompt: YOUR_QUESTION_FIELD, completion: YOUR_ANSWER_FIELD}"


def unknown_shape(rec: dict, text_field: str, where: str) -> InputError:
    keys = ", ".join(map(str, list(rec)[:12])) or "none"
    return InputError(
        f"{where}: no {text_field!r} field (fields found: {keys}) and no other format fits: "
        "text, prompt/completion, alpaca (instruction, output), ShareGPT (conversations), "
        "OpenAI (messages)", field="data.train.text_field", value=text_field,
        fix=f"set text_field to one of: {keys}; or map your fields on this source, e.g. "
            f"{suggest_mapping(rec)}")


def as_text(v: Any, where: str, key: str) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, bool)):
        return str(v)
    raise InputError(f"{where}: field {key!r} holds {type(v).__name__}, not text",
                     field="data.train", value=where, fix=f"make {key!r} a string")


def alpaca_messages(rec: dict, where: str) -> list[dict]:
    """instruction (+ input on the next paragraph) is the user turn, output the assistant's;
    system and history ([[question, answer], ...]) come first, as LLaMA-Factory reads them."""
    msgs: list[dict] = []
    system = as_text(rec.get("system"), where, "system")
    if system:
        msgs.append({"role": "system", "content": system})
    history = rec.get("history") or []
    if not isinstance(history, list) or not all(
            isinstance(h, (list, tuple)) and len(h) == 2 for h in history):
        raise InputError(f"{where}: 'history' must be a list of [question, answer] pairs",
                         field="history", value=where,
                         fix='e.g. "history": [["What is 2+2?", "4"]]')
    for i, (q, a) in enumerate(history):
        msgs.append({"role": "user", "content": as_text(q, where, f"history[{i}][0]")})
        msgs.append({"role": "assistant", "content": as_text(a, where, f"history[{i}][1]")})
    prompt = as_text(rec.get("instruction"), where, "instruction")
    extra = as_text(rec.get("input"), where, "input")
    msgs.append({"role": "user", "content": f"{prompt}\n\n{extra}" if extra else prompt})
    msgs.append({"role": "assistant", "content": as_text(rec.get("output"), where, "output")})
    return msgs


def chat_messages(rec: dict, key: str, where: str, columns: dict[str, str] | None) -> list[dict]:
    """A ShareGPT `conversations` or OpenAI `messages` list as [{role, content}] with the roles
    mapped (human -> user, gpt -> assistant, observation -> tool ...); a ShareGPT record's
    top-level `system` becomes the first turn. Function calling is kept (module doc): an
    assistant's calls as `tool_calls`, a tool turn's `tool_call_id` and `name`."""
    turns = rec[key]
    role_keys, text_keys = nested_keys(columns)
    if not isinstance(turns, list):
        raise InputError(f"{where}: {key!r} must be a list of turns, found {type(turns).__name__}",
                         field=key, value=where,
                         fix='e.g. [{"role": "user", "content": "hi"}, '
                             '{"role": "assistant", "content": "hello"}]')
    msgs: list[dict] = []
    system = rec.get("system") if key == "conversations" else None
    if system:
        msgs.append({"role": "system", "content": as_text(system, where, "system")})
    for i, t in enumerate(turns):
        rk = next((k for k in role_keys if isinstance(t, dict) and k in t), None)
        tk = next((k for k in text_keys if isinstance(t, dict) and k in t), None)
        calls_key = next((k for k in ("tool_calls", "function_call")
                          if isinstance(t, dict) and t.get(k)), None)
        if rk is None or (tk is None and calls_key is None):
            found = ", ".join(map(str, t)) if isinstance(t, dict) else type(t).__name__
            raise InputError(f"{where}: {key}[{i}] has no role and text ({found}); expected "
                             "{role, content} or {from, value}", field=f"{key}[{i}]", value=where,
                             fix="map the names on this source, e.g. "
                                 "columns: {role: speaker, content: text}")
        raw = str(t[rk])
        role = ROLES.get(raw.lower())
        if role is None:
            raise InputError(f"{where}: {key}[{i}].{rk} is {raw!r}, a role ftwizard does not know",
                             field=f"{key}[{i}].{rk}", value=raw,
                             fix=f"use one of: {', '.join(ROLES)}")
        field = f"{key}[{i}]"
        if raw.lower() == "function_call" and tk is not None:
            # LLaMA-Factory: the assistant's call(s) as JSON in the value, no text of its own.
            msgs.append({"role": "assistant", "content": "",
                         "tool_calls": tool_calls_of(t[tk], where, f"{field}.{tk}")})
            continue
        if role == "tool":
            msg = {"role": "tool", "content": _tool_text(t.get(tk) if tk else None, where,
                                                          f"{field}.{tk}")}
            for k in ("tool_call_id", "name"):
                if t.get(k):
                    msg[k] = as_text(t[k], where, f"{field}.{k}")
            msgs.append(msg)
            continue
        msg = {"role": role, "content": as_text(t.get(tk) if tk else None, where, f"{field}.{tk}")}
        if calls_key is not None:
            if role != "assistant":
                raise InputError(f"{where}: {field} is a {role!r} turn with {calls_key}; only the "
                                 "assistant calls tools", field=f"{field}.{calls_key}",
                                 value=raw, fix="make it an assistant turn, or drop the calls")
            msg["tool_calls"] = tool_calls_of(t[calls_key], where, f"{field}.{calls_key}")
        msgs.append(msg)
    return msgs


def _tool_text(v: Any, where: str, key: str) -> str:
    """A tool result as text: results that are objects (some exports) as their JSON."""
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return as_text(v, where, key)


def _json(v: Any, where: str, key: str, what: str) -> Any:
    """A value that may arrive as JSON text (LLaMA-Factory writes calls and tools that way)."""
    if not isinstance(v, str):
        return v
    try:
        return json.loads(v)
    except ValueError as err:
        raise InputError(f"{where}: {key} is not valid JSON ({err.msg} at character {err.pos}): "
                         f"{v[:80]!r}", field=key, value=v[:80],
                         fix=f"write {what} as JSON") from None


def tool_calls_of(value: Any, where: str, key: str) -> list[dict]:
    """An assistant's calls in the one shape chat templates render:
    [{type: function, function: {name, arguments: {...}}}] (plus the call's `id`, which tool
    turns answer by tool_call_id). Accepts OpenAI's tool_calls (arguments a JSON string), the
    older single function_call, and LLaMA-Factory's {name, arguments} or a list of them."""
    example = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    value = _json(value, where, key, f"the call, e.g. {example}")
    calls = value if isinstance(value, list) else [value]
    out: list[dict] = []
    for j, call in enumerate(calls):
        at = f"{key}[{j}]" if isinstance(value, list) else key
        fn = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InputError(f"{where}: {at} is not a function call (no name): {str(call)[:80]}",
                             field=at, value=str(call)[:80], fix=f"write it as {example}")
        args = fn.get("arguments", fn.get("parameters", {}))
        if isinstance(args, str) and not args.strip():
            args = {}  # a call without arguments, as some exports write it
        args = _json(args, where, f"{at}.arguments", "the arguments as an object")
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise InputError(f"{where}: {at}.arguments is {type(args).__name__}, not an object",
                             field=f"{at}.arguments", value=str(args)[:80],
                             fix='give the arguments as an object, e.g. {"city": "Paris"}')
        one: dict = {"type": "function", "function": {"name": fn["name"], "arguments": args}}
        if isinstance(call, dict) and call.get("id"):
            one["id"] = str(call["id"])
        out.append(one)
    return out


def record_tools(rec: dict, where: str) -> list[dict] | None:
    """The record's tool (function) schemas as [{type: function, function: {name, description,
    parameters}}]: OpenAI's `tools` (or older `functions`), LLaMA-Factory's `tools` column (a
    JSON string of plain function schemas); None when it has none (an empty list renders as
    tools by some templates, Llama 3.1's, so it is dropped)."""
    key = "tools" if rec.get("tools") not in (None, "", []) else "functions"
    value = rec.get(key)
    if value in (None, "", []):
        return None
    value = _json(value, where, key, 'a list of function schemas, e.g. [{"name": "get_weather", '
                                     '"parameters": {"type": "object", "properties": {}}}]')
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InputError(f"{where}: {key} must be a list of function schemas, found "
                         f"{type(value).__name__}", field=key, value=where,
                         fix='e.g. [{"type": "function", "function": {"name": "get_weather", '
                             '"parameters": {...}}}]')
    out = []
    for j, tool in enumerate(value):
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            raise InputError(f"{where}: {key}[{j}] is not a function schema (no name): "
                             f"{str(tool)[:80]}", field=f"{key}[{j}]", value=str(tool)[:80],
                             fix='e.g. {"type": "function", "function": {"name": "get_weather", '
                                 '"description": "...", "parameters": {...}}}')
        out.append({"type": tool.get("type", "function"), "function": fn}
                   if "function" in tool else {"type": "function", "function": fn})
    return out or None


def has_tool_calls(messages: list[dict]) -> bool:
    return any(m.get("tool_calls") for m in messages)


def check_chat(messages: list[dict], where: str, field: str = "messages") -> None:
    """Refuse a conversation that cannot be trained as the user meant: empty, without an
    assistant turn, or with roles out of order (system first only; user and assistant take
    turns; a tool answers an assistant's call)."""
    if not messages:
        raise InputError(f"{where}: empty conversation", field=field, value=where,
                         fix="delete the record or give it at least a user and an assistant turn")
    prev = None
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in _NEXT.get(prev, set()):
            after = f"after {prev!r}" if prev else "as the first turn"
            allowed = " or ".join(sorted(_NEXT.get(prev, set())))
            raise InputError(f"{where}: {field}[{i}] is {role!r} {after}: roles out of order",
                             field=f"{field}[{i}].role", value=role,
                             fix=f"expected {allowed} there (system first, then user and "
                                 "assistant taking turns)")
        prev = role
    if not any(m.get("role") == "assistant" for m in messages):
        raise InputError(f"{where}: the conversation has no assistant turn, so nothing would be "
                         "trained", field=f"{field}[*].role", value=where,
                         fix="add the assistant's reply, or delete the record")
