"""Guards in front of the store's routes: DNS rebinding, cross-site writes, body size, and a last
resort that answers any unexpected error in OpenAI's shape.

The store usually runs without a key on loopback, where the only strangers who can reach it are web
pages open in the user's browser. A page can send a "simple" cross-site POST (`text/plain`, no
preflight) straight to 127.0.0.1, or rebind its own host name to 127.0.0.1 and then read answers
too. The guards refuse both, and bound what any client can make the store hold in memory.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipelines.store.errors import APIError

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# Neither is a CORS-safelisted type, so a page can send them only after a preflight, which the
# store never grants. JSONL is what `/_admin/import` takes; protobuf what OTLP trace exporters post.
BODY_MEDIA_TYPES = frozenset({"application/json", "application/x-ndjson", "application/x-protobuf"})
# What the SDK uploads files and audio as; a page can post it too, so see `RequestGuard`.
UPLOAD_MEDIA_TYPE = "multipart/form-data"
# Sec-Fetch-Site values that mean "sent by a page of another origin".
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
_WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
# Percent-encoded dot, slash and backslash, as they appear in a lower-cased raw path.
_ENCODED_SEPARATORS = (b"%2e", b"%2f", b"%5c")

log = logging.getLogger("distillery.store")


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the store reachable from this machine only."""
    name = _bare(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    """Whether `host` binds every interface (0.0.0.0, ::)."""
    return _bare(host) in _WILDCARD_BINDS


def host_allowlist(
    bind_host: str, *, allowed_hosts: Iterable[str] = (), keyed: bool = False
) -> frozenset[str] | None:
    """The `Host` names the store answers, or None for any.

    Args:
        bind_host: The interface the server listens on.
        allowed_hosts: Extra names (`--allowed-host`), e.g. the name a reverse proxy forwards.
        keyed: Every request needs a key (`--api-key` or `--keys`). Then a non-loopback bind
            answers any name: the key, not the name, is what keeps strangers out there.

    Returns:
        Lower-case names without port or brackets, or None when any Host is fine.
    """
    if keyed and not is_loopback(bind_host):
        return None
    return LOOPBACK_NAMES | {_bare(bind_host)} | {_bare(name) for name in allowed_hosts}


class RequestGuard:
    """ASGI middleware that refuses requests the store must not serve, before any route runs.

    Args:
        app: The wrapped application.
        allowed_hosts: `Host` names to answer (see `host_allowlist`); None answers any.
        wildcard_bind: The server listens on every interface, so any IP-literal Host is its own.
        max_body_bytes: Largest request body accepted, of those the store reads itself.
        passes_through: Whether a path's body goes upstream unread (a forwarded route): such
            bodies stream through with no limit (OpenAI takes 512 MB files).
        forwards_uploads: The store forwards to an upstream (capture), so API clients may also
            send `multipart/form-data` (file and audio uploads), but only without the `Origin`
            and `Sec-Fetch-Site` headers every current browser puts on a cross-site form post.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: frozenset[str] | None,
        wildcard_bind: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        passes_through: Callable[[str], bool] | None = None,
        forwards_uploads: bool = False,
    ) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.wildcard_bind = wildcard_bind
        self.max_body_bytes = max_body_bytes
        self.passes_through = passes_through
        self.forwards_uploads = forwards_uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal.to_response()(scope, receive, send)
                return
            unread = self.passes_through is not None and self.passes_through(scope["path"])
            await self.app(scope, receive if unread else self._bounded(receive), tracking_send)
        except Exception as err:
            if started:
                raise
            # Plain-text 500s break clients that parse OpenAI's error shape. The message is fixed:
            # nothing from the request (least of all its key) is echoed.
            if not isinstance(err, APIError):
                log.exception("unexpected error serving %s %s", scope["method"], scope["path"])
                err = server_error()
            await err.to_response()(scope, receive, send)

    def _refusal(self, scope: Scope) -> APIError | None:
        headers = Headers(scope=scope)
        refusal = path_refusal(scope)
        if refusal is None:
            refusal = self._host_refusal(headers.get("host"))
        if refusal is None:
            # Any method: a page must not read the store either, nor, through the capture
            # proxy, what an upstream answers to the upstream's key.
            refusal = _foreign_origin_refusal(headers, scope.get("scheme", "http"))
        if refusal is None and scope["method"] in STATE_CHANGING_METHODS:
            refusal = _cross_site_refusal(
                scope["method"], headers, scope.get("scheme", "http"), self.forwards_uploads
            )
        if refusal is None and not (self.passes_through and self.passes_through(scope["path"])):
            refusal = self._length_refusal(headers.get("content-length"))
        return refusal

    def _host_refusal(self, host: str | None) -> APIError | None:
        # Browsers always send Host; a request without one is not a rebound page.
        if host is None or self.allowed_hosts is None:
            return None
        name = _bare(host)
        if name in self.allowed_hosts or (self.wildcard_bind and _is_ip(name)):
            return None
        # An IP literal cannot be rebound, so only names reach here on a wildcard bind.
        return APIError(
            421,
            f"The store does not answer for host '{name[:100]}': a page can rebind its own name to"
            " this address (DNS rebinding), so only loopback names and the bound address are"
            " served. Start the store with --allowed-host NAME to serve this name.",
            code="host_not_allowed",
        )

    def _length_refusal(self, content_length: str | None) -> APIError | None:
        if (
            content_length is not None
            and content_length.isdigit()
            and int(content_length) > self.max_body_bytes
        ):
            return body_too_large(self.max_body_bytes)
        return None

    def _bounded(self, receive: Receive) -> Receive:
        """`receive`, counting body bytes: chunked bodies announce no length to check up front."""
        received = 0
        limit = self.max_body_bytes

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's body read, so the app's APIError handler answers.
                    raise body_too_large(limit)
            return message

        return bounded_receive


def path_refusal(scope: Scope) -> APIError | None:
    """A path with dot segments or encoded separators: the upstream (or any URL library on the
    way) would resolve it somewhere outside the base path the proxy's key is for."""
    path = scope.get("path", "")
    raw = (scope.get("raw_path") or path.encode()).lower()
    segments = path.split("/")
    if (
        "." in segments
        or ".." in segments
        or "\\" in path
        or any(code in raw for code in _ENCODED_SEPARATORS)
    ):
        return APIError(
            400,
            "Invalid URL: the path has '.' or '..' segments or encoded separators.",
            code="invalid_path",
        )
    return None


def server_error() -> APIError:
    """The 500 for an error nobody anticipated, worded as OpenAI words it."""
    return APIError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    )


