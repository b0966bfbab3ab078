"""The data directory: where every file lives and how it is written safely, on local disk or on
object storage.

`paths` names every location (the lake, the tables, the versions and the names inside a version);
`object_storage` reads and puts objects under `s3://`, `az://`, `gs://`; `atomic` makes a write
complete or absent; `lease` (object storage) and `lock` (local disk) keep one writer at a time.
"""

from __future__ import annotations

from pipelines.datadir.atomic import atomic_path, write_parquet_atomically
from pipelines.datadir.lease import LeaseLost, build_wait_s, one_writer
from pipelines.datadir.lock import LockBusy, exclusive
from pipelines.datadir.object_storage import AnyPath, ObjectPath, as_path, is_object_url
from pipelines.datadir.paths import (
    DEFAULT_DATA_DIR,
    DataPaths,
    VersionLayout,
    data_dir_from_env,
)

__all__ = [
    "DEFAULT_DATA_DIR",
    "AnyPath",
    "DataPaths",
    "LeaseLost",
    "LockBusy",
    "ObjectPath",
    "VersionLayout",
    "as_path",
    "atomic_path",
    "build_wait_s",
    "data_dir_from_env",
    "exclusive",
    "is_object_url",
    "one_writer",
    "write_parquet_atomically",
]
