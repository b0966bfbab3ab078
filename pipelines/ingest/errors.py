"""Why an ingest stopped, each in one line that says what to do.

Every error here is an `IngestError`: the Dagster asset turns it into a failure with its message,
the command line prints it and exits 2. None carries a traceback worth showing a user, and none
carries text from the server unscrubbed (`pipelines.privacy.scrub`).
"""

from __future__ import annotations


class IngestError(RuntimeError):
    """An ingest could not finish; the message says why and what to do."""


class SourceAccessError(IngestError):
    """The source refused us in a way no retry fixes: bad key, no permission, or no quota."""


class SourceUnavailableError(IngestError):
    """The source kept failing, or stalled, after the SDK's retries and ours."""


class SourceProtocolError(SourceUnavailableError):
    """The source answered what the API never does: not JSON, no `data` list, or a listing
    whose cursor repeats or moves backwards."""


class LakeWriteError(IngestError):
    """The data directory cannot be written (a file, read-only, or a full disk)."""


class SampleMixError(IngestError):
    """The bundled sample's synthetic rows and a real source's would share one lake."""


class IngestBusyError(IngestError):
    """Another ingest holds this data directory."""


class CursorLost(Exception):
    """A list call's `after` names an item the source no longer has (HTTP 404); the caller
    decides how to go on (restart the listing, or count the completion as gone)."""

    def __init__(self, after: str) -> None:
        super().__init__(f"the cursor {after!r} is gone at the source")
        self.after = after
