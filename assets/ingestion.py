"""Group `ingestion`: the raw lake of stored completions."""

import dagster as dg
import polars as pl

from assets.reporting import markdown_table, rows_summary
from assets.resources import WRITER_POOL, DataDirectory, StoredCompletionsSource
from pipelines.datadir.paths import DataPaths
from pipelines.ingest import (
    IngestError,
    IngestRun,
    SourceConfigError,
    ingest,
    read_raw_completions,
)


class IngestConfig(dg.Config):
    """Per-run choices, settable from the launchpad."""

    full_refresh: bool = False
    """Re-read everything: picks up metadata updates and conversations that went on, and records
    deletions."""


@dg.asset(group_name="ingestion", kinds={"openai", "parquet"}, pool=WRITER_POOL)
def raw_completions(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    source: StoredCompletionsSource,
    data_dir: DataDirectory,
) -> dg.MaterializeResult:
    """Every stored chat completion, response and conversation the source has (or the ids
    files name), with its messages or items, as the API returned them: a lossless, append-only
    Parquet lake under `lake/raw_completions`, merged by (api, id), newest fetch wins.
    Incremental by default; deletions at the source are flagged, never erased."""
    try:
        with source.open() as (client, info, requests):
            run = ingest(
                client,
                source=info,
                data_dir=data_dir.path,
                plan=source.plan(info),
                settings=source.settings(full_refresh=config.full_refresh),
                requests=requests,
                logger=context.log,
            )
    except (IngestError, SourceConfigError) as err:
        raise dg.Failure(description=str(err)) from None
    lake = read_raw_completions(data_dir.path, include_deleted=False)
    metadata = _ingest_metadata(run, data_dir.path)
    metadata["dagster/row_count"] = lake.height
    metadata["rows_per_api"] = dict(sorted(lake.group_by("api").len().iter_rows()))
    # Counts, not the newest rows: the event log outlives any erasure (`assets/reporting.py`).
    metadata["summary"] = dg.MetadataValue.md(
        rows_summary(lake, ["api", "model", "source"], newest_created=pl.col("created").max())
    )
    return dg.MaterializeResult(metadata=metadata)


def _ingest_metadata(run: IngestRun, data_dir: str) -> dict[str, object]:
    """Totals over the readers under the names a chat-only ingest always had (sensors and
    dashboards read them), then each reader's own counts."""
    first = run.reports[0]
    chat = run.by_reader().get("chat_completions_list")
    wall = sum(r.wall_seconds for r in run.reports)
    metadata: dict[str, object] = {
        "source": first.source.kind,
        "endpoint_host": first.source.endpoint_host,
        "mode": "full" if any(r.mode == "full" for r in run.reports) else "incremental",
        "resumed": any(r.resumed for r in run.reports),
        "pages": run.total("pages"),
        "completions_listed": run.total("listed"),
        "completions_new": run.total("new"),
        "completions_updated": run.total("updated"),
        "completions_deleted": run.total("deleted"),
        "completions_vanished": run.total("vanished"),
        "completions_expired": run.total("expired"),
        "items_rejected": run.total("rejected"),
        "ids_missing": run.total("missing"),
        "listing_restarts": run.total("listing_restarts"),
        "requests": run.total("requests"),
        "retries": run.total("retries"),
        "wall_seconds": round(wall, 3),
        "completions_per_second": round(run.total("listed") / wall, 1) if wall else 0.0,
        "batch_files": sum(len(r.batch_files) for r in run.reports),
        # The chat-completions list's mark (the other readers' are in their own state files).
        "high_water_mark_unix": (chat.high_water_mark if chat else None) or 0,
        "path": dg.MetadataValue.path(str(DataPaths(data_dir).raw_completions)),
    }
    metadata["readers"] = dg.MetadataValue.md(
        markdown_table(
            pl.DataFrame(
                [
                    {"reader": name, "mode": r.mode, "asked_or_listed": r.listed, "new": r.new}
                    | {"updated": r.updated, "deleted": r.deleted, "expired": r.expired}
                    | {"missing": r.missing}
                    | {"requests": r.requests}
                    for name, r in run.by_reader().items()
                ]
            )
        )
    )
    return metadata
