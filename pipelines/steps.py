"""What each curation step did: rows in, rows out, and every drop with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass
class StepReport:
    """One step's accounting. `rows_in - rows_out == sum(dropped.values())` always.

    Attributes:
        step: The step's name, e.g. `select`, `redact`, `exact_dedup`.
        rows_in: Rows the step received.
        rows_out: Rows it passed on.
        dropped: Rows removed, by reason.
        counts: Other figures the step reports (e.g. redactions by kind).
    """

    step: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def removing(
        cls, step: str, reason: str, rows_in: int, rows_out: int, **counts: int
    ) -> StepReport:
        """A step whose every removed row has the one `reason`."""
        removed = rows_in - rows_out
        return cls(step, rows_in, rows_out, {reason: removed} if removed else {}, counts)

    def __post_init__(self) -> None:
        if self.rows_in - self.rows_out != sum(self.dropped.values()):
            raise AssertionError(f"{self.step}: drops do not account for the rows removed")


def steps_frame(steps: list[StepReport]) -> pl.DataFrame:
    """One row per (step, reason) drop, plus each step's totals, for tables and manifests."""
    rows = []
    for report in steps:
        reasons = report.dropped or {"": 0}
        for reason, dropped in reasons.items():
            rows.append(
                {
                    "step": report.step,
                    "rows_in": report.rows_in,
                    "rows_out": report.rows_out,
                    "reason": reason,
                    "dropped": dropped,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "step": pl.String,
            "rows_in": pl.Int64,
            "rows_out": pl.Int64,
            "reason": pl.String,
            "dropped": pl.Int64,
        },
    )


def drop_by_first_reason(
    frame: pl.DataFrame, checks: list[tuple[str, pl.Expr]], *, step: str
) -> tuple[pl.DataFrame, StepReport]:
    """Keep the rows that pass every check; count each dropped row under the first it fails.

    Args:
        frame: The rows.
        checks: (reason, expression that is True for rows to keep), in order of precedence.
        step: The step's name for the report.
    """
    if not checks:
        return frame, StepReport(step, frame.height, frame.height)
    first_failure = pl.coalesce(
        [pl.when(~keep.fill_null(False)).then(pl.lit(reason)) for reason, keep in checks]
    ).alias("_drop_reason")
    marked = frame.with_columns(first_failure)
    counts = (
        marked.filter(pl.col("_drop_reason").is_not_null())
        .group_by("_drop_reason")
        .len()
        .sort(["len", "_drop_reason"], descending=[True, False])
    )
    if counts.is_empty():  # nothing to drop: no copy of the rows
        return frame, StepReport(step, frame.height, frame.height)
    kept = marked.filter(pl.col("_drop_reason").is_null()).drop("_drop_reason")
    return kept, StepReport(step, frame.height, kept.height, dropped=dict(counts.iter_rows()))
