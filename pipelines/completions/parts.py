"""The parts the `completions` table is written in, and what each is made from.

The table is written a part at a time (`pipelines.completions.table`), each part a few lake
batches' rows. The table's own Parquet footer lists the parts in file order with their row counts
and keys (`PARTS_METADATA`): a key changes whenever the part's rows could
(`segments.part_key`), so a later stage may keep what it made of a part and reuse it while the key
stays the same. In the footer, the list changes with the file or not at all: a table rewritten by
anything else (an erasure) has none, and is read as one part.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from pipelines.datadir.object_storage import read_parquet_footer
from pipelines.datadir.paths import DataPaths

PARTS_METADATA = "distillery.table_parts"
"""The footer key of the table's parts: JSON, a list of {key, rows}."""


@dataclass(frozen=True)
class TablePart:
    """One part of the `completions` table: `rows` rows, after the parts before it."""

    key: str
    rows: int


def gathered_key(keys: list[str]) -> str:
    """The key of a part gathered from smaller ones."""
    return keys[0] if len(keys) == 1 else hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def parts_footer(parts: list[TablePart]) -> dict[str, str]:
    """The footer entry that lists `parts`."""
    return {PARTS_METADATA: json.dumps([asdict(part) for part in parts])}


def read_table_parts(paths: DataPaths) -> list[TablePart] | None:
    """The parts of the table as written; None for a table whose footer lists none (written
    before parts were recorded, or rewritten since), or no table."""
    if not paths.completions.exists():
        return None
    listed = read_parquet_footer(paths.completions).get(PARTS_METADATA)
    if listed is None:
        return None
    return [TablePart(**part) for part in json.loads(listed)]
