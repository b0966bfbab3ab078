"""`distillery build`: the main job's assets, run in this process on Dagster's persistent instance.

The command runs `build_datasets_job` itself (all of it, or one recipe's assets and what they read),
so a build from the shell is the same run the UI, the schedule and the sensor start, and its runs,
materializations and checks are stored where `dagster dev` finds them afterwards.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines.datadir.credentials import missing_credentials
from pipelines.datadir.object_storage import ObjectPath
from pipelines.datadir.paths import DEFAULT_DATA_DIR, data_dir_from_env

INSTANCE_DIR_NAME = ".dagster"
"""Under a local data directory: Dagster's instance (runs, event log) when DAGSTER_HOME is unset."""

_INSTANCE_YAML = """\
# Dagster's instance for `distillery build` and `dagster dev` (DAGSTER_HOME={home}).
# Runs, materializations and checks are kept in SQLite files beside this one.
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class BuildOutcome:
    """What a build did, for the shell: the lines it prints, and its exit status."""

    lines: list[str]
    errors: list[str]
    exit_code: int


def dagster_home(env: dict[str, str] | None = None) -> Path:
    """Where Dagster keeps its instance: `DAGSTER_HOME`, else `.dagster` in the data directory
    (`./distillery-data/.dagster` when the data directory is object storage)."""
    env = dict(os.environ) if env is None else env
    if env.get("DAGSTER_HOME"):
        return Path(env["DAGSTER_HOME"]).expanduser().resolve()
    data_dir = data_dir_from_env(env)
    local = data_dir if isinstance(data_dir, Path) else Path(DEFAULT_DATA_DIR)
    return (local / INSTANCE_DIR_NAME).resolve()


def open_instance(home: Path) -> dg.DagsterInstance:
    """Dagster's persistent instance at `home`, created (with a dagster.yaml) when missing."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_YAML.format(home=home), encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))


def build(*, recipe: str | None = None, full_refresh: bool = False) -> BuildOutcome:
    """Run `build_datasets_job` in process: every asset, or `recipe`'s and those upstream of it.

    Args:
        recipe: build only this recipe's curated table and dataset (and the lake and completions
            table they read); None builds every recipe.
        full_refresh: ingest re-reads everything from the source.

    Returns:
        The lines to print (one per dataset version, as the job logs it), the errors (one line
        each), and the exit status: 0 built, 1 the run failed, 2 an unknown recipe.
    """
    # Imported here: loading the code location reads the recipes file, which may be broken.
    from assets.definitions import build_datasets_job, defs, recipes, recipes_error

    if recipes_error is not None:
        return BuildOutcome(lines=[], errors=[recipes_error], exit_code=2)
    data_dir = data_dir_from_env()
    missing = missing_credentials(data_dir) if isinstance(data_dir, ObjectPath) else None
    if missing:
        return BuildOutcome(lines=[], errors=[missing], exit_code=2)
    selection = None
    if recipe is not None:
        if recipe not in recipes:
            return BuildOutcome(
                lines=[],
                errors=[f"no recipe {recipe!r}; known recipes: {', '.join(sorted(recipes))}"],
                exit_code=2,
            )
        selection = (
            dg.AssetSelection.assets(f"dataset_{recipe}")
            .upstream()
            .required_multi_asset_neighbors()  # the completions table and its quarantine: one step
            .resolve(defs.resolve_asset_graph())
        )
    home = dagster_home()
    with open_instance(home) as instance:
        result = defs.resolve_job_def(build_datasets_job.name).execute_in_process(
            run_config={"ops": {"raw_completions": {"config": {"full_refresh": full_refresh}}}},
            instance=instance,
            asset_selection=sorted(selection) if selection is not None else None,
            raise_on_error=False,
        )
    lines = [_version_line(event) for event in result.get_asset_materialization_events()]
    lines = [line for line in lines if line]
    lines.append(f"Dagster UI: DAGSTER_HOME={home} dagster dev -w workspace.yaml")
    if result.success:
        return BuildOutcome(lines=lines, errors=[], exit_code=0)
    return BuildOutcome(lines=lines, errors=_failures(result), exit_code=1)


def _version_line(event: dg.DagsterEvent) -> str | None:
    materialization = event.materialization
    name = materialization.asset_key.to_user_string()
    metadata = materialization.metadata
    if not name.startswith("dataset_") or "version" not in metadata:
        return None
    state = "written" if metadata["new_version"].value else "unchanged, already"
    return (
        f"dataset version {metadata['version'].value} of recipe {name.removeprefix('dataset_')}"
        f" {state} at {metadata['path'].value}"
    )


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the Failure's description (or the error's message) first."""
    lines = []
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        error = event.step_failure_data.error
        message = (error.message if error else "failed").strip()
        # Dagster prefixes a Failure's description with its own sentence; the user wants ours.
        message = message.removeprefix("dagster._core.definitions.events.Failure: ")
        lines.append(f"{event.step_key}: {message.splitlines()[0] if message else 'failed'}")
    return lines or ["the build failed (see Dagster's log above)"]


def main(recipe: str | None, full_refresh: bool) -> int:
    """The `distillery build` subcommand's body: run, print, return the exit status."""
    outcome = build(recipe=recipe, full_refresh=full_refresh)
    for line in outcome.lines:
        print(line)
    for line in outcome.errors:
        print(f"distillery: error: {line}", file=sys.stderr)
    return outcome.exit_code
