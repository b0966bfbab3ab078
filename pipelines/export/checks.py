"""The checks a dataset version must pass before it is published.

Surfaced as blocking Dagster asset checks; in `pipelines` so a notebook runs the same ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.datadir.paths import VersionLayout
from pipelines.export.line_check import FineTuneCheckReport, check_fine_tuning_lines
from pipelines.export.targets import TargetResult
from pipelines.recipes import Recipe


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, whether it passed, a sentence saying why, and figures."""

    name: str
    passed: bool
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


def run_dataset_checks(
    directory: Path,
    rows: pl.DataFrame,
    *,
    recipe: Recipe,
    token_limit: int,
    fine_tuning: FineTuneCheckReport | None = None,
) -> list[CheckResult]:
    """Run every check on the split rows and the files written for them in `directory`.

    `fine_tuning` is the format check of `train.jsonl` and `validation.jsonl` when the writer
    made it as it wrote them; otherwise the files are read and checked here.
    """
    if fine_tuning is None:
        fine_tuning = check_fine_tuning_lines(
            _lines(
                *(directory / VersionLayout.fine_tuning(split) for split in ("train", "validation"))
            )
        )
    return [
        _fine_tuning_format(fine_tuning),
        _enough_training_examples(rows, recipe.export.min_train_examples),
        _tokens_within_limit(rows, token_limit, recipe.target_model),
        _no_split_overlap(rows),
    ]


def _fine_tuning_format(report: FineTuneCheckReport) -> CheckResult:
    detail = "; ".join(
        f"line {n} {kind}: {message}" for n, kind, message in report.first_errors[:5]
    )
    return CheckResult(
        "fine_tuning_format",
        report.ok,
        f"{report.examples:,} fine-tuning lines pass the format checks"
        if report.ok
        else f"{sum(report.errors.values()):,} format errors ({detail})",
        {"lines": report.examples, **{f"errors_{k}": v for k, v in report.errors.items()}},
    )


def _lines(*paths: Path) -> Iterator[bytes]:
    """The files' lines, read as they are checked rather than all at once."""
    for path in paths:
        with path.open("rb") as lines:
            for line in lines:
                yield line.rstrip(b"\n")


def _enough_training_examples(rows: pl.DataFrame, minimum: int) -> CheckResult:
    train = int((rows["split"] == "train").sum())
    return CheckResult(
        "min_train_examples",
        train >= minimum,
        f"{train:,} training examples (at least {minimum} needed)"
        if train >= minimum
        else f"only {train} training examples; fine-tuning needs at least {minimum}. Widen the"
        " recipe's selection or ingest more completions",
        {"train_examples": train, "minimum": minimum},
    )


def _tokens_within_limit(rows: pl.DataFrame, limit: int, model: str) -> CheckResult:
    longest = int(rows["estimated_tokens"].max() or 0) if rows.height else 0
    return CheckResult(
        "tokens_within_limit",
        longest <= limit,
        f"longest example {longest:,} tokens; {model} allows {limit:,}",
        {"max_example_tokens": longest, "token_limit": limit},
    )


def _no_split_overlap(rows: pl.DataFrame) -> CheckResult:
    shared = {}
    # A chat (chain_id) must hold together whatever the recipe groups by: a later turn holds
    # every earlier one, so two turns in two splits leak the conversation.
    columns = [c for c in ("id", "dedup_hash", "chain_id", "split_group") if c in rows.columns]
    for column in columns:
        # Grouped by a 64-bit in-process hash of the value, not the string: a tenth of the memory
        # at a million rows. A collision could only report an overlap that is not there, never
        # hide one, and the hash is never stored (it changes between polars versions).
        per_value = (
            rows.select(pl.col(column).hash(seed=0).alias("value"), "split")
            .group_by("value")
            .agg(pl.col("split").n_unique().alias("splits"))
        )
        shared[column] = per_value.filter(pl.col("splits") > 1).height
    passed = not any(shared.values())
    return CheckResult(
        "split_overlap",
        passed,
        "no id, dedup hash, chat or group appears in two splits"
        if passed
        else "shared between splits: " + ", ".join(f"{n} {c}" for c, n in shared.items() if n),
        {f"shared_{column}": n for column, n in shared.items()},
    )


def targets_format(results: dict[str, TargetResult]) -> CheckResult:
    """Every chosen target's files pass its validator (`pipelines.export.targets`)."""
    problems = [problem for result in results.values() for problem in result.problems]
    shown = "; ".join(str(problem) for problem in problems[:5])
    return CheckResult(
        "targets_format",
        not problems,
        f"{', '.join(results) or 'no targets'}: every file passes its target's checks"
        if not problems
        else f"{len(problems):,} problems in the targets' files ({shown})",
        {f"problems_{name}": len(result.problems) for name, result in results.items()},
    )
