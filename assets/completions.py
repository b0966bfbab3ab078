"""Group `curation`: the validated `completions` table and its quarantine."""

import dagster as dg
import polars as pl

from assets.reporting import counts_table, rows_summary
from assets.resources import WRITER_POOL, DataDirectory
from pipelines.completions import (
    build_completions,
    read_completions,
    read_quarantine,
    reason_counts,
)
from pipelines.datadir.object_storage import scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.wording import counted


class QuarantineCheckConfig(dg.Config):
    """When quarantine stops being a warning."""

    max_quarantine_share: float = 0.2
    """Above this share of records in quarantine the check fails as an error and blocks."""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "completions",
            description="One typed row per stored completion that passed every pandera check "
            "(schemas.Completions): request settings, the input conversation, the output "
            "message, usage and content-filter flags, raw JSON kept. lake/completions.parquet.",
            group_name="curation",
            kinds={"polars", "pandera", "parquet"},
            deps=["raw_completions"],
        ),
        dg.AssetSpec(
            "completions_quarantine",
            description="Every record that failed a check, whole, with each reason "
            "(schemas.CompletionsQuarantine). With completions it accounts for every record.",
            group_name="curation",
            kinds={"polars", "pandera", "parquet"},
            deps=["raw_completions"],
        ),
    ],
    pool=WRITER_POOL,
)
def completions_tables(data_dir: DataDirectory):
    """Normalize the raw lake with explicit polars schemas and validate it with pandera."""
    validated = build_completions(data_dir.path)
    # Written part by part: read back only what the metadata shows, never the whole table.
    quarantine = read_quarantine(data_dir.path, columns=["model", "api"])
    yield dg.MaterializeResult(
        asset_key="completions",
        metadata={
            "dagster/row_count": validated.rows,
            "rows_in": validated.rows + validated.quarantined,
            "rows_quarantined": validated.quarantined,
            # Cost follows the new data: rows normalized by this run vs reused from earlier runs.
            "rows_normalized": validated.segments.normalized_rows,
            "rows_reused": validated.segments.reused_rows,
            "lake_batches_normalized": validated.segments.normalized_batches,
            "path": dg.MetadataValue.path(str(DataPaths(data_dir.path).completions)),
            "summary": dg.MetadataValue.md(_summary(data_dir.path)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="completions_quarantine",
        metadata={
            "dagster/row_count": validated.quarantined,
            "reasons": dg.MetadataValue.md(
                counts_table(validated.reason_counts(), key="failed check", value="records")
            ),
            "path": dg.MetadataValue.path(str(DataPaths(data_dir.path).quarantine)),
            "summary": dg.MetadataValue.md(rows_summary(quarantine, ["api", "model"])),
        },
    )


@dg.asset_check(asset="completions_quarantine", blocking=True)
def completions_quarantine_share(
    context: dg.AssetCheckExecutionContext, config: QuarantineCheckConfig, data_dir: DataDirectory
) -> dg.AssetCheckResult:
    """Passes up to the share, with a warning when any record is quarantined; fails (and
    blocks downstream) above it."""
    quarantine = read_quarantine(data_dir.path).select("reasons")
    quarantined = quarantine.height
    completions = DataPaths(data_dir.path).completions
    valid = scan_parquet([completions]).select(pl.len()).collect().item()
    total = quarantined + valid
    share = quarantined / total if total else 0.0
    limit = config.max_quarantine_share
    too_many = share > limit
    counts = f"{quarantined:,} of {counted(total, 'record')} quarantined ({share:.1%})"
    if too_many:
        description = f"did not pass: {counts}, over the {limit:.0%} limit"
    else:
        description = f"passed: {counts}, under the {limit:.0%} limit"
    if quarantined and not too_many:
        context.log.warning(f"{description}; the reasons are in completions_quarantine")
    return dg.AssetCheckResult(
        passed=not too_many,
        severity=dg.AssetCheckSeverity.ERROR if too_many else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "quarantined": quarantined,
            "records": total,
            "share": round(share, 4),
            "reasons": dg.MetadataValue.md(counts_table(reason_counts(quarantine), key="check")),
        },
    )


def _summary(data_dir: str) -> str:
    """Rows per API, model and finish reason with their tokens: no id and no text, since the
    event log outlives any erasure (`assets.reporting.rows_summary`). Four narrow columns read."""
    counted = read_completions(data_dir, columns=["api", "model", "finish_reason", "total_tokens"])
    return rows_summary(
        counted, ["api", "model", "finish_reason"], total_tokens=pl.col("total_tokens").sum()
    )
