"""What every export target is: a writer fed the version's rows a slice at a time, a validator
that names the file, line and field of every problem it finds, and the words the dataset card and
README use for it.

Writers receive slices of one split at a time (`LINE_COLUMNS`, `split`, and `line`: the row's
OpenAI fine-tuning line), in the order of the version's files: by completion id within a split.
So line N of any target file that has one line per row is row N of its split.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.export.files import jsonl_bytes
from pipelines.recipes import Recipe

MAX_PROBLEMS = 200
"""Problems a validator reports at most; the count of the rest follows them."""


@dataclass(frozen=True)
class Problem:
    """One thing a consumer would refuse or misread: where it is and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field}: {self.message}"


@dataclass
class Written:
    """What a target wrote: its files (relative to the version directory), examples per file,
    and what it wrote differently from the stored records."""

    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExportContext:
    """What a writer may read besides the rows."""

    recipe: Recipe
    version: str


class TargetWriter(ABC):
    """Writes one target's files into `directory` (the version directory being made)."""

    def __init__(self, directory: Path, context: ExportContext) -> None:
        self.directory = directory
        self.context = context
        self.written = Written()

    @abstractmethod
    def write(self, split: str, part: pl.DataFrame) -> None:
        """Write the rows `part` of `split` (called in order, slice after slice)."""

    def close(self) -> Written:
        """Finish the files; what was written."""
        return self.written


@dataclass(frozen=True)
class Target:
    """One export target.

    Attributes:
        name: As recipes and `distillery export --target` name it.
        kind: `fine-tuning`, `evaluation` or `preference`.
        summary: What the files are, in a phrase.
        usage: The command or config that trains or evaluates with them.
        splits: The splits it takes; writers get only those.
        writer: Makes the writer for a version directory.
        validate: Every problem of the written files (see `Problem`).
    """

    name: str
    kind: str
    summary: str
    usage: str
    splits: tuple[str, ...]
    writer: Callable[[Path, ExportContext], TargetWriter]
    validate: Callable[[Path, Written], list[Problem]]


# -- streaming files ----------------------------------------------------------------------


class JsonlFiles:
    """JSONL files appended slice by slice; a file is created (empty) on its first write."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stack = ExitStack()
        self._streams: dict[str, BinaryIO] = {}
        self.rows: dict[str, int] = {}

    def append(self, name: str, lines: pl.Series) -> None:
        stream = self._streams.get(name)
        if stream is None:
            path = self.directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            stream = self._streams[name] = self._stack.enter_context(path.open("wb"))
            self.rows[name] = 0
        stream.write(jsonl_bytes(lines))
        self.rows[name] += lines.len()

    def close(self) -> list[str]:
        self._stack.close()
        return list(self._streams)


class JsonlWriter(TargetWriter):
    """A target whose files are JSONL (`JsonlFiles`); `close` lists them with their lines."""

    def __init__(self, directory: Path, context: ExportContext) -> None:
        super().__init__(directory, context)
        self.files = JsonlFiles(directory)

    def close(self) -> Written:
        return Written(files=self.files.close(), rows=dict(self.files.rows))


class ParquetFiles:
    """Parquet files appended slice by slice, each with one fixed schema."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stack = ExitStack()
        self._writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}

    def append(self, name: str, table: pa.Table) -> None:
        writer = self._writers.get(name)
        if writer is None:
            path = self.directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            self._writers[name] = self._stack.enter_context(writer)
            self.rows[name] = 0
        writer.write_table(table)
        self.rows[name] += table.num_rows

    def close(self) -> list[str]:
        self._stack.close()
        return list(self._writers)


# -- Hugging Face features ------------------------------------------------------------------

JSON = "json"
"""A column `datasets` decodes as `Json()`: each value a JSON text, read back as a plain object."""
JSON_LIST = "json_list"
"""A list of such values (`List(Json())`)."""


