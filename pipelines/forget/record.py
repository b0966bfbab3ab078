"""The record of one erasure, `forget/<time>.json`: what was asked (selectors hashed), how much
each place lost, which versions replaced which. It holds no personal data: no id, no metadata
value, no user in clear, no text, and no error message from a source (it may quote a record).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pipelines.datadir.atomic import atomic_path
from pipelines.datadir.object_storage import AnyPath
from pipelines.datadir.paths import DataPaths


@dataclass
class ForgetReport:
    """What an erasure did (or, on a dry run, would do).

    Attributes:
        started_at: When it began (UTC).
        dry_run: Nothing was changed.
        selectors: The request, each selector as a salted sha256.
        ids: Objects erased: total, reached only through another one, and per API.
        places: Per place, what it lost: raw rows, batches rewritten, segments, sync-state ids,
            refresh ids, rejected items, rows of each table and of the versions.
        versions_replaced: `recipe/old` → `recipe/new` (None: no version could be built without
            the rows; the old one is deleted all the same).
        versions_refused: `recipe/old` → the checks that refused its replacement.
        latest: recipe → what LATEST names afterwards.
        at_source: Deletions at the source (deleted per API, not found, refused by status).
        stores: Per store file: records deleted per API, the log's size afterwards.
        record: Where the record was written (None on a dry run).
    """

    started_at: datetime
    dry_run: bool
    selectors: dict[str, list[str]]
    ids: dict[str, Any] = field(default_factory=dict)
    places: dict[str, int] = field(default_factory=dict)
    versions_replaced: dict[str, str | None] = field(default_factory=dict)
    versions_refused: dict[str, list[str]] = field(default_factory=dict)
    latest: dict[str, str | None] = field(default_factory=dict)
    at_source: dict[str, Any] | None = None
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    record: str | None = None

    def summary(self) -> str:
        """Lines for a terminal: counts per place, versions replaced."""
        verb = "would erase" if self.dry_run else "erased"
        lines = [f"{verb} {self.ids.get('total', 0)} objects ({self.ids.get('by_api', {})})"]
        lines += [f"  {place}: {count}" for place, count in self.places.items() if count]
        for old, new in self.versions_replaced.items():
            lines.append(f"  version {old} → {new or 'deleted, no replacement'}")
        for name, store in self.stores.items():
            lines.append(f"  store {name}: {store['deleted']}")
        if self.at_source is not None:
            lines.append(f"  at the source: {self.at_source}")
        if self.record:
            lines.append(f"record: {self.record}")
        return "\n".join(lines)


def write_record(paths: DataPaths, report: ForgetReport) -> AnyPath:
    """Write the report as `forget/<time>.json`, atomically; returns its path."""
    stamp = report.started_at.strftime("%Y%m%dT%H%M%S%fZ")
    target = paths.forget_record(stamp)
    body = asdict(report) | {"started_at": report.started_at.isoformat()}
    body.pop("record")
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target
