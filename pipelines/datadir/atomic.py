"""Atomic writes: a file is whole under its final name or absent, whatever kills the writer.

On object storage the same holds without a rename: the file is written on local disk and put
as one object, which a reader sees whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipelines.datadir.object_storage import AnyPath, ObjectPath


@contextlib.contextmanager
def atomic_path(target: AnyPath) -> Iterator[Path]:
    """Yield a temporary sibling of `target`; on success fsync it and rename it over `target`.

    The temporary name starts with a dot and ends in `.tmp`, so globs for finished files skip it;
    on error it is removed and `target` is untouched. For an object path, the temporary file is
    local and is put as the object on success.
    """
    if isinstance(target, ObjectPath):
        with tempfile.TemporaryDirectory(prefix=".distillery-") as scratch:
            temporary = Path(scratch) / target.name
            yield temporary
            target.upload(temporary)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def write_parquet_atomically(frame: pl.DataFrame, target: AnyPath) -> None:
    """Write `frame` to `target` atomically (zstd).

    polars reports a failed write (a full disk, a file-size limit) as a `ComputeError` naming
    the OS error; it is raised as the `OSError` it is, so callers handle every failed write alike.
    """
    with atomic_path(target) as temporary:
        try:
            frame.write_parquet(temporary, compression="zstd")
        except pl.exceptions.ComputeError as err:
            code = _OS_ERROR.search(str(err))
            if code is None:
                raise
            errno = int(code.group(1))
            raise OSError(errno, os.strerror(errno), str(target)) from None


@contextlib.contextmanager
def parquet_in_parts(target: AnyPath, schema: pl.Schema) -> Iterator[ParquetParts]:
    """Write one Parquet file part by part (a row group each), atomically: `target` appears
    whole when the block ends, or not at all. Memory holds one part, never the file."""
    with atomic_path(target) as temporary:
        parts = ParquetParts(temporary, schema)
        try:
            yield parts
        finally:
            parts.close()


class ParquetParts:
    """Appends frames of one schema to an open Parquet file (zstd), each as row groups.

    `footer` (key → text) is written into the file's key-value metadata when it closes: facts
    about the file that must change with it, atomically (a file beside it could be left stale by
    a writer killed between the two).
    """

    def __init__(self, path: Path, schema: pl.Schema) -> None:
        self.schema = schema
        self.arrow_schema = schema.to_frame().to_arrow().schema
        self.rows = 0
        self.footer: dict[str, str] = {}
        self._writer = pq.ParquetWriter(path, self.arrow_schema, compression="zstd")

    def write(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        typed = frame.select(self.schema.names()).cast(self.schema)  # type: ignore[arg-type]
        self._writer.write_table(typed.to_arrow().cast(self.arrow_schema))
        self.rows += frame.height

    def close(self) -> None:
        if self.footer:
            self._writer.add_key_value_metadata(self.footer)
        self._writer.close()
