"""Every asset that writes the data directory is in one Dagster concurrency pool, so a limit of 1
on it queues overlapping runs' steps in Dagster (and the UI shows the pool on each asset)."""

from __future__ import annotations

from assets.definitions import defs
from assets.resources import WRITER_POOL


def test_every_writing_asset_is_in_the_data_directory_pool() -> None:
    graph = defs.resolve_asset_graph()
    pools = {
        key.to_user_string(): graph.get(key).assets_def.op.pool
        for key in graph.get_all_asset_keys()
    }

    assert pools and set(pools.values()) == {WRITER_POOL}, pools
    assert {"raw_completions", "completions", "curated_default", "dataset_default"} <= set(pools)
