"""Add export targets to a published dataset version, without rebuilding it.

A version's rows (its split Parquet files) hold everything every target is made from, so a
target can be written long after the build, with the settings of the recipe the version was
built with (recorded in its manifest). The version id stays: it is the id of the content, and
the list of targets is no part of it. The new files are written and validated in a staging
directory, moved in, and only then does the manifest name them (with their sha256) and the card
describe them: a reader trusting the manifest never sees half a target. One export per recipe
at a time (an OS lock on the data directory; on object storage, the writer's lease, and the
version's split files are read from a local copy).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.lease import one_writer
from pipelines.datadir.object_storage import AnyPath, ObjectPath
from pipelines.datadir.paths import DataPaths, VersionLayout
from pipelines.export.card import dataset_card
from pipelines.export.files import example_tokens, version_parts
from pipelines.export.manifest import FileEntry, Manifest, TargetEntry
from pipelines.export.publish import create_staging, published_manifest, remove_stale_staging
from pipelines.export.splits import SPLITS
from pipelines.export.targets import TARGETS, ExportContext, Problem, TargetResult, write_targets
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
    path: AnyPath
    added: list[str]
    manifest: Manifest
    results: dict[str, TargetResult] = field(default_factory=dict)


def add_targets(
    data_dir: str | AnyPath,
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
    if not (directory / VersionLayout.MANIFEST).is_file():
        raise FileNotFoundError(f"no version {version} of recipe {recipe} in {paths.data_dir}")
    what = f"an export to recipe {recipe}"
    with (
        one_writer(paths, what=what, wait_s=60, local_lock=f"export-{recipe}"),
        tempfile.TemporaryDirectory(prefix=".distillery-") as scratch,
    ):
        manifest = published_manifest(directory, version)
        wanted = [name for name in names if rewrite or name not in manifest.targets]
        if not wanted:
            return Retargeted(recipe, version, directory, [], manifest)
        settings = _built_with(manifest, wanted)
        remove_stale_staging(paths, recipe)
        staging = create_staging(paths, recipe)
        try:
            rows = _split_files(directory, Path(scratch))
            results = write_targets(
                staging, wanted, version_parts(rows), ExportContext(settings, version)
            )
            problems = [p for result in results.values() for p in result.problems]
            if problems:
                raise TargetsRefused(version, problems)
            # Hashed where they were written; the manifest names them only once they are moved.
            add_target_entries(manifest, staging, results)
            for result in results.values():
                for file in result.written.files:
                    _move(staging / file, directory / file)
            _rewrite_card_and_manifest(directory, rows, manifest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Retargeted(recipe, version, directory, wanted, manifest, results)


def _split_files(directory: AnyPath, scratch: Path) -> Path:
    """The local directory holding the version's split files (a copy, for object storage)."""
    if not isinstance(directory, ObjectPath):
        return directory
    for split in SPLITS:
        (directory / VersionLayout.rows(split)).download(scratch / VersionLayout.rows(split))
    return scratch


def _move(file: Path, target: AnyPath) -> None:
    if isinstance(target, ObjectPath):
        target.upload(file)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(file, target)


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


def _rewrite_card_and_manifest(directory: AnyPath, rows: Path, manifest: Manifest) -> None:
    tokens = example_tokens([rows / VersionLayout.rows(split) for split in SPLITS])
    card = dataset_card(manifest, tokens).encode("utf-8")
    with atomic_path(directory / VersionLayout.CARD) as temporary:
        temporary.write_bytes(card)
    manifest.files[VersionLayout.CARD] = FileEntry(
        sha256=hashlib.sha256(card).hexdigest(), bytes=len(card)
    )
    with atomic_path(directory / VersionLayout.MANIFEST) as temporary:
        temporary.write_text(manifest.to_json(), encoding="utf-8")
