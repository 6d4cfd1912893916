"""Function calling in chat data (issue 14's known gap): the OpenAI fine-tuning format's
`tool_calls` / `tool` turns / `tools`, and LLaMA-Factory's `function_call` / `observation` roles
and `tools` column, kept through normalisation into the chat template; the call turn trained, the
tool result never; a template that cannot render them refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.cli import main
from ftwizard.core.chat_templates import CHATML, QWEN, tool_support
from ftwizard.core.config import from_dict
from ftwizard.core.data import IGNORE, LightTokenizer, prepare
from ftwizard.core.data_preview import preview
from ftwizard.core.data_prep import encode_examples
from ftwizard.core.data_sources import Example, load_examples
from ftwizard.core.data_tokens import Encoder
from ftwizard.core.errors import InputError

TRL_TEMPLATES = Path(__import__("trl").__file__).parent / "chat_templates"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
OPENAI = {"messages": [
    {"role": "system", "content": "Be short."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "sunny 21C"},
    {"role": "assistant", "content": "Sunny, 21 degrees."}], "tools": [WEATHER]}
LLAMAFACTORY = {"system": "Be short.", "tools": json.dumps([WEATHER["function"]]),
                "conversations": [
                    {"from": "human", "value": "Weather in Paris?"},
                    {"from": "function_call",
                     "value": json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}})},
                    {"from": "observation", "value": "sunny 21C"},
                    {"from": "gpt", "value": "Sunny, 21 degrees."}]}
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def jsonl(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def read(path: Path) -> list[Example]:
    return load_examples(from_dict({"data": {"train": [{"path": str(path)}]}}).data.train[0])


def cfg(model: Path, path: Path, **data) -> object:
    d = {"train": [{"path": str(path)}], "mode": "entries", "block_size": 2048,
         "chat_template": "qwen"}
    d.update(data)
    return from_dict({"model": {"name": str(model)}, "data": d})


def trained_text(tok: LightTokenizer, seq: dict) -> list[str]:
    """The decoded maximal runs of trained labels."""
    runs, cur = [], []
    for y in seq["labels"] + [IGNORE]:
        if y == IGNORE:
            if cur:
                runs.append(tok.decode(cur))
            cur = []
        else:
            cur.append(y)
    return runs


# ---------------------------------------------------------------- reading

def test_openai_tool_calls_results_and_tools_are_kept(tmp_path: Path) -> None:
    (ex,) = read(jsonl(tmp_path / "o.jsonl", [OPENAI]))
    call, result = ex.messages[2], ex.messages[3]
    # The arguments' JSON string becomes an object: templates render `arguments | tojson`.
    assert call == {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "id": "call_1",
         "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}
    assert result == {"role": "tool", "content": "sunny 21C", "tool_call_id": "call_1",
                      "name": "get_weather"}
    assert ex.tools == [WEATHER] and not ex.is_empty()
    # Plain turns carry no tool_calls key (Llama 3.1's template tests `'tool_calls' in message`).
    assert "tool_calls" not in ex.messages[4] and "tool_calls" not in ex.messages[1]


def test_llamafactory_function_call_and_observation_map_to_the_same_shapes(tmp_path: Path) -> None:
    (lf,) = read(jsonl(tmp_path / "lf.jsonl", [LLAMAFACTORY]))
    (oa,) = read(jsonl(tmp_path / "o.jsonl", [OPENAI]))
    assert lf.shape == "sharegpt" and lf.tools == oa.tools == [WEATHER]
    strip = [{k: v for k, v in m.items() if k not in ("id", "tool_call_id", "name")}
             for m in oa.messages]
    strip[2]["tool_calls"] = [{k: v for k, v in c.items() if k != "id"}
                              for c in strip[2]["tool_calls"]]
    assert lf.messages == strip
    # Parallel calls: LLaMA-Factory writes a JSON list in one function_call turn.
    two = dict(LLAMAFACTORY, conversations=[
        {"from": "human", "value": "Paris and Rome?"},
        {"from": "function_call", "value": json.dumps([
            {"name": "get_weather", "arguments": {"city": "Paris"}},
            {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}])},
        {"from": "observation", "value": "sunny"}, {"from": "observation", "value": "rain"},
        {"from": "gpt", "value": "Paris sunny, Rome rain."}])
    (ex,) = read(jsonl(tmp_path / "two.jsonl", [two]))
    assert [c["function"]["arguments"] for c in ex.messages[2]["tool_calls"]] == [
        {"city": "Paris"}, {"city": "Rome"}]


def test_openai_legacy_function_call_and_functions(tmp_path: Path) -> None:
    rec = {"functions": [WEATHER["function"]], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "function_call": {"name": "get_weather",
                                                "arguments": "{\"city\": \"Paris\"}"}},
        {"role": "function", "name": "get_weather", "content": "sunny 21C"},
        {"role": "assistant", "content": "Sunny."}]}
    (ex,) = read(jsonl(tmp_path / "f.jsonl", [rec]))
    assert ex.tools == [WEATHER]
    assert ex.messages[1]["tool_calls"][0]["function"] == {"name": "get_weather",
                                                           "arguments": {"city": "Paris"}}
    assert ex.messages[2] == {"role": "tool", "content": "sunny 21C", "name": "get_weather"}


@pytest.mark.parametrize("turn, tools, needle", [
    ({"from": "function_call", "value": "{oops"}, None,
     "conversations[1].value is not valid JSON"),
    ({"from": "function_call", "value": '{"arguments": {}}'}, None, "not a function call"),
    ({"from": "function_call", "value": '{"name": "f", "arguments": "[1, 2]"}'}, None,
     "arguments is list, not an object"),
    ({"from": "gpt", "value": "x"}, "[{\"description\": \"no name\"}]",
     "tools[0] is not a function schema"),
    ({"from": "gpt", "value": "x"}, "not json", "tools is not valid JSON"),
])
def test_bad_tool_data_names_file_line_and_field(tmp_path: Path, turn: dict, tools: str | None,
                                                  needle: str) -> None:
    rec = {"conversations": [{"from": "human", "value": "q"}, turn]}
    if tools:
        rec["tools"] = tools
    p = jsonl(tmp_path / "bad.jsonl", [{"conversations": [{"from": "human", "value": "q"},
                                                          {"from": "gpt", "value": "a"}]}, rec])
    with pytest.raises(InputError) as err:
        read(p)
    assert "bad.jsonl:2" in str(err.value) and needle in str(err.value)


def test_a_user_turn_cannot_call_tools(tmp_path: Path) -> None:
    rec = {"messages": [{"role": "user", "content": "q", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "assistant", "content": "a"}]}
    with pytest.raises(InputError, match=r"u.jsonl:1: messages\[0\] is a 'user' turn with "
                                         "tool_calls"):
        read(jsonl(tmp_path / "u.jsonl", [rec]))


# ---------------------------------------------------------------- templates and masks

def test_the_qwen_template_is_qwen25s_own_and_renders_tools() -> None:
    """The named `qwen` template is Qwen2.5-Instruct's, byte for byte (TRL keeps a copy of it
    to recognise the model), so its tool format is the one Qwen2.5 was trained on."""
    assert QWEN == (TRL_TEMPLATES / "qwen2_5.jinja").read_text()


def test_tool_support_probe(tiny_llama: Path) -> None:
    def render_with(template: str):
        enc = Encoder(LightTokenizer(tiny_llama), None, None)
        enc.tok.chat_template = template
        return lambda m, t: enc.render_chat(m, tools=t)

    assert tool_support(QWEN, render_with(QWEN))[0] == {"calls": True, "results": True,
                                                        "tools": True}
    # ChatML renders a tool turn's text but drops calls (empty content) and schemas silently.
    assert tool_support(CHATML, render_with(CHATML))[0] == {"calls": False, "results": True,
                                                            "tools": False}
    llama31 = (TRL_TEMPLATES / "llama3_1.jinja").read_text()
    assert tool_support(llama31, render_with(llama31))[0] == {"calls": True, "results": True,
                                                              "tools": True}


@pytest.mark.parametrize("train_on, want", [
    ("completion", [CALL + "<|im_end|>\n", "Sunny, 21 degrees.<|im_end|>\n"]),
    ("last_turn", ["Sunny, 21 degrees.<|im_end|>\n"]),
])
def test_call_turn_trained_tool_result_never(tiny_llama: Path, tmp_path: Path, train_on: str,
                                             want: list[str]) -> None:
    tok = LightTokenizer(tiny_llama)
    eos = tok.eos_token
    for rec in (OPENAI, LLAMAFACTORY):
        p = jsonl(tmp_path / "t.jsonl", [rec])
        (seq,) = prepare(cfg(tiny_llama, p, train_on=train_on), tok).train
        got = trained_text(tok, seq)
        assert got == want[:-1] + [want[-1] + eos]
        text = tok.decode([i for i, m in zip(seq["input_ids"], seq["attention_mask"]) if m])
        assert "<tools>\n" + json.dumps(WEATHER) in text  # the schema reached the prompt
        assert "sunny 21C" in text and not any("sunny 21C" in g for g in got)


def test_llama31_template_masks_the_call_turn(tiny_llama: Path, tmp_path: Path) -> None:
    """Meta's Llama 3.1 template (tools in the first user turn, the call as JSON) through a
    .jinja path: the call is trained, the ipython result is not."""
    tok = LightTokenizer(tiny_llama)
    p = jsonl(tmp_path / "t.jsonl", [OPENAI])
    c = cfg(tiny_llama, p, chat_template=str(TRL_TEMPLATES / "llama3_1.jinja"))
    (seq,) = prepare(c, tok).train
    assert trained_text(tok, seq) == [
        '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>',
        "Sunny, 21 degrees.<|eot_id|>" + tok.eos_token]


def test_assistant_mask_agrees_with_render_and_diff_on_tool_chats(tiny_llama: Path,
                                                                  tmp_path: Path) -> None:
    """transformers' assistant mask from Qwen2.5's {% generation %}-marked training template
    (TRL's) against our render-and-diff on Qwen2.5's own template: the same token ids, and the
    same spans, the call turn included, except that TRL opens each span one token earlier, on
    the newline after `<|im_start|>assistant` (its marker sits before it; the generation prompt
    we diff against ends after it)."""
    from transformers import AutoTokenizer

    (ex,) = read(jsonl(tmp_path / "o.jsonl", [OPENAI]))
    light = Encoder(LightTokenizer(tiny_llama), None, "qwen")
    marked = Encoder(AutoTokenizer.from_pretrained(str(tiny_llama)), None,
                     str(TRL_TEMPLATES / "qwen2_5_training.jinja"))
    ((ids, ours),) = encode_examples([ex], light)
    hf_ids, mask = marked.hf_assistant_mask(ex.messages, ex.tools)
    assert ids[:len(hf_ids)] == hf_ids and sum(mask) > 0
    ((ids2, theirs),) = encode_examples([ex], marked)  # takes the hf mask path (same ids)
    assert ids2 == ids and len(theirs) == len(ours) == 2
    for (a, b), (c, d) in zip(ours, theirs):
        assert (c, d) == (a - 1, b) and light.tok.decode([ids[c]]) == "\n"
    assert light.tok.decode(ids[ours[0][0]:ours[0][1]]) == CALL + "<|im_end|>\n"


def test_template_without_tool_support_is_refused(tiny_llama: Path, tmp_path: Path) -> None:
    p = jsonl(tmp_path / "calls.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                       {"role": "assistant", "content": "a"}]},
                                         OPENAI])
    with pytest.raises(InputError) as err:
        prepare(cfg(tiny_llama, p, chat_template="chatml"), LightTokenizer(tiny_llama))
    msg = str(err.value)
    assert "calls.jsonl:2" in msg and "tool calls and tool schemas" in msg
    assert "data.chat_template: qwen" in msg and "drop the tool turns" in msg


def test_inspect_refuses_it_with_exit_2(tiny_llama: Path, tmp_path: Path, capsys) -> None:
    p = jsonl(tmp_path / "calls.jsonl", [LLAMAFACTORY])
    with pytest.raises(SystemExit) as ex:  # the tiny tokenizer's own template knows no tools
        main(["data", "inspect", str(p), "--model", str(tiny_llama)])
    err = capsys.readouterr().err
    assert ex.value.code == 2 and "calls.jsonl:1" in err and "Traceback" not in err
    assert "chat_template" in err
    with pytest.raises(SystemExit) as ex:
        main(["data", "inspect", str(p), "--model", str(tiny_llama), "--chat-template", "qwen"])
    assert ex.value.code == 0


def test_preview_shows_the_call_trained_and_the_result_masked(tiny_llama: Path,
                                                              tmp_path: Path) -> None:
    p = jsonl(tmp_path / "t.jsonl", [OPENAI])
    (e,) = preview(cfg(tiny_llama, p), LightTokenizer(tiny_llama), n=1)
    trained = "".join(t for t, on in zip(e.tokens, e.trained) if on)
    masked = "".join(t for t, on in zip(e.tokens, e.trained) if not on)
    assert CALL in trained and "sunny 21C" in masked and "get_weather" in masked  # the schema


def test_big_files_keep_the_tools_through_arrow(tiny_llama: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the Arrow threshold (forced to 0 here) the schemas travel with the examples and the
    sequences are the list path's, the rendered <tools> block included."""
    from ftwizard.core import data_arrow

    monkeypatch.setenv("FTWIZARD_ARROW_THRESHOLD_BYTES", "0")
    p = jsonl(tmp_path / "big.jsonl", [OPENAI, {**OPENAI, "tools": None}])
    c, tok = cfg(tiny_llama, p, block_size=1024), LightTokenizer(tiny_llama)
    assert data_arrow.wanted(c.data)
    arrow = data_arrow.prepare_arrow(c, tok)
    listed = prepare(c, tok).train
    got = sorted(([int(i) for i in r["input_ids"]], [int(y) for y in r["labels"]])
                 for r in arrow.train)
    assert got == sorted((s["input_ids"], s["labels"]) for s in listed)
    assert sum("<tools>" in tok.decode(ids) for ids, _ in got) == 1


# ---------------------------------------------------------------- preference pairs with tools

PAIR = {"tools": [WEATHER], "messages": OPENAI["messages"][:2],
        "chosen": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        "rejected": {"role": "assistant", "content": "I cannot know the weather."}}


def pref_cfg(model: Path, path: Path, objective: str = "dpo", template: str = "qwen") -> object:
    return from_dict({"model": {"name": str(model)},
                      "data": {"train": [{"path": str(path)}], "block_size": 2048,
                               "chat_template": template},
                      "train": {"objective": objective}})


def test_dpo_pairs_keep_calls_and_tools_as_the_trainer_counts_them(tiny_llama: Path,
                                                                   tmp_path: Path) -> None:
    """A tool-calling chosen reply (axolotl's chat_template DPO type) reaches TRL with its call
    and the schemas (as a JSON string, which TRL's DPOTrainer json.loads), and TRL's own
    tokenization of it gives our counts."""
    import datasets
    import trl
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ftwizard.core import preference_data as pd

    p = jsonl(tmp_path / "pairs.jsonl", [PAIR, {**PAIR, "tools": None}])
    cfg = pref_cfg(tiny_llama, p)
    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    tok.pad_token = tok.eos_token
    train, _ = pd.preference_sets(cfg, tok)  # puts the qwen template on tok (training order)
    assert sorted(r["tools"] is None for r in train) == [False, True]
    for r in train:
        assert r["chosen"][0]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}
        assert r["tools"] is None or json.loads(r["tools"]) == [WEATHER]
    a = pd.analyse(cfg.data, cfg.train, Encoder(LightTokenizer(tiny_llama), None, "qwen"),
                   seed=42)
    ours = [n for _, n in a.train_rows()]
    tr = trl.DPOTrainer(model=AutoModelForCausalLM.from_pretrained(str(tiny_llama)),
                        args=trl.DPOConfig(output_dir=str(tmp_path / "o"), max_length=2048,
                                           report_to=[], use_cpu=True),
                        train_dataset=datasets.Dataset.from_list(train), processing_class=tok)
    theirs = [(len(e["prompt_ids"]), len(e["prompt_ids"]) + len(e["chosen_ids"]),
               len(e["prompt_ids"]) + len(e["rejected_ids"])) for e in tr.train_dataset]
    assert theirs == [(n.prompt, n.chosen, n.rejected) for n in ours]
    with_tools = [r["tools"] is not None for r in train]
    assert ours[with_tools.index(True)].prompt > ours[with_tools.index(False)].prompt  # schemas
    chosen = tok.decode(tr.train_dataset[0]["chosen_ids"])
    assert chosen.startswith(CALL)


