"""The summaries commands hand on: frozen, typed, and dumped as the JSON documented in
docs/stats.md, docs/audit.md and docs/validation.md (`to_json()`, key for key what the dicts
were). They still read as mappings (`summary["rows"]`), for code written against the dicts.

Example:
    >>> s = DuplicateCounts(exact=1, normalised=2)
    >>> s.exact, s["normalised"], s.to_json()
    (1, 2, {'exact': 1, 'normalised': 2})
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict


class Summary(BaseModel):
    """A frozen summary that also reads as a mapping of its JSON keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in type(self).model_fields else default

    def keys(self) -> Iterator[str]:
        return iter(self.to_json())

    def to_json(self) -> dict[str, Any]:
        """The documented JSON object."""
        return self.model_dump(mode="json")

    def __eq__(self, other: object) -> bool:
        """Equal to another summary of the same values, or to its JSON object (a dict)."""
        if isinstance(other, dict):
            return self.to_json() == other
        return super().__eq__(other)

    __hash__ = BaseModel.__hash__


class SupervisionSummary(Summary):
    """What the supervision audit counts (`audit`, `stats` with a template, train's audit.json)."""

    rows: int
    tokens: int
    supervised_tokens: int
    rows_without_supervision: int
    rows_dropped: int
    rows_with: dict[str, int]  # rows per finding code


class ValidationSummary(Summary):
    """The counts of a validation report, as its header line says them."""

    path: str
    format: str
    rows: int
    valid: int
    invalid: int
    issues: int  # listed and left out
    issues_left_out: int
    counts: dict[str, int]  # per code, most frequent first


class TokenTotals(Summary):
    total: int
    trainable: int
    trainable_share: float
    by_role: dict[str, int]
    method: str  # "template": rendered and masked; "roles": assistant content tokens


class Truncation(Summary):
    limit: int
    unit: str
    over: int
    lose_assistant_tokens: int
    lose_all_assistant_tokens: int


class DuplicateCounts(Summary):
    exact: int
    normalised: int


class SystemPrompts(Summary):
    conversations_with_system: int
    distinct: int
    top: list[dict[str, Any]]  # {"prompt", "count"}, most frequent first


class ToolCounts(Summary):
    """Tool use of a dataset (`stats` on rows that declare tools or make calls)."""

    rows_with_tools: int
    rows_with_calls: int
    tools_per_row: dict[str, int | float]  # mean, max over rows that declare tools
    calls: int
    calls_per_conversation: dict[str, int | float]  # mean, max over rows with calls
    parallel_turns: int  # assistant turns with more than one call
    tool_results: int
    arguments_checked: int  # calls of a declared tool with parameters
    arguments_valid: int  # of those, arguments that validate against the parameters


class ImageCounts(Summary):
    """Images of a dataset (`stats` on rows that hold images; validation/statistics/images.py)."""

    images: int  # image references, every layout
    rows_with_images: int
    rows_without_images: int  # text-only rows in a dataset with images
    per_row: dict[str, int]  # images in a row -> rows
    by_role: dict[str, int]  # the role of the turn each image is in
    formats: dict[str, int]  # PNG, JPEG, ...; remote (URLs, not fetched); unreadable
    distinct: int  # of the images read, distinct contents
    repeated: int  # of the images read, those whose bytes repeat an earlier one
    width: dict[str, int | float | None]  # min, p50, p90, max (pixels) of the images read
    height: dict[str, int | float | None]
    aspect_ratio: dict[str, int | float | None]  # width / height


class ResponseCounts(Summary):
    """Replies checked against `stats --response-schema`."""

    schema_file: str
    replies: int
    valid: int
    share_valid: float | None


class ReasoningCounts(Summary):
    """Reasoning traces of the assistant replies (`stats` on rows where some reply has one)."""

    unit: str  # of the per-row and per-reply figures: tokens with a tokenizer, else chars
    replies: int
    replies_with_reasoning: int
    rows_with_reasoning: int
    rows_without_reasoning: int
    sources: dict[str, int]  # replies per place the reasoning is kept: a field's name, or "inline"
    chars: dict[str, int | float]  # reasoning, answer (totals over all replies), reasoning_share
    tokens: dict[str, int | float] | None  # the same in tokens, with a tokenizer
    reasoning_share_per_row: dict[str, float]  # p50, p90, max over rows with reasoning (tokens, else chars)
    reasoning_per_reply: dict[str, float]  # p50, p90, p99, max, mean over replies with reasoning (same unit)
    dropped_by_template: dict[str, Any] | None  # with a template: template, replies, chars it does not print


