"""Every format trains a tiny model for real, and a 3-turn chat trains exactly its three replies:
`ftwizard data preview --json` token by token against the labels the backend trains on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend_kit import WORDS, config, make_run
from ftwizard.cli import main
from ftwizard.core.config import from_dict

CHAT = [{"role": "system", "content": "Be short."},
        {"role": "user", "content": "the cat"}, {"role": "assistant", "content": "sat on the mat"},
        {"role": "user", "content": "the dog"}, {"role": "assistant", "content": "runs"},
        {"role": "user", "content": "a fox"}, {"role": "assistant", "content": "jumps over"}]


def words(i: int, n: int) -> str:
    return " ".join(WORDS[(i + j) % len(WORDS)] for j in range(n))


def record(fmt: str, i: int) -> dict:
    q, a = words(i, 3), words(i + 3, 4)
    return {
        "text": {"text": words(i, 8)},
        "prompt_completion": {"prompt": q, "completion": " " + a},
        "alpaca": {"instruction": q, "input": words(i + 1, 2) if i % 2 else "", "output": a},
        "sharegpt": {"conversations": [{"from": "human", "value": q}, {"from": "gpt", "value": a},
                                       {"from": "human", "value": a}, {"from": "gpt", "value": q}]},
        "messages": {"messages": [{"role": "system", "content": "be brief"},
                                  {"role": "user", "content": q},
                                  {"role": "assistant", "content": a}]},
    }[fmt]


def preview_json(capsys, *args: str) -> list[dict]:
    with pytest.raises(SystemExit) as ex:
        main(["data", "preview", *args, "--json"])
    out = capsys.readouterr()
    assert ex.value.code == 0, out.err
    return json.loads(out.out)


@pytest.mark.e2e
def test_three_turn_chat_trains_exactly_the_replies(tmp_path: Path, tiny_llama: Path,
                                                    capsys) -> None:
    from ftwizard.core.backends import hf
    from ftwizard.core.data import LightTokenizer

    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": CHAT}) + "\n")
    (ex,) = preview_json(capsys, str(path), "--model", str(tiny_llama), "--mode", "entries",
                         "--block-size", "128")
    assert len(ex["ids"]) == len(ex["tokens"]) == len(ex["trained"])
    # the trained tokens, run by run, are the three replies (each with the template's "\n"
    # ending the turn; the last one with the EOS that ends the example)
    runs, cur = [], []
    for tok_id, on in zip(ex["ids"], ex["trained"]):
        if on:
            cur.append(tok_id)
        elif cur:
            runs.append(cur)
            cur = []
    runs += [cur] if cur else []
    light = LightTokenizer(tiny_llama)
    assert [light.decode(r) for r in runs] == ["sat on the mat\n", "runs\n", "jumps over\n</s>"]
    assert "".join(ex["tokens"][i] for i, on in enumerate(ex["trained"]) if on) == \
        "sat on the mat\nruns\njumps over\n</s>"
    # the backend's own training data, token by token
    cfg = from_dict(config(tiny_llama, path, data={"mode": "entries", "block_size": 128}))
    _, train, _ = hf.load_data(cfg)
    (seq,) = train
    n = len(ex["ids"])
    assert seq["input_ids"][:n] == ex["ids"]
    assert [int(y != -100) for y in seq["labels"][1:n]] == ex["trained"][1:]
    assert all(y == -100 for y in seq["labels"][n:])          # padding is never trained


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["text", "prompt_completion", "alpaca", "sharegpt", "messages"])
def test_each_format_trains(tmp_path: Path, tiny_llama: Path, fmt: str) -> None:
    from ftwizard.core.backends import hf

    path = tmp_path / f"{fmt}.jsonl"
    path.write_text("".join(json.dumps(record(fmt, i)) + "\n" for i in range(48)))
    cfg_dict = config(tiny_llama, path, data={"mode": "entries", "block_size": 64},
                      train={"micro_batch": 8, "max_steps": 12, "lr": 3e-3, "log_every": 1})
    run = make_run(tmp_path / "run", cfg_dict)
    out = hf.train(from_dict(cfg_dict), run)
    assert out.status == "finished" and out.trainer.state.global_step == 12
    losses = [h["loss"] for h in out.trainer.state.log_history if "loss" in h]
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3])


@pytest.mark.e2e
def test_base_model_chat_template_trains_and_is_saved(tmp_path: Path, tiny_gpt2: Path) -> None:
    """tiny GPT-2 has no chat template: ShareGPT data trains with data.chat_template: chatml,
    and final/ carries that template so inference formats chats the same way."""
    from transformers import AutoTokenizer

    from ftwizard.core.backends import hf
    from ftwizard.core.chat_templates import CHATML

    path = tmp_path / "sg.jsonl"
    path.write_text("".join(json.dumps(record("sharegpt", i)) + "\n" for i in range(16)))
    cfg_dict = config(tiny_gpt2, path, data={"mode": "entries", "block_size": 128,
                                             "chat_template": "chatml", "packing": True},
                      train={"micro_batch": 4, "max_steps": 4})
    run = make_run(tmp_path / "run", cfg_dict)
    out = hf.train(from_dict(cfg_dict), run)
    assert out.status == "finished"
    assert AutoTokenizer.from_pretrained(str(run / "final")).chat_template == CHATML
