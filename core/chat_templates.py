"""Chat templates by name, for base models that ship without one (`data.chat_template`).

Written here from each format's documentation (ChatML as OpenAI and Qwen document it, Meta's
Llama 3 prompt format, Mistral's [INST] format, Google's Gemma turn format), so nothing is fetched.
The chosen template replaces the tokenizer's and is saved with the trained model
(tokenizer_config.json / chat_template.jinja), so inference formats chats exactly as training did.

Every template renders a conversation so that rendering its first k messages gives a prefix of the
whole rendering: the per-turn loss mask (core/data_prep.py) is found by rendering and diffing, so
it works for these and for any model's own template with the same property (all common ones).
Function calling: `qwen` (Qwen2.5-Instruct's own template, verbatim) and `llama-3` (Llama
3.1's tool format) render tool calls, tool results and tool schemas; the others render a call
turn as its (empty) content. Whether a
template renders them is found by rendering probes (:func:`tool_support`), for these and for any
model's own template, and chat data with tool calls is refused with a template that would drop
them (core/data_prep.check_tool_chat).
The special strings (<|im_start|>, <|eot_id|> ...) are tokenized as the tokenizer knows them: a
base model whose vocabulary lacks them sees them as a few ordinary tokens, which trains fine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ftwizard.core.errors import InputError

CHATML = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Qwen2.5-Instruct's own template, verbatim (as transformers and TRL ship it): ChatML with
# Qwen's default system prompt, tool schemas in the system turn (<tools>), calls as
# <tool_call> JSON in the assistant turn, results as <tool_response> in a user turn.
QWEN = (
    '{%- if tools %}\n'
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    '    {%- else %}\n'
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    '    {%- endif %}\n'
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}\n'
    '    {%- for tool in tools %}\n'
    '        {{- "\\n" }}\n'
    '        {{- tool | tojson }}\n'
    '    {%- endfor %}\n'
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    '{%- else %}\n'
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    '    {%- else %}\n'
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    '    {%- endif %}\n'
    '{%- endif %}\n'
    '{%- for message in messages %}\n'
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    '        {%- if message.content %}\n'
    "            {{- '\\n' + message.content }}\n"
    '        {%- endif %}\n'
    '        {%- for tool_call in message.tool_calls %}\n'
    '            {%- if tool_call.function is defined %}\n'
    '                {%- set tool_call = tool_call.function %}\n'
    '            {%- endif %}\n'
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    '            {{- tool_call.name }}\n'
    '            {{- \'", "arguments": \' }}\n'
    '            {{- tool_call.arguments | tojson }}\n'
    "            {{- '}\\n</tool_call>' }}\n"
    '        {%- endfor %}\n'
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    '        {%- endif %}\n'
    "        {{- '\\n<tool_response>\\n' }}\n"
    '        {{- message.content }}\n'
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    '        {%- endif %}\n'
    '    {%- endif %}\n'
    '{%- endfor %}\n'
    '{%- if add_generation_prompt %}\n'
    "    {{- '<|im_start|>assistant\\n' }}\n"
    '{%- endif %}\n'
)

# Llama 3.1's tool format (Meta's own template with tools_in_user_message=false): the schemas in
# the system turn after "Environment: ipython", a call as {"name", "parameters"} JSON in the
# assistant turn, a result as an ipython turn. Without tools it renders as before (Llama 3).
LLAMA3 = (
    "{{ bos_token }}"
    "{% if tools %}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% set sys = messages[0]['content'] | trim %}{% set turns = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set turns = messages %}{% endif %}"
    "{{ '<|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\n\n"
    "You have access to the following functions. To call a function, please respond with JSON "
    "for a function call. Respond in the format {\"name\": function name, \"parameters\": "
    "dictionary of argument name and its value}. Do not use variables.\n\n' }}"
    "{% for t in tools %}{{ t | tojson(indent=4) + '\n\n' }}{% endfor %}"
    "{{ sys + '<|eot_id|>' }}"
    "{% else %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}"
    "{% if m['role'] == 'assistant' and m['tool_calls'] %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% for c in m['tool_calls'] %}{% set f = c['function'] if c['function'] else c %}"
    "{{ '{\"name\": \"' + f['name'] + '\", \"parameters\": ' + f['arguments'] | tojson + '}' }}"
    "{% if not loop.last %}{{ '\n' }}{% endif %}{% endfor %}"
    "{{ '<|eot_id|>' }}"
    "{% else %}"
    "{% set role = 'ipython' if m['role'] == 'tool' else m['role'] %}"
    "{{ '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + m['content'] | trim"
    " + '<|eot_id|>' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# Mistral v1: no system role (it is put before the first user message), no generation prompt
# beyond [/INST]; each reply ends with EOS.
MISTRAL = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set sys = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set turns = messages %}{% endif %}"
    "{{ bos_token }}"
    "{% for m in turns %}"
    "{% if m['role'] == 'user' %}"
    "{% set text = sys + '\n\n' + m['content'] if loop.first and sys else m['content'] %}"
    "{{ '[INST] ' + text + ' [/INST]' }}"
    "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'] + eos_token }}"
    "{% elif m['role'] == 'tool' %}{{ '[TOOL_RESULTS] ' + m['content'] + ' [/TOOL_RESULTS]' }}"
    "{% else %}{{ raise_exception('the mistral template has no role ' + m['role']) }}"
    "{% endif %}{% endfor %}"
)

# Gemma: roles user and model only; a system message goes before the first user turn, and a
# tool turn cannot be rendered (refused with the line, as for any template error).
GEMMA = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set sys = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set turns = messages %}{% endif %}"
    "{{ bos_token }}"
    "{% for m in turns %}"
    "{% if m['role'] not in ['user', 'assistant'] %}"
    "{{ raise_exception('the gemma template has no role ' + m['role'] + ' (only user and "
    "assistant)') }}{% endif %}"
    "{% set role = 'model' if m['role'] == 'assistant' else 'user' %}"
    "{% set text = sys + '\n\n' + m['content'] if loop.first and sys else m['content'] %}"
    "{{ '<start_of_turn>' + role + '\n' + text | trim + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

TEMPLATES = {"chatml": CHATML, "qwen": QWEN, "llama-3": LLAMA3, "mistral": MISTRAL,
             "gemma": GEMMA}


def resolve(name: str) -> str:
    """The Jinja text of a template given by name or as a path to a .jinja file."""
    key = name.strip().lower().replace("_", "-")
    aliases = {"llama3": "llama-3", "qwen2": "qwen", "qwen2.5": "qwen", "gemma2": "gemma",
               "gemma-2": "gemma"}
    key = aliases.get(key, key)
    if key in TEMPLATES:
        return TEMPLATES[key]
    p = Path(name).expanduser()
    if p.is_file():
        return p.read_text(encoding="utf-8")
    raise InputError(f"no chat template named {name!r}", field="data.chat_template", value=name,
                     fix=f"use one of {', '.join(TEMPLATES)}, or the path of a .jinja file")


def with_generation_marks(template: str) -> str:
    """CHATML with {% generation %} around each assistant reply and its end marker: the form
    transformers' return_assistant_tokens_mask needs. The tests check that its mask equals the
    render-and-diff mask; the named templates above stay unmarked, since not every inference
    engine's Jinja knows that tag."""
    if template != CHATML:
        raise ValueError("only the chatml template has a marked form")
    return (
        "{% for m in messages %}"
        "{% if m['role'] == 'assistant' %}"
        "{{ '<|im_start|>assistant\n' }}{% generation %}"
        "{{ m['content'] + '<|im_end|>' + '\n' }}{% endgeneration %}"
        "{% else %}"
        "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
        "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )



# ---------------------------------------------------------------- function calling

TOOL_TEMPLATES = ("qwen", "llama-3")
"""The named templates above that render tool calls, tool results and tool schemas."""
_PROBE_CALL, _PROBE_ARG, _PROBE_RESULT, _PROBE_TOOL = (
    "ftwizard_probe_call", "ftwizard_probe_arg", "ftwizard_probe_result", "ftwizard_probe_tool")
_PROBE_ID = "ftwprobe1"  # Mistral's templates refuse ids that are not 9 letters or digits
_PROBE_USER = {"role": "user", "content": "q"}
_PROBE_ASSISTANT = {"role": "assistant", "content": "", "tool_calls": [
    {"type": "function", "id": _PROBE_ID,
     "function": {"name": _PROBE_CALL, "arguments": {_PROBE_ARG: 1}}}]}
_PROBE_SCHEMA = {"type": "function", "function": {
    "name": _PROBE_TOOL, "description": "d", "parameters": {"type": "object", "properties": {}}}}
_support_cache: dict[str, tuple[dict[str, bool], str]] = {}


def tool_support(template: str, render: Callable[[list[dict], list[dict] | None], str]
                 ) -> tuple[dict[str, bool], str]:
    """Which parts of function calling a chat template renders: {"calls": ..., "results": ...,
    "tools": ...}, and the template's own error when a probe failed ('' if none).

    Found by rendering probes (a call, a call answered by a result, a chat given a tool schema)
    and looking for their names in the output: reading the template text for `tool_calls` would
    miss templates that mention the key and drop it, and most templates that cannot render a call
    render the turn's empty content without complaint, which would train empty replies. Cached
    per template text."""
    if template in _support_cache:
        return _support_cache[template]
    said = ""

    def shows(needle: str, msgs: list[dict], tools: list[dict] | None) -> bool:
        nonlocal said
        try:
            return needle in render(msgs, tools)
        except Exception as err:  # noqa: BLE001 - templates fail in many ways
            said = said or str(err)
            return False

    result = {
        "calls": shows(_PROBE_CALL, [_PROBE_USER, _PROBE_ASSISTANT], None)
        and shows(_PROBE_ARG, [_PROBE_USER, _PROBE_ASSISTANT], None),
        "results": shows(_PROBE_RESULT, [_PROBE_USER, _PROBE_ASSISTANT, {
            "role": "tool", "tool_call_id": _PROBE_ID, "name": _PROBE_CALL,
            "content": _PROBE_RESULT}], None),
        "tools": shows(_PROBE_TOOL, [_PROBE_USER, {"role": "assistant", "content": "a"}],
                       [_PROBE_SCHEMA]),
    }
    _support_cache[template] = (result, said)
    return result, said
