"""`manifest.json`: what went into a dataset version, typed; never a key.

A manifest is read back by `list_versions`, the dataset card and the Dagster metadata, so its
shape is written once, here. The recipe is kept as the JSON it was built from, not as a `Recipe`:
a manifest is a record of the past, and must stay readable after the recipe model changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipelines.datadir.object_storage import ObjectPath


class _ManifestModel(BaseModel):
    # Fields a later version adds survive a read by an older one.
    model_config = ConfigDict(extra="allow")


class ManifestSource(BaseModel):
    """Where the lake was read from: kind and endpoint host, nothing else (read from any object
    with those attributes, such as the ingest stage's `SourceInfo`)."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    kind: str
    endpoint_host: str = ""


class PackageInfo(_ManifestModel):
    name: str = "distillery"
    version: str


class InputSnapshot(_ManifestModel):
    """What the input table held when the version was built."""

    rows: int = 0
    created_min: datetime | None = None
    created_max: datetime | None = None
    id_set_sha256: str | None = None
    quarantined: int = 0
    """Records read that failed validation (kept in `completions_quarantine`, not in `rows`)."""
    quarantined_by_reason: dict[str, int] = Field(default_factory=dict)
    """Quarantined records per failed check (a record failing two checks counts in both)."""
    rows_by_source: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Rows per source kind, then per API: `{"openai": {"chat_completions": 900, "responses":
    40}}`."""


class SplitCounts(_ManifestModel):
    rows: int = 0
    tokens: int = 0
    """Sum of the rows' `estimated_tokens`: usage where the provider gave it, else estimated from
    the text (a conversation has no usage)."""
    rows_by_api: dict[str, int] = Field(default_factory=dict)
    """Published rows per API (`chat_completions`, `responses`, `conversations`)."""
    rows_by_model: dict[str, int] = Field(default_factory=dict)
    """Published rows per model, as the stored completion named it."""
    tokens_min: int | None = None
    tokens_median: int | None = None
    tokens_p95: int | None = None
    """The 95th percentile of `estimated_tokens` (nearest rank)."""
    tokens_max: int | None = None


class StepEntry(_ManifestModel):
    step: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    """Other figures of the step, e.g. the redact step's placeholders per kind."""


class FileEntry(_ManifestModel):
    sha256: str
    bytes: int

    @classmethod
    def of(cls, path: Path, sha256: str | None = None) -> FileEntry:
        """The entry of a written file; `sha256` when the writer already hashed the bytes."""
        if sha256 is None:
            digest = hashlib.sha256()
            with path.open("rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            sha256 = digest.hexdigest()
        return cls(sha256=sha256, bytes=path.stat().st_size)


class TargetEntry(_ManifestModel):
    """One export target written into the version: its files (each also under `files`, with its
    sha256), examples per file, and what it wrote differently from the stored records."""

    files: list[str]
    rows: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    exported_at: datetime


class Manifest(_ManifestModel):
    """One dataset version: its id, recipe, inputs, splits, drops and files."""

    version: str
    created_at: datetime
    recipe: dict[str, Any]
    source: ManifestSource | None = None
    package: PackageInfo
    inputs: InputSnapshot = Field(default_factory=InputSnapshot)
    token_limit: int
    splits: dict[str, SplitCounts]
    steps: list[StepEntry] = Field(default_factory=list)
    drops_by_reason: dict[str, int] = Field(default_factory=dict)
    transforms: list[str] = Field(default_factory=list)
    """What the exporter changed on the way out (e.g. `developer` written as `system`)."""
    targets: dict[str, TargetEntry] = Field(default_factory=dict)
    """The export targets written, by name; `distillery export` adds more later."""
    files: dict[str, FileEntry] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, exclude_none=True) + "\n"


def read_manifest(path: Path | ObjectPath) -> Manifest:
    return Manifest.model_validate_json(path.read_bytes())
