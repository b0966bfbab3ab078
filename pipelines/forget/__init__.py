"""Erasure: a person's or a conversation's data out of everything distillery keeps.

`forget(data_dir, Selection(...))` erases the objects a selection names (ids, metadata pairs,
end users, and the responses built on them) from the raw lake and its segments, the sync
states, the rejected items, the tables, every dataset version that held them (replaced by one
without them), and the store files named; remembers them only as salted hashes
(`pipelines.datadir.tombstones`) so no ingest brings them back; and writes a record that holds
no personal data. `selection` resolves selectors to ids, `lake`, `tables`, `versions`, `stores`
and `source` each erase one kind of place, `record` writes the record, `run` orders the steps.
"""

from __future__ import annotations

from pipelines.datadir.tombstones import Tombstones, read_tombstones
from pipelines.forget.record import ForgetReport
from pipelines.forget.run import KILL_HOOK, forget
from pipelines.forget.selection import Selection, parse_metadata, read_ids_file, resolve_ids
from pipelines.forget.stores import purge_store

__all__ = [
    "KILL_HOOK",
    "ForgetReport",
    "Selection",
    "Tombstones",
    "forget",
    "parse_metadata",
    "purge_store",
    "read_ids_file",
    "read_tombstones",
    "resolve_ids",
]
