"""Several datasets in one run: each checked, sampled by weight or rows (seeded), trained, counted per source."""

from __future__ import annotations

import json
import random

import pytest

from tests.training.conftest import write_config
from training import load_config, run
from training.config import ConfigError
from training.mixture import sample, source_names

pytest.importorskip("trl")

SFT = {"max_steps": 2, "per_device_train_batch_size": 4, "save_strategy": "no", "disable_tqdm": True,
       "report_to": "none"}


def sources(tmp_path) -> dict[str, object]:
    """Three sources in three formats: chat (messages, 8 rows), math (qa, 6 rows), ko (sharegpt, 4 rows)."""
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Say {i}."},
                                                     {"role": "assistant", "content": f"{i}."}]}) + "\n"
                            for i in range(8)), encoding="utf-8")
    math = tmp_path / "math.jsonl"
    math.write_text("".join(json.dumps({"question": f"{i} + {i}?", "answer": f"{2 * i}", "id": i}) + "\n"
                            for i in range(6)), encoding="utf-8")
    ko = tmp_path / "ko.json"
    ko.write_text(json.dumps([{"conversations": [{"from": "human", "value": f"{i} 더하기 1은?"},
                                                 {"from": "gpt", "value": f"{i + 1}입니다."}]} for i in range(4)],
                             ensure_ascii=False), encoding="utf-8")
    return {"chat": chat, "math": math, "ko": ko}


def mixture_config(tmp_path, tiny_model, **extra):
    paths = sources(tmp_path)
    return load_config(model=str(tiny_model), template="smollm2", output_dir=str(tmp_path / "out"), max_length=64,
                       seed=7, sft=SFT, dataset=[{"path": str(paths["chat"]), "weight": 0.5},
                                                 {"path": str(paths["math"]), "rows": 9, "name": "math"},
                                                 {"path": str(paths["ko"])}], **extra)


def test_each_source_is_sampled_checked_and_counted_in_the_summary(tiny_model, tmp_path):
    summary = run(mixture_config(tmp_path, tiny_model))
    out = tmp_path / "out"
    mixture = json.loads((out / "mixture.json").read_text())
    assert [(s["name"], s["format"], s["valid"], s["sampled"], s["distinct"]) for s in mixture["sources"]] == [
        ("chat", "messages", 8, 4, 4), ("math", "qa", 6, 9, 6), ("ko", "sharegpt", 4, 4, 4)]
    assert (mixture["rows"], mixture["format"], mixture["seed"]) == (17, "messages", 7)
    rows = [json.loads(line) for line in (out / "mixture.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 17 and sum("id" in r for r in rows) == 9  # qa's metadata kept through conversion
    assert summary.sources == {"chat": 4, "math": 9, "ko": 4} and summary.train_rows == 17
    for folder in ("01-chat", "02-math", "03-ko"):
        assert json.loads((out / "sources" / folder / "validation.json").read_text())["invalid"] == 0
        assert json.loads((out / "sources" / folder / "stats.json").read_text())["rows"] > 0
    assert json.loads((out / "validation.json").read_text())["rows"] == 17  # the gate ran over the mixture
    metrics = json.loads((out / "metrics.json").read_text())["summary"]
    assert metrics["sources"] == {"chat": 4, "math": 9, "ko": 4}
    by_source = json.loads((out / "audit_by_source.json").read_text())
    assert {name: v["rows"] for name, v in by_source.items()} == {"chat": 4, "math": 9, "ko": 4}


def test_pairs_from_two_sources_train_dpo_as_one_mixture(tiny_model, tmp_path, dry_run_reports):
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"prompt": f"Count to {i}.", "chosen": " ".join(map(str, range(1, i + 1))),
                                         "rejected": "No."}) + "\n" for i in range(2, 6)), encoding="utf-8")
    chats = tmp_path / "chats.jsonl"
    chats.write_text("".join(json.dumps({"chosen": [{"role": "user", "content": f"Hi {i}"},
                                                    {"role": "assistant", "content": f"Hello {i}!"}],
                                         "rejected": [{"role": "user", "content": f"Hi {i}"},
                                                      {"role": "assistant", "content": "Go away."}]}) + "\n"
                             for i in range(3)), encoding="utf-8")
    config = load_config(model=str(tiny_model), template="smollm2", method="dpo", output_dir=str(tmp_path / "out"),
                         max_length=64, dataset=[{"path": str(plain)}, {"path": str(chats), "rows": 6}])
    assert run(config, dry_run=True) is None
    summary = run(load_config(**config.model_dump(exclude={"dpo", "eval"}), eval={"ratio": 0.2},
                              dpo={"max_steps": 1, "per_device_train_batch_size": 2, "save_strategy": "no",
                                   "disable_tqdm": True, "report_to": "none"}))
    assert summary.sources is not None and sum(summary.sources.values()) == summary.train_rows == 8
    mixture = json.loads((dry_run_reports / "mixture.json").read_text())
    assert (mixture["format"], mixture["rows"]) == ("preference", 10)
    assert [(s["format"], s["sampled"]) for s in mixture["sources"]] == [("preference", 4),
                                                                        ("preference-implicit", 6)]
    by_source = json.loads((dry_run_reports / "audit_by_source.json").read_text())
    assert {name: v["rows"] for name, v in by_source.items()} == {"plain": 4, "chats": 6}