def test_pairs_with_tools_refused_where_they_would_be_dropped(tiny_llama: Path,
                                                              tmp_path: Path) -> None:
    from ftwizard.core import preference_data as pd

    p = jsonl(tmp_path / "pairs.jsonl", [PAIR])
    tok = LightTokenizer(tiny_llama)
    with pytest.raises(InputError, match="pairs.jsonl:1: this conversation has tool calls and "
                                         "tool schemas"):
        pd.preference_sets(pref_cfg(tiny_llama, p, template="chatml"), tok)
    with pytest.raises(InputError, match="TRL's ORPO trainer does not pass"):
        pd.preference_sets(pref_cfg(tiny_llama, p, objective="orpo"), tok)


def test_convert_to_jsonl_keeps_calls_and_tools(tmp_path: Path, capsys) -> None:
    """`ftwizard data convert` of LLaMA-Factory data writes OpenAI messages that read back the
    same: the calls, results and schemas survive the round trip."""
    src = jsonl(tmp_path / "lf.jsonl", [LLAMAFACTORY])
    out = tmp_path / "o.jsonl"
    with pytest.raises(SystemExit) as ex:
        main(["data", "convert", str(src), "--out", str(out)])
    assert ex.value.code == 0
    assert read(out)[0].messages == read(src)[0].messages
    assert read(out)[0].tools == [WEATHER]