def hf_table(frame: pl.DataFrame, features: dict[str, str]) -> pa.Table:
    """`frame` as an Arrow table `datasets.load_dataset("parquet", …)` reads with `features`.

    `features` maps each column to `string`, `int64`, `bool`, `JSON` or `JSON_LIST`. JSON columns
    are Arrow's `arrow.json` extension type, and the schema carries the `huggingface` metadata
    that names them `Json` (datasets >= 4.7), which is what `datasets` itself writes: no dict
    is padded with the keys of other rows, as a struct column would be.
    """
    arrow_types = {
        "string": pa.string(),
        "int64": pa.int64(),
        "bool": pa.bool_(),
        JSON: pa.json_(),
        JSON_LIST: pa.list_(pa.json_()),
    }
    hf = {
        "string": {"dtype": "string", "_type": "Value"},
        "int64": {"dtype": "int64", "_type": "Value"},
        "bool": {"dtype": "bool", "_type": "Value"},
        JSON: {"_type": "Json"},
        JSON_LIST: {"feature": {"_type": "Json"}, "_type": "List"},
    }
    schema = pa.schema(
        [pa.field(name, arrow_types[kind]) for name, kind in features.items()],
        metadata={
            "huggingface": orjson.dumps(
                {"info": {"features": {name: hf[kind] for name, kind in features.items()}}}
            )
        },
    )
    table = frame.select(list(features)).to_arrow(compat_level=pl.CompatLevel.oldest())
    return table.cast(schema)


def read_frame(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """A Parquet file as polars reads it, with JSON columns as plain strings."""
    table = pq.read_table(path, columns=columns)
    batches = [_plain(batch) for batch in table.to_batches()]
    if not batches:
        frame = pl.from_arrow(_plain_schema(table.schema).empty_table())
    else:
        frame = pl.from_arrow(pa.Table.from_batches(batches))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    fields = []
    for item in schema:
        kind = item.type
        if isinstance(kind, pa.BaseExtensionType):
            kind = kind.storage_type
        elif pa.types.is_list(kind) and isinstance(kind.value_type, pa.BaseExtensionType):
            kind = pa.list_(kind.value_type.storage_type)
        fields.append(pa.field(item.name, kind))
    return pa.schema(fields)


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with JSON extension columns as plain strings."""
    arrays = []
    for column in batch.columns:
        kind = column.type
        if isinstance(kind, pa.BaseExtensionType):
            column = column.storage
        elif pa.types.is_list(kind) and isinstance(kind.value_type, pa.BaseExtensionType):
            column = pa.ListArray.from_arrays(column.offsets, column.values.storage)
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def jsonl_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) of a JSONL file, read as it is checked."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            yield number, line.rstrip(b"\n")


def parse_line(file: str, number: int, line: bytes, problems: list[Problem]) -> Any:
    """The JSON of one line; None (and a problem) when it is not JSON."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as error:
        problems.append(Problem(file, number, "(line)", f"not JSON: {error}"))
        return None


def jsonl_values(directory: Path, name: str, problems: list[Problem]) -> Iterator[tuple[int, Any]]:
    """(1-based line number, JSON value) of each line of the file `name` in `directory`; a line
    that is not JSON comes as None, with its problem."""
    for number, line in jsonl_lines(directory / name):
        yield number, parse_line(name, number, line, problems)


def jsonl_objects(
    directory: Path, name: str, problems: list[Problem]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line of `name` that holds a JSON object (what every line
    a writer writes holds); a line that is not JSON is a problem."""
    for number, value in jsonl_values(directory, name, problems):
        if isinstance(value, dict):
            yield number, value


def capped(problems: list[Problem]) -> list[Problem]:
    """At most `MAX_PROBLEMS`, then one saying how many more there were."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    last = problems[MAX_PROBLEMS]
    return [
        *problems[:MAX_PROBLEMS],
        Problem(last.file, None, "(more)", f"{rest:,} more problems not listed"),
    ]
