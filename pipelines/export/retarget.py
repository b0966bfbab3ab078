"""Add export targets to a published dataset version, without rebuilding it.

A version's rows (its split Parquet files) hold everything every target is made from, so a
target can be written long after the build, with the settings of the recipe the version was
built with (recorded in its manifest). The version id stays: it is the id of the content, and
the list of targets is no part of it. The new files are written and validated in a staging
directory, moved in, and only then does the manifest name them (with their sha256) and the card
describe them: a reader trusting the manifest never sees half a target. One export per recipe
at a time (an OS lock on the data directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from pydantic import ValidationError

from pipelines.atomic import atomic_path
from pipelines.export.card import dataset_card
from pipelines.export.files import version_parts
from pipelines.export.manifest import FileEntry, Manifest, TargetEntry
from pipelines.export.publish import create_staging, published_manifest, remove_stale_staging
from pipelines.export.splits import SPLITS
from pipelines.export.targets import TARGETS, ExportContext, Problem, TargetResult, write_targets
from pipelines.lock import exclusive
from pipelines.paths import DataPaths
from pipelines.recipes import Recipe


class TargetsRefused(RuntimeError):
    """A target's validator found problems; nothing was added. `problems` lists them all."""

    def __init__(self, version: str, problems: list[Problem]) -> None:
        shown = "\n  ".join(str(problem) for problem in problems[:20])
        more = f"\n  … and {len(problems) - 20:,} more" if len(problems) > 20 else ""
        super().__init__(f"targets not added to version {version}:\n  {shown}{more}")
        self.problems = problems


@dataclass(frozen=True)
class Retargeted:
    """What `add_targets` did: the targets it added (none when all were there already)."""

    recipe: str
    version: str
    path: Path
    added: list[str]
    manifest: Manifest
    results: dict[str, TargetResult] = field(default_factory=dict)


def add_targets(
    data_dir: str | Path,
    recipe: str,
    version: str,
    targets: Iterable[str],
    *,
    rewrite: bool = False,
) -> Retargeted:
    """Write `targets` into the published version `version` of `recipe`.

    Args:
        data_dir: The data directory.
        recipe: The recipe's name.
        version: The version id (see `latest_version` for the newest).
        targets: Target names (`pipelines.export.targets.TARGETS`).
        rewrite: Write targets the version has already, too (default: leave them).

    Raises:
        FileNotFoundError: No such version.
        ValueError: An unknown target, or one the recipe the version was built with cannot
            make (e.g. `preference` without `export.preference`).
        TargetsRefused: A validator found problems; the version is unchanged.
        LockBusy: Another export to this recipe is running.
    """
    names = list(dict.fromkeys(targets))
    unknown = [name for name in names if name not in TARGETS]
    if unknown:
        raise ValueError(f"unknown target {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    paths = DataPaths(data_dir)
    directory = paths.version(recipe, version)
    if not (directory / "manifest.json").is_file():
        raise FileNotFoundError(f"no version {version} of recipe {recipe} in {paths.data_dir}")
    with exclusive(paths.lock(f"export-{recipe}"), what=f"an export to recipe {recipe}", wait_s=60):
        manifest = published_manifest(directory, version)
        wanted = [name for name in names if rewrite or name not in manifest.targets]
        if not wanted:
            return Retargeted(recipe, version, directory, [], manifest)
        settings = _built_with(manifest, wanted)
        remove_stale_staging(paths, recipe)
        staging = create_staging(paths, recipe)
        try:
            results = write_targets(
                staging, wanted, version_parts(directory), ExportContext(settings, version)
            )
            problems = [p for result in results.values() for p in result.problems]
            if problems:
                raise TargetsRefused(version, problems)
            for result in results.values():
                for file in result.written.files:
                    (directory / file).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(staging / file, directory / file)
            add_target_entries(manifest, directory, results)
            _rewrite_card_and_manifest(directory, manifest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Retargeted(recipe, version, directory, wanted, manifest, results)


def add_target_entries(
    manifest: Manifest, directory: Path, results: dict[str, TargetResult]
) -> None:
    """Record each target's files in `manifest` (and every file, with its sha256)."""
    now = datetime.now(UTC)
    for name, result in results.items():
        written = result.written
        manifest.targets[name] = TargetEntry(
            files=written.files, rows=written.rows, notes=written.notes, exported_at=now
        )
        for file in written.files:
            manifest.files[file] = FileEntry.of(directory / file)


def _built_with(manifest: Manifest, targets: list[str]) -> Recipe:
    try:
        recipe = Recipe.model_validate(manifest.recipe)
    except ValidationError as error:
        raise ValueError(
            f"the recipe version {manifest.version} was built with no longer loads ({error});"
            " rebuild the version instead"
        ) from None
    if "preference" in targets and recipe.export.preference is None:
        raise ValueError(
            "target preference needs `export.preference` (the feedback key) in the recipe the"
            " version was built with; set it and build a new version"
        )
    return recipe


def _rewrite_card_and_manifest(directory: Path, manifest: Manifest) -> None:
    tokens = pl.read_parquet(
        [directory / f"{split}.parquet" for split in SPLITS], columns=["total_tokens"]
    )
    with atomic_path(directory / "README.md") as temporary:
        temporary.write_text(dataset_card(manifest, tokens), encoding="utf-8")
    manifest.files["README.md"] = FileEntry.of(directory / "README.md")
    with atomic_path(directory / "manifest.json") as temporary:
        temporary.write_text(manifest.to_json(), encoding="utf-8")
