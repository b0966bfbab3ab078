"""Ingest: read stored completions from a source into the raw lake.

from pipelines.ingest import open_source, ingest_completions, read_raw_completions
"""

from pipelines.ingest.errors import (
    IngestBusyError,
    IngestError,
    LakeWriteError,
    SourceAccessError,
    SourceProtocolError,
    SourceUnavailableError,
)
from pipelines.ingest.lake import read_raw_completions
from pipelines.ingest.sources import SourceConfigError, SourceInfo, open_source, resolve_source_kind
from pipelines.ingest.state import IngestState, read_state
from pipelines.ingest.sync import IngestReport, IngestSettings, ingest_completions

__all__ = [
    "IngestBusyError",
    "IngestError",
    "IngestReport",
    "IngestSettings",
    "IngestState",
    "LakeWriteError",
    "SourceAccessError",
    "SourceConfigError",
    "SourceInfo",
    "SourceProtocolError",
    "SourceUnavailableError",
    "ingest_completions",
    "open_source",
    "read_raw_completions",
    "read_state",
    "resolve_source_kind",
]
