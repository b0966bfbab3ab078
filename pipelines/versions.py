"""Dataset versions: immutable, content-addressed directories under `artifacts/<recipe>/`.

    artifacts/<recipe>/<version>/  train.jsonl validation.jsonl     OpenAI fine-tuning chat lines
                                   eval.jsonl                       OpenAI Evals items
                                   eval.openai-evals.jsonl          openai/evals {input, ideal}
                                   train|validation|eval.parquet    Hugging Face-loadable splits
                                   README.md                        dataset card
                                   manifest.json                    what went in, sha256 of files
    artifacts/<recipe>/LATEST      the newest complete version id

The version id is a hash of the recipe and the exact lines of every split, so the same inputs give
the same version and write nothing new. Files are written into a temporary directory and renamed
into place only after every check passed: a version directory is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipelines import __version__
from pipelines.atomic import atomic_path
from pipelines.dataset_card import dataset_card
from pipelines.dataset_checks import CheckResult, run_dataset_checks
from pipelines.dataset_files import SplitFiles, write_split_files
from pipelines.recipes import Recipe
from pipelines.sources import SourceInfo
from pipelines.splits import SPLITS, assign_splits
from pipelines.steps import StepReport, drop_by_first_reason
from pipelines.token_limits import token_limit

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
    path: Path
    created: bool
    manifest: dict[str, Any]
    checks: list[CheckResult] = field(default_factory=list)


def artifacts_dir(data_dir: str | Path, recipe: str) -> Path:
    return Path(data_dir) / "artifacts" / recipe


def build_dataset_version(
    data_dir: str | Path,
    curated: pl.DataFrame,
    recipe: Recipe,
    *,
    curation_steps: list[StepReport] | None = None,
    inputs: dict[str, Any] | None = None,
    source: SourceInfo | dict[str, Any] | None = None,
) -> DatasetVersion:
    """Split, export, check and publish one dataset version of `recipe`.

    Args:
        data_dir: The data directory; the version lands under `artifacts/<recipe>/`.
        curated: The recipe's curated rows (`pipelines.curate`).
        recipe: The recipe.
        curation_steps: Reports of the steps that made `curated`, for the manifest's drops.
        inputs: Snapshot of the input table (see `input_snapshot`), for the manifest.
        source: Which source the lake was read from (a `SourceInfo`, or the dict ingest state
            keeps), for the manifest.

    Raises:
        DatasetRefused: A check failed (too few training examples, an invalid fine-tuning line,
            overlap between splits, …); nothing was published.
    """
    limit = token_limit(recipe.target_model)
    within, limit_report = drop_by_first_reason(
        curated,
        [("over_token_limit", pl.col("total_tokens").fill_null(0) <= limit)],
        step="token_limit",
    )
    rows = assign_splits(within, recipe.split)
    root = artifacts_dir(data_dir, recipe.name)
    staging = root / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        files = write_split_files(staging, rows, train_on=recipe.export.train_on)
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
        target = root / version
        if target.exists():
            manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
            return DatasetVersion(recipe.name, version, target, False, manifest, checks)
        steps = [*(curation_steps or []), limit_report]
        manifest = _manifest(version, recipe, rows, files, steps, inputs, source, limit)
        (staging / "README.md").write_text(dataset_card(manifest, rows), encoding="utf-8")
        manifest["files"]["README.md"] = _file_entry(staging / "README.md")
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        staging.rename(target)
        with atomic_path(root / "LATEST") as latest:
            latest.write_text(version + "\n", encoding="utf-8")
        return DatasetVersion(recipe.name, version, target, True, manifest, checks)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def input_snapshot(completions: pl.DataFrame) -> dict[str, Any]:
    """What the input table held: rows, created range, and a hash of the sorted id set."""
    ids = completions["id"].sort()
    digest = hashlib.sha256("\n".join(ids.to_list()).encode("utf-8")).hexdigest()
    created = completions["created"]
    return {
        "rows": completions.height,
        "created_min": created.min().isoformat() if created.min() else None,  # type: ignore[union-attr]
        "created_max": created.max().isoformat() if created.max() else None,  # type: ignore[union-attr]
        "id_set_sha256": digest,
    }


def latest_version(data_dir: str | Path, recipe: str) -> str | None:
    latest = artifacts_dir(data_dir, recipe) / "LATEST"
    return latest.read_text(encoding="utf-8").strip() if latest.exists() else None


def list_versions(data_dir: str | Path, recipe: str) -> list[dict[str, Any]]:
    """Every published version of a recipe, oldest first, from their manifests."""
    root = artifacts_dir(data_dir, recipe)
    manifests = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in root.glob("*/manifest.json")
        if not path.parent.name.startswith(".")
    ]
    return sorted(manifests, key=lambda m: (m["created_at"], m["version"]))


def diff_versions(data_dir: str | Path, recipe: str, old: str, new: str) -> dict[str, Any]:
    """Per split: completion ids added, removed, and changed (same id, different line)."""
    root = artifacts_dir(data_dir, recipe)
    diff = {}
    for split in SPLITS:
        before, after = _lines_by_id(root / old, split), _lines_by_id(root / new, split)
        diff[split] = {
            "added": sorted(after.keys() - before.keys()),
            "removed": sorted(before.keys() - after.keys()),
            "changed": sorted(i for i in before.keys() & after.keys() if before[i] != after[i]),
        }
    return diff


def _lines_by_id(version_dir: Path, split: str) -> dict[str, str]:
    path = version_dir / f"{split}.parquet"
    if not path.exists():
        return {}
    frame = pl.read_parquet(path, columns=["completion_id", "line"])
    return dict(frame.iter_rows())


def _version_id(recipe: Recipe, files: SplitFiles) -> str:
    digest = hashlib.sha256(recipe.model_dump_json().encode("utf-8"))
    for name in sorted(files.content_sha256):
        digest.update(f"\n{name}:{files.content_sha256[name]}".encode())
    return digest.hexdigest()[:VERSION_ID_CHARS]


def _manifest(
    version: str,
    recipe: Recipe,
    rows: pl.DataFrame,
    files: SplitFiles,
    steps: list[StepReport],
    inputs: dict[str, Any] | None,
    source: SourceInfo | dict[str, Any] | None,
    limit: int,
) -> dict[str, Any]:
    if isinstance(source, SourceInfo):
        source = asdict(source)
    per_split = (
        rows.group_by("split")
        .agg(pl.len().alias("rows"), pl.col("total_tokens").sum().alias("tokens"))
        .sort("split")
    )
    splits = {name: {"rows": 0, "tokens": 0} for name in SPLITS}
    for name, count, tokens in per_split.iter_rows():
        splits[name] = {"rows": count, "tokens": int(tokens or 0)}
    drops: dict[str, int] = {}
    for step in steps:
        for reason, dropped in step.dropped.items():
            drops[reason] = drops.get(reason, 0) + dropped
    return {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(),
        "recipe": recipe.model_dump(mode="json"),
        "source": {k: v for k, v in (source or {}).items() if k in ("kind", "endpoint_host")},
        "package": {"name": "distillery", "version": __version__},
        "inputs": inputs or {},
        "token_limit": limit,
        "splits": splits,
        "steps": [
            {"step": s.step, "rows_in": s.rows_in, "rows_out": s.rows_out, "dropped": s.dropped}
            for s in steps
        ],
        "drops_by_reason": drops,
        "files": {
            # The JSONL digests were taken of the bytes as they were written: no second read.
            name: _file_entry(path, files.content_sha256.get(name))
            for name, path in files.paths.items()
        },
    }


def _file_entry(path: Path, sha256: str | None = None) -> dict[str, Any]:
    if sha256 is None:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        sha256 = digest.hexdigest()
    return {"sha256": sha256, "bytes": path.stat().st_size}
