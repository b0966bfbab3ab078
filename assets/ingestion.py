"""Group `ingestion`: the raw lake of stored completions."""

import dagster as dg

from assets.resources import WRITER_POOL, DataDirectory, StoredCompletionsSource
from pipelines.ingest import (
    IngestError,
    IngestReport,
    SourceConfigError,
    ingest_completions,
    read_raw_completions,
)
from pipelines.paths import DataPaths
from pipelines.reporting import markdown_table


class IngestConfig(dg.Config):
    """Per-run choices, settable from the launchpad."""

    full_refresh: bool = False
    """Re-list every stored completion: picks up metadata updates and records deletions."""


@dg.asset(group_name="ingestion", kinds={"openai", "parquet"}, pool=WRITER_POOL)
def raw_completions(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    source: StoredCompletionsSource,
    data_dir: DataDirectory,
) -> dg.MaterializeResult:
    """Every stored completion with its input messages, as the API returned them: a lossless,
    append-only Parquet lake under `lake/raw_completions`, merged by id (newest fetch wins).
    Incremental by default; deletions at the source are flagged, never erased."""
    try:
        with source.open() as (client, info, requests):
            context.log.info(f"reading stored completions from {info.describe()}")
            report = ingest_completions(
                client,
                source=info,
                data_dir=data_dir.path,
                settings=source.settings(full_refresh=config.full_refresh),
                requests=requests,
                logger=context.log,
            )
    except (IngestError, SourceConfigError) as err:
        raise dg.Failure(description=str(err)) from None
    lake = read_raw_completions(data_dir.path, include_deleted=False)
    metadata = _ingest_metadata(report, data_dir.path)
    metadata["dagster/row_count"] = lake.height
    metadata["preview"] = dg.MetadataValue.md(
        markdown_table(
            lake.sort("created", descending=True, nulls_last=True).select(
                "id", "created", "model", "source", "ingested_at"
            )
        )
    )
    return dg.MaterializeResult(metadata=metadata)


def _ingest_metadata(report: IngestReport, data_dir: str) -> dict[str, object]:
    return {
        "source": report.source.kind,
        "endpoint_host": report.source.endpoint_host,
        "mode": report.mode,
        "resumed": report.resumed,
        "pages": report.pages,
        "completions_listed": report.listed,
        "completions_new": report.new,
        "completions_updated": report.updated,
        "completions_deleted": report.deleted,
        "completions_vanished": report.vanished,
        "items_rejected": report.rejected,
        "listing_restarts": report.listing_restarts,
        "requests": report.requests,
        "retries": report.retries,
        "wall_seconds": report.wall_seconds,
        "completions_per_second": round(report.listed / report.wall_seconds, 1)
        if report.wall_seconds
        else 0.0,
        "batch_files": len(report.batch_files),
        "high_water_mark_unix": report.high_water_mark or 0,
        "path": dg.MetadataValue.path(str(DataPaths(data_dir).raw_completions)),
    }
