"""Tombstones: the ids erased from a data directory, kept only as salted sha256 hashes.

    forget/salt             32 random bytes, hex: made once, by the first erasure
    forget/tombstones.txt   one hash a line: sha256(salt + id), hex

An erasure (`pipelines.forget`) writes the hashes of what it erases *before* it erases anything,
so a run killed midway is finished by the next one: every place is purged of every tombstoned id,
not only of the ids one request named. Ingest never writes a tombstoned id into the lake again
(`pipelines.ingest.lake.write_batch` drops it), whatever the source still holds.

The salt keeps a hash from being looked up in a list of likely ids; without it, the hashes name
nothing. It lives here, in the base layer, because the lake's writer filters by it and every
stage may import `datadir`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
import polars_hash as plh

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.paths import DataPaths


@dataclass(frozen=True)
class Tombstones:
    """The salt and the hashes of every erased id of one data directory."""

    salt: str
    hashes: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def hash_of(self, object_id: str) -> str:
        """The tombstone of `object_id` (whether or not it is one)."""
        return hash_id(self.salt, object_id)

    def holds(self, object_id: str) -> bool:
        return self.hash_of(object_id) in self.hashes

    def matches(self, column: str = "id") -> pl.Expr:
        """True on the rows whose `column` is a tombstoned id (null never is)."""
        if not self.hashes:
            return pl.lit(False)
        hashed = plh.concat_str(pl.lit(self.salt), pl.col(column)).chash.sha2_256()
        wanted = pl.Series(sorted(self.hashes), dtype=pl.String)
        return hashed.is_in(wanted.implode()).fill_null(False)

    def with_ids(self, ids: Iterable[str]) -> Tombstones:
        return Tombstones(self.salt, self.hashes | {self.hash_of(i) for i in ids})


def hash_id(salt: str, object_id: str) -> str:
    """sha256 of the salt and the id, hex: what `Tombstones.matches` computes in polars."""
    return hashlib.sha256(f"{salt}{object_id}".encode()).hexdigest()


def read_tombstones(paths: DataPaths) -> Tombstones:
    """The data directory's tombstones (none, with no salt, before the first erasure)."""
    salt = paths.tombstone_salt
    if not salt.exists():
        return Tombstones("", frozenset())
    listed = paths.tombstones
    text = listed.read_text(encoding="utf-8") if listed.exists() else ""
    return Tombstones(salt.read_text(encoding="utf-8").strip(), frozenset(text.split()))


def ensure_salt(paths: DataPaths) -> Tombstones:
    """The tombstones, with a salt made (and stored, atomically) if there was none."""
    current = read_tombstones(paths)
    if current.salt:
        return current
    salt = secrets.token_hex(32)
    with atomic_path(paths.tombstone_salt) as temporary:
        temporary.write_text(salt + "\n", encoding="utf-8")
    return Tombstones(salt, frozenset())


def write_tombstones(paths: DataPaths, tombstones: Tombstones) -> None:
    """Replace the tombstones file atomically (sorted: the order says nothing of when)."""
    with atomic_path(paths.tombstones) as temporary:
        temporary.write_text("".join(f"{h}\n" for h in sorted(tombstones.hashes)), encoding="utf-8")
