"""A YAML config with a section or key written twice used to load silently, keeping only the last
one (issue 13): two `train:` sections dropped the first one's settings without a word."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftwizard.core.config import load_config, parse_config
from ftwizard.core.errors import InputError

TWO_TRAIN = """\
name: twice
train:
  lr: 0.001
  micro_batch: 4
model:
  name: gpt2
train:
  epochs: 2
"""


def test_a_section_written_twice_names_the_key_and_both_lines(tmp_path: Path) -> None:
    p = tmp_path / "run.yaml"
    p.write_text(TWO_TRAIN)
    with pytest.raises(InputError) as err:
        load_config(p)
    text = str(err.value)
    assert err.value.field == "train" and err.value.exit_code == 2
    assert "line 7" in text and "line 2" in text and "run.yaml" in text
    assert "merge" in err.value.fix


def test_a_nested_key_written_twice_is_named_with_its_section() -> None:
    with pytest.raises(InputError) as err:
        parse_config("train:\n  lr: 0.1\n  micro_batch: 2\n  lr: 0.2\n", source="c.yaml")
    assert err.value.field == "train.lr" and "line 4" in str(err.value)


def test_the_same_key_in_two_list_items_is_fine() -> None:
    cfg = parse_config("data:\n  train:\n    - path: a.jsonl\n      weight: 1\n"
                       "    - path: b.jsonl\n      weight: 2\n")
    assert [s.path for s in cfg.data.train] == ["a.jsonl", "b.jsonl"]


def test_yaml_merge_keys_still_override() -> None:
    """`<<: *base` then an explicit key is an override, not a duplicate."""
    cfg = parse_config("train:\n  <<: {lr: 0.1, micro_batch: 2}\n  lr: 0.2\n")
    assert cfg.train.lr == 0.2 and cfg.train.micro_batch == 2
