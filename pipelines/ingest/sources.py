"""Where stored completions come from: one client factory driven by the environment.

`DISTILLERY_SOURCE` picks `openai`, `azure` or `local`; unset, it is `openai` when `OPENAI_API_KEY`
is set, `azure` when `AZURE_OPENAI_ENDPOINT` is set, else `local`: the bundled sample served by the
local store on a loopback port of this process. Every source is read through the real `openai` SDK,
so paging and retries are written once for all of them.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import openai
from pydantic import BaseModel, ConfigDict

from pipelines.ingest.deadline import DeadlineTransport
from pipelines.sample import SAMPLE_PATHS
from pipelines.source_kind import STORE_HEADER, named_source_kind
from schemas import SOURCE_KINDS

DEFAULT_AZURE_API_VERSION = "2025-02-01-preview"
DEFAULT_READ_TIMEOUT_S = 30.0
"""No byte for this long and a request is a timeout (the SDK's default is 600 s)."""
DEFAULT_REQUEST_DEADLINE_S = 90.0
"""No complete answer this long after a try, and it is a timeout; with the SDK's 2 retries, a
stalled or trickling source is given up on within 270 s."""
_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)
AZURE_TOKEN_SCOPE = "https://cognitiveservices.azure.com/.default"


class SourceConfigError(ValueError):
    """The environment does not describe a usable source."""


