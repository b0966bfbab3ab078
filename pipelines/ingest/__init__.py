"""Ingest: read stored completions from a source into the raw lake.

from pipelines.ingest import open_source, read_plan, ingest, read_raw_completions

`ingest` reads what a `ReadPlan` names (chat completions, responses, conversations) under one hold
of the data directory; `ingest_completions` reads stored chat completions alone.
"""

from pipelines.ingest.errors import (
    IngestBusyError,
    IngestError,
    LakeWriteError,
    SourceAccessError,
    SourceProtocolError,
    SourceUnavailableError,
)
from pipelines.ingest.ids import IdsFileError, read_ids
from pipelines.ingest.lake import read_raw_completions
from pipelines.ingest.plan import ReadPlan, read_plan
from pipelines.ingest.reader import IngestReport
from pipelines.ingest.run import IngestRun, ingest
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import SourceConfigError, SourceInfo, open_source, resolve_source_kind
from pipelines.ingest.state import IngestState, read_state
from pipelines.ingest.sync import ingest_completions

__all__ = [
    "IdsFileError",
    "IngestBusyError",
    "IngestError",
    "IngestReport",
    "IngestRun",
    "IngestSettings",
    "IngestState",
    "LakeWriteError",
    "ReadPlan",
    "SourceAccessError",
    "SourceConfigError",
    "SourceInfo",
    "SourceProtocolError",
    "SourceUnavailableError",
    "ingest",
    "ingest_completions",
    "open_source",
    "read_ids",
    "read_plan",
    "read_raw_completions",
    "read_state",
    "resolve_source_kind",
]
