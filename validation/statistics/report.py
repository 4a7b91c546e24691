"""Show statistics: rich tables in the terminal, a PNG of the length histograms, a self-contained HTML.

What is shown is the statistics object's own (`Shown`: its overview lines, its terminal tables,
its figure): conversation statistics take theirs from this module, preference statistics
(validation/statistics/pairs.py) from theirs, and this module imports neither."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from validation.errors import InputError
from validation.outputs import Paths, write_file
from validation.summaries import Leakage, StatsSummary
from validation.report import Console


class Shown(Protocol):
    """Statistics this module can show: conversation `Stats` and preference `PairStats`."""

    name: str
    format: str
    summary: Any
    compare_label: str  # the comparison's row of prompts (or rows) of B also in A

    def lines(self) -> list[tuple[str, str]]: ...

    def show(self, console: Console) -> None: ...

    def figure(self, plt: Any) -> Any: ...


def overview_lines(summary: StatsSummary) -> list[tuple[str, str]]:
    """(label, value) lines of the overview, shared by the terminal, compare and HTML views."""
    turns, duplicates, system = summary.turns_per_conversation, summary.duplicates, summary.system_prompts
    lines = [("conversations", f"{summary.rows:,}"), ("skipped rows", f"{summary.skipped_rows:,}"),
             ("messages", f"{summary.messages:,}"),
             ("turns per conversation", "none (no conversation)" if turns["min"] is None else
              f"min {turns['min']}, p50 {turns['p50']:g}, p90 {turns['p90']:g}, max {turns['max']}, "
              f"mean {turns['mean']:g}"),
             ("roles", ", ".join(f"{r} {n:,}" for r, n in summary.roles.items())),
             ("empty / whitespace-only messages", f"{summary.empty_messages:,} / {summary.whitespace_messages:,}"),
             ("duplicates: exact / normalised", f"{duplicates.exact:,} / {duplicates.normalised:,}"),
             ("system prompts: distinct (conversations)",
              f"{system.distinct:,} ({system.conversations_with_system:,})")]
    if summary.tokens:
        t = summary.tokens
        lines.append(("tokens: total / trainable", f"{t.total:,} / {t.trainable:,} "
                                                   f"({t.trainable_share:.1%}, by {t.method})"))
    if summary.max_length:
        m = summary.max_length
        lines.append((f"over max length {m.limit} ({m.unit})",
                      f"{m.over:,}; losing assistant tokens {m.lose_assistant_tokens:,}; "
                      f"losing all {m.lose_all_assistant_tokens:,}"))
    if summary.supervision:
        s = summary.supervision
        found = ", ".join(f"{code} {n:,}" for code, n in s.rows_with.items()) or "none"
        lines.append(("supervision audit: rows with findings", f"{found}; supervising nothing "
                                                                f"{s.rows_without_supervision:,}"))
    if summary.tools:
        t = summary.tools
        share = f" ({t.arguments_valid / t.arguments_checked:.1%})" if t.arguments_checked else ""
        lines += [("tools: rows declaring / calling", f"{t.rows_with_tools:,} / {t.rows_with_calls:,}; "
                                                      f"tools per row mean {t.tools_per_row['mean']:g}, max "
                                                      f"{t.tools_per_row['max']:g}"),
                  ("tool calls", f"{t.calls:,}; per calling conversation mean {t.calls_per_conversation['mean']:g}, "
                                 f"max {t.calls_per_conversation['max']:g}; turns with parallel calls "
                                 f"{t.parallel_turns:,}; results {t.tool_results:,}"),
                  ("call arguments valid", f"{t.arguments_valid:,} of {t.arguments_checked:,}{share}")]
    if summary.reasoning:
        r = summary.reasoning
        split = r.tokens or r.chars
        unit = "tokens" if r.tokens else "chars"
        lines += [("reasoning: replies / rows with, rows without",
                   f"{r.replies_with_reasoning:,} of {r.replies:,} replies; {r.rows_with_reasoning:,} / "
                   f"{r.rows_without_reasoning:,} rows ({', '.join(f'{k} {n:,}' for k, n in r.sources.items())})"),
                  (f"reasoning / answer ({unit})", f"{split['reasoning']:,} / {split['answer']:,} "
                                                  f"({split['reasoning_share']:.1%} reasoning; per row p50 "
                                                  f"{r.reasoning_share_per_row['p50']:.1%}, max "
                                                  f"{r.reasoning_share_per_row['max']:.1%})")]
        if r.dropped_by_template:
            d = r.dropped_by_template
            lines.append((f"reasoning {d['template']} drops (a field it does not print)", f"{d['replies']:,} replies, {d['chars']:,} chars"))
    if summary.images:
        i = summary.images
        read = i.images - i.formats.get("remote", 0) - i.formats.get("unreadable", 0)
        lines += [("images: rows with / without", f"{i.images:,} in {i.rows_with_images:,} rows; "
                                                  f"{i.rows_without_images:,} text-only rows"),
                  ("images: formats, by role", f"{', '.join(f'{k} {n:,}' for k, n in i.formats.items())}; "
                                               f"{', '.join(f'{k} {n:,}' for k, n in i.by_role.items())}")]
        if read:
            w, h, a = i.width, i.height, i.aspect_ratio
            lines.append(("images: size p50 (min-max), aspect p50; repeated",
                          f"{w['p50']:g}x{h['p50']:g} px ({w['min']}x{h['min']} - {w['max']}x{h['max']}), "
                          f"{a['p50']:g}:1; {i.repeated:,} of {read:,} repeat an earlier image ({i.distinct:,} "
                          "distinct)"))
    if summary.responses:
        r = summary.responses
        share = f" ({r.share_valid:.1%})" if r.share_valid is not None else ""
        lines.append((f"replies valid against {r.schema_file}", f"{r.valid:,} of {r.replies:,}{share}"))
    if summary.near_duplicates:
        n = summary.near_duplicates
        sizes = ", ".join(f"{size} rows: {count:,}" for size, count in n.sizes.items()) or "none"
        lines += [(f"near-duplicate clusters (MinHash {n.threshold:g}, {n.scope})",
                   f"{n.clusters:,} holding {n.rows_in_clusters:,} of {n.rows_compared:,} conversations; "
                   f"{n.dropped:,} beyond each cluster's first"),
                  ("near-duplicate cluster sizes (clusters)", sizes)]
    return lines


def render_terminal(stats: Shown, console: Console) -> None:
    stats.show(console)


def print_overview(stats: Shown, console: Console) -> None:
    """The overview table: the statistics' own lines, under the dataset's name and format."""
    from rich.table import Table
    from rich.text import Text  # names, roles and prompts are the user's text, never rich markup

    overview = Table(title=Text(f"{stats.name} ({stats.format})"), title_justify="left", show_header=False)
    overview.add_column(style="bold")
    overview.add_column()
    for label, value in stats.lines():
        overview.add_row(label, Text(value))
    console.print(overview)


def print_lengths(console: Console, title: str, by: str, lengths: dict[str, dict[str, float]]) -> None:
    """One table of length percentiles, a row per role (or per part of a pair)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left")
    for column in (by, "p50", "p90", "p99", "max", "mean"):
        table.add_column(column, justify="left" if column == by else "right")
    for name, values in lengths.items():
        table.add_row(Text(name), *(f"{values[k]:g}" for k in ("p50", "p90", "p99", "max", "mean")))
    console.print(table)


