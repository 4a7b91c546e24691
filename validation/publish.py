"""`instructkit publish`: a checked dataset as a folder the Hugging Face hub reads, with a card.

The folder holds `data/<split>.jsonl` (the valid rows, byte for byte, as `--write-clean` writes
them), `README.md` (a dataset card: YAML metadata as the hub reads it — licence, configs and
data files, splits and sizes, size category — then what was checked and the statistics) and
`instructkit.json` (the same facts for a script). `push_to` uploads the finished folder; offline
that fails with one line (`PushFailed`) and the folder stays complete.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validation.errors import InputError, PushFailed, first_line
from validation.report import Report
from validation.outputs import write_file

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


@dataclass
class Published:
    """What `publish` wrote: the folder, the data file, the checks' report, the statistics' summary
    (its JSON), and the hub id it was pushed to (None when not asked)."""

    folder: Path
    data_file: Path
    report: Report
    stats: dict[str, Any]
    templates: dict[str, int]
    pushed_to: str | None = None


def size_category(rows: int) -> str:
    """The hub's `size_categories` value for a number of rows.

    Example:
        >>> size_category(999), size_category(1_000), size_category(250_000)
        ('n<1K', '1K<n<10K', '100K<n<1M')
    """
    return next((name for limit, name in SIZES if rows < limit), "n>1T")


def publish(source: Any, to: str | os.PathLike[str], *, split: str = "train", license: str = "unknown",
            pretty_name: str | None = None, language: list[str] | None = None, format: str | None = None,
            templates: list[Any] = (), near_dup: Any = None, benchmark: Any = None,
            push_to: str | None = None, private: bool = False, progress: bool = False) -> Published:
    """Check `source`, write its valid rows and a dataset card into the folder `to`, and push the
    folder to the hub dataset `push_to` when given.

    `templates`: template objects (`templating.get_template`) the rows are also checked under
    (the card lists rows with errors under each); `near_dup`, `benchmark`: the corpus checks of
    `validate` (their rows are left out, the card counts them). `progress`: a bar on stderr (a
    terminal only) while the rows are checked.

    Raises:
        InputError: nothing valid to publish, `to` is a file, or `push_to` is not USER/NAME.
        PushFailed: the folder is complete but the upload failed (the message says why).
    """
    from validation.statistics.conversations import stats
    from validation.validate import validate

    if push_to is not None and not HUB_ID.fullmatch(push_to):
        raise InputError(f"--push-to-hub {push_to!r}: a hub dataset id is USER/NAME")
    folder = Path(to)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: not a folder (publish writes a folder: data/, README.md, instructkit.json)")
    data_file = folder / "data" / f"{split}.jsonl"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    # the rows go to a file of their own first: a publish that finds nothing valid leaves the split an earlier
    # publish wrote as it was
    written = data_file.with_name(f".checked-{data_file.name}")
    try:
        report = validate(source, format=format, write_clean=written, near_dup=near_dup, benchmark=benchmark,
                          max_issues=100, progress=progress)
        if not report.valid:
            raise InputError(f"{report.path}: no valid row to publish ({report.invalid} of {report.rows} rows have "
                             "errors; see `instructkit validate`)")
        os.replace(written, data_file)
    finally:
        written.unlink(missing_ok=True)
    checked = {t.name: validate(data_file, template=t, max_issues=0).invalid for t in templates}
    summary = stats(data_file).summary.to_json()
    published = Published(folder, data_file, report, summary, checked)
    facts = card_facts(published, split=split, license=license, pretty_name=pretty_name, language=language,
                       hub_id=push_to, earlier=_earlier(folder))
    write_file(folder / "instructkit.json", json.dumps(facts, ensure_ascii=False, indent=1) + "\n")
    write_file(folder / "README.md", dataset_card(facts))
    if push_to is not None:
        upload(folder, push_to, private=private)
        published.pushed_to = push_to
    return published


def _earlier(folder: Path) -> dict[str, Any]:
    """The splits an earlier `publish` wrote into the folder whose data files are still there."""
    try:
        facts = json.loads((folder / "instructkit.json").read_text(encoding="utf-8"))
        splits = facts["splits"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {name: split for name, split in splits.items() if isinstance(split, dict)
            and isinstance(split.get("data_file"), str) and (folder / split["data_file"]).is_file()}


def card_facts(published: Published, *, split: str, license: str, pretty_name: str | None,
               language: list[str] | None, hub_id: str | None = None,
               earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the card says, as one JSON object (`instructkit.json`): the dataset's name,
    licence and languages, and per split (this one, and those of an `earlier` publish into the
    same folder) its file, size, source and what was checked."""
    report, stats = published.report, published.stats
    this = {
        "data_file": published.data_file.relative_to(published.folder).as_posix(),
        "num_bytes": published.data_file.stat().st_size, "source": report.path, "format": report.format,
        "rows": report.valid,
        "validation": {"rows_read": report.rows, "left_out": report.invalid,
                       "issues": {code: n for code, n in report.counts().items()}},
        "templates_checked": published.templates,
        "near_duplicates": report.near_duplicates.to_json() if report.near_duplicates else None,
        "contamination": report.contamination.to_json() if report.contamination else None,
        "stats": stats,
    }
    return {"pretty_name": pretty_name or published.folder.resolve().name, "hub_id": hub_id, "license": license,
            "language": language or [], "splits": {**(earlier or {}), split: this}}


