"""The one `Definitions` of the code location that workspace.yaml points at."""

import os

import dagster as dg

from assets.completions import completions_quarantine_share, completions_tables
from assets.curation import broken_recipes_asset, curated_asset
from assets.export import dataset_asset, export_targets_job
from assets.forget import forget_job
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource, env_or_default
from assets.sensors import new_completions_sensor
from pipelines.datadir.paths import data_dir_from_env
from pipelines.ingest.sources import SourceConfigError, resolve_source_kind
from pipelines.recipes import RecipeError, load_recipes

# One curated asset per recipe. A broken recipes file leaves one `recipes` asset that fails with
# the message naming the file and field, so the UI and the shell show that line first.
try:
    recipes = load_recipes()
    recipes_error = None
except RecipeError as error:
    recipes, recipes_error = {}, str(error)
curated_assets = [curated_asset(recipe) for recipe in recipes.values()]
dataset_assets = [dataset_asset(recipe) for recipe in recipes.values()]
if recipes_error is not None:
    curated_assets.append(broken_recipes_asset(recipes_error))

ingest_completions_job = dg.define_asset_job(
    "ingest_completions_job",
    selection=[raw_completions],
    description="Sync stored completions from the configured source into the raw lake.",
)

build_datasets_job = dg.define_asset_job(
    "build_datasets_job",
    selection=dg.AssetSelection.all(),
    description="The main job: ingest, validate, curate every recipe and publish its dataset"
    " version.",
)

build_datasets_from_lake_job = dg.define_asset_job(
    "build_datasets_from_lake_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(raw_completions),
    description="Everything after ingest: validate, curate every recipe, publish versions.",
)

# Daily, well inside OpenAI's ~30-day retention. On by default only when a real source is
# configured: the bundled sample does not change.
try:
    _real_source = resolve_source_kind(os.environ) != "local"
except SourceConfigError:  # the run's ingest fails with the one line; loading must not
    _real_source = False
daily_ingest_schedule = dg.ScheduleDefinition(
    name="daily_ingest_schedule",
    job=ingest_completions_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=(
        dg.DefaultScheduleStatus.RUNNING if _real_source else dg.DefaultScheduleStatus.STOPPED
    ),
)

# The sensor below already builds after the 03:00 ingest when it brought anything; this run is the
# daily guarantee (for recipe changes, or a stopped sensor). Unchanged inputs write nothing new.
daily_build_datasets_schedule = dg.ScheduleDefinition(
    name="daily_build_datasets_schedule",
    job=build_datasets_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=daily_ingest_schedule.default_status,
)

build_after_new_completions_sensor = new_completions_sensor(
    build_datasets_from_lake_job,
    default_status=(
        dg.DefaultSensorStatus.RUNNING if _real_source else dg.DefaultSensorStatus.STOPPED
    ),
)

defs = dg.Definitions(
    assets=[raw_completions, completions_tables, *curated_assets, *dataset_assets],
    asset_checks=[completions_quarantine_share],
    jobs=[
        ingest_completions_job,
        build_datasets_job,
        build_datasets_from_lake_job,
        export_targets_job,
        forget_job,
    ],
    schedules=[daily_ingest_schedule, daily_build_datasets_schedule],
    sensors=[build_after_new_completions_sensor],
    resources={
        "data_dir": DataDirectory(
            path=env_or_default("DISTILLERY_DATA_DIR", str(data_dir_from_env()))
        ),
        "source": StoredCompletionsSource(kind=env_or_default("DISTILLERY_SOURCE", "")),
    },
)
