"""Small Markdown renderings of frames and counts, for Dagster metadata and dataset cards."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl


def markdown_table(frame: pl.DataFrame, *, max_rows: int = 10, max_chars: int = 60) -> str:
    """A Markdown table of the first `max_rows` rows, each cell cut to `max_chars`."""
    if frame.is_empty():
        return "_(no rows)_"
    head = frame.head(max_rows)
    lines = [
        "| " + " | ".join(head.columns) + " |",
        "|" + "---|" * len(head.columns),
    ]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(_cell(value, max_chars) for value in row) + " |")
    if frame.height > max_rows:
        lines.append(f"\n_{frame.height - max_rows:,} more rows_")
    return "\n".join(lines)


def rows_summary(frame: pl.DataFrame, by: list[str], **aggregates: pl.Expr) -> str:
    """Rows per group of `by` (API, model, …) and `aggregates`, as a Markdown table.

    What asset metadata shows of the rows instead of a preview of them: metadata is kept in
    Dagster's event log, which an erasure (`distillery forget`) cannot rewrite, so it holds no
    id and no text of any row, only counts over columns that name no one.
    """
    summary = (
        frame.group_by(by)
        .agg(pl.len().alias("rows"), **aggregates)
        .sort("rows", *by, descending=[True, *[False] * len(by)], nulls_last=True)
    )
    return markdown_table(summary, max_rows=20)


def counts_table(counts: Mapping[str, int], *, key: str, value: str = "rows") -> str:
    """A two-column Markdown table of counts, e.g. drops by reason."""
    if not counts:
        return "_(none)_"
    rows = [f"| {name} | {count:,} |" for name, count in counts.items()]
    return "\n".join([f"| {key} | {value} |", "|---|---:|", *rows])


def _cell(value: object, max_chars: int) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
