"""`stats A B C`: a row per source and one for all of them, with the rows repeated across sources."""

from __future__ import annotations

import json

from tests.validation.test_broken_rows import BROKEN


def test_each_source_and_the_whole_with_repeats_across_sources(cli, tmp_path):
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Say {i}."},
                                                     {"role": "assistant", "content": f"{i}."}]}) + "\n"
                            for i in range(5)), encoding="utf-8")
    qa = tmp_path / "qa.jsonl"  # its row 1 is chat's row 2 in another format
    qa.write_text(json.dumps({"question": "Say 1.", "answer": "1."}) + "\n" +
                  json.dumps({"question": "한국어로 말해 주세요.", "answer": "네, 좋습니다."}) + "\n", encoding="utf-8")
    result = cli("stats", chat, qa, chat, "--json")
    assert result.code == 0, result.err
    found = result.json()
    assert [(s["path"], s["format"], s["rows"], s["messages"]) for s in found["sources"]] == [
        (str(chat), "messages", 5, 10), (str(qa), "qa", 2, 4), (str(chat), "messages", 5, 10)]
    assert (found["all"]["rows"], found["all"]["messages"], found["all"]["duplicates"]["exact"]) == (12, 24, 6)
    assert found["all"]["repeated_across_sources"] == 6  # chat again (5) and qa's row 1
    assert "rows repeating a row of another source: 6" in result.err


def test_pairs_have_no_whole_and_one_dataset_options_are_refused(cli, tmp_path):
    result = cli("stats", BROKEN / "identical-pair.jsonl", BROKEN / "duplicate.jsonl", "--json")
    assert result.code == 0 and result.json()["all"] is None
    result = cli("stats", BROKEN / "duplicate.jsonl", BROKEN / "duplicate.jsonl", "--plot", tmp_path / "p.png")
    assert result.code == 2 and "--compare, --plot and --html describe one dataset" in result.err
