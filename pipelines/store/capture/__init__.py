"""Capture: the store as a proxy in front of any OpenAI-compatible endpoint, keeping what it
generates as stored completions (and stored responses).

`distillery store serve --upstream URL` builds a `Proxy` from `CaptureSettings`; `upstream` maps
client paths and headers onto the upstream, `relay` passes answers on (streams chunk by chunk),
`streams` assembles streamed events into the record a non-streamed answer would have been,
`records` decides what is stored and in which shape, and `writer` commits it durably.
"""

from pipelines.store.capture.proxy import DEFAULT_FORWARD, CaptureSettings, Proxy
from pipelines.store.capture.upstream import (
    DEFAULT_KEY_VARIABLE,
    DEFAULT_TIMEOUT_S,
    FLAVOURS,
    Upstream,
    UpstreamConfigError,
    infer_flavour,
    upstream_key,
)

__all__ = [
    "DEFAULT_FORWARD",
    "DEFAULT_KEY_VARIABLE",
    "DEFAULT_TIMEOUT_S",
    "FLAVOURS",
    "CaptureSettings",
    "Proxy",
    "Upstream",
    "UpstreamConfigError",
    "infer_flavour",
    "upstream_key",
]
