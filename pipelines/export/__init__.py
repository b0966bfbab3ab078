"""Export: leakage-safe splits, the files of a dataset version, its checks, card and manifest.

from pipelines.export import build_dataset_version, list_versions, assign_splits
"""

from pipelines.export.manifest import Manifest, ManifestSource, read_manifest
from pipelines.export.splits import SPLITS, assign_splits
from pipelines.export.versions import (
    SNAPSHOT_COLUMNS,
    DatasetRefused,
    DatasetVersion,
    build_dataset_version,
    diff_versions,
    input_snapshot,
    latest_version,
    list_versions,
)

__all__ = [
    "SNAPSHOT_COLUMNS",
    "SPLITS",
    "DatasetRefused",
    "DatasetVersion",
    "Manifest",
    "ManifestSource",
    "assign_splits",
    "build_dataset_version",
    "diff_versions",
    "input_snapshot",
    "latest_version",
    "list_versions",
    "read_manifest",
]
