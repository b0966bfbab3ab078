"""distillery's library: four stages over polars frames, the local store, and the data layout.

Nothing in this package imports dagster; `assets` wires these functions into Dagster, and a
notebook calls them directly:

    from pipelines import open_source, read_plan, ingest, build_completions, load_recipes
    from pipelines import curate_completions, build_dataset_version

Stage by stage: `pipelines.ingest` (sources → raw lake), `pipelines.completions` (lake → typed,
validated table), `pipelines.curate` (recipe steps), `pipelines.export` (splits → versions);
`pipelines.store` is the local stored-completions server, `pipelines.datadir` the one place that
knows where each file lives and how it is written, and `pipelines.privacy` what counts as personal
data or a secret.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipelines.version import __version__

# The face is loaded on first use, so `pipelines.store` (a server process) and `pipelines.cli`
# do not import polars, pandera and the SDK for names they never touch.
_FACE = {
    "DataPaths": "pipelines.datadir.paths",
    "data_dir_from_env": "pipelines.datadir.paths",
    "Recipe": "pipelines.recipes",
    "load_recipes": "pipelines.recipes",
    "open_source": "pipelines.ingest",
    "read_plan": "pipelines.ingest",
    "ingest": "pipelines.ingest",
    "ingest_completions": "pipelines.ingest",
    "read_raw_completions": "pipelines.ingest",
    "build_completions": "pipelines.completions",
    "read_completions": "pipelines.completions",
    "curate_completions": "pipelines.curate",
    "redact_completions": "pipelines.curate",
    "build_dataset_version": "pipelines.export",
    "input_snapshot": "pipelines.export",
    "latest_version": "pipelines.export",
    "list_versions": "pipelines.export",
}

__all__ = [  # noqa: RUF022 (the face's order: data layout and recipes, then stage by stage)
    "__version__",
    "DataPaths",
    "data_dir_from_env",
    "Recipe",
    "load_recipes",
    "open_source",
    "read_plan",
    "ingest",
    "ingest_completions",
    "read_raw_completions",
    "build_completions",
    "read_completions",
    "curate_completions",
    "redact_completions",
    "build_dataset_version",
    "input_snapshot",
    "latest_version",
    "list_versions",
]


def __getattr__(name: str) -> Any:
    if name in _FACE:
        return getattr(importlib.import_module(_FACE[name]), name)
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")


if TYPE_CHECKING:
    from pipelines.completions import build_completions, read_completions
    from pipelines.curate import curate_completions, redact_completions
    from pipelines.datadir.paths import DataPaths, data_dir_from_env
    from pipelines.export import (
        build_dataset_version,
        input_snapshot,
        latest_version,
        list_versions,
    )
    from pipelines.ingest import (
        ingest,
        ingest_completions,
        open_source,
        read_plan,
        read_raw_completions,
    )
    from pipelines.recipes import Recipe, load_recipes