def dataset_card(facts: dict[str, Any]) -> str:
    """README.md: the hub's YAML metadata, then per split what was checked and the statistics."""
    import yaml

    splits = facts["splits"]
    rows = sum(s["rows"] for s in splits.values())
    meta: dict[str, Any] = {"license": facts["license"]}
    if facts["language"]:
        meta["language"] = facts["language"]
    meta |= {
        "pretty_name": facts["pretty_name"], "size_categories": [size_category(rows)],
        "task_categories": ["text-generation"],
        "tags": ["instructkit", *dict.fromkeys(s["format"] for s in splits.values())],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": name, "path": s["data_file"]} for name, s in splits.items()]}],
        "dataset_info": {"splits": [{"name": name, "num_bytes": s["num_bytes"], "num_examples": s["rows"]}
                                    for name, s in splits.items()],
                         "dataset_size": sum(s["num_bytes"] for s in splits.values())},
    }
    first = next(iter(splits))
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip("\n"), "---", "",
             f"# {facts['pretty_name']}", "",
             ", ".join(f"{s['rows']:,} {name} rows (`{s['data_file']}`, {s['format']})" for name, s in splits.items())
             + ", published with instructkit after the checks below.", "",
             "```python", "from datasets import load_dataset", "",
             f"dataset = load_dataset({json.dumps(facts['hub_id'] or 'path/to/this/folder')}, "
             f"split={json.dumps(first)})", "```", ""]
    for name, split in splits.items():
        lines += [f"## What was checked: {name}", ""] + _checked_lines(split) + \
            ["", f"## Statistics: {name}", ""] + _stats_lines(split["stats"]) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _checked_lines(split: dict[str, Any]) -> list[str]:
    v = split["validation"]
    lines = [f"- `instructkit validate`: {v['rows_read']:,} rows read from `{split['source']}`, "
             f"{v['left_out']:,} left out with errors, {split['rows']:,} published."]
    if v["issues"]:
        lines += ["", "| code | rows |", "|---|---|"] + [f"| `{code}` | {n:,} |" for code, n in v["issues"].items()]
        lines.append("")
    for name, invalid in split["templates_checked"].items():
        lines.append(f"- Template `{name}`: {invalid:,} published rows with errors under it "
                     f"({'none' if not invalid else 'see `instructkit validate --template ' + name + '`'}).")
    near = split["near_duplicates"]
    if near:
        lines.append(f"- Near-duplicates (MinHash LSH at {near['threshold']:g}, {near['shingle']}-character shingles "
                     f"of the {near['scope']}): {near['clusters']:,} clusters, {near['dropped']:,} rows left out "
                     "(the first row of each cluster is kept).")
    else:
        lines.append("- Near-duplicates: not checked (`--near-dup`). Exact duplicates: "
                     f"{split['stats'].get('duplicates', {}).get('exact', 0):,}.")
    found = split["contamination"]
    if found:
        lines.append(f"- Benchmark contamination ({found['ngram']}-word overlap with `{found['benchmark']}`, "
                     f"{found['benchmark_rows']:,} rows): {found['contaminated']:,} rows left out, overlapping "
                     f"{found['benchmark_rows_hit']:,} benchmark rows.")
    else:
        lines.append("- Benchmark contamination: not checked (`--decontaminate BENCH`).")
    return lines


def _stats_lines(stats: dict[str, Any]) -> list[str]:
    lines = [f"- Rows: {stats.get('rows', 0):,}"]
    if "messages" in stats:
        turns = stats["turns_per_conversation"]
        lines.append(f"- Messages: {stats['messages']:,}; per conversation p50 {turns['p50']:g}, max {turns['max']}")
        lines.append("- Roles: " + ", ".join(f"{role} {n:,}" for role, n in stats["roles"].items()))
    lengths = stats.get("length_chars") or {}
    if lengths:
        lines += ["", "Characters per message:", "", "| role | p50 | p90 | p99 | max |", "|---|---|---|---|---|"]
        lines += [f"| {role} | {v['p50']:g} | {v['p90']:g} | {v['p99']:g} | {v['max']:g} |"
                  for role, v in lengths.items()]
    return lines


def upload(folder: Path, repo_id: str, *, private: bool = False) -> None:
    """Push the folder to the hub dataset `repo_id` (created if missing); PushFailed otherwise."""
    try:
        from huggingface_hub import HfApi

        api = HfApi()
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                          commit_message="Publish with instructkit")
    except Exception as exc:  # the hub client raises many types; all mean "not pushed"
        reason = first_line(exc)
        raise PushFailed(f"--push-to-hub {repo_id}: the dataset is complete in {folder} but could not be pushed to "
                         f"the Hugging Face hub ({reason}); push later with `huggingface-cli upload {repo_id} "
                         f"{folder} --repo-type dataset` when online") from None
