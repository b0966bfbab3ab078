"""Replace every dataset version holding a tombstoned row by one without it.

A version is content-addressed and immutable, so it is never edited: it is built again, by the
build's own `build_dataset_version`, from the recipe its manifest recorded and the rows of the
recipe's curated table (already purged) that the old version held, under its new id. Its split
files alone cannot be built from: they lack columns a build reads (`api`, `chain_id`). Then
LATEST moves to the replacement (if it named the old version) and the old version is deleted.
Versions that held no tombstoned row are untouched.

Killed anywhere, the next run finishes: a version still holding a tombstoned row is built again
(the same rows give the same id, found already published), and the deletion is atomic on local
disk (the directory is renamed out of sight, `.forgotten-<version>`, then removed; leftovers are
removed first thing) and manifest-first on object storage (a version without its manifest is
invisible, and the leftovers are found by their rows). What LATEST named before the run, and what
replaced what, is kept in `forget/journal.json` until the run is recorded, since each build
moves LATEST.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import polars as pl
from pydantic import ValidationError

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.object_storage import AnyPath, ObjectPath, read_parquet, scan_parquet
from pipelines.datadir.paths import DataPaths, VersionLayout
from pipelines.datadir.tombstones import Tombstones
from pipelines.export.checks import CheckResult
from pipelines.export.manifest import InputSnapshot, Manifest, read_manifest
from pipelines.export.publish import point_latest, remove_stale_staging
from pipelines.export.splits import SPLITS
from pipelines.export.versions import DatasetRefused, build_dataset_version
from pipelines.recipes import Recipe
from pipelines.steps import StepReport

GONE_PREFIX = ".forgotten-"
"""A version directory being deleted by an erasure; readers skip names starting with a dot."""


@dataclass
class VersionsReport:
    """What an erasure did to the versions of every recipe.

    Attributes:
        replaced: `recipe/old` → `recipe/new`, or None when no version could be built without the
            rows (a check refused it: too few examples left, say); the old one is deleted anyway.
        rows_removed: Rows of forgotten ids, over all replaced versions.
        refusals: `recipe/old` → the checks that refused its replacement.
        latest: recipe → the version LATEST names after the run (None: no LATEST left).
    """

    replaced: dict[str, str | None] = field(default_factory=dict)
    rows_removed: int = 0
    refusals: dict[str, list[str]] = field(default_factory=dict)
    latest: dict[str, str | None] = field(default_factory=dict)


def purge_versions(
    paths: DataPaths,
    tombstones: Tombstones,
    *,
    dry_run: bool,
    after_build: Callable[[str], None] | None = None,
) -> VersionsReport:
    """Replace each version holding a tombstoned row (see the module docstring).

    Args:
        paths: The data directory; the caller is its one writer.
        tombstones: Every erased id.
        dry_run: Only find the versions, change nothing.
        after_build: Called with `recipe/old` once its replacement is published and before the
            old version is deleted (where a test injects a kill).
    """
    report = VersionsReport()
    journal = _Journal.read(paths)
    for recipe in paths.recipes_with_versions():
        if not dry_run:
            _remove_leftovers(paths, recipe, tombstones)
        holding = []
        for manifest_path in paths.manifests(recipe):
            version_dir = manifest_path.parent
            forgotten = _forgotten_ids(version_dir, tombstones)
            if forgotten:
                holding.append((read_manifest(manifest_path), version_dir, forgotten))
        for manifest, _, forgotten in holding:
            report.rows_removed += len(forgotten)
            report.replaced[f"{recipe}/{manifest.version}"] = None
        if dry_run or not (holding or recipe in journal.latest):
            continue
        journal.remember_latest(paths, recipe)
        for manifest, version_dir, forgotten in sorted(holding, key=lambda h: h[0].created_at):
            name = f"{recipe}/{manifest.version}"
            try:
                new = _rebuild(paths, manifest, version_dir, forgotten, tombstones)
                journal.replaced[name] = f"{recipe}/{new}"
            except DatasetRefused as refused:
                journal.replaced[name] = None
                report.refusals[name] = [c.name for c in refused.checks if not c.passed]
            journal.write(paths)
            if after_build is not None:
                after_build(name)
            _delete_version(version_dir)
        report.latest[recipe] = _settle_latest(paths, recipe, journal)
    # A run killed after some deletions left their replacements in the journal only.
    report.replaced.update(journal.replaced)
    return report


@dataclass
class _Journal:
    """What LATEST named before the erasure and what replaced what, kept across a kill (each
    build moves LATEST; a deleted version can no longer say what replaced it). Version ids only."""

    latest: dict[str, str | None] = field(default_factory=dict)
    replaced: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, paths: DataPaths) -> _Journal:
        path = paths.forget_journal
        return cls(**json.loads(path.read_text(encoding="utf-8"))) if path.exists() else cls()

    def remember_latest(self, paths: DataPaths, recipe: str) -> None:
        if recipe not in self.latest:
            latest = paths.latest(recipe)
            self.latest[recipe] = (
                latest.read_text(encoding="utf-8").strip() if latest.exists() else None
            )
            self.write(paths)

    def write(self, paths: DataPaths) -> None:
        with atomic_path(paths.forget_journal) as temporary:
            temporary.write_text(json.dumps(asdict(self)), encoding="utf-8")


def _split_files(version_dir: AnyPath) -> list[AnyPath]:
    files = [version_dir / VersionLayout.rows(split) for split in SPLITS]
    return [path for path in files if path.exists()]


def _forgotten_ids(version_dir: AnyPath, tombstones: Tombstones) -> list[str]:
    files = _split_files(version_dir)
    if not files:
        return []
    ids = scan_parquet(files).select("completion_id").filter(tombstones.matches("completion_id"))
    return ids.collect()["completion_id"].to_list()


def _rebuild(
    paths: DataPaths,
    manifest: Manifest,
    version_dir: AnyPath,
    forgotten: list[str],
    tombstones: Tombstones,
) -> str:
    """Build the version again without its forgotten rows; return the new id."""
    try:
        recipe = Recipe.model_validate(manifest.recipe)
    except ValidationError:  # written by a distillery whose recipes this one cannot read
        unreadable = CheckResult("recipe_readable", False, "the manifest's recipe", {})
        raise DatasetRefused(manifest.recipe.get("name", "?"), [unreadable]) from None
    # Targets added to the version after it was built (`distillery export`) are kept too.
    targets = list(dict.fromkeys([*recipe.export.targets, *manifest.targets]))
    recipe = recipe.model_copy(
        update={"export": recipe.export.model_copy(update={"targets": targets})}
    )
    held = scan_parquet(_split_files(version_dir)).select(pl.col("completion_id").alias("id"))
    curated_path = paths.curated(recipe.name)
    if not curated_path.exists():
        missing = CheckResult("curated_table_present", False, "no curated table to build from", {})
        raise DatasetRefused(recipe.name, [missing])
    curated = read_parquet(curated_path)
    rows = curated.join(held.collect(), on="id", how="semi").filter(~tombstones.matches("id"))
    held_rows = sum(split.rows for split in manifest.splits.values())
    steps = [
        StepReport(step=s.step, rows_in=s.rows_in, rows_out=s.rows_out, dropped=dict(s.dropped))
        for s in manifest.steps
        if s.step != "token_limit"  # the build applies it again
    ]
    steps.append(StepReport.removing("forget", "forgotten", held_rows, held_rows - len(forgotten)))
    built = build_dataset_version(
        paths.data_dir,
        rows,
        recipe,
        curation_steps=steps,
        inputs=manifest.inputs or InputSnapshot(),
        source=manifest.source,
    )
    return built.version


def _delete_version(version_dir: AnyPath) -> None:
    if isinstance(version_dir, ObjectPath):
        # The manifest first: from then on the version is invisible to every reader.
        (version_dir / VersionLayout.MANIFEST).unlink(missing_ok=True)
        version_dir.remove_tree()
        return
    gone = version_dir.with_name(f"{GONE_PREFIX}{version_dir.name}")
    version_dir.rename(gone)
    shutil.rmtree(gone)


def _remove_leftovers(paths: DataPaths, recipe: str, tombstones: Tombstones) -> None:
    """Finish the deletions a killed run began, and remove the staging folders killed builds
    left (they hold whole target files; a live build's is kept)."""
    artifacts = paths.artifacts(recipe)
    if not paths.remote:
        for gone in artifacts.glob(f"{GONE_PREFIX}*"):
            shutil.rmtree(gone, ignore_errors=True)
        remove_stale_staging(paths, recipe)
        return
    for folder in {p.parent for p in artifacts.glob(f"*/{VersionLayout.rows('train')}")}:
        if not (folder / VersionLayout.MANIFEST).exists() and _forgotten_ids(folder, tombstones):
            folder.remove_tree()


def _settle_latest(paths: DataPaths, recipe: str, journal: _Journal) -> str | None:
    """Point LATEST at what it named before the run, or at that version's replacement."""
    wanted = journal.latest.get(recipe)
    if wanted is not None and f"{recipe}/{wanted}" in journal.replaced:
        replacement = journal.replaced[f"{recipe}/{wanted}"]
        wanted = replacement.split("/", 1)[1] if replacement else None
    if wanted is None:
        paths.latest(recipe).unlink(missing_ok=True)
    else:
        point_latest(paths, recipe, wanted)
    return wanted


def finish_versions(paths: DataPaths) -> None:
    """Drop the journal: every recipe is settled (called once the erasure is recorded)."""
    paths.forget_journal.unlink(missing_ok=True)
