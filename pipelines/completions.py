"""Build the `completions` and `completions_quarantine` tables from the raw lake.

    lake/completions.parquet                           validated rows (schemas.Completions)
    lake/quarantine/completions_quarantine.parquet     failing records with every reason

Both files are rewritten whole and atomically on every build, from the merged raw lake.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.atomic import atomic_path
from pipelines.lake import read_raw_completions
from pipelines.normalize import COMPLETIONS_SCHEMA, normalize_completions
from pipelines.validate import QUARANTINE_SCHEMA, ValidatedCompletions, validate_completions


def completions_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "lake" / "completions.parquet"


def quarantine_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "lake" / "quarantine" / "completions_quarantine.parquet"


def build_completions(data_dir: str | Path) -> ValidatedCompletions:
    """Normalize and validate the merged raw lake, and write both tables.

    Args:
        data_dir: The data directory holding `lake/`.

    Returns:
        The validated split; its row counts add up to the lake's completions.
    """
    validated = validate_completions(normalize_completions(read_raw_completions(data_dir)))
    _write(validated.completions, completions_path(data_dir))
    _write(validated.quarantine, quarantine_path(data_dir))
    return validated


def read_completions(data_dir: str | Path) -> pl.DataFrame:
    path = completions_path(data_dir)
    return pl.read_parquet(path) if path.exists() else COMPLETIONS_SCHEMA.to_frame()


def read_quarantine(data_dir: str | Path) -> pl.DataFrame:
    path = quarantine_path(data_dir)
    return pl.read_parquet(path) if path.exists() else QUARANTINE_SCHEMA.to_frame()


def _write(frame: pl.DataFrame, target: Path) -> None:
    with atomic_path(target) as temporary:
        frame.write_parquet(temporary, compression="zstd")
