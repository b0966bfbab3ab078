"""Validate normalized completions; send every failing record to quarantine with all its reasons.

pandera checks the whole eager frame with `lazy=True`, so one pass collects every failure of every
record. A record that fails anything goes to `completions_quarantine` whole (its raw JSON) with one
reason per failed check; the rest is `completions`. The two always add up to the input.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.errors
import polars as pl

from schemas import QUARANTINE_SCHEMA, Completions, CompletionsQuarantine


@dataclass(frozen=True)
class ValidatedCompletions:
    """The split of one validation pass.

    Attributes:
        completions: Rows that passed every check (`schemas.Completions`).
        quarantine: Rows that failed any, with reasons (`schemas.CompletionsQuarantine`).
    """

    completions: pl.DataFrame
    quarantine: pl.DataFrame

    def reason_counts(self) -> dict[str, int]:
        """Quarantined records per failed check, most frequent first."""
        return reason_counts(self.quarantine)


def reason_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """Records of a `completions_quarantine` frame per failed check, most frequent first."""
    if quarantine.is_empty():
        return {}
    counts = (
        quarantine.select(pl.col("reasons").list.eval(pl.element().struct.field("check")))
        .explode("reasons")
        .group_by("reasons")
        .len()
        .sort(["len", "reasons"], descending=[True, False])
    )
    return dict(counts.iter_rows())


REASONS = "reasons"
"""The column of a frame's failed checks, row by row: a list of {check, message}, null when the
row passed every one."""

ID_UNIQUE = "id_unique"
"""The one check that reads other rows: an id two stored objects share."""


def validate_completions(normalized: pl.DataFrame) -> ValidatedCompletions:
    """Split normalized rows into valid completions and quarantine.

    Args:
        normalized: Output of `pipelines.completions.normalize.normalize_completions`.

    Raises:
        pandera.errors.SchemaErrors: The frame itself is off (a missing column or wrong dtype): a
            bug in normalization, not bad data, so it is raised rather than quarantined.
    """
    return split_by_reasons(normalized.with_columns(failed_checks(normalized)))


def failed_checks(normalized: pl.DataFrame) -> pl.Series:
    """Every check each row fails (`REASONS`), in the model's order of checks.

    Every check but `id_unique` reads the row alone, so the reasons of a part of a table are
    those the whole table would give it, but for `id_unique`.

    Raises:
        pandera.errors.SchemaErrors: The frame itself is off (see `validate_completions`).
    """
    empty = pl.Series(REASONS, [None] * normalized.height, dtype=_REASONS_DTYPE)
    try:
        Completions.validate(normalized, lazy=True)
    except pandera.errors.SchemaErrors as err:
        failures = err.failure_cases
        frame_level = failures.filter(pl.col("index").is_null())
        if not frame_level.is_empty():
            raise
        by_row = _reasons_by_row(failures)
        indexed = pl.DataFrame(
            {"_row": pl.int_range(normalized.height, dtype=pl.UInt32, eager=True)}
        )
        joined = indexed.join(by_row, left_on="_row", right_on="index", how="left")
        return joined.sort("_row")["reasons"].cast(_REASONS_DTYPE).alias(REASONS)
    return empty


def split_by_reasons(checked: pl.DataFrame) -> ValidatedCompletions:
    """Rows whose `REASONS` is null are completions; the rest go to quarantine with them.

    Args:
        checked: Normalized rows with `REASONS` (`failed_checks`), in the order to keep.
    """
    failed = checked.filter(pl.col(REASONS).is_not_null())
    passed = checked.filter(pl.col(REASONS).is_null()).drop(REASONS)
    return ValidatedCompletions(
        completions=passed,
        quarantine=_quarantine_rows(failed) if failed.height else QUARANTINE_SCHEMA.to_frame(),
    )


_REASONS_DTYPE = pl.List(pl.Struct({"check": pl.String, "message": pl.String}))


def _check_names() -> dict[str, str]:
    """Error message → check name, for the model's dataframe checks."""
    names = {}
    for check in Completions.to_schema().checks:
        names[check.error] = check.name
    return names


def _reasons_by_row(failures: pl.DataFrame) -> pl.DataFrame:
    names = _check_names()
    named = failures.with_columns(
        pl.when(pl.col("schema_context") == "Column")
        .then(pl.format("{}:{}", pl.col("column"), pl.col("check")))
        .otherwise(pl.col("check").replace_strict(names, default=pl.col("check")))
        .alias("check_name"),
        pl.when(pl.col("schema_context") == "Column")
        .then(pl.format("column {} failed {}", pl.col("column"), pl.col("check")))
        .otherwise(pl.col("check"))
        .alias("message"),
    )
    return (
        named.select(pl.col("index").cast(pl.UInt32), "check_name", "message", "check_number")
        .unique(["index", "check_name"])
        .sort(["index", "check_number", "check_name"])
        .group_by("index", maintain_order=True)
        .agg(pl.struct(pl.col("check_name").alias("check"), pl.col("message")).alias("reasons"))
    )


def _quarantine_rows(failed: pl.DataFrame) -> pl.DataFrame:
    quarantine = failed.select(
        "api",
        "id",
        pl.col("created").dt.epoch("s").alias("created"),
        "model",
        "source",
        "ingested_at",
        "reasons",
        "completion_json",
        "messages_json",
    ).cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]
    return CompletionsQuarantine.validate(quarantine, lazy=True)