class Leakage(Summary):
    """Rows of B that repeat a row of A (`stats A --compare B`; train's eval rows against its
    training rows): exactly, and after folding case and whitespace."""

    b_rows_in_a_exact: int
    b_rows_in_a_normalised: int


class NearDupSummary(Summary):
    """What --near-dup found: its options (the LSH index: `bands` of `rows_per_band` MinHash values),
    the rows compared, clusters, rows in them, rows after the first of their cluster (`dropped`
    by --write-clean), and how many clusters there are of each size (`sizes`: size -> clusters)."""

    threshold: float
    shingle: int
    num_perm: int
    bands: int
    rows_per_band: int
    scope: str
    rows_compared: int
    clusters: int
    rows_in_clusters: int
    dropped: int
    sizes: dict[int, int]


class ContaminationSummary(Summary):
    """What --decontaminate found: the benchmark (and the field read), its rows and the texts
    too short to match, and the training rows that overlap it (`contaminated`) and the benchmark
    rows they overlap (`benchmark_rows_hit`)."""

    benchmark: str
    field: str | None
    ngram: int
    benchmark_rows: int
    short_texts: int
    contaminated: int
    benchmark_rows_hit: int


class ShardRows(Summary):
    """One shard of a sharded run (--executor): its `path`, the row its first line is numbered
    (`first_row`) and the `lines` it numbers; row R of the report is line R - first_row + 1 of it."""

    path: str
    first_row: int
    lines: int


class StatsSummary(Summary):
    """`stats`' summary (docs/stats.md); `leakage` only in train's stats.json with an eval split."""

    rows: int
    skipped_rows: int
    messages: int
    turns_per_conversation: dict[str, Any]  # p50, p90, p99, max, mean, min, histogram
    roles: dict[str, int]
    length_chars: dict[str, dict[str, Any]]  # per role: p50, p90, p99, max, mean
    length_tokens: dict[str, dict[str, Any]] | None
    tokens: TokenTotals | None
    max_length: Truncation | None
    duplicates: DuplicateCounts
    empty_messages: int
    whitespace_messages: int
    system_prompts: SystemPrompts
    supervision: SupervisionSummary | None
    leakage: Leakage | None = None
    tools: ToolCounts | None = None  # rows that declare tools or make calls only
    responses: ResponseCounts | None = None  # with a response schema only
    reasoning: ReasoningCounts | None = None  # rows with reasoning only
    near_duplicates: NearDupSummary | None = None  # with --near-dup only
    images: ImageCounts | None = None  # rows with images only

    def to_json(self) -> dict[str, Any]:
        """The documented JSON: the optional sections only when they hold something."""
        absent = {k for k in ("leakage", "tools", "responses", "reasoning", "near_duplicates", "images")
                  if getattr(self, k) is None}
        return self.model_dump(mode="json", exclude=absent or None)


class PairSummary(Summary):
    """`stats` of preference data (docs/stats.md#preference-data): lengths of each part, the
    length bias of chosen over rejected, ties, shared reply starts, labels and duplicates."""

    rows: int
    skipped_rows: int  # rows that cannot be read as pairs (see validate)
    pairs: int
    unpaired: int
    labels: dict[str, int] | None  # unpaired rows: desirable, undesirable
    unit: str  # tokens (of the message texts) with a tokenizer, else chars
    lengths: dict[str, dict[str, float]]  # prompt, chosen, rejected, completion: p50, p90, p99, max, mean
    length_bias: dict[str, float] | None  # pairs: chosen_longer, rejected_longer, same (shares), median_ratio
    ties: dict[str, int] | None  # pairs whose replies are equal: exact, normalised (after the fold)
    shared_start: dict[str, int | float] | None  # pairs whose replies begin alike: pairs, p50, max shared characters
    duplicates: DuplicateCounts
    leakage: dict[str, int] | None = None  # with --compare: prompts of B also in A

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"leakage"} if self.leakage is None else None)

