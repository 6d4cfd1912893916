"""The Data step shows one example as the model will see it, counted as `ftwizard data preview`
counts it; it follows the answers, keeps out of the form's way at 80x24, and says so in one line
when the tokenizer is not on this machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ftwizard.cli import main
from ftwizard.core import questions as q
from ftwizard.tui.screens.step import FieldList
from ftwizard.tui.widgets.data_preview import DataPreview
from ftwizard.tui.widgets.field_row import FieldRow
from tests.tui.conftest import make_app, snapshot_config

pytestmark = pytest.mark.tui

TWO_TURNS = [{"role": "user", "content": "the cat"},
             {"role": "assistant", "content": "sat on the mat"},
             {"role": "user", "content": "and the dog"},
             {"role": "assistant", "content": "runs far away from the cat"}]


@pytest.fixture
def chat(tmp_path: Path) -> Path:
    path = tmp_path / "chat.jsonl"
    other = [{"role": "user", "content": "a fox"}, {"role": "assistant", "content": "jumps"}]
    path.write_text(json.dumps({"messages": TWO_TURNS}) + "\n"
                    + json.dumps({"messages": other}) + "\n")
    return path


def chat_config(model: str, path: Path, block_size: int = 128):  # noqa: ANN201
    return snapshot_config(**{"model.name": model, "data.train": [{"path": str(path)}],
                              "data.sequences": None, "data.mode": "entries",
                              "data.block_size": block_size})


def cli_preview(capsys, path: Path, model: Path, block_size: int) -> dict:  # noqa: ANN001
    with pytest.raises(SystemExit) as ex:
        main(["data", "preview", str(path), "--model", str(model), "--mode", "entries",
              "--block-size", str(block_size), "--n", "1", "--json"])
    out = capsys.readouterr()
    assert ex.value.code == 0, out.err
    (first,) = json.loads(out.out)
    return first


def shown_counts(widget: DataPreview) -> tuple[int, int, int]:
    """(trained, masked, padding) as the widget draws them."""
    text = widget.render().plain
    m = re.search(r"([\d,]+) trained, ([\d,]+) masked, ([\d,]+) padding", text)
    assert m, text
    return tuple(int(g.replace(",", "")) for g in m.groups())  # type: ignore[return-value]


async def settle(pilot) -> None:  # noqa: ANN001
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def test_the_data_step_counts_as_data_preview_does(chat: Path, tiny_llama: Path,
                                                         capsys) -> None:  # noqa: ANN001
    expected = cli_preview(capsys, chat, tiny_llama, 128)
    short = cli_preview(capsys, chat, tiny_llama, 40)   # before the app: it holds stdout
    app = make_app(chat_config(str(tiny_llama), chat), step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        widget = app.screen.query_one(DataPreview)
        assert widget.result is not None and widget.result.example is not None
        assert widget.full                               # room for the tokens at 120x40
        trained, masked, padding = shown_counts(widget)
        assert trained == sum(expected["trained"]) > 0
        assert trained + masked == len(expected["ids"])
        assert padding == 128 - len(expected["ids"])
        assert widget.result.example.ids == expected["ids"]
        drawn = widget.render()
        # the replies are what is highlighted: the trained spans of the drawn text
        bright = "".join(drawn.plain[s.start:s.end] for s in drawn.spans
                         if "green" in str(s.style))
        assert "sat on the mat" in bright and "runs far away from the cat" in bright
        assert "the cat" not in bright.replace("from the cat", "")   # the user turn is masked

        # a new block size: a new preview (the tokenizer stays cached in the session)
        app.set_config(app.config.model_copy(update={"data": app.config.data.model_copy(
            update={"block_size": 40})}))
        await settle(pilot)
        assert 0 < sum(short["trained"]) < trained
        assert shown_counts(widget) == (sum(short["trained"]), 40 - sum(short["trained"]), 0)
        assert "cut at block_size" in widget.render().plain


@pytest.mark.parametrize("size", [(80, 24), (80, 20)], ids=["80x24", "80x20"])
async def test_small_terminals_keep_the_forms_rows(chat: Path, tiny_llama: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   size: tuple[int, int]) -> None:
    """The preview takes only the rows the form leaves; at the smallest size that is one line
    of counts."""
    monkeypatch.chdir(chat.parent)
    app = make_app(chat_config(str(tiny_llama), Path(chat.name)), step="data")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        widget = app.screen.query_one(DataPreview)
        lines = widget.render().plain.splitlines()
        assert 1 <= len(lines) <= widget.size.height
        assert widget.full == (size == (80, 24))
        if not widget.full:
            assert len(lines) == 1
        shown_counts(widget)                      # trained, masked and padding all readable
        fields = app.screen.query_one(FieldList)
        rows = [r for r in app.screen.query(FieldRow) if r.display]
        assert len(rows) == len([f for f in q.step("data").fields if f.applies(app.config)])
        assert fields.size.height >= sum(r.outer_size.height for r in rows)   # nothing scrolled
        assert fields.max_scroll_y == 0


async def test_without_the_tokenizer_one_dim_line(chat: Path) -> None:
    app = make_app(chat_config("meta-llama/Llama-2-7b-hf", chat), step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        drawn = app.screen.query_one(DataPreview).render()
        assert drawn.plain.startswith("no local tokenizer, no token preview (meta-llama/")
        assert "\n" not in drawn.plain
        assert "dim" in str(drawn.style)


async def test_a_bad_record_is_one_line_naming_it(tmp_path: Path, tiny_llama: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hello"}]}) + "\n")
    app = make_app(chat_config(str(tiny_llama), path), step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        widget = app.screen.query_one(DataPreview)
        assert widget.result is not None and widget.result.error is not None
        drawn = widget.render()
        assert drawn.plain.startswith("preview: ") and "\n" not in drawn.plain
        assert "bad.jsonl:1" in widget.result.error.render()