def test_preview_cli_shows_the_call(tiny_llama: Path, tmp_path: Path, capsys) -> None:
    p = jsonl(tmp_path / "t.jsonl", [OPENAI])
    with pytest.raises(SystemExit) as ex:
        main(["data", "preview", str(p), "--model", str(tiny_llama), "--chat-template", "qwen",
              "--n", "1", "--mode", "entries", "--block-size", "2048", "--json"])
    (e,) = json.loads(capsys.readouterr().out)
    assert ex.value.code == 0
    trained = "".join(t for t, on in zip(e["tokens"], e["trained"]) if on)
    assert trained.startswith(CALL)


# Mistral-style: the template itself checks the call ids (9 letters or digits) and renders the
# call as [TOOL_CALLS] JSON; the probe must pass its checks to see that it renders tools.
STRICT = (
    "{% if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}"
    "{% for m in messages %}"
    "{% if m.role == 'user' %}[INST]{{ m.content }}[/INST]"
    "{% elif m.role == 'assistant' and m.tool_calls %}"
    "{% for c in m.tool_calls %}{% if c.id | length != 9 %}"
    "{{ raise_exception('Tool call IDs should be alphanumeric strings with length 9!') }}"
    "{% endif %}{% endfor %}"
    "[TOOL_CALLS]{{ m.tool_calls | map(attribute='function') | list | tojson }}</s>"
    "{% elif m.role == 'assistant' %}{{ m.content }}</s>"
    "{% elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]"
    "{% endif %}{% endfor %}")


