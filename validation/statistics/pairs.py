"""Statistics of preference data: one row per pair (or unpaired reply) in a Polars frame, and the
summary a DPO or KTO user looks at before training: how long each part is, whether chosen replies
are simply longer than rejected ones (the length bias DPO learns all too well), ties, replies that
begin alike, the label balance, duplicates, and a picture of both length distributions.

Example:
    >>> s = pair_stats([{"prompt": "2+2?", "chosen": "It is 4.", "rejected": "5"}]).summary
    >>> s.pairs, s.length_bias["chosen_longer"], s.lengths["chosen"]["max"]
    (1, 1.0, 8.0)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from validation.outputs import Paths
from validation.models import Preference, Unpaired
from validation.readers.files import Record
from validation.readers.source import Source, dataset_of, source_name
from validation.summaries import PairSummary
from validation.tokens import Tokenizer
from validation.report import Console

QUANTILES = (0.5, 0.9, 0.99)
PARTS = ("prompt", "chosen", "rejected", "completion")


@dataclass
class PairStats:
    """`frame`: one row per readable row (lengths of each part, label, hashes); `summary`: the report."""

    name: str
    format: str
    frame: pl.DataFrame
    summary: PairSummary
    conversations: pl.DataFrame = field(repr=False)  # the prompt hashes `leakage` compares (exact, folded)

    def plot(self, path: str | os.PathLike[str], *, html: bool | None = None, inputs: Paths = ()) -> Path:
        """Write the length histograms as PNG, or a self-contained HTML report, as `Stats.plot`
        does (the same options, the same refusal to write over the dataset or one of `inputs`)."""
        from validation.statistics.report import plot

        return plot(self, path, html=html, inputs=inputs)

    compare_label = "B prompts also in A: exact / normalised"

    def lines(self) -> list[tuple[str, str]]:
        """The overview, as (label, value) lines (terminal, comparison, HTML)."""
        return pair_lines(self.summary)

    def show(self, console: Console) -> None:
        """Print the terminal tables."""
        render_pairs(self, console)

    def figure(self, plt: Any) -> Any:
        """The length histograms, a matplotlib figure."""
        return pair_figure(self, plt)


def percent(share: float) -> str:
    """A share as a whole percentage, with one decimal where whole would read as none or all
    (0.5 % is "0.5%", not "0%").

    Example:
        >>> percent(0.005), percent(0.42), percent(0.9996), percent(0.0)
        ('0.5%', '42%', '99.96%', '0%')
    """
    if 0 < share < 0.01 or 0.99 < share < 1:
        return f"{share * 100:.2f}".rstrip("0").rstrip(".") + "%"
    return f"{share:.0%}"

def _text(messages: list[Any]) -> str:
    return "\n".join(m.content for m in messages)


def pair_stats(source: Source, *, tokenizer: Tokenizer | None = None, format: str | None = None,
               column: str | None = None, split: str = "train", progress: bool = False) -> PairStats:
    """Statistics of a preference dataset; lengths in tokens of the message texts when `tokenizer`
    is given (else characters)."""
    from validation.progress import progress_bar

    with dataset_of(source, format=format, column=column, split=split) as data, \
            progress_bar(data, progress, "reading") as advance:
        fmt = data.format
        part, frame = pair_part(data.records(progress=advance), fmt.name, tokenizer)
    return PairStats(source_name(source), fmt.name, frame, pair_summary(part, tokenizer is not None), part.prompts)


@dataclass
class PairPart:
    """What some rows of preference data give `pair_stats`' summary, without their text: the parts of a sharded
    `stats` add up (`merge_pair_parts`) to what the whole dataset gives."""

    frame: pl.DataFrame  # per readable row: each part's length (null where the row has none), label, paired
    skipped: int
    ties: tuple[int, int]  # pairs whose replies are the same, exactly and after folding
    shared: list[int]  # per pair with different replies: characters their first messages share at the start
    exact: list[int]  # each readable row's duplicate fingerprints (`prover.fingerprints`)
    folded: list[int]
    prompts: pl.DataFrame  # each readable row's prompt hashes (exact, folded): what `leakage` compares


def pair_part(records: Iterable[Record], fmt: str, tokenizer: Tokenizer | None) -> tuple[PairPart, pl.DataFrame]:
    """(the part `records` give, read as preference format `fmt`; their frame: each part's text and length, label)."""
    from validation.checks.messages import message_dup_text
    from validation.checks.pairs import fold_alike, read_pair
    from validation.checks.prover import fingerprints, hash_conversation
    from validation.tokens import count_tokens

    values: list[Preference | Unpaired] = []
    dup_texts: list[str] = []
    skipped = 0
    for record in records:
        value = read_pair(fmt, record.data, record.row)[0] if isinstance(record.data, dict) else None
        if value is None:
            skipped += 1
            continue
        values.append(value)
        replies = value.chosen + value.rejected if isinstance(value, Preference) else value.completion
        dup_texts.append(message_dup_text(value.prompt + replies))
    columns: dict[str, list[Any]] = {part: [] for part in PARTS}
    for v in values:
        columns["prompt"].append(_text(v.prompt))
        paired = isinstance(v, Preference)
        columns["chosen"].append(_text(v.chosen) if paired else None)
        columns["rejected"].append(_text(v.rejected) if paired else None)
        columns["completion"].append(None if paired else _text(v.completion))
    frame = pl.DataFrame(columns, schema={part: pl.String for part in PARTS}).with_columns(
        label=pl.Series([None if isinstance(v, Preference) else v.label for v in values], dtype=pl.Boolean),
        paired=pl.Series([isinstance(v, Preference) for v in values], dtype=pl.Boolean))
    for part in PARTS:
        if tokenizer is not None:
            counts = pl.Series(count_tokens(frame[part].fill_null("").to_list(), tokenizer), dtype=pl.Int64)
            length = pl.when(pl.col(part).is_not_null()).then(pl.lit(counts))
        else:
            length = pl.col(part).str.len_chars().cast(pl.Int64)
        frame = frame.with_columns(length.alias(f"{part}_length"))
    exact, folded = fingerprints(dup_texts) if dup_texts else ([], [])
    prompts = [hash_conversation([m.role for m in v.prompt], [m.content for m in v.prompt]) for v in values]
    pairs = [v for v in values if isinstance(v, Preference)]
    part = PairPart(frame.select(*(f"{p}_length" for p in PARTS), "label", "paired"), skipped,
                    (sum(p.chosen == p.rejected for p in pairs), sum(fold_alike(p.chosen, p.rejected) for p in pairs)),
                    [len(os.path.commonprefix([p.chosen[0].content, p.rejected[0].content]))
                     for p in pairs if p.chosen != p.rejected], list(exact), list(folded),
                    pl.DataFrame(prompts, schema={"exact": pl.UInt64, "folded": pl.UInt64}, orient="row"))
    return part, frame.drop("paired")


def merge_pair_parts(parts: Sequence[PairPart]) -> PairPart:
    """The parts as one, in order."""
    if len(parts) == 1:
        return parts[0]
    return PairPart(pl.concat([p.frame for p in parts]), sum(p.skipped for p in parts),
                    (sum(p.ties[0] for p in parts), sum(p.ties[1] for p in parts)),
                    [n for p in parts for n in p.shared], [h for p in parts for h in p.exact],
                    [h for p in parts for h in p.folded], pl.concat([p.prompts for p in parts]))


def pair_summary(part: PairPart, tokens: bool) -> PairSummary:
    """The summary of `part` (`merge_pair_parts`' of several); `tokens`: whether its lengths are tokens."""
    frame = part.frame
    pairs = int(frame["paired"].sum())
    return PairSummary.model_validate({
        "rows": frame.height + part.skipped, "skipped_rows": part.skipped, "pairs": pairs,
        "unpaired": frame.height - pairs, "labels": _labels(frame), "unit": "tokens" if tokens else "chars",
        "lengths": _lengths(frame), "length_bias": _bias(frame),
        "ties": {"exact": part.ties[0], "normalised": part.ties[1]} if pairs else None,
        "shared_start": _shared(part.shared) if pairs else None,
        "duplicates": {"exact": len(part.exact) - len(set(part.exact)),
                       "normalised": len(part.folded) - len(set(part.folded))}})


def _lengths(frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    out = {}
    for part in PARTS:
        values = frame[f"{part}_length"].drop_nulls()
        if values.len():
            out[part] = {**{f"p{int(q * 100)}": round(float(values.quantile(q, "linear")), 3) for q in QUANTILES},
                         "max": float(values.max()), "mean": round(float(values.mean()), 3)}
    return out


def _labels(frame: pl.DataFrame) -> dict[str, int] | None:
    labels = frame["label"].drop_nulls()
    if not labels.len():
        return None
    desirable = int(labels.sum())
    return {"desirable": desirable, "undesirable": labels.len() - desirable}


def _bias(frame: pl.DataFrame) -> dict[str, float] | None:
    """Shares of pairs whose chosen reply is longer, shorter or as long, and the median ratio."""
    pairs = frame.filter(pl.col("chosen_length").is_not_null())
    if not pairs.height:
        return None
    chosen, rejected = pairs["chosen_length"], pairs["rejected_length"]
    ratio = (chosen / rejected.clip(1)).median()
    return {"chosen_longer": round(float((chosen > rejected).mean()), 4),
            "rejected_longer": round(float((chosen < rejected).mean()), 4),
            "same": round(float((chosen == rejected).mean()), 4), "median_ratio": round(float(ratio), 4)}


def _shared(lengths: list[int]) -> dict[str, float]:
    """Pairs whose two replies begin with the same text (characters of their first messages)."""
    shared = pl.Series(lengths, dtype=pl.Int64)
    starting = shared.filter(shared > 0)
    return {"pairs": starting.len(), "p50": float(starting.median()) if starting.len() else 0.0,  # type: ignore[arg-type]
            "max": float(starting.max()) if starting.len() else 0.0}  # type: ignore[arg-type]


def pair_lines(summary: PairSummary) -> list[tuple[str, str]]:
    """(label, value) lines of the overview, for the terminal, compare and HTML views."""
    lines = [("rows", f"{summary.rows:,}"), ("skipped rows", f"{summary.skipped_rows:,}"),
             ("pairs / unpaired replies", f"{summary.pairs:,} / {summary.unpaired:,}")]
    if summary.labels:
        labels = summary.labels
        total = labels["desirable"] + labels["undesirable"]
        lines.append(("labels: desirable / undesirable", f"{labels['desirable']:,} / {labels['undesirable']:,} "
                                                         f"({percent(labels['desirable'] / total)} desirable)"))
    if summary.length_bias:
        b = summary.length_bias
        lines.append((f"length bias ({summary.unit})",
                      f"chosen longer in {percent(b['chosen_longer'])} of pairs, rejected longer in "
                      f"{percent(b['rejected_longer'])}, same {percent(b['same'])}; median chosen/rejected "
                      f"{b['median_ratio']:g}"))
    if summary.ties:
        lines.append(("ties: exact / normalised", f"{summary.ties['exact']:,} / {summary.ties['normalised']:,}"))
    if summary.shared_start:
        s = summary.shared_start
        lines.append(("replies that begin alike", f"{int(s['pairs']):,} pairs; shared characters p50 {s['p50']:g}, "
                                                  f"max {s['max']:g}"))
    lines.append(("duplicates: exact / normalised",
                  f"{summary.duplicates.exact:,} / {summary.duplicates.normalised:,}"))
    return lines


def render_pairs(stats: PairStats, console: Console) -> None:
    from validation.statistics.report import print_lengths, print_overview

    print_overview(stats, console)
    print_lengths(console, f"length per part ({'tokens' if stats.summary.unit == 'tokens' else 'characters'})", "part",
                  stats.summary.lengths)


def pair_figure(stats: PairStats, plt: Any) -> Any:
    """Chosen and rejected lengths overlaid, and the chosen-minus-rejected difference per pair (the
    length bias at a glance); completions by label for unpaired rows."""
    unit = "tokens" if stats.summary.unit == "tokens" else "characters"
    frame = stats.frame
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    pairs = frame.filter(pl.col("chosen_length").is_not_null())
    if pairs.height:
        chosen, rejected = pairs["chosen_length"].to_list(), pairs["rejected_length"].to_list()
        axes[0].hist([chosen, rejected], bins=40, label=["chosen", "rejected"], color=["#4C72B0", "#C44E52"],
                     alpha=0.8)
        axes[0].set_title(f"{unit} per reply")
        difference = (pairs["chosen_length"] - pairs["rejected_length"]).to_list()
        axes[1].hist(difference, bins=40, color="#55A868")
        axes[1].axvline(0, color="black", linewidth=1)
        axes[1].set_title(f"chosen minus rejected, per pair ({unit})")
    else:
        replies = frame.filter(pl.col("completion_length").is_not_null())
        good = replies.filter(pl.col("label"))["completion_length"].to_list()
        bad = replies.filter(~pl.col("label"))["completion_length"].to_list()
        axes[0].hist([good, bad], bins=40, label=["desirable", "undesirable"], color=["#4C72B0", "#C44E52"])
        axes[0].set_title(f"{unit} per completion")
        axes[1].hist(frame["prompt_length"].to_list(), bins=40, color="#8172B2")
        axes[1].set_title(f"{unit} per prompt")
    axes[0].legend()
    for axis in axes:
        axis.set_xlabel(unit)
        axis.set_ylabel("count")
    if pairs.height:
        axes[1].set_xlabel(f"{unit} (right of 0: chosen longer)")
    figure.suptitle(f"{stats.name}: {stats.summary.pairs:,} pairs, {stats.summary.unpaired:,} unpaired replies")
    return figure