class SourceInfo(BaseModel):
    """What a run read from; safe to log and to write into manifests (it never holds a key).

    Attributes:
        kind: `openai`, `azure` or `local`.
        endpoint_host: Host (and port) of the API endpoint.
        detail: A short human description, e.g. "bundled sample".
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    kind: str
    endpoint_host: str
    detail: str = ""
    retention_days: float | None = None
    """How long the source keeps what it stores (OpenAI and Azure: 30 days; a store of one's own:
    for ever, None). An object gone after that expired; one gone before it was deleted."""

    @property
    def endpoint(self) -> str:
        """Which store this is, as the lake records it on every row: the endpoint's host, or
        `local` for the embedded sample (whose port changes every run)."""
        return "local" if self.kind == "local" else self.endpoint_host

    def describe(self) -> str:
        return f"{self.kind} at {self.endpoint_host}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class RequestCounter:
    """Counts HTTP requests as they go out, retries included (the SDK numbers each attempt), and
    notes what distillery store the source says it is.

    Attributes:
        store: `capture` or `local` once an answer carried `STORE_HEADER` (distillery's own
            store), else None (OpenAI, Azure, anything else).
    """

    requests: int = 0
    retries: int = 0
    store: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: httpx2.Request) -> None:
        retry = request.headers.get("x-stainless-retry-count", "0") != "0"
        with self._lock:  # message fetches run on a thread pool
            self.requests += 1
            self.retries += retry

    def answered(self, response: httpx2.Response) -> None:
        """The response hook: any answer, an error too, says which store this is."""
        if kind := response.headers.get(STORE_HEADER):
            self.store = kind


def resolve_source_kind(env: Mapping[str, str]) -> str:
    """The source named by `DISTILLERY_SOURCE`, or the one the credentials imply.

    Raises:
        SourceConfigError: `DISTILLERY_SOURCE` names no source distillery reads.
    """
    kind = named_source_kind(env)
    if kind not in SOURCE_KINDS:
        raise SourceConfigError(
            f"DISTILLERY_SOURCE={kind!r} is not one of {', '.join(SOURCE_KINDS)}"
        )
    return kind


@contextlib.contextmanager
def open_source(
    env: Mapping[str, str] | None = None,
    *,
    max_retries: int = 2,
    read_timeout_s: float | None = None,
    request_deadline_s: float | None = None,
) -> Iterator[tuple[openai.OpenAI, SourceInfo, RequestCounter]]:
    """Open the configured source for the `with` block.

    A source that stops answering is given up on: no byte for `read_timeout_s`, or no complete
    answer `request_deadline_s` after the request (a server trickling bytes), is a timeout,
    which the SDK retries `max_retries` times and ingest then reports as a stalled source; all
    the tries of one request, the SDK's waits between them included, end within
    `request_deadline_s` × (`max_retries` + 1).

    Args:
        env: Environment to read (default: `os.environ`).
        max_retries: The SDK's own retries per request (it retries 408/409/429/5xx and connection
            errors, honouring Retry-After up to 120 s).
        read_timeout_s: Longest wait for the next byte (default 30 s).
        request_deadline_s: Longest time for a whole answer (default
            `DISTILLERY_REQUEST_DEADLINE_S`, else `DEFAULT_REQUEST_DEADLINE_S`).

    Yields:
        The SDK client, what it reads from, and a counter of the HTTP requests it makes.

    Raises:
        SourceConfigError: The environment names an unusable source.
    """
    env = os.environ if env is None else env
    kind = resolve_source_kind(env)
    deadline = request_deadline_s or _seconds(
        env, "DISTILLERY_REQUEST_DEADLINE_S", DEFAULT_REQUEST_DEADLINE_S
    )
    read = min(read_timeout_s or DEFAULT_READ_TIMEOUT_S, deadline)
    counter = RequestCounter()
    http_client = openai.DefaultHttpxClient(
        event_hooks={"request": [counter], "response": [counter.answered]},
        transport=DeadlineTransport(
            httpx2.HTTPTransport(limits=_LIMITS), seconds=deadline, attempts=max_retries + 1
        ),
    )
    options = {
        "max_retries": max_retries,
        "timeout": httpx2.Timeout(deadline, connect=min(10.0, deadline), read=read),
        "http_client": http_client,
    }
    with contextlib.ExitStack() as stack:
        stack.callback(http_client.close)
        if kind == "openai":
            client, info = _openai_client(env, options)
        elif kind == "azure":
            client, info = _azure_client(env, options)
        else:
            client, info = _local_client(stack, options)
        info = info.model_copy(update={"retention_days": _retention_days(env, info)})
        yield client, info, counter


def _openai_client(env: Mapping[str, str], options: dict) -> tuple[openai.OpenAI, SourceInfo]:
    if not env.get("OPENAI_API_KEY"):
        raise SourceConfigError("DISTILLERY_SOURCE=openai needs OPENAI_API_KEY")
    base_url = env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    client = openai.OpenAI(
        api_key=env["OPENAI_API_KEY"],
        base_url=base_url,
        organization=env.get("OPENAI_ORG_ID") or None,
        project=env.get("OPENAI_PROJECT_ID") or None,
        **options,
    )
    return client, SourceInfo(kind="openai", endpoint_host=_host(base_url))


def _azure_client(env: Mapping[str, str], options: dict) -> tuple[openai.OpenAI, SourceInfo]:
    endpoint = env.get("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise SourceConfigError("DISTILLERY_SOURCE=azure needs AZURE_OPENAI_ENDPOINT")
    credentials: dict = {}
    if env.get("AZURE_OPENAI_API_KEY"):
        credentials["api_key"] = env["AZURE_OPENAI_API_KEY"]
        detail = "api key"
    else:
        credentials["azure_ad_token_provider"] = _entra_token_provider()
        detail = "Microsoft Entra ID"
    # No azure_deployment: with one set the SDK sends `list` to the deployment path but not
    # retrieve / messages (REFERENCE.md).
    client = openai.AzureOpenAI(
        azure_endpoint=endpoint,
        api_version=env.get("OPENAI_API_VERSION") or DEFAULT_AZURE_API_VERSION,
        **credentials,
        **options,
    )
    return client, SourceInfo(kind="azure", endpoint_host=_host(endpoint), detail=detail)


def _entra_token_provider() -> Callable[[], str]:
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise SourceConfigError(
            "AZURE_OPENAI_API_KEY is not set, and Microsoft Entra ID sign-in needs the azure"
            " extra: pip install 'distillery[azure]'"
        ) from None
    return get_bearer_token_provider(DefaultAzureCredential(), AZURE_TOKEN_SCOPE)


def _local_client(stack: contextlib.ExitStack, options: dict) -> tuple[openai.OpenAI, SourceInfo]:
    # Imported here so that reading OpenAI or Azure never loads the server stack.
    from pipelines.store import StoreDatabase, running_store

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="distillery-store-")))
    db = StoreDatabase(workdir / "sample.db")
    for path in SAMPLE_PATHS:  # chat completions, responses, conversations
        db.import_file(path)
    db.close()
    store = stack.enter_context(running_store(workdir / "sample.db"))
    client = openai.OpenAI(api_key="local", base_url=store.openai_base_url, **options)
    return client, SourceInfo(
        kind="local", endpoint_host=_host(store.url), detail="bundled sample, embedded local store"
    )


PROVIDER_RETENTION_DAYS = 30.0
"""OpenAI keeps stored completions 30 days (stored responses at least that long); Azure kept its
stored completions 30 days too."""


def _retention_days(env: Mapping[str, str], info: SourceInfo) -> float | None:
    """`DISTILLERY_SOURCE_RETENTION_DAYS` (`none`: for ever), else 30 days for OpenAI's own API
    and Azure, and for ever for anything else (a capturing store, the bundled sample)."""
    value = env.get("DISTILLERY_SOURCE_RETENTION_DAYS", "").strip().lower()
    if value in ("none", "forever"):
        return None
    if not value:
        host = info.endpoint_host  # its default port already left out (`_host`)
        provider = (
            info.kind == "azure" or host == "api.openai.com" or host.endswith(".api.openai.com")
        )
        return PROVIDER_RETENTION_DAYS if provider else None
    try:
        days = float(value)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and days > 0):
        raise SourceConfigError(
            f"DISTILLERY_SOURCE_RETENTION_DAYS={value!r} is neither a number of days nor `none`"
        )
    return days


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise SourceConfigError(f"{name}={value!r} is not a number of seconds") from None
    if seconds <= 0:
        raise SourceConfigError(f"{name}={value!r} must be more than 0 seconds")
    return seconds


def _host(url: str) -> str:
    """Host and port only: a URL's `user:password@` must never reach a log, metadata or a card."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "unknown host"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"https": 443, "http": 80}.get(parts.scheme)
    # The scheme's own port left out: the same store, however its URL is written.
    return f"{host}:{parts.port}" if parts.port and parts.port != default else host