def show_conversations(stats: Any, console: Console) -> None:
    """The terminal tables of conversation statistics: overview, lengths per role, system prompts."""
    from rich.table import Table
    from rich.text import Text

    print_overview(stats, console)
    for key, unit in (("length_chars", "characters"), ("length_tokens", "tokens")):
        if stats.summary.get(key):
            print_lengths(console, f"length per message ({unit})", "role", stats.summary[key])
    top = stats.summary.system_prompts.top
    if top:
        table = Table(title="most common system prompts", title_justify="left")
        table.add_column("count", justify="right")
        table.add_column("prompt", overflow="fold")
        for item in top:
            table.add_row(f"{item['count']:,}", Text(item["prompt"]))
        console.print(table)


def render_compare(a: Shown, b: Shown, leakage: Leakage, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="comparison", title_justify="left")
    table.add_column("")
    table.add_column(Text(f"A: {a.name}"))
    table.add_column(Text(f"B: {b.name}"))
    for (label, left), (_, right) in zip(a.lines(), b.lines()):
        table.add_row(label, Text(left), Text(right))
    table.add_row(b.compare_label, "", f"{leakage.b_rows_in_a_exact:,} / {leakage.b_rows_in_a_normalised:,}")
    console.print(table)


def pyplot() -> Any:
    """matplotlib's pyplot, drawing off screen (Agg); InputError saying what to install without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plots need matplotlib: pip install 'instructkit[plot]'") from None
    return plt


def png_bytes(figure: Any) -> bytes:
    """`figure` as PNG bytes (110 dpi); the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    pyplot().close(figure)
    return buffer.getvalue()


