"""Build the `completions` and `completions_quarantine` tables from the raw lake.

    lake/completions.parquet                           validated rows (schemas.Completions)
    lake/quarantine/completions_quarantine.parquet     failing records with every reason
    lake/completions/segments/                         normalized rows per raw batch

Both tables are rewritten whole and atomically on every build, from the merged raw lake, by the
one writer of the data directory (`pipelines.datadir.lease`). Normalizing and validating are done
once per raw batch and kept (`pipelines.completions.segments`); only `id_unique` reads the whole
lake, and only its ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from pipelines.completions.segments import SegmentReport, checked_lake
from pipelines.completions.validate import ValidatedCompletions, split_by_reasons
from pipelines.datadir.atomic import write_parquet_atomically
from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, read_parquet
from pipelines.datadir.paths import DataPaths
from schemas import COMPLETIONS_SCHEMA, QUARANTINE_SCHEMA, RAW_JSON_COLUMNS


@dataclass(frozen=True)
class BuiltCompletions(ValidatedCompletions):
    """The validated split, and which rows this build normalized and which it reused."""

    segments: SegmentReport = field(default_factory=SegmentReport)


def build_completions(data_dir: str | AnyPath) -> BuiltCompletions:
    """Normalize and validate the merged raw lake, and write both tables.

    Args:
        data_dir: The data directory holding `lake/`.

    Returns:
        The validated split; its row counts add up to the lake's completions.
    """
    paths = DataPaths(data_dir)
    with one_writer(paths, what="a build of completions", wait_s=build_wait_s()):
        checked, segments = checked_lake(paths)
        validated = split_by_reasons(checked)
        del checked
        write_parquet_atomically(validated.completions, paths.completions)
        write_parquet_atomically(validated.quarantine, paths.quarantine)
    return BuiltCompletions(validated.completions, validated.quarantine, segments)


def read_completions(
    data_dir: str | AnyPath, *, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """The `completions` table, or only `columns` of it.

    Curation needs no raw JSON and a manifest only ids, times and sources: reading just those
    keeps the raw JSON, most of the table's bytes, out of memory.
    """
    path = DataPaths(data_dir).completions
    table = read_parquet(path, columns=columns) if path.exists() else COMPLETIONS_SCHEMA.to_frame()
    return table.select(columns) if columns is not None else table


def columns_without_raw_json() -> list[str]:
    """Every column of the table but the raw JSON, which stays in the lake."""
    return [name for name in COMPLETIONS_SCHEMA.names() if name not in RAW_JSON_COLUMNS]


def read_quarantine(data_dir: str | AnyPath) -> pl.DataFrame:
    path = DataPaths(data_dir).quarantine
    return read_parquet(path) if path.exists() else QUARANTINE_SCHEMA.to_frame()
