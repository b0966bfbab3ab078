"""Build the `completions` and `completions_quarantine` tables from the raw lake.

    lake/completions.parquet                           validated rows (schemas.Completions)
    lake/quarantine/completions_quarantine.parquet     failing records with every reason

Both files are rewritten whole and atomically on every build, from the merged raw lake, by the one
writer of the data directory (`pipelines.datadir.lease`).
"""

from __future__ import annotations

import polars as pl

from pipelines.completions.normalize import normalize_completions
from pipelines.completions.validate import ValidatedCompletions, validate_completions
from pipelines.datadir.atomic import write_parquet_atomically
from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, read_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import read_raw_completions
from schemas import COMPLETIONS_SCHEMA, QUARANTINE_SCHEMA


def build_completions(data_dir: str | AnyPath) -> ValidatedCompletions:
    """Normalize and validate the merged raw lake, and write both tables.

    Args:
        data_dir: The data directory holding `lake/`.

    Returns:
        The validated split; its row counts add up to the lake's completions.
    """
    paths = DataPaths(data_dir)
    with one_writer(paths, what="a build of completions", wait_s=build_wait_s()):
        validated = validate_completions(normalize_completions(read_raw_completions(data_dir)))
        write_parquet_atomically(validated.completions, paths.completions)
        write_parquet_atomically(validated.quarantine, paths.quarantine)
    return validated


def read_completions(data_dir: str | AnyPath) -> pl.DataFrame:
    path = DataPaths(data_dir).completions
    return read_parquet(path) if path.exists() else COMPLETIONS_SCHEMA.to_frame()


def read_quarantine(data_dir: str | AnyPath) -> pl.DataFrame:
    path = DataPaths(data_dir).quarantine
    return read_parquet(path) if path.exists() else QUARANTINE_SCHEMA.to_frame()
