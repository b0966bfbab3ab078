"""Group `export`: one `dataset_<recipe>` asset per recipe, publishing dataset versions."""

import dagster as dg
import polars as pl

from assets.reporting import counts_table, markdown_table
from assets.resources import WRITER_POOL, DataDirectory
from pipelines.completions import read_completions
from pipelines.completions.table import read_quarantine
from pipelines.completions.validate import reason_counts
from pipelines.curate import read_curated, read_curation_steps
from pipelines.datadir.paths import DataPaths, VersionLayout
from pipelines.export import (
    SNAPSHOT_COLUMNS,
    DatasetRefused,
    DatasetVersion,
    build_dataset_version,
    input_snapshot,
)
from pipelines.export.card import token_histogram
from pipelines.export.files import example_tokens
from pipelines.export.manifest import FileEntry, InputSnapshot
from pipelines.export.retarget import TargetsRefused, add_targets
from pipelines.export.versions import latest_version
from pipelines.ingest import read_state
from pipelines.recipes import Recipe

CHECKS = {
    "fine_tuning_format": "Every train/validation line passes the fine-tuning format checker.",
    "min_train_examples": "At least the provider's minimum of training examples.",
    "tokens_within_limit": "Every example fits the target model's per-example token limit.",
    "split_overlap": "No id, dedup hash or group appears in two splits.",
    "targets_format": "Every export target's files pass that target's validator.",
}


def dataset_asset(recipe: Recipe) -> dg.AssetsDefinition:
    """The asset that publishes dataset versions of `recipe`."""
    key = f"dataset_{recipe.name}"

    @dg.asset(
        name=key,
        group_name="export",
        kinds={"jsonl", "parquet"},
        deps=[f"curated_{recipe.name}"],
        pool=WRITER_POOL,
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=text, blocking=True)
            for name, text in CHECKS.items()
        ],
        description=f"Dataset versions of recipe `{recipe.name}` under artifacts/{recipe.name}/: "
        "leakage-safe splits as Parquet rows, the files of each export target the recipe lists "
        f"({', '.join(recipe.export.targets)}), a dataset card and a manifest. The data version "
        "is the content-addressed version id.",
    )
    def dataset(context: dg.AssetExecutionContext, data_dir: DataDirectory):
        try:
            version = build_dataset_version(
                data_dir.path,
                read_curated(data_dir.path, recipe.name),
                recipe,
                curation_steps=read_curation_steps(data_dir.path, recipe.name),
                inputs=input_snapshot(read_completions(data_dir.path, columns=SNAPSHOT_COLUMNS)),
                source=read_state(DataPaths(data_dir.path)).source,
            )
        except DatasetRefused as refused:
            raise dg.Failure(description=str(refused)) from None
        where = version.path.resolve()
        context.log.info(
            f"dataset version {version.version} of recipe {recipe.name} written at {where}"
            if version.created
            else f"dataset version {version.version} of recipe {recipe.name} unchanged, already"
            f" at {where} (published by another build, an earlier one or one running beside"
            " this one; nothing new written)"
        )
        return dg.MaterializeResult(
            data_version=dg.DataVersion(version.version),
            metadata=version_metadata(version),
            check_results=[
                dg.AssetCheckResult(
                    check_name=check.name,
                    passed=check.passed,
                    description=check.message,
                    metadata=check.metadata,
                )
                for check in version.checks
            ],
        )

    return dataset


def _inputs(data_dir: str) -> InputSnapshot:
    """The input table, and what validation kept out of it, for the manifest and the card."""
    quarantine = read_quarantine(data_dir).select("reasons")
    return input_snapshot(
        read_completions(data_dir),
        quarantined=quarantine.height,
        quarantined_by_reason=reason_counts(quarantine),
    )


class ExportTargetsConfig(dg.Config):
    """Which version of which recipe gets which targets."""

    recipe: str
    targets: list[str]
    version: str = ""
    """The version id; empty for the recipe's LATEST."""


@dg.op(description="Add export targets to a published dataset version; its id stays the same.")
def export_targets(
    context: dg.OpExecutionContext, config: ExportTargetsConfig, data_dir: DataDirectory
) -> None:
    version = config.version or latest_version(data_dir.path, config.recipe)
    if not version:
        raise dg.Failure(description=f"recipe {config.recipe} has no published version")
    try:
        done = add_targets(data_dir.path, config.recipe, version, config.targets)
    except (FileNotFoundError, ValueError, TargetsRefused) as error:
        raise dg.Failure(description=str(error)) from None
    context.log.info(
        f"version {version} of recipe {config.recipe}: added {', '.join(done.added) or 'nothing'}"
        f" at {done.path.resolve()}"
    )


@dg.job(
    description="Add export targets to a published dataset version (run config: recipe,"
    " targets, version)."
)
def export_targets_job() -> None:
    export_targets()


def version_metadata(version: DatasetVersion) -> dict[str, object]:
    manifest = version.manifest
    splits = manifest.splits
    return {
        "version": version.version,
        "new_version": version.created,
        "path": dg.MetadataValue.path(str(version.path.resolve())),
        "dagster/row_count": sum(split.rows for split in splits.values()),
        **{f"{name}_rows": split.rows for name, split in splits.items()},
        **{f"{name}_tokens": split.tokens for name, split in splits.items()},
        "split_sizes": dg.MetadataValue.md(
            markdown_table(
                pl.DataFrame(
                    [{"split": name, **counts.model_dump()} for name, counts in splits.items()],
                    schema={"split": pl.String, "rows": pl.Int64, "tokens": pl.Int64},
                )
            )
        ),
        "token_histogram": dg.MetadataValue.md("\n".join(token_histogram(_tokens(version)))),
        "token_histogram_svg": dg.MetadataValue.path(
            str((version.path / VersionLayout.TOKENS_CHART).resolve())
        ),
        "drops_by_reason": dg.MetadataValue.md(
            counts_table(manifest.drops_by_reason, key="reason")
        ),
        "files": dg.MetadataValue.md(markdown_table(_files_frame(manifest.files), max_rows=20)),
        "dataset_card": dg.MetadataValue.md(
            (version.path / VersionLayout.CARD).read_text(encoding="utf-8").split("---\n", 2)[-1]
        ),
    }


def _tokens(version: DatasetVersion) -> pl.DataFrame:
    files = [version.path / VersionLayout.rows(name) for name in ("train", "validation", "eval")]
    return example_tokens(files)


def _files_frame(files: dict[str, FileEntry]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"file": name, "bytes": entry.bytes, "sha256": entry.sha256[:16] + "…"}
            for name, entry in files.items()
        ]
    )
