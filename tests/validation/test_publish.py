"""`instructkit publish`: the valid rows and a card the hub reads, in a folder; a failed push leaves it complete."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.validation.checks.test_near_duplicates import ROWS, write
from tests.validation.test_broken_rows import BROKEN


def card(folder) -> tuple[dict, str]:
    text = (folder / "README.md").read_text(encoding="utf-8")
    _, meta, body = text.split("---\n", 2)
    return yaml.safe_load(meta), body


def test_the_folder_holds_the_valid_rows_a_card_and_the_facts(cli, tmp_path):
    write(tmp_path / "d.jsonl", ROWS)
    result = cli("publish", tmp_path / "d.jsonl", "--to", tmp_path / "pub", "--near-dup", "--license", "mit",
                 "--language", "en,ko", "--pretty-name", "Photosynthesis QA", "--template", "chatml",
                 "--decontaminate", BROKEN / "benchmark.json")
    assert result.code == 0, result.err
    assert f"published 4 rows to {tmp_path / 'pub'}" in result.err
    lines = (tmp_path / "d.jsonl").read_bytes().splitlines(keepends=True)
    assert (tmp_path / "pub" / "data" / "train.jsonl").read_bytes() == b"".join(lines[k - 1] for k in (1, 2, 4, 7))
    meta, body = card(tmp_path / "pub")
    size = (tmp_path / "pub" / "data" / "train.jsonl").stat().st_size
    assert meta == {"license": "mit", "language": ["en", "ko"], "pretty_name": "Photosynthesis QA",
                    "size_categories": ["n<1K"], "task_categories": ["text-generation"],
                    "tags": ["instructkit", "messages"],
                    "configs": [{"config_name": "default", "data_files": [{"split": "train",
                                                                           "path": "data/train.jsonl"}]}],
                    "dataset_info": {"splits": [{"name": "train", "num_bytes": size, "num_examples": 4}],
                                     "dataset_size": size}}
    assert "- `instructkit validate`: 7 rows read from" in body and "3 left out with errors, 4 published." in body
    assert "| `fuzzy-duplicate` | 3 |" in body and "- Template `chatml`: 0 published rows with errors" in body
    assert "Near-duplicates (MinHash LSH at 0.8, 10-character shingles of the conversation): 2 clusters, " \
           "3 rows left out" in body
    assert "Benchmark contamination (13-word overlap with" in body and ": 0 rows left out" in body
    facts = json.loads((tmp_path / "pub" / "instructkit.json").read_text(encoding="utf-8"))
    train = facts["splits"]["train"]
    assert (facts["license"], facts["language"], list(facts["splits"])) == ("mit", ["en", "ko"], ["train"])
    assert (train["rows"], train["validation"]["left_out"], train["near_duplicates"]["dropped"],
            train["contamination"]["contaminated"], train["templates_checked"]) == (4, 3, 3, 0, {"chatml": 0})
    assert train["stats"]["rows"] == 4 and train["stats"]["roles"] == {"assistant": 4, "user": 4}


def test_datasets_loads_the_folder_by_its_card(tmp_path):
    import datasets

    write(tmp_path / "d.jsonl", ROWS)
    from validation.publish import publish

    publish(tmp_path / "d.jsonl", tmp_path / "pub", split="train")
    loaded = datasets.load_dataset(str(tmp_path / "pub"), split="train")
    assert loaded.num_rows == 7 and loaded[0]["messages"] == ROWS[0]["messages"]  # (no --near-dup: all valid)


def test_a_push_offline_is_one_line_and_the_folder_stays_complete(tmp_path):
    write(tmp_path / "d.jsonl", ROWS)
    done = subprocess.run([sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())", "publish",
                           str(tmp_path / "d.jsonl"), "--to", str(tmp_path / "pub"), "--push-to-hub", "me/data"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(
        f"instructkit publish: --push-to-hub me/data: the dataset is complete in {tmp_path / 'pub'} but could not be "
        "pushed to the Hugging Face hub (")
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "pub").iterdir()) == ["README.md", "data", "instructkit.json"]


def test_nothing_to_publish_or_a_file_as_folder_is_exit_2(cli, tmp_path):
    result = cli("publish", BROKEN / "null-content.jsonl", "--to", tmp_path / "pub", "--format", "messages")
    assert result.code == 0  # rows 1 and 3 are valid
    (tmp_path / "bad.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    result = cli("publish", tmp_path / "bad.jsonl", "--to", tmp_path / "pub2")
    assert result.code == 2 and "no valid row to publish (1 of 1 rows have errors" in result.err
    assert not (tmp_path / "pub2" / "data" / "train.jsonl").exists()
    (tmp_path / "file").write_text("x", encoding="utf-8")
    result = cli("publish", BROKEN / "null-content.jsonl", "--to", tmp_path / "file")
    assert result.code == 2 and "not a folder" in result.err
    result = cli("publish", BROKEN / "null-content.jsonl", "--to", tmp_path / "p3", "--push-to-hub", "no-slash")
    assert result.code == 2 and "a hub dataset id is USER/NAME" in result.err


def test_a_second_split_joins_the_first_in_the_card_and_load_dataset(cli, tmp_path):
    import datasets

    write(tmp_path / "train.jsonl", ROWS)
    write(tmp_path / "test.jsonl", ROWS[:2])
    assert cli("publish", tmp_path / "train.jsonl", "--to", tmp_path / "pub").code == 0
    assert cli("publish", tmp_path / "test.jsonl", "--to", tmp_path / "pub", "--split", "test").code == 0
    meta, body = card(tmp_path / "pub")
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train.jsonl"}, {"split": "test", "path": "data/test.jsonl"}]}]
    assert [(s["name"], s["num_examples"]) for s in meta["dataset_info"]["splits"]] == [("train", 7), ("test", 2)]
    assert "## What was checked: train" in body and "## What was checked: test" in body
    loaded = datasets.load_dataset(str(tmp_path / "pub"))
    assert {name: part.num_rows for name, part in loaded.items()} == {"train": 7, "test": 2}
    # publishing train again replaces that split only
    write(tmp_path / "train.jsonl", ROWS[:3])
    assert cli("publish", tmp_path / "train.jsonl", "--to", tmp_path / "pub").code == 0
    meta, _ = card(tmp_path / "pub")
    assert [(s["name"], s["num_examples"]) for s in meta["dataset_info"]["splits"]] == [("train", 3), ("test", 2)]


def test_a_publish_with_nothing_valid_leaves_an_earlier_split_as_it_was(cli, tmp_path):
    write(tmp_path / "train.jsonl", ROWS)
    assert cli("publish", tmp_path / "train.jsonl", "--to", tmp_path / "pub").code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "pub" / "data").iterdir()}
    (tmp_path / "bad.jsonl").write_text('{"messages": []}\n', encoding="utf-8")
    result = cli("publish", tmp_path / "bad.jsonl", "--to", tmp_path / "pub")
    assert result.code == 2 and "no valid row to publish" in result.err
    assert {p.name: p.read_bytes() for p in (tmp_path / "pub" / "data").iterdir()} == before
