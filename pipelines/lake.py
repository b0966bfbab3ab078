"""The raw lake: append-only Parquet batches of stored completions, merged by id on read.

Layout under the data directory:

    lake/raw_completions/batch-<run>-<page>.parquet   one file per fetched page (or deletions)
    lake/state/ingest.json                            sync state, written atomically
    lake/state/seen-<run>.txt                         ids listed by an unfinished full refresh

Every file is written under a temporary name and renamed into place, so a killed run leaves whole
files or none. The newest batch of an id wins when batches are merged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.atomic import atomic_path

DEFAULT_DATA_DIR = "distillery-data"

RAW_COMPLETIONS_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "created": pl.Int64,  # unix seconds as the API gave them; null when missing or not a number
        "model": pl.String,
        "source": pl.String,  # openai | azure | local
        "ingested_at": pl.Datetime("us", "UTC"),
        "batch_id": pl.String,  # sortable: the newest batch of an id wins
        "deleted": pl.Boolean,  # gone from the source at the last full refresh
        "item_sha256": pl.String,  # of completion_json, to tell unchanged items from updated ones
        "completion_json": pl.String,  # the list item exactly as the API returned it
        "messages_json": pl.String,  # JSON array of the input messages, every page, index order
    }
)


def data_dir_from_env(env: dict[str, str] | None = None) -> Path:
    """`DISTILLERY_DATA_DIR`, default `./distillery-data`."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    return Path(env.get("DISTILLERY_DATA_DIR") or DEFAULT_DATA_DIR)


@dataclass(frozen=True)
class LakePaths:
    """Paths of the raw lake under one data directory (a `str` is accepted too)."""

    data_dir: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))

    @property
    def raw_completions(self) -> Path:
        return self.data_dir / "lake" / "raw_completions"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "lake" / "state"

    @property
    def ingest_state(self) -> Path:
        return self.state_dir / "ingest.json"

    def seen_ids(self, run_id: str) -> Path:
        return self.state_dir / f"seen-{run_id}.txt"

    def batch_files(self) -> list[Path]:
        return sorted(self.raw_completions.glob("batch-*.parquet"))


def write_batch(paths: LakePaths, batch_id: str, rows: list[dict[str, Any]]) -> Path:
    """Write one batch file atomically.

    Args:
        paths: The lake.
        batch_id: Sortable batch name; newer batches must sort later.
        rows: Rows with the columns of `RAW_COMPLETIONS_SCHEMA` except `batch_id`.

    Returns:
        The batch file.
    """
    frame = pl.DataFrame(
        [{**row, "batch_id": batch_id} for row in rows], schema=RAW_COMPLETIONS_SCHEMA
    )
    target = paths.raw_completions / f"batch-{batch_id}.parquet"
    with atomic_path(target) as temporary:
        frame.write_parquet(temporary, compression="zstd")
    return target


def scan_raw_batches(paths: LakePaths) -> pl.LazyFrame:
    """Every batch row, unmerged (an id may appear in several batches)."""
    files = paths.batch_files()
    if not files:
        return pl.LazyFrame(schema=RAW_COMPLETIONS_SCHEMA)
    return pl.scan_parquet(files, schema=RAW_COMPLETIONS_SCHEMA)


def read_raw_completions(data_dir: str | Path, *, include_deleted: bool = True) -> pl.DataFrame:
    """The lake merged by id: the newest batch's row for each completion, ordered by id.

    Args:
        data_dir: The data directory.
        include_deleted: Keep completions the source no longer has (flagged `deleted`).
    """
    merged = (
        scan_raw_batches(LakePaths(Path(data_dir)))
        .sort("batch_id")
        .unique("id", keep="last", maintain_order=True)
    )
    if not include_deleted:
        merged = merged.filter(~pl.col("deleted"))
    return merged.sort("id").collect()


def lake_index(paths: LakePaths) -> dict[str, tuple[str, bool]]:
    """id → (item hash, deleted) of the merged lake, to decide what a fetch changes."""
    merged = (
        scan_raw_batches(paths)
        .select("id", "batch_id", "item_sha256", "deleted")
        .sort("batch_id")
        .unique("id", keep="last")
        .collect()
    )
    return {
        row[0]: (row[1], row[2])
        for row in merged.select("id", "item_sha256", "deleted").iter_rows()
    }


def read_rows(paths: LakePaths, ids: Iterable[str]) -> pl.DataFrame:
    """The newest lake rows of `ids` (to carry messages over when only metadata changed)."""
    wanted = pl.Series("id", list(ids), dtype=pl.String)
    return (
        scan_raw_batches(paths)
        .filter(pl.col("id").is_in(wanted.implode()))
        .sort("batch_id")
        .unique("id", keep="last")
        .collect()
    )


def read_state(paths: LakePaths) -> dict[str, Any]:
    if not paths.ingest_state.exists():
        return {}
    return json.loads(paths.ingest_state.read_text(encoding="utf-8"))


def write_state(paths: LakePaths, state: dict[str, Any]) -> None:
    """Replace the sync state atomically (a reader sees the old or the new file, never half)."""
    with atomic_path(paths.ingest_state) as temporary:
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")


def append_seen_ids(paths: LakePaths, run_id: str, ids: Iterable[str]) -> None:
    """Record ids listed by a full refresh; fsynced so a resumed run still knows them."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with paths.seen_ids(run_id).open("a", encoding="utf-8") as out:
        out.write("".join(f"{i}\n" for i in ids))
        out.flush()
        os.fsync(out.fileno())


def read_seen_ids(paths: LakePaths, run_id: str) -> set[str]:
    path = paths.seen_ids(run_id)
    if not path.exists():
        return set()
    # A kill mid-write can leave a partial last line; its page is re-fetched on resume anyway.
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    return set(lines[:-1] if not text.endswith("\n") else lines) - {""}


def utc_now() -> datetime:
    return datetime.now(UTC)
