"""Build dataset versions after an ingest that changed the lake."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported at top level
)

CHANGE_KEYS = ("completions_new", "completions_updated", "completions_deleted")


def new_completions_sensor(
    job: UnresolvedAssetJobDefinition, *, default_status: dg.DefaultSensorStatus
) -> dg.SensorDefinition:
    """A sensor that runs `job` after each `raw_completions` materialization that brought new,
    updated or deleted completions; an ingest that changed nothing is skipped, with its reason."""

    @dg.asset_sensor(
        asset_key=dg.AssetKey("raw_completions"),
        job=job,
        name="build_after_new_completions_sensor",
        default_status=default_status,
        minimum_interval_seconds=60,
    )
    def build_after_new_completions(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.RunRequest | dg.SkipReason:
        materialization = asset_event.asset_materialization
        metadata = materialization.metadata if materialization else {}
        changed = {key: int(metadata[key].value) for key in CHANGE_KEYS if key in metadata}
        if not any(changed.values()):
            return dg.SkipReason("the last ingest brought no new, updated or deleted completions")
        context.log.info(f"ingest changed the lake: {changed}")
        return dg.RunRequest(run_key=f"after-ingest-{asset_event.run_id}", tags=changed)

    return build_after_new_completions
