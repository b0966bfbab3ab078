"""Erase tombstoned ids from the tables built from the lake: completions, quarantine, curated,
and what curation keeps of each part of the table.

A table is read by its ids first (a small column), and rewritten, atomically, only when it holds
a tombstoned row: streamed from the old file to the new one, so memory never holds the table.
The `completions` table rewritten here has no list of parts in its footer (its rows no longer match
it): a later stage reads it as one part until the next build lists them again. What curation keeps
of a part holding a forgotten row (its rows, keys, chain prefixes, report) is deleted: the next
build curates that part again.

A curated row that survives may still *name* a forgotten one: its
near-duplicate cluster or its chat chain is labelled by the smallest or first id, which may be
the forgotten row's. Those labels move to the smallest surviving id of the group, so no id of a
forgotten row is left in clear.
"""

from __future__ import annotations

import polars as pl

from pipelines.datadir.atomic import atomic_path, write_parquet_atomically
from pipelines.datadir.object_storage import AnyPath, read_parquet, scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.datadir.tombstones import Tombstones

GROUP_LABELS = ("cluster_id", "chain_id")
"""Curated columns that label a group of rows by one member's id."""


def purge_table(path: AnyPath, tombstones: Tombstones, *, dry_run: bool) -> int:
    """Rewrite one table without its tombstoned rows (relabelling groups a forgotten row
    named). Returns the rows removed."""
    if not path.exists():
        return 0
    ids = read_parquet(path, columns=["id"])
    hits = ids.select(tombstones.matches("id").sum()).item()
    if not hits:
        # A table whose own rows are clean may still carry a forgotten id as a group's label
        # (a run killed between the two writes cannot leave that, but a label is cheap to check).
        labels = _label_columns(path)
        if not labels:
            return 0
        named = read_parquet(path, columns=labels).select(
            pl.any_horizontal(tombstones.matches(c) for c in labels).sum()
        )
        if not named.item():
            return 0
    if dry_run:
        return int(hits)
    labels = [c for c in GROUP_LABELS if c in read_parquet(path, n_rows=0).columns]
    if labels:  # a curated table: narrow enough to relabel in memory
        table = read_parquet(path)
        write_parquet_atomically(
            relabel_groups(table.filter(~tombstones.matches("id")), tombstones), path
        )
    else:
        with atomic_path(path) as temporary:
            kept = scan_parquet([path]).filter(~tombstones.matches("id"))
            kept.sink_parquet(temporary, compression="zstd")
    return int(hits)


def relabel_groups(rows: pl.DataFrame, tombstones: Tombstones) -> pl.DataFrame:
    """Give each group labelled by a tombstoned id the smallest id of its surviving rows."""
    for column in GROUP_LABELS:
        if column in rows.columns:
            rows = rows.with_columns(
                pl.when(tombstones.matches(column))
                .then(pl.col("id").min().over(column))
                .otherwise(pl.col(column))
                .alias(column)
            )
    return rows


def _label_columns(path: AnyPath) -> list[str]:
    names = read_parquet(path, n_rows=0).columns
    return [column for column in GROUP_LABELS if column in names]


def purge_curation_parts(paths: DataPaths, tombstones: Tombstones, *, dry_run: bool) -> int:
    """Delete every kept curation part holding a tombstoned id (all its files). Returns the
    parts deleted."""
    deleted = 0
    for recipe in sorted(set(paths.curated_tables()) | set(paths.recipes_with_curation_parts())):
        holding = set()
        for path in paths.curation_part_tables(recipe):
            if "id" in read_parquet(path, n_rows=0).columns:
                ids = read_parquet(path, columns=["id"])
                if ids.select(tombstones.matches("id").any()).item():
                    holding.add(paths.curation_part_name(path))
        if not dry_run:
            for path in paths.curation_part_files(recipe):
                if paths.curation_part_name(path) in holding:
                    path.unlink(missing_ok=True)
        deleted += len(holding)
    return deleted


def purge_tables(paths: DataPaths, tombstones: Tombstones, *, dry_run: bool) -> dict[str, int]:
    """Rows removed from each table: `completions`, `completions_quarantine`,
    `curated/<recipe>`."""
    counts = {
        "completions": purge_table(paths.completions, tombstones, dry_run=dry_run),
        "curation_parts": purge_curation_parts(paths, tombstones, dry_run=dry_run),
        "completions_quarantine": purge_table(paths.quarantine, tombstones, dry_run=dry_run),
    }
    for recipe, path in paths.curated_tables().items():
        counts[f"curated/{recipe}"] = purge_table(path, tombstones, dry_run=dry_run)
    return counts