def test_probe_passes_a_template_that_checks_call_ids(tiny_llama: Path, tmp_path: Path) -> None:
    enc = Encoder(LightTokenizer(tiny_llama), None, None)
    enc.tok.chat_template = STRICT
    render = lambda m, t: enc.render_chat(m, tools=t)  # noqa: E731
    assert tool_support(STRICT, render)[0] == {"calls": True, "results": True, "tools": True}
    # OpenAI's arguments "" (a call without arguments) is an empty object.
    rec = {"messages": [{"role": "user", "content": "time?"},
                        {"role": "assistant", "tool_calls": [
                            {"id": "abcdefgh1", "type": "function",
                             "function": {"name": "now", "arguments": ""}}]},
                        {"role": "tool", "tool_call_id": "abcdefgh1", "content": "12:00"},
                        {"role": "assistant", "content": "Noon."}]}
    (ex,) = read(jsonl(tmp_path / "m.jsonl", [rec]))
    ((ids, spans),) = encode_examples([ex], enc)
    assert [enc.tok.decode(ids[a:b]) for a, b in spans] == [
        '[TOOL_CALLS][{"name": "now", "arguments": {}}]</s>', "Noon.</s>"]


def test_named_llama3_template_renders_tools_in_llama31s_format(tiny_llama: Path,
                                                                 tmp_path: Path) -> None:
    from ftwizard.core.chat_templates import LLAMA3, TOOL_TEMPLATES

    tok = LightTokenizer(tiny_llama)
    enc = Encoder(tok, None, "llama-3")
    assert "llama-3" in TOOL_TEMPLATES and tool_support(
        LLAMA3, lambda m, t: enc.render_chat(m, tools=t))[0] == {
        "calls": True, "results": True, "tools": True}
    for rec in (OPENAI, LLAMAFACTORY):
        p = jsonl(tmp_path / "t.jsonl", [rec])
        (seq,) = prepare(cfg(tiny_llama, p, chat_template="llama-3"), tok).train
        assert trained_text(tok, seq) == [
            '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>',
            "Sunny, 21 degrees.<|eot_id|>" + tok.eos_token]
        text = tok.decode(seq["input_ids"])
        assert "Environment: ipython" in text and '"name": "get_weather",' in text
        assert "<|start_header_id|>ipython<|end_header_id|>\n\nsunny 21C<|eot_id|>" in text