def body_too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"The request body is larger than the store accepts ({limit} bytes; see --max-body-bytes).",
        code="request_too_large",
    )


def _foreign_origin_refusal(headers: Headers, scheme: str) -> APIError | None:
    origin = headers.get("origin")
    if origin is not None and not _same_origin(origin, scheme, headers.get("host")):
        return _forbidden(
            f"Cross-site request refused: a request from origin '{origin[:100]}' may not use the"
            " store (a web page could send it from your browser).",
            code="cross_site_request",
        )
    if headers.get("sec-fetch-site", "").lower() in FOREIGN_FETCH_SITES:
        return _forbidden(
            "Cross-site request refused: the browser marked this request as sent by another site.",
            code="cross_site_request",
        )
    return None


def _cross_site_refusal(
    method: str, headers: Headers, scheme: str, forwards_uploads: bool = False
) -> APIError | None:
    media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == UPLOAD_MEDIA_TYPE and forwards_uploads and not _from_a_browser(headers):
        return None
    if media_type not in BODY_MEDIA_TYPES and not _bodiless_delete(method, headers):
        # text/plain, forms and bodies without a type are what a page can send with no
        # preflight; API clients send application/json.
        return _forbidden(
            f"Write refused: Content-Type must be application/json, got"
            f" '{media_type[:100] or 'none'}'.",
            code="unsupported_content_type",
        )
    return None


def _from_a_browser(headers: Headers) -> bool:
    return "origin" in headers or "sec-fetch-site" in headers


def _bodiless_delete(method: str, headers: Headers) -> bool:
    # A page cannot send DELETE without a preflight, whatever its type, and `curl -X DELETE` or
    # httpx's delete() send no Content-Type for a request that has no body.
    return (
        method == "DELETE"
        and "transfer-encoding" not in headers
        and headers.get("content-length", "0") == "0"
    )


def _same_origin(origin: str, scheme: str, host: str | None) -> bool:
    parts = urlsplit(origin.strip().lower())
    return host is not None and parts.scheme == scheme and parts.netloc == host.lower()


def _forbidden(message: str, *, code: str) -> APIError:
    return APIError(403, message, code=code)


def _bare(host: str) -> str:
    """`host` without port or IPv6 brackets, lower-cased: `[::1]:80` → `::1`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
