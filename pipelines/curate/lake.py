"""A recipe's curation of the whole table, part by part, keeping what each part made.

Up to exact dedup's hash and the keys of chains, curation reads each row alone: select, redact,
the hash of the normalized conversation, the prefix hashes and the extended key of a chat turn.
Only the decisions read across rows — which duplicate survives, which turn is a chat's last,
which near duplicates cluster — and they need only those keys. So:

1. each part of the `completions` table (`pipelines.completions.parts`) is selected, redacted
   and keyed once, and kept under `lake/curated/<recipe>.parts/<key>.*`, its key naming the
   part's rows, the recipe's settings for these steps, and the code that runs them;
2. the decisions are made on the keys of every part (narrow columns), near dedup on the
   prompts of the rows still in;
3. the curated table is written part by part.

A new day costs its own parts, plus the decisions and the writing of the table; memory holds the
keys, one part, and (with near dedup) the prompts. The curated rows are those `curate_completions`
gives the whole table, but that redaction confirms a candidate (a national phone number) among
the rows of its part, not of the whole table; a test holds the rest, row for row.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from dataclasses import asdict, dataclass
from functools import cache
from importlib.metadata import version

import polars as pl

from pipelines import steps
from pipelines.completions.parts import TablePart, read_table_parts
from pipelines.completions.table import columns_without_raw_json, read_completions
from pipelines.curate import chains, chunks, dedup, filters, redact, text_fields
from pipelines.curate.chains import ChainKeys, chain_keys, chains_from_keys, keep_chains
from pipelines.curate.dedup import dedupe_near, exact_hashes, keep_exact
from pipelines.curate.filters import select_completions
from pipelines.curate.redact import redact_completions
from pipelines.datadir.atomic import atomic_path, parquet_in_parts, write_parquet_atomically
from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, ObjectPath, read_parquet, scan_parquet
from pipelines.datadir.paths import DataPaths
from pipelines.privacy import phones, pii, secret_rules
from pipelines.recipes import Recipe
from pipelines.steps import StepReport
from schemas import CURATED_SCHEMA, vocabularies

_KEY_COLUMNS = ["id", "created", "dedup_hash", "_ext_length", "_ext0", "_ext1"]
MESSAGE_COLUMNS = ["id", "messages"]
WHOLE_TABLE = "file"
"""The key prefix of a table curated as one part: one whose footer lists no parts."""
"""What near dedup reads of the rows still in: their prompts."""


@dataclass(frozen=True)
class LakeCuration:
    """What a curation of the table wrote.

    Attributes:
        recipe: The recipe.
        rows: Curated rows written.
        steps: The report of every step, as `curate_completions` gives them.
        parts: Parts of the table.
        parts_curated: Parts curated by this run (the rest were kept from earlier runs).
        path: The curated table.
    """

    recipe: Recipe
    rows: int
    steps: list[StepReport]
    parts: int
    parts_curated: int
    path: AnyPath

    def drops_by_reason(self) -> dict[str, int]:
        return {reason: n for step in self.steps for reason, n in step.dropped.items()}


def curate_lake(data_dir: str | AnyPath, recipe: Recipe) -> LakeCuration:
    """Curate the `completions` table for `recipe` and write the curated table and its steps.

    Args:
        data_dir: The data directory.
        recipe: The recipe.
    """
    paths = DataPaths(data_dir)
    what = f"a curation of recipe {recipe.name}"
    with one_writer(paths, what=what, wait_s=build_wait_s()):
        parts = _table_parts(paths)
        settings = _settings_key(recipe)
        offsets = [sum(part.rows for part in parts[:i]) for i in range(len(parts))]
        names, curated_now = [], 0
        for part, offset in zip(parts, offsets, strict=True):
            name = f"{part.key}-{settings}"
            if not paths.curation_part(recipe.name, name, "report").exists():
                _curate_part(paths, recipe, name, offset, part.rows)
                curated_now += 1
            names.append(name)
        steps, decisions = _decide(paths, recipe, names)
        written = _write_table(paths, recipe, names, decisions)
        with atomic_path(paths.curation_steps(recipe.name)) as temporary:
            temporary.write_text(json.dumps([asdict(step) for step in steps], indent=2))
        # A table read as one part (rewritten by an erasure) keeps the parts the next build
        # will list again; only other one-part curations of it are stale.
        whole = len(parts) == 1 and parts[0].key.startswith(WHOLE_TABLE)
        _remove_stale(paths, recipe, set(names), only=WHOLE_TABLE if whole else "")
    return LakeCuration(
        recipe=recipe,
        rows=written,
        steps=steps,
        parts=len(parts),
        parts_curated=curated_now,
        path=paths.curated(recipe.name),
    )


def _table_parts(paths: DataPaths) -> list[TablePart]:
    """The table's parts; a table written before parts were recorded is one part, keyed by the
    hash of its file (so it is curated again whenever it changes)."""
    parts = read_table_parts(paths)
    if parts is not None:
        return parts
    table = paths.completions
    if not table.exists():
        return []
    rows = read_completions(paths.data_dir, columns=["id"]).height
    return [TablePart(key=f"{WHOLE_TABLE}{_file_sha256(table)[:16]}", rows=rows)]


def _file_sha256(path: AnyPath) -> str:
    """sha256 of a file, read a MiB at a time (an object is fetched whole: a put is one)."""
    if isinstance(path, ObjectPath):
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _curate_part(paths: DataPaths, recipe: Recipe, name: str, offset: int, rows: int) -> None:
    """Select, redact and key one part; kept as its rows, chain prefixes, keys and report."""
    part = _read_slice(paths, offset, rows)
    selected, select_report = select_completions(part, recipe.select)
    redacted, redact_report = redact_completions(selected, recipe.redact)
    hashed = redacted.with_columns(exact_hashes(redacted, recipe.dedup.exact))
    keys = chain_keys(hashed, recipe.dedup.exact)
    key_rows = hashed.select("id", "dedup_hash").join(
        keys.rows, on="id", how="left", maintain_order="left"
    )
    write_parquet_atomically(hashed, paths.curation_part(recipe.name, name, "rows"))
    write_parquet_atomically(keys.prefixes, paths.curation_part(recipe.name, name, "prefixes"))
    write_parquet_atomically(
        key_rows.select(_KEY_COLUMNS), paths.curation_part(recipe.name, name, "keys")
    )
    # The report last: a part is complete when its report is there.
    with atomic_path(paths.curation_part(recipe.name, name, "report")) as temporary:
        temporary.write_text(json.dumps([asdict(select_report), asdict(redact_report)]))


def _read_slice(paths: DataPaths, offset: int, rows: int) -> pl.DataFrame:
    """Rows `offset` to `offset + rows` of the table, without its raw JSON: only the row groups
    that hold them are read."""
    scan = scan_parquet([paths.completions]).select(columns_without_raw_json())
    return scan.slice(offset, rows).collect()


def _decide(
    paths: DataPaths, recipe: Recipe, names: list[str]
) -> tuple[list[StepReport], pl.DataFrame]:
    """Every step's report, and the surviving rows' `id`, `duplicate_count`, `chain_id`,
    `turn`, `cluster_id`, `cluster_size`."""
    reports = [_read_report(paths, recipe, name) for name in names]
    select_report = _summed("select", [pair[0] for pair in reports])
    redact_report = _summed("redact", [pair[1] for pair in reports])
    keys = _concat([read_parquet(paths.curation_part(recipe.name, n, "keys")) for n in names])
    if keys is None:
        keys = pl.DataFrame(schema={"id": pl.String, "created": CURATED_SCHEMA["created"]})
        keys = keys.with_columns(pl.lit(None, pl.String).alias("dedup_hash"))
    kept, exact_report = keep_exact(keys.select("id", "created", "dedup_hash"), recipe.dedup.exact)
    if recipe.chains.enabled and not kept.is_empty():
        prefixes = _concat(
            [read_parquet(paths.curation_part(recipe.name, n, "prefixes")) for n in names]
        )
        survivors = kept.select("id")
        found = chains_from_keys(
            ChainKeys(
                prefixes=prefixes.join(survivors, on="id", how="semi"),  # type: ignore[union-attr]
                rows=keys.join(survivors, on="id", how="semi").select(
                    "id", "created", "_ext_length", "_ext0", "_ext1"
                ),
            )
        )
        chained, chain_report = keep_chains(kept, found, recipe.chains)
    else:
        chained = kept.with_columns(
            pl.col("id").alias("chain_id"), pl.lit(1, pl.UInt32).alias("turn")
        )
        chain_report = StepReport("chains", kept.height, kept.height)
    near_input = chained
    if recipe.dedup.near.enabled and not chained.is_empty():
        messages = _concat(
            [
                read_parquet(
                    paths.curation_part(recipe.name, n, "rows"), columns=["id", "messages"]
                )
                for n in names
            ]
        )
        near_input = chained.join(messages, on="id", how="left", maintain_order="left")  # type: ignore[arg-type]
    clustered, near_report = dedupe_near(near_input, recipe.dedup.near)
    decisions = clustered.select(
        "id", "duplicate_count", "chain_id", "turn", "cluster_id", "cluster_size"
    )
    return [select_report, redact_report, exact_report, chain_report, near_report], decisions


def _write_table(
    paths: DataPaths, recipe: Recipe, names: list[str], decisions: pl.DataFrame
) -> int:
    with parquet_in_parts(paths.curated(recipe.name), CURATED_SCHEMA) as table:
        for name in names:
            rows = read_parquet(paths.curation_part(recipe.name, name, "rows"))
            table.write(rows.join(decisions, on="id", how="inner", maintain_order="left"))
    return table.rows


def _read_report(paths: DataPaths, recipe: Recipe, name: str) -> tuple[StepReport, StepReport]:
    text = paths.curation_part(recipe.name, name, "report").read_text(encoding="utf-8")
    select_report, redact_report = (StepReport(**step) for step in json.loads(text))
    return select_report, redact_report


def _summed(step: str, reports: list[StepReport]) -> StepReport:
    """Parts' reports of one row-by-row step added up, drops in the order one report of the
    whole table lists them (most first, then by name)."""
    dropped: dict[str, int] = {}
    counts: dict[str, int] = {}
    for report in reports:
        for reason, n in report.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + n
        for name, n in report.counts.items():
            counts[name] = counts.get(name, 0) + n
    ordered = dict(sorted(dropped.items(), key=lambda item: (-item[1], item[0])))
    return StepReport(
        step,
        sum(report.rows_in for report in reports),
        sum(report.rows_out for report in reports),
        {reason: n for reason, n in ordered.items() if n},
        counts,
    )


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame | None:
    return pl.concat(frames, how="vertical") if frames else None


@cache
def _code_key() -> str:
    """A hash of the code that makes a part: its steps, what they read of a recipe, the rules
    redaction applies, and the versions of the libraries that decide what a rule finds (a
    fixed phone rule must reach the parts made before it)."""
    digest = hashlib.sha256(str(CURATED_SCHEMA).encode())
    modules = (
        sys.modules[__name__],
        filters,
        redact,
        dedup,
        chains,
        chunks,
        text_fields,
        steps,
        pii,
        phones,
        secret_rules,
        vocabularies,
    )
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    for package in ("phonenumbers", "detect-secrets", "polars-hash", "polars"):
        digest.update(f"{package}=={version(package)}".encode())
    return digest.hexdigest()


def _settings_key(recipe: Recipe) -> str:
    """The recipe's settings a part's curation reads, and the code that reads them."""
    settings = {
        "select": recipe.select.model_dump(mode="json"),
        "redact": recipe.redact.model_dump(mode="json"),
        "exact": recipe.dedup.exact.model_dump(mode="json"),
    }
    text = _code_key() + json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _remove_stale(paths: DataPaths, recipe: Recipe, names: set[str], *, only: str) -> None:
    """Parts no longer in the table, or made with other settings or code (of those whose name
    starts with `only`)."""
    for path in paths.curation_part_files(recipe.name):
        name = path.name.split(".", 1)[0]
        if name.startswith(only) and name not in names:
            path.unlink()
