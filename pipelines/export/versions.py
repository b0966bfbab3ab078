"""Dataset versions: immutable, content-addressed directories under `artifacts/<recipe>/`.

    artifacts/<recipe>/<version>/  train|validation|eval.parquet    the version's rows (every
                                                                    target is made from them)
                                   train.jsonl, validation.jsonl,   the files of each export
                                   hf/, promptfoo/, …               target (`export.targets`)
                                   README.md                        dataset card
                                   manifest.json                    what went in, each target's
                                                                    files, sha256 of every file
    artifacts/<recipe>/LATEST      the version the last successful build produced

The version id is a hash of the recipe (but for its list of targets) and the exact lines and
metadata of every split, so the same inputs give the same version and write nothing new (but
LATEST, if it named another); a target added later (`pipelines.export.retarget`) joins the same
version. Files are written into a staging directory and renamed into place only after every
check passed, each target's validator included: a version directory is complete or absent.
`pipelines.export.publish` owns the staging directories and the rename (on object storage: an
upload, the manifest last). On object storage a build holds the data directory's writer lease.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pipelines.datadir.lease import build_wait_s, one_writer
from pipelines.datadir.object_storage import AnyPath, read_parquet
from pipelines.datadir.paths import DataPaths, VersionLayout
from pipelines.export.card import dataset_card
from pipelines.export.charts import token_histogram_svg
from pipelines.export.checks import CheckResult, run_dataset_checks, targets_format
from pipelines.export.files import SplitFiles, version_parts, write_split_files
from pipelines.export.lines import EXPORT_TRANSFORMS
from pipelines.export.manifest import (
    FileEntry,
    InputSnapshot,
    Manifest,
    ManifestSource,
    PackageInfo,
    SplitCounts,
    StepEntry,
    read_manifest,
)
from pipelines.export.publish import (
    create_staging,
    is_published,
    point_latest,
    publish_staging,
    published_manifest,
    remove_stale_staging,
)
from pipelines.export.retarget import TargetsRefused, add_target_entries, add_targets
from pipelines.export.splits import SPLITS, assign_splits
from pipelines.export.targets import ExportContext, write_targets
from pipelines.export.token_limits import token_limit
from pipelines.recipes import Recipe
from pipelines.steps import StepReport, drop_by_first_reason
from pipelines.version import __version__

VERSION_ID_CHARS = 16


class DatasetRefused(RuntimeError):
    """A check failed, so the version was not published; `checks` holds every result."""

    def __init__(self, recipe: str, checks: list[CheckResult]) -> None:
        failed = [check for check in checks if not check.passed]
        super().__init__(
            f"dataset version for recipe '{recipe}' not published: "
            + "; ".join(f"{check.name}: {check.message}" for check in failed)
        )
        self.checks = checks


@dataclass(frozen=True)
class DatasetVersion:
    """A published version (new or already there)."""

    recipe: str
    version: str
    path: AnyPath
    created: bool
    manifest: Manifest
    checks: list[CheckResult] = field(default_factory=list)


def build_dataset_version(
    data_dir: str | AnyPath,
    curated: pl.DataFrame,
    recipe: Recipe,
    *,
    curation_steps: list[StepReport] | None = None,
    inputs: InputSnapshot | None = None,
    source: object | None = None,
) -> DatasetVersion:
    """Split, export, check and publish one dataset version of `recipe`.

    Whether the version is new or was already there (built before, or by a concurrent build of
    the same inputs), LATEST names it afterwards. Staging directories left by killed builds of
    the recipe are removed first.

    Args:
        data_dir: The data directory; the version lands under `artifacts/<recipe>/`.
        curated: The recipe's curated rows (`pipelines.curate.table`).
        recipe: The recipe.
        curation_steps: Reports of the steps that made `curated`, for the manifest's drops.
        inputs: Snapshot of the input table (see `input_snapshot`), for the manifest.
        source: Which source the lake was read from, for the manifest: any object with `kind`
            and `endpoint_host` (a `SourceInfo`, a `ManifestSource`); nothing else is kept.

    Raises:
        DatasetRefused: A check failed (too few training examples, an invalid fine-tuning line,
            overlap between splits, …); nothing was published.
        PublishConflict: The version's directory exists but holds another version.
    """
    limit = token_limit(recipe.target_model)
    within, limit_report = drop_by_first_reason(
        curated,
        # The estimate, never null: a row without usage (a conversation) is measured too.
        [("over_token_limit", pl.col("estimated_tokens") <= limit)],
        step="token_limit",
    )
    rows = assign_splits(within, recipe.split)
    paths = DataPaths(data_dir)
    with one_writer(paths, what=f"a build of dataset {recipe.name}", wait_s=build_wait_s()):
        return _build(paths, rows, recipe, limit, limit_report, curation_steps, inputs, source)


def _build(
    paths: DataPaths,
    rows: pl.DataFrame,
    recipe: Recipe,
    limit: int,
    limit_report: StepReport,
    curation_steps: list[StepReport] | None,
    inputs: InputSnapshot | None,
    source: object | None,
) -> DatasetVersion:
    remove_stale_staging(paths, recipe.name)
    staging = create_staging(paths, recipe.name)
    try:
        files = write_split_files(staging, rows, train_on=recipe.fine_tuning_train_on)
        checks = run_dataset_checks(
            staging,
            rows,
            recipe=recipe,
            token_limit=limit,
            fine_tuning=files.fine_tuning_check.report(),
        )
        if not all(check.passed for check in checks):
            raise DatasetRefused(recipe.name, checks)
        version = _version_id(recipe, files)
        target = paths.version(recipe.name, version)
        if is_published(target):
            return _already_published(paths, recipe, version, checks)
        results = write_targets(
            staging,
            recipe.export.targets,
            version_parts(staging),
            ExportContext(recipe=recipe, version=version),
        )
        targets_check = targets_format(results)
        if not targets_check.passed:
            raise DatasetRefused(recipe.name, [*checks, targets_check])
        steps = [*(curation_steps or []), limit_report]
        origin = ManifestSource.model_validate(source, from_attributes=True) if source else None
        manifest = _manifest(version, recipe, rows, files, steps, inputs, origin, limit)
        add_target_entries(manifest, staging, results)
        chart = VersionLayout.TOKENS_CHART
        (staging / chart).write_text(token_histogram_svg(rows), encoding="utf-8")
        manifest.files[chart] = FileEntry.of(staging / chart)
        (staging / VersionLayout.CARD).write_text(dataset_card(manifest, rows), encoding="utf-8")
        manifest.files[VersionLayout.CARD] = FileEntry.of(staging / VersionLayout.CARD)
        (staging / VersionLayout.MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        if not publish_staging(paths, staging, target):
            # Another build of the same version renamed first. Its targets' check stands for
            # ours: `_already_published` reports it, once (each check is one Dagster output).
            return _already_published(paths, recipe, version, checks)
        point_latest(paths, recipe.name, version)
        return DatasetVersion(
            recipe.name, version, target, True, manifest, [*checks, targets_check]
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _already_published(
    paths: DataPaths, recipe: Recipe, version: str, checks: list[CheckResult]
) -> DatasetVersion:
    """The version another build published, with `checks` (the dataset checks, which ran on
    this build's rows) and the targets' check of the files published."""
    # A retry after a kill before LATEST, a recipe reverted to an older config, or a build
    # running beside this one: the build still succeeded, so LATEST follows it. Targets the
    # recipe now lists and the version lacks are added to it (the same content, so the same id).
    target = paths.version(recipe.name, version)
    manifest = published_manifest(target, version)
    missing = [name for name in recipe.export.targets if name not in manifest.targets]
    if missing:
        try:
            manifest = add_targets(paths.data_dir, recipe.name, version, missing).manifest
        except TargetsRefused as refused:
            failed = CheckResult("targets_format", False, str(refused), {})
            raise DatasetRefused(recipe.name, [*checks, failed]) from None
    checks = [
        *checks,
        CheckResult(
            "targets_format",
            True,
            f"{', '.join(manifest.targets)}: every file passed its target's checks when written",
            {},
        ),
    ]
    point_latest(paths, recipe.name, version)
    return DatasetVersion(recipe.name, version, target, False, manifest, checks)


SNAPSHOT_COLUMNS = ("id", "created", "source", "api")
"""The columns of the input table `input_snapshot` reads: read only these (not the raw JSON)."""


def input_snapshot(
    completions: pl.DataFrame,
    *,
    quarantined_by_reason: dict[str, int] | None = None,
    quarantined: int = 0,
) -> InputSnapshot:
    """What the input table held: rows, created range, a hash of the sorted id set, and rows per
    source and API; and what validation kept out (`quarantined` records, per failed check)."""
    ids = completions["id"].sort()
    digest = hashlib.sha256("\n".join(ids.to_list()).encode("utf-8")).hexdigest()
    created = completions["created"]
    by_source: dict[str, dict[str, int]] = {}
    for source, api, count in (
        completions.group_by("source", "api").len().sort("source", "api").iter_rows()
    ):
        by_source.setdefault(source, {})[api] = count
    return InputSnapshot(
        rows=completions.height,
        created_min=created.min(),
        created_max=created.max(),
        id_set_sha256=digest,
        rows_by_source=by_source,
        quarantined=quarantined,
        quarantined_by_reason=quarantined_by_reason or {},
    )


def latest_version(data_dir: str | AnyPath, recipe: str) -> str | None:
    latest = DataPaths(data_dir).latest(recipe)
    return latest.read_text(encoding="utf-8").strip() if latest.exists() else None


def list_versions(data_dir: str | AnyPath, recipe: str) -> list[Manifest]:
    """Every published version of a recipe, oldest first, from their manifests."""
    manifests = [read_manifest(path) for path in DataPaths(data_dir).manifests(recipe)]
    return sorted(manifests, key=lambda m: (m.created_at, m.version))


def diff_versions(data_dir: str | AnyPath, recipe: str, old: str, new: str) -> dict[str, Any]:
    """Per split: completion ids added, removed, and changed (same id, different line)."""
    paths = DataPaths(data_dir)
    diff = {}
    for split in SPLITS:
        before = _lines_by_id(paths.version(recipe, old), split)
        after = _lines_by_id(paths.version(recipe, new), split)
        diff[split] = {
            "added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": sorted(i for i in before.keys() & after.keys() if before[i] != after[i]),
        }
    return diff


def _lines_by_id(version_dir: AnyPath, split: str) -> dict[str, str]:
    path = version_dir / VersionLayout.rows(split)
    if not path.exists():
        return {}
    frame = read_parquet(path, columns=["completion_id", "line"])
    return dict(frame.iter_rows())


def _version_id(recipe: Recipe, files: SplitFiles) -> str:
    # The list of targets is no part of the content: adding one keeps the id.
    basis = recipe.model_dump(mode="json")
    del basis["export"]["targets"]
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8"))
    for name in sorted(files.content_sha256):
        digest.update(f"\n{name}:{files.content_sha256[name]}".encode())
    return digest.hexdigest()[:VERSION_ID_CHARS]


def split_counts(rows: pl.DataFrame) -> SplitCounts:
    """The manifest's numbers for one split's rows: rows, tokens and their spread, rows per API
    and per model."""
    if rows.is_empty():
        return SplitCounts()
    tokens = rows["estimated_tokens"].drop_nulls()

    def quantile(q: float) -> int | None:
        value = tokens.quantile(q, interpolation="nearest") if len(tokens) else None
        return None if value is None else int(value)

    return SplitCounts(
        rows=rows.height,
        tokens=int(tokens.sum() or 0),
        rows_by_api=dict(rows.group_by("api").len().sort("api").iter_rows()),
        rows_by_model=dict(
            rows.group_by(pl.col("model").fill_null("unknown")).len().sort("model").iter_rows()
        ),
        tokens_min=quantile(0.0),
        tokens_median=quantile(0.5),
        tokens_p95=quantile(0.95),
        tokens_max=quantile(1.0),
    )


def _manifest(
    version: str,
    recipe: Recipe,
    rows: pl.DataFrame,
    files: SplitFiles,
    steps: list[StepReport],
    inputs: InputSnapshot | None,
    source: ManifestSource | None,
    limit: int,
) -> Manifest:
    splits = {name: split_counts(rows.filter(pl.col("split") == name)) for name in SPLITS}
    drops: dict[str, int] = {}
    for step in steps:
        for reason, dropped in step.dropped.items():
            drops[reason] = drops.get(reason, 0) + dropped
    return Manifest(
        version=version,
        created_at=datetime.now(UTC),
        recipe=recipe.model_dump(mode="json"),
        source=source,
        package=PackageInfo(version=__version__),
        inputs=inputs or InputSnapshot(),
        token_limit=limit,
        splits=splits,
        steps=[
            StepEntry(
                step=s.step,
                rows_in=s.rows_in,
                rows_out=s.rows_out,
                dropped=s.dropped,
                counts=s.counts,
            )
            for s in steps
        ],
        drops_by_reason=drops,
        transforms=list(EXPORT_TRANSFORMS),
        files={name: FileEntry.of(path) for name, path in files.paths.items()},
    )
