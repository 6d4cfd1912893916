"""The formats people bring (core/data_formats.py): each read per record, columns mapped, and every
kind of bad record refused with its file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftwizard.core.config import DataSection, DataSource, from_dict
from ftwizard.core.data import inspect, iter_examples
from ftwizard.core.errors import InputError


def jsonl(path: Path, recs: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def read(path: Path, **kw) -> list:
    return list(iter_examples(DataSource(path=str(path), **kw)))


def chat(*pairs: tuple[str, str]) -> list[dict]:
    return [{"role": r, "content": c} for r, c in pairs]


def test_alpaca_with_system_history_and_input(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "a.jsonl", [
        {"instruction": "Add", "input": "2 and 2", "output": "4", "system": "be brief",
         "history": [["hi", "hello"]]},
        {"instruction": "Say hi", "input": "", "output": "hi"}])
    a, b = read(p)
    assert a.shape == "alpaca" and a.messages == chat(
        ("system", "be brief"), ("user", "hi"), ("assistant", "hello"),
        ("user", "Add\n\n2 and 2"), ("assistant", "4"))
    assert b.messages == chat(("user", "Say hi"), ("assistant", "hi"))


def test_sharegpt_roles_and_openai_messages(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "s.jsonl", [{"system": "sys", "conversations": [
        {"from": "human", "value": "q"}, {"from": "gpt", "value": "call"},
        {"from": "observation", "value": "42"}, {"from": "gpt", "value": "it is 42"}]}])
    (ex,) = read(p)
    assert ex.shape == "sharegpt" and ex.messages == chat(
        ("system", "sys"), ("user", "q"), ("assistant", "call"), ("tool", "42"),
        ("assistant", "it is 42"))
    m = jsonl(tmp_path / "m.jsonl", [{"messages": chat(
        ("system", "s"), ("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d"))}])
    (ex,) = read(m)
    assert ex.shape == "messages" and len(ex.messages) == 5


def test_columns_mapping_jsonl_csv_and_nested(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "qa.jsonl", [{"question": "q1", "answer": "a1"}])
    (ex,) = read(p, columns={"prompt": "question", "completion": "answer"})
    assert (ex.prompt, ex.completion, ex.shape) == ("q1", "a1", "prompt_completion")
    c = tmp_path / "alp.csv"
    c.write_text('task,extra,reply\n"Do it\nnow",,done\n')
    (ex,) = read(c, columns={"instruction": "task", "input": "extra", "output": "reply"})
    assert ex.messages == chat(("user", "Do it\nnow"), ("assistant", "done"))
    n = jsonl(tmp_path / "n.jsonl", [{"dialog": [{"speaker": "user", "text": "x"},
                                                 {"speaker": "assistant", "text": "y"}]}])
    (ex,) = read(n, columns={"messages": "dialog", "role": "speaker", "content": "text"})
    assert ex.messages == chat(("user", "x"), ("assistant", "y"))


def test_unknown_shape_lists_fields_and_the_mapping(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(InputError) as err:
        read(p)
    msg = str(err.value)
    assert "qa.jsonl:1" in msg and "fields found: question, answer" in msg
    assert "columns: {prompt: question, completion: answer}" in msg
    n = jsonl(tmp_path / "n.jsonl", [{"dialog": [{"speaker": "user", "text": "x"}]}])
    with pytest.raises(InputError, match=r"columns: \{messages: dialog, role: speaker, "
                                         r"content: text\}"):
        read(n)


def test_mapping_names_a_missing_column(tmp_path: Path) -> None:
    p = jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answer": "a"},
                                      {"question": "q", "reply": "a"}])
    with pytest.raises(InputError) as err:
        read(p, columns={"prompt": "question", "completion": "answer"})
    assert "qa.jsonl:2" in str(err.value) and err.value.field == "data.train.columns.completion"
    c = tmp_path / "x.csv"
    c.write_text("q,a\n1,2\n")
    with pytest.raises(InputError, match="columns.completion names 'answer'.*columns found: 'q', 'a'"):
        read(c, columns={"prompt": "q", "completion": "answer"})
    with pytest.raises(InputError, match="unknown column key 'answer'"):
        from_dict({"data": {"train": [{"path": "x", "columns": {"answer": "a"}}]}})


@pytest.mark.parametrize("recs, where, words", [
    ([{"text": "a"}, {"prompt": "p", "completion": "c"}], ":2", ["prompt/completion", ":1 is text"]),
    ([{"messages": []}], ":1", ["empty conversation"]),
    ([{"messages": chat(("user", "q"))}], ":1", ["no assistant turn"]),
    ([{"messages": chat(("assistant", "a"), ("user", "q"))}], ":1",
     ["messages[0] is 'assistant' as the first turn", "out of order"]),
    ([{"messages": chat(("user", "q"), ("user", "q"), ("assistant", "a"))}], ":1",
     ["messages[1] is 'user' after 'user'"]),
    ([{"conversations": [{"from": "human", "value": "q"}, {"from": "wizard", "value": "a"}]}],
     ":1", ["conversations[1].from is 'wizard'"]),
])
def test_bad_records_exit_2_with_file_line_field(tmp_path: Path, recs: list, where: str,
                                                  words: list[str]) -> None:
    p = jsonl(tmp_path / "bad.jsonl", recs)
    with pytest.raises(InputError) as err:
        inspect(DataSection(train=[DataSource(path=str(p))], mode="entries"), None,
                use_cache=False)
    msg = str(err.value)
    assert err.value.exit_code == 2 and f"bad.jsonl{where}" in msg
    for w in words:
        assert w in msg


def test_inspect_reports_formats(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", [{"instruction": "i", "output": "o"}] * 2)
    s = jsonl(tmp_path / "s.jsonl", [{"conversations": [{"from": "human", "value": "q"},
                                                        {"from": "gpt", "value": "a"}]}])
    st = inspect(DataSection(train=[DataSource(path=str(a)), DataSource(path=str(s))],
                             mode="entries"), None, use_cache=False)
    assert st.formats == {"alpaca": 2, "sharegpt": 1}
    assert [r["formats"] for r in st.per_source] == [{"alpaca": 2}, {"sharegpt": 1}]


def test_preview_rich_counts_and_refusals(tmp_path: Path, tiny_llama: Path, capsys) -> None:
    from ftwizard.cli import main

    p = jsonl(tmp_path / "qa.jsonl", [{"question": "the cat", "answer": " sat"}] * 4)

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as ex:
            main(["data", "preview", str(p), *args])
        out = capsys.readouterr()
        return ex.value.code, out.out, out.err

    code, out, _ = run("--model", str(tiny_llama), "--mode", "entries", "--block-size", "16",
                       "--columns", "prompt=question,completion=answer", "--n", "2")
    assert code == 0 and out.count("example ") == 2 and "trained" in out and "padding" in out
    code, _, err = run("--columns", "prompt=question,completion=answer")
    assert code == 2 and "--model" in err
    code, _, err = run("--model", str(tiny_llama))
    assert code == 2 and "columns: {prompt: question, completion: answer}" in err


def test_inspect_packing_counts_and_padding(tmp_path: Path, tiny_llama: Path, capsys) -> None:
    """inspect --packing: the sequence count is the packed one (what the planner uses), and the
    padding with and without packing is reported."""
    from ftwizard.cli import main

    p = jsonl(tmp_path / "t.jsonl", [{"text": "the cat " * (1 + i % 7)} for i in range(60)])
    outs = []
    for flag in ("--packing", "--no-packing"):
        with pytest.raises(SystemExit) as ex:
            main(["data", "inspect", str(p), "--model", str(tiny_llama), "--mode", "entries",
                  "--block-size", "64", flag, "--json", "--no-cache"])
        assert ex.value.code == 0
        outs.append(json.loads(capsys.readouterr().out))
    packed, plain = outs
    assert plain["sequences"] == 60 and packed["sequences"] == packed["sequences_packed"] < 20
    assert packed["padding_tokens"] == packed["padding_packed"] < plain["padding_tokens"]
    assert plain["padding_unpacked"] == plain["padding_tokens"] == 60 * 64 - (plain["tokens"])
    assert any("data.packing: true would" in n for n in plain["notes"])


def test_packing_refused_where_the_backend_cannot_honour_it(tmp_path: Path) -> None:
    """JAX and pipeline read the attention mask: packed examples would see each other."""
    from ftwizard.core.data_prep import packing_problem
    from ftwizard.core.plan import hardware_for, make_plan

    for par in ("jax", "pipeline"):
        c = from_dict({"model": {"name": "tiny-llama"}, "method": {"parallel": par},
                       "data": {"mode": "entries", "packing": True, "sequences": 100}})
        assert packing_problem(c).field == "data.packing"
        plan = make_plan(c, hardware=hardware_for("auto", 1, None), sequences=100)
        assert any(p.field == "data.packing" for p in plan.problems)
    ok = from_dict({"data": {"mode": "entries", "packing": True}})
    assert packing_problem(ok) is None
