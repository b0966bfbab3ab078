"""Group `curation`: one `curated_<recipe>` asset per recipe of the recipes file."""

import dagster as dg
import polars as pl

from assets.reporting import counts_table, markdown_table, rows_summary
from assets.resources import WRITER_POOL, DataDirectory
from pipelines.curate import curate_lake, read_curated
from pipelines.recipes import Recipe
from pipelines.steps import StepReport, steps_frame

SUMMARY_COLUMNS = ["api", "model", "redactions", "duplicate_count"]
"""What the curated asset's summary reads of the table: no id, no text."""


def curated_asset(recipe: Recipe) -> dg.AssetsDefinition:
    """The asset that curates `completions` by `recipe`."""

    @dg.asset(
        name=f"curated_{recipe.name}",
        group_name="curation",
        kinds={"polars", "parquet"},
        deps=["completions"],
        pool=WRITER_POOL,
        description=f"`completions` curated by recipe `{recipe.name}`: filters, PII and secret "
        "redaction, exact dedup, near-duplicate clusters. "
        + (recipe.description or "")
        + f" lake/curated/{recipe.name}.parquet.",
    )
    def curated(context: dg.AssetExecutionContext, data_dir: DataDirectory) -> dg.MaterializeResult:
        curated = curate_lake(data_dir.path, recipe)
        context.log.info(
            f"curated_{recipe.name}: {curated.rows:,} rows at {curated.path.resolve()}"
            f" ({curated.parts_curated} of {curated.parts} parts of the table curated by this run,"
            " the rest kept from earlier runs)"
        )
        counted_rows = read_curated(data_dir.path, recipe.name, columns=SUMMARY_COLUMNS)
        metadata = curation_metadata(curated.steps, curated.rows, str(curated.path), counted_rows)
        metadata["table_parts"] = curated.parts
        metadata["table_parts_curated"] = curated.parts_curated
        return dg.MaterializeResult(metadata=metadata)

    return curated


def curation_metadata(
    steps: list[StepReport], rows: int, path: str, counted_rows: pl.DataFrame
) -> dict[str, object]:
    """The curated asset's metadata: counts by step and reason, and rows per API and model
    (`counted_rows`: the `SUMMARY_COLUMNS` of the curated table)."""
    redact = next(step for step in steps if step.step == "redact")
    redacted_share = redact.counts.get("records_redacted", 0) / rows if rows else 0.0
    drops = {reason: n for step in steps for reason, n in step.dropped.items()}
    return {
        "dagster/row_count": rows,
        "rows_in": steps[0].rows_in,
        "steps": dg.MetadataValue.md(markdown_table(steps_frame(steps), max_rows=50)),
        "drops_by_reason": dg.MetadataValue.md(counts_table(drops, key="reason")),
        "redactions_by_kind": dg.MetadataValue.md(
            counts_table(
                {k: v for k, v in redact.counts.items() if k != "records_redacted"}, key="kind"
            )
        ),
        "redacted_record_share": round(redacted_share, 4),
        "near_duplicate_clusters": steps[-1].counts.get("clusters_with_duplicates", 0),
        **_chain_metadata(steps),
        "path": dg.MetadataValue.path(path),
        # Counts, not rows: the event log outlives any erasure (`assets.reporting.rows_summary`).
        "summary": dg.MetadataValue.md(
            rows_summary(
                counted_rows,
                ["api", "model"],
                redactions=pl.col("redactions").sum(),
                duplicates=(pl.col("duplicate_count") - 1).sum(),
            )
        ),
    }


def _chain_metadata(steps: list[StepReport]) -> dict[str, object]:
    """Chats stored turn by turn: how many, how long, how branched, how many rows they fold."""
    chains = next((step for step in steps if step.step == "chains"), None)
    counts = chains.counts if chains else {}
    found = counts.get("chains", 0)
    in_chains = counts.get("rows_in_chains", 0)
    return {
        "chains": found,
        "average_chain_turns": round(in_chains / found, 2) if found else 0.0,
        "longest_chain_turns": counts.get("longest_chain_turns", 0),
        "chain_branches": counts.get("branches", 0),
        "rows_folded_into_chains": sum(chains.dropped.values()) if chains else 0,
    }


def broken_recipes_asset(message: str) -> dg.AssetsDefinition:
    """Stands in for the recipes' assets when the recipes file cannot be read: the code location
    still loads, and a build fails on this asset with `message` as its one-line description
    (where a loading error would be a traceback with the message on its last line)."""

    @dg.asset(
        name="recipes",
        group_name="curation",
        deps=["completions"],
        description=f"The recipes file could not be read: {message}",
    )
    def recipes() -> None:
        raise dg.Failure(description=message)

    return recipes
