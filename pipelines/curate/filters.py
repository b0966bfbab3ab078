"""Recipe selection: which completions a dataset takes, each rejection counted by reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from pipelines.recipes import Selection
from pipelines.steps import StepReport, drop_by_first_reason


def select_completions(
    completions: pl.DataFrame, selection: Selection
) -> tuple[pl.DataFrame, StepReport]:
    """Keep the completions a recipe selects.

    Each dropped row is counted under the first condition it fails, in this order:
    `deleted_at_source`, `model`, `metadata`, `created_range`, `finish_reason`, `refusal`,
    `content_filtered`, `tool_use`, `token_range`, and always `empty_message` (a message with
    neither text nor parts nor tool calls, which fine-tuning rejects).
    """
    return drop_by_first_reason(completions, selection_checks(selection), step="select")


def selection_checks(selection: Selection) -> list[tuple[str, pl.Expr]]:
    """(reason, keep-expression) pairs for a selection, in order of precedence."""
    checks: list[tuple[str, pl.Expr]] = []
    if not selection.include_deleted:
        checks.append(("deleted_at_source", ~pl.col("deleted_at_source")))
    if selection.models:
        pattern = "|".join(_glob_regex(model) for model in selection.models)
        checks.append(("model", pl.col("model").str.contains(pattern)))
    if selection.metadata:
        checks.append(("metadata", _metadata_matches(selection.metadata)))
    if selection.created_from or selection.created_to:
        created = pl.col("created")
        keep = pl.lit(True)
        if selection.created_from:
            keep = keep & (created >= _utc(selection.created_from))
        if selection.created_to:
            keep = keep & (created < _utc(selection.created_to))
        checks.append(("created_range", keep))
    if selection.finish_reasons:
        checks.append(("finish_reason", pl.col("finish_reason").is_in(selection.finish_reasons)))
    refused = pl.col("output_refusal").is_not_null()
    if selection.refusals == "exclude":
        checks.append(("refusal", ~refused))
    elif selection.refusals == "only":
        checks.append(("refusal", refused))
    if selection.content_filtered == "exclude":
        checks.append(("content_filtered", ~pl.col("content_filtered")))
    if selection.tool_use != "any":
        checks.append(("tool_use", uses_tools() if selection.tool_use == "only" else ~uses_tools()))
    if selection.min_total_tokens is not None or selection.max_total_tokens is not None:
        # The estimate, not usage: a conversation has no usage, and would fail any range.
        tokens = pl.col("estimated_tokens")
        keep = pl.lit(True)
        if selection.min_total_tokens is not None:
            keep = keep & (tokens >= selection.min_total_tokens)
        if selection.max_total_tokens is not None:
            keep = keep & (tokens <= selection.max_total_tokens)
        checks.append(("token_range", keep))
    checks.append(("empty_message", ~has_empty_message()))
    return checks


def has_empty_message() -> pl.Expr:
    """Some input message, or the output, carries no text, no content parts and no tool calls."""
    message = pl.element().struct
    empty_input = (
        pl.col("messages")
        .list.eval(
            (message.field("content").fill_null("") == "")
            & message.field("content_parts").is_null()
            & (message.field("tool_calls").list.len().fill_null(0) == 0)
        )
        .list.any()
        .fill_null(False)
    )
    empty_output = (pl.coalesce("output_content", "output_refusal").fill_null("") == "") & (
        pl.col("output_tool_calls").list.len().fill_null(0) == 0
    )
    return empty_input | empty_output


def uses_tools() -> pl.Expr:
    """The request offered tools, or the conversation or output holds a tool call or result."""
    in_messages = (
        pl.col("messages")
        .list.eval(
            (pl.element().struct.field("role") == "tool")
            | (pl.element().struct.field("tool_calls").list.len() > 0).fill_null(False)
        )
        .list.any()
    )
    in_output = (pl.col("output_tool_calls").list.len() > 0).fill_null(False)
    return pl.col("tools").is_not_null() | in_messages.fill_null(False) | in_output


def _metadata_matches(wanted: dict[str, str | list[str]]) -> pl.Expr:
    keep = pl.lit(True)
    for key, values in wanted.items():
        allowed = [values] if isinstance(values, str) else list(values)
        pair = pl.element().struct
        keep = keep & pl.col("metadata").list.eval(
            (pair.field("key") == key) & pair.field("value").is_in(allowed)
        ).list.any().fill_null(False)
    return keep


def _glob_regex(glob: str) -> str:
    """`*` and `?` globs as an anchored regex (fnmatch's output uses `\\Z`, which polars' Rust
    regex does not know)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return f"^(?:{body})$"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
