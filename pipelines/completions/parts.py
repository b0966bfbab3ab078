"""The parts the `completions` table is written in, and what each is made from.

The table is written a part at a time (`pipelines.completions.table`), each part a few lake
batches' rows. Beside it, `lake/completions.parts.json` lists the parts in file order with their
row counts and keys: a key changes whenever the part's rows could (`segments.part_key`), so a
later stage may keep what it made of a part and reuse it while the key stays the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.paths import DataPaths


@dataclass(frozen=True)
class TablePart:
    """One part of the `completions` table: `rows` rows, after the parts before it."""

    key: str
    rows: int


def gathered_key(keys: list[str]) -> str:
    """The key of a part gathered from smaller ones."""
    return keys[0] if len(keys) == 1 else hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def write_table_parts(paths: DataPaths, parts: list[TablePart]) -> None:
    with atomic_path(paths.completions_parts) as temporary:
        temporary.write_text(json.dumps([asdict(part) for part in parts]), encoding="utf-8")


def read_table_parts(paths: DataPaths) -> list[TablePart] | None:
    """The parts of the table as last written; None for a table written before parts were
    recorded (or with the record missing)."""
    path = paths.completions_parts
    if not path.exists():
        return None
    return [TablePart(**part) for part in json.loads(path.read_text(encoding="utf-8"))]
