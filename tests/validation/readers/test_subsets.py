"""Hub datasets with subsets (`openai/gsm8k` needs `main`): --subset, a config's `subset:`,
tested on a dataset repository folder as the hub stores one (README.md naming each subset's files)."""

from __future__ import annotations

import json

import pytest

from validation import open_dataset

CARD = """---
configs:
- config_name: main
  data_files:
  - split: train
    path: main/train.jsonl
- config_name: socratic
  data_files:
  - split: train
    path: socratic/train.jsonl
---
# a gsm8k-shaped dataset repository
"""


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    root = tmp_path / "gsm8k"
    subsets = {"main": [("1+1?", "2")], "socratic": [("Why?", "Because."), ("상자는?", "세 개입니다.")]}
    for subset, rows in subsets.items():
        (root / subset).mkdir(parents=True)
        (root / subset / "train.jsonl").write_text(
            "".join(json.dumps({"question": q, "answer": a}, ensure_ascii=False) + "\n" for q, a in rows),
            encoding="utf-8")
    (root / "README.md").write_text(CARD)
    return root


def test_subset_picks_the_configuration(cli, repo):
    result = cli("validate", str(repo), "--subset", "socratic", "--json")
    assert result.code == 0
    assert (result.json()["format"], result.json()["rows"]) == ("qa", 2)
    with open_dataset(repo, subset="main") as data:
        assert [r.data for r in data.records()] == [{"question": "1+1?", "answer": "2"}]


def test_without_a_subset_the_error_names_them(cli, repo):
    result = cli("stats", str(repo))
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"instructkit stats: error: {repo}: could not load dataset from its dataset repository: it has several "
        "subsets ('main', 'socratic'); name one with --subset (`subset:` in a training config)")


def test_an_unknown_subset_lists_the_ones_there(cli, repo):
    result = cli("validate", str(repo), "--subset", "nope")
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"instructkit validate: error: {repo}: could not load dataset from its dataset repository: BuilderConfig "
        "'nope' not found. Available: ['main', 'socratic'] (--subset names one of them)")


def test_a_file_has_no_subsets(cli, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    result = cli("validate", str(path), "--subset", "main")
    assert (result.code, result.err) == (2, f"instructkit validate: error: {path}: a file has no subsets; --subset "
                                            "main names a hub dataset's configuration\n")
