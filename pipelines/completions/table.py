"""Build the `completions` and `completions_quarantine` tables from the raw lake.

    lake/completions.parquet                           validated rows (schemas.Completions)
    lake/quarantine/completions_quarantine.parquet     failing records with every reason
    lake/completions/segments/                         normalized rows per raw batch

Both tables are rewritten atomically on every build, from the merged raw lake, by the one writer
of the data directory (`pipelines.datadir.lease`), part by part: memory holds one part
(`PART_ROWS`), never the table. Normalizing and validating are done
once per raw batch and kept (`pipelines.completions.segments`); only `id_unique` reads the whole
lake, and only its ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import polars as pl

from pipelines.completions.parts import TablePart, gathered_key, parts_footer
from pipelines.completions.segments import CheckedLake, SegmentReport
from pipelines.completions.validate import split_by_reasons
from pipelines.datadir.atomic import parquet_in_parts
from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, read_parquet
from pipelines.datadir.paths import DataPaths
from schemas import COMPLETIONS_SCHEMA, QUARANTINE_SCHEMA, RAW_JSON_COLUMNS

PART_ROWS = 20_000
"""Rows gathered before a row group is written: small lake batches (a page of 100) are written
together, and memory holds about this many rows of the table, whatever the lake's size."""


@dataclass(frozen=True)
class BuiltCompletions:
    """What a build of the two tables wrote: row counts, failed checks, and which rows this build
    normalized and which it reused. The tables themselves stay on disk (read them with
    `completions` / `quarantine`, or `read_completions` for some columns)."""

    data_dir: AnyPath
    rows: int
    quarantined: int
    reasons: dict[str, int]
    segments: SegmentReport = field(default_factory=SegmentReport)

    @property
    def completions(self) -> pl.DataFrame:
        """The `completions` table as written (read back whole)."""
        return read_completions(self.data_dir)

    @property
    def quarantine(self) -> pl.DataFrame:
        """The `completions_quarantine` table as written (read back whole)."""
        return read_quarantine(self.data_dir)

    def reason_counts(self) -> dict[str, int]:
        """Quarantined records per failed check, most frequent first."""
        return dict(sorted(self.reasons.items(), key=lambda item: (-item[1], item[0])))


def build_completions(data_dir: str | AnyPath) -> BuiltCompletions:
    """Normalize and validate the merged raw lake, and write both tables, part by part.

    Args:
        data_dir: The data directory holding `lake/`.

    Returns:
        What was written; its row counts add up to the lake's completions.
    """
    paths = DataPaths(data_dir)
    reasons: dict[str, int] = {}
    with one_writer(paths, what="a build of completions", wait_s=build_wait_s()):
        lake = CheckedLake(paths)
        with (
            parquet_in_parts(paths.completions, COMPLETIONS_SCHEMA) as completions,
            parquet_in_parts(paths.quarantine, QUARANTINE_SCHEMA) as quarantine,
        ):
            parts = []
            for key, part in _gathered(lake):
                split = split_by_reasons(part)
                completions.write(split.completions)
                quarantine.write(split.quarantine)
                parts.append(TablePart(key=key, rows=split.completions.height))
                for reason, count in split.reason_counts().items():
                    reasons[reason] = reasons.get(reason, 0) + count
            # In the table's own footer: the list of parts changes with the table, or not at all.
            completions.footer = parts_footer(parts)
    return BuiltCompletions(paths.data_dir, completions.rows, quarantine.rows, reasons, lake.report)


def _gathered(parts: Iterable[tuple[str, pl.DataFrame]]) -> Iterator[tuple[str, pl.DataFrame]]:
    """The parts, small ones gathered up to `PART_ROWS` rows, each gathering keyed by the keys
    of what it gathered."""
    waiting: list[pl.DataFrame] = []
    keys: list[str] = []
    rows = 0
    for key, part in parts:
        waiting.append(part)
        keys.append(key)
        rows += part.height
        if rows >= PART_ROWS:
            yield gathered_key(keys), pl.concat(waiting, how="vertical")
            waiting, keys, rows = [], [], 0
    if waiting:
        yield gathered_key(keys), pl.concat(waiting, how="vertical")


def read_completions(
    data_dir: str | AnyPath, *, columns: Sequence[str] | None = None, head: int | None = None
) -> pl.DataFrame:
    """The `completions` table, or only `columns` of it, or only its first `head` rows.

    Curation needs no raw JSON and a manifest only ids, times and sources: reading just those
    keeps the raw JSON, most of the table's bytes, out of memory.
    """
    path = DataPaths(data_dir).completions
    if not path.exists():
        table = COMPLETIONS_SCHEMA.to_frame()
    else:
        table = read_parquet(path, columns=columns, n_rows=head)
    return table.select(columns) if columns is not None else table


def columns_without_raw_json() -> list[str]:
    """Every column of the table but the raw JSON, which stays in the lake."""
    return [name for name in COMPLETIONS_SCHEMA.names() if name not in RAW_JSON_COLUMNS]


def read_quarantine(
    data_dir: str | AnyPath, *, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """The `completions_quarantine` table, or only `columns` of it."""
    path = DataPaths(data_dir).quarantine
    table = read_parquet(path, columns=columns) if path.exists() else QUARANTINE_SCHEMA.to_frame()
    return table.select(columns) if columns is not None else table