def test_the_same_seed_makes_the_same_mixture_and_another_seed_another(tiny_model, tmp_path):
    from training.mixture import build

    config = mixture_config(tmp_path, tiny_model)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    build(config, tmp_path / "a")
    build(config, tmp_path / "b")
    build(config.model_copy(update={"seed": 8}), tmp_path / "c")
    first = (tmp_path / "a" / "mixture.jsonl").read_bytes()
    assert first == (tmp_path / "b" / "mixture.jsonl").read_bytes()
    assert first != (tmp_path / "c" / "mixture.jsonl").read_bytes()


def test_an_invalid_source_stops_the_run_naming_it(tiny_model, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # (long paths on one line)
    paths = sources(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}\n')
    result = cli("train", write_config(tmp_path, model=str(tiny_model), output_dir=str(tmp_path / "out"),
                                       dataset=[{"path": str(paths["chat"])}, {"path": str(bad)}]))
    assert result.code == 1 and f"{bad}: 1 invalid rows of 1 (empty-content 1); training stopped" in result.out
    report = json.loads((tmp_path / "out" / "sources" / "02-bad" / "validation.json").read_text())
    assert [(i["row"], i["code"]) for i in report["issues"]] == [(1, "empty-content")]


def test_sources_of_two_kinds_or_weight_and_rows_together_are_refused(tiny_model, tmp_path):
    paths = sources(tmp_path)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "hi", "chosen": "hello", "rejected": "go away"}) + "\n")
    config = load_config(model=str(tiny_model), output_dir=str(tmp_path / "out"),
                         dataset=[{"path": str(paths["chat"])}, {"path": str(pairs)}])
    with pytest.raises(ConfigError, match="the sources mix conversations and preference pairs"):
        run(config, dry_run=True)
    with pytest.raises(ConfigError, match="give weight or rows, not both"):
        load_config(dataset=[{"path": str(paths["chat"]), "weight": 0.5, "rows": 3}])


def test_paths_in_a_config_file_are_read_from_its_folder(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "a.jsonl").write_text("{}\n")
    path = write_config(tmp_path / "cfg", dataset=[{"path": "a.jsonl"}, {"path": "openai/gsm8k", "rows": 10}])
    config = load_config(path)
    assert [s.path for s in config.dataset] == [str(tmp_path / "cfg" / "a.jsonl"), "openai/gsm8k"]


def test_sampling_takes_whole_copies_then_a_seeded_share():
    assert sample(3, weight=2.0, rows=None, rng=random.Random(1)) == [0, 0, 1, 1, 2, 2]
    assert len(sample(10, weight=0.25, rows=None, rng=random.Random(1))) == 2  # 2.5 rounds to even
    assert sample(0, weight=None, rows=5, rng=random.Random(1)) == []
    assert source_names([type("S", (), {"name": None, "path": "x/data.tar.gz"})()]) == ["data"]


def test_corpus_checks_stop_the_run_or_leave_their_rows_out(tiny_model, tmp_path, cli):
    from tests.validation.test_broken_rows import BROKEN

    paths = sources(tmp_path)
    copies = tmp_path / "copies.jsonl"  # chat's first row twice more, and a benchmark question
    first = paths["chat"].read_text(encoding="utf-8").splitlines()[0]
    bench = json.loads((BROKEN / "benchmark.json").read_text(encoding="utf-8"))[0]["question"]
    copies.write_text(first + "\n" + first.replace("Say 0.", "Say 0!") + "\n" + json.dumps(
        {"messages": [{"role": "user", "content": bench}, {"role": "assistant", "content": "84"}]}) + "\n",
        encoding="utf-8")
    mixture = [{"path": str(paths["chat"])}, {"path": str(copies), "name": "copies"}]
    checks = {"near_dup": 0.8, "decontaminate": str(BROKEN / "benchmark.json")}
    result = cli("train", write_config(tmp_path, model=str(tiny_model), output_dir=str(tmp_path / "stop"),
                                       dataset=mixture, seed=3, **checks))
    assert result.code == 1 and "fuzzy-duplicate" in result.out and "benchmark-overlap" in result.out
    summary = run(load_config(model=str(tiny_model), template="smollm2", output_dir=str(tmp_path / "out"),
                              max_length=64, seed=3, sft=SFT, dataset=mixture, on_invalid="drop", **checks))
    corpus = json.loads((tmp_path / "out" / "corpus.json").read_text())
    assert (corpus["rows"], corpus["invalid"], corpus["near_duplicates"]["dropped"],
            corpus["contamination"]["contaminated"]) == (11, 3, 2, 1)
    # of the three copies of chat's first row, the first in the mixture's order stays, from either source
    assert summary.train_rows == 8 and sum(summary.sources.values()) == 8 and summary.sources["copies"] <= 1
    assert len((tmp_path / "out" / "clean.jsonl").read_text().splitlines()) == 8


def test_a_source_left_with_no_valid_row_under_drop_gives_none(tiny_model, tmp_path, dry_run_reports):
    paths = sources(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}\n')
    config = load_config(model=str(tiny_model), template="smollm2", output_dir=str(tmp_path / "out"), max_length=64,
                         on_invalid="drop", dataset=[{"path": str(paths["chat"])}, {"path": str(bad)}])
    assert run(config, dry_run=True) is None
    mixture = json.loads((dry_run_reports / "mixture.json").read_text())
    assert [(s["name"], s["valid"], s["sampled"]) for s in mixture["sources"]] == [("chat", 8, 8), ("bad", 0, 0)]