def conversation_figure(stats: Any, plt: Any) -> Any:
    """The length histograms of conversation statistics: per conversation and per assistant turn."""
    unit = "tokens" if "tokens" in stats.frame.columns else "characters"
    column = "tokens" if unit == "tokens" else "chars"
    per_conversation = stats.conversations["length"].to_list()
    per_turn = stats.frame.filter(pl.col("role") == "assistant")[column].to_list()
    near = stats.summary.near_duplicates
    images = getattr(stats, "images", None)
    sized = images.filter(pl.col("width").is_not_null()) if images is not None else None
    panels = 2 + bool(near) + (sized is not None and sized.height > 0)
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), constrained_layout=True)
    if near:  # --near-dup: how many clusters of each size
        sizes = sorted(near.sizes.items())
        axes[2].bar([str(size) for size, _ in sizes], [count for _, count in sizes], color="#55A868")
        axes[2].set_title(f"near-duplicate clusters ({near.clusters:,}; {near.dropped:,} rows beyond their first)")
        axes[2].set_xlabel("rows in the cluster")
        axes[2].set_ylabel("clusters")
    if sized is not None and sized.height:  # images: one point per image, its width and height
        axis = axes[-1]
        axis.scatter(sized["width"].to_list(), sized["height"].to_list(), s=12, alpha=0.5, color="#8172B2")
        axis.set_title(f"image sizes ({sized.height:,} images read)")
        axis.set_xlabel("width (pixels)")
        axis.set_ylabel("height (pixels)")
    limit = stats.summary.max_length.limit if stats.summary.max_length else None
    for axis, values, title in ((axes[0], per_conversation, f"{unit} per conversation"),
                                (axes[1], per_turn, f"{unit} per assistant turn")):
        axis.hist(values, bins=60, color="#4C72B0")
        axis.set_title(title)
        axis.set_xlabel(unit)
        axis.set_ylabel("count")
        if limit is not None and axis is axes[0]:
            axis.axvline(limit, color="#C44E52", linestyle="--", label=f"max length {limit}")
            axis.legend()
    figure.suptitle(f"{stats.name}: {stats.summary.rows:,} conversations")
    return figure


def _png_bytes(stats: Shown) -> bytes:
    return png_bytes(stats.figure(pyplot()))


def plot(stats: Shown, path: str | os.PathLike[str], *, html: bool | None = None, inputs: Paths = ()) -> Path:
    """Write the length histograms of `stats` as PNG, or a self-contained HTML report (`html`; by
    default for a `.html` path); never over the dataset described, nor over one of `inputs`
    (`validation.outputs`: `-` is stdout). `Stats.plot` and `PairStats.plot` are this."""
    path, inputs = Path(path), (stats.name, *inputs)
    html = path.suffix.lower() == ".html" if html is None else html
    return write_html(stats, path, inputs) if html else write_png(stats, path, inputs)


def write_png(stats: Shown, path: Path, inputs: Paths = ()) -> Path:
    write_file(path, _png_bytes(stats), inputs=inputs)
    return path


def write_html(stats: Shown, path: Path, inputs: Paths = ()) -> Path:
    """One file: the overview, per-role lengths and the histograms (PNG inlined as base64)."""
    image = base64.b64encode(_png_bytes(stats)).decode("ascii")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in stats.lines())
    lengths = ""
    # conversations: per role, in characters and tokens; pairs: per part (prompt, chosen, ...), in their unit
    for key, title, by in (("length_chars", "length per message (characters)", "role"),
                           ("length_tokens", "length per message (tokens)", "role"),
                           ("lengths", f"length per part ({stats.summary.get('unit')})", "part")):
        if stats.summary.get(key):
            body = "".join(f"<tr><td>{html.escape(role)}</td>" + "".join(f"<td>{v[k]:g}</td>" for k in
                                                                        ("p50", "p90", "p99", "max", "mean")) + "</tr>"
                           for role, v in stats.summary[key].items())
            lengths += (f"<h2>{title}</h2><table><tr><th>{by}</th><th>p50</th><th>p90</th>"
                        f"<th>p99</th><th>max</th><th>mean</th></tr>{body}</table>")
    top = stats.summary.system_prompts.top if stats.summary.get("system_prompts") else None
    if top:
        body = "".join(f"<tr><td>{item['count']:,}</td><td>{html.escape(item['prompt'])}</td></tr>" for item in top)
        lengths += f"<h2>most common system prompts</h2><table><tr><th>count</th><th>prompt</th></tr>{body}</table>"
    title = html.escape(f"{stats.name} ({stats.format})")
    write_file(path, f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
th,td{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}img{{max-width:100%}}</style></head><body>
<h1>{title}</h1><table>{rows}</table>{lengths}<img alt="length histograms" src="data:image/png;base64,{image}">
</body></html>
""", inputs=inputs)
    return path
