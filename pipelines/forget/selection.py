"""What an erasure names (ids, metadata pairs, end users) and the lake ids it resolves to.

A selector is matched on the raw lake, against every fetched version of an object (a metadata
pair later changed at the source still names it). Erasing a response or a conversation also
erases what was built on it: responses that continue a forgotten one (`previous_response_id`)
or belong to a forgotten conversation carry its text as their context.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import scan_raw_batches

USER_FIELDS = ("user", "safety_identifier", "input_user")
"""Where a stored object names its end user: chat's `user`, the Responses API's `user` and
`safety_identifier`."""


@dataclass(frozen=True)
class Selection:
    """What to erase: any object matching any selector."""

    ids: tuple[str, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    users: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ids or self.metadata or self.users)

    def hashed(self, salt: str) -> dict[str, list[str]]:
        """The selectors as salted hashes, for the record (no selector is kept in clear)."""

        def digest(text: str) -> str:
            return hashlib.sha256(f"{salt}{text}".encode()).hexdigest()

        return {
            "ids": sorted(digest(i) for i in self.ids),
            "metadata": sorted(f"{digest(k)}={digest(v)}" for k, v in self.metadata),
            "users": sorted(digest(u) for u in self.users),
        }

    def matches_item(self, item: object) -> bool:
        """Whether a decoded object (a rejected item) matches, by id, metadata or user."""
        if not isinstance(item, dict):
            return False
        if item.get("id") in self.ids:
            return True
        metadata = item.get("metadata")
        if isinstance(metadata, dict) and any(metadata.get(k) == v for k, v in self.metadata):
            return True
        return any(item.get(name) in self.users for name in USER_FIELDS)


def parse_metadata(pairs: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`KEY=VALUE` strings as pairs.

    Raises:
        ValueError: A pair has no `=` or an empty key.
    """
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--metadata takes KEY=VALUE, got {pair!r}")
        parsed.append((key, value))
    return tuple(parsed)


def read_ids_file(text: str) -> tuple[str, ...]:
    """Ids one a line, as ingest's ids files: blank lines and `#` comments skipped."""
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


@dataclass(frozen=True)
class Resolved:
    """The lake ids a selection names, with those only reached through another one."""

    ids: frozenset[str]
    dependents: int = 0
    by_api: dict[str, set[str]] = field(default_factory=dict)
    """API → the ids found in the lake under it (an id named but not found is in none)."""


def resolve_ids(paths: DataPaths, selection: Selection) -> Resolved:
    """Every id in the raw lake the selection names, and every response built on one."""
    raw = scan_raw_batches(paths).select("api", "id", "completion_json")
    document = pl.col("completion_json")
    named = pl.col("id").is_in(pl.Series(selection.ids, dtype=pl.String).implode())
    for key, value in selection.metadata:
        named = named | (document.str.json_path_match(f"$.metadata[{json.dumps(key)}]") == value)
    for user in selection.users:
        for name in USER_FIELDS:
            named = named | (document.str.json_path_match(f"$.{name}") == user)
    links = raw.select(
        "api",
        "id",
        named.fill_null(False).alias("named"),
        document.str.json_path_match("$.previous_response_id").alias("previous"),
        pl.coalesce(
            document.str.json_path_match("$.conversation.id"),
            document.str.json_path_match("$.conversation"),
        ).alias("conversation"),
    ).collect()
    found = set(links.filter("named")["id"].to_list()) | set(selection.ids)
    direct = len(found)
    linked = links.filter(pl.col("previous").is_not_null() | pl.col("conversation").is_not_null())
    while True:  # as many rounds as the longest chain of continued responses
        wanted = pl.Series(sorted(found), dtype=pl.String).implode()
        more = set(
            linked.filter(pl.col("previous").is_in(wanted) | pl.col("conversation").is_in(wanted))[
                "id"
            ].to_list()
        )
        if more <= found:
            break
        found |= more
    in_lake = links.filter(pl.col("id").is_in(pl.Series(sorted(found), dtype=pl.String).implode()))
    by_api: dict[str, set[str]] = {}
    for api, object_id in in_lake.select("api", "id").unique().iter_rows():
        by_api.setdefault(api, set()).add(object_id)
    return Resolved(frozenset(found), dependents=len(found) - direct, by_api=by_api)
