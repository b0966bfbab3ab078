"""Curation: a recipe's filters, redaction, exact dedup, chat chains and near-duplicate
clusters, in order.

`curate_completions` is what the `curated_<recipe>` assets call; a notebook can call the steps
one by one (`select_completions`, `redact_completions`, `dedupe_exact`, `chain_completions`,
`dedupe_near`): each takes rows and its recipe section and returns `(rows, StepReport)`.

Chains come before near dedup: the turns of one chat share most of their text, so near dedup
would otherwise fold them together first and keep whichever turn is newest, breaking the chain
it cannot see.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import polars as pl

from pipelines.curate.chains import chain_completions
from pipelines.curate.dedup import dedupe_exact, dedupe_near
from pipelines.curate.filters import select_completions
from pipelines.curate.redact import redact_completions
from pipelines.datadir.atomic import atomic_path, write_parquet_atomically
from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, read_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.recipes import Recipe
from pipelines.steps import StepReport
from schemas import RAW_JSON_COLUMNS, Curated

# The raw JSON stays in the lake; curated rows are what gets exported, so they carry only the
# (redacted) typed columns, whether or not redaction is on.


@dataclass(frozen=True)
class CuratedCompletions:
    """A recipe's curated rows and the report of every step that made them."""

    recipe: Recipe
    rows: pl.DataFrame
    steps: list[StepReport]

    def drops_by_reason(self) -> dict[str, int]:
        return {reason: n for step in self.steps for reason, n in step.dropped.items()}


def curate_completions(completions: pl.DataFrame, recipe: Recipe) -> CuratedCompletions:
    """Run a recipe's curation over the `completions` table.

    Returns:
        Curated rows with `redactions`, `redacted_kinds`, `dedup_hash`, `duplicate_count`,
        `chain_id`, `turn`, `cluster_id` and `cluster_size` added, and one `StepReport` per
        step.
    """
    steps = []
    rows, report = select_completions(
        completions.drop(RAW_JSON_COLUMNS, strict=False), recipe.select
    )
    steps.append(report)
    rows, report = redact_completions(rows, recipe.redact)
    steps.append(report)
    rows, report = dedupe_exact(rows, recipe.dedup.exact)
    steps.append(report)
    rows, report = chain_completions(rows, recipe.chains, recipe.dedup.exact)
    steps.append(report)
    rows, report = dedupe_near(rows, recipe.dedup.near)
    steps.append(report)
    return CuratedCompletions(recipe=recipe, rows=rows, steps=steps)


def write_curated(data_dir: str | AnyPath, curated: CuratedCompletions) -> AnyPath:
    """Write the curated rows, and beside them the step reports (for the version's manifest)."""
    # The export stage reads these columns by the `Curated` model's names and types: a schema
    # check (columns and dtypes, no row scan) keeps a drift from being written.
    Curated.validate(curated.rows.lazy())
    paths = DataPaths(data_dir)
    target = paths.curated(curated.recipe.name)
    what = f"a curation of recipe {curated.recipe.name}"
    with one_writer(paths, what=what, wait_s=build_wait_s()):
        with atomic_path(paths.curation_steps(curated.recipe.name)) as temporary:
            temporary.write_text(json.dumps([asdict(step) for step in curated.steps], indent=2))
        write_parquet_atomically(curated.rows, target)
    return target


def read_curated(
    data_dir: str | AnyPath,
    recipe: str,
    *,
    head: int | None = None,
    columns: list[str] | None = None,
) -> pl.DataFrame:
    """A recipe's curated rows (only the first `head` of them, or only `columns`, if given)."""
    return read_parquet(DataPaths(data_dir).curated(recipe), n_rows=head, columns=columns)


def read_curation_steps(data_dir: str | AnyPath, recipe: str) -> list[StepReport]:
    path = DataPaths(data_dir).curation_steps(recipe)
    if not path.exists():
        return []
    return [StepReport(**step) for step in json.loads(path.read_text())]
