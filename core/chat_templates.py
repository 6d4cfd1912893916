"""Chat templates by name, for base models that ship without one (`data.chat_template`).

Written here from each format's documentation (ChatML as OpenAI and Qwen document it, Meta's
Llama 3 prompt format, Mistral's [INST] format, Google's Gemma turn format), so nothing is fetched.
The chosen template replaces the tokenizer's and is saved with the trained model
(tokenizer_config.json / chat_template.jinja), so inference formats chats exactly as training did.

Every template renders a conversation so that rendering its first k messages gives a prefix of the
whole rendering: the per-turn loss mask (core/data_prep.py) is found by rendering and diffing, so
it works for these and for any model's own template with the same property (all common ones).
The special strings (<|im_start|>, <|eot_id|> ...) are tokenized as the tokenizer knows them: a
base model whose vocabulary lacks them sees them as a few ordinary tokens, which trains fine.
"""

from __future__ import annotations

from pathlib import Path

from ftwizard.core.errors import InputError

CHATML = (
    "{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

QWEN = (
    "{% if messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n' }}{% endif %}"
    "{% for m in messages %}"
    "{% if m['role'] == 'tool' %}"
    "{{ '<|im_start|>user\n<tool_response>\n' + m['content'] + '\n</tool_response><|im_end|>\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

LLAMA3 = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% set role = 'ipython' if m['role'] == 'tool' else m['role'] %}"
    "{{ '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + m['content'] | trim"
    " + '<|eot_id|>' }}"
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
