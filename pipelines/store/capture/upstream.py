"""The upstream a capturing store forwards to: where each client path lands there, which headers
cross in each direction, and whose key goes with them.

Clients reach the proxy in any of the SDK's URL shapes (OpenAI `/v1/…`, Azure v1 `/openai/v1/…`,
Azure classic `/openai/deployments/{d}/…?api-version=`), whatever the upstream speaks, so an app
keeps its client and changes only the base URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit

FLAVOURS = ("openai", "azure")
DEFAULT_KEY_VARIABLE = "DISTILLERY_UPSTREAM_API_KEY"
DEFAULT_TIMEOUT_S = 600.0
"""The openai SDK's own default: the proxy never gives up on an answer before its client would."""
CONNECT_TIMEOUT_S = 10.0
# Azure OpenAI and Azure AI Foundry resources, and API Management in front of them.
_AZURE_HOST_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".azure-api.net",
    ".openai.azure.us",
)
# Connection-level headers (RFC 9110 §7.6.1) never cross a proxy; `host` and the body's length are
# the upstream request's own.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_AUTH_HEADERS = frozenset({b"authorization", b"api-key"})
Headers = list[tuple[bytes, bytes]]


class UpstreamConfigError(ValueError):
    """The upstream settings cannot work (a bad URL, a key in the URL, an unknown flavour)."""


@dataclass(frozen=True)
class Upstream:
    """An OpenAI-compatible endpoint to forward to.

    Attributes:
        base_url: For `openai`, the API root the SDK would take as `base_url` (e.g.
            `https://api.openai.com/v1`, `http://localhost:8000/v1`); for `azure`, the resource
            endpoint (`https://NAME.openai.azure.com`).
        flavour: `openai` (paths under the base URL, `Authorization: Bearer`) or `azure`
            (`/openai/…` paths, `api-key` header).
        api_key: The upstream's key, replacing whatever the client sent; None passes the client's
            own `Authorization` / `api-key` through. Never printed (`repr=False`).
        timeout_s: No byte from the upstream for this long (or no connection within 10 s) and the
            request ends with 504.
    """

    base_url: str
    flavour: str
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def parse(
        cls,
        url: str,
        *,
        flavour: str | None = None,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Upstream:
        """Check `url` and infer the flavour when not given (Azure hosts, or a path at `/openai`).

        Raises:
            UpstreamConfigError: `url` is not an http(s) URL with a host, carries credentials, or
                `flavour` is unknown.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamConfigError(f"--upstream must be an http(s) URL, got {url[:100]!r}")
        if parts.username or parts.password:
            raise UpstreamConfigError(
                f"--upstream must not carry credentials; put the key in ${DEFAULT_KEY_VARIABLE}"
            )
        if parts.query or parts.fragment:
            raise UpstreamConfigError("--upstream takes no query string or fragment")
        flavour = flavour or infer_flavour(url)
        if flavour not in FLAVOURS:
            raise UpstreamConfigError(f"unknown upstream flavour {flavour!r}: openai or azure")
        path = parts.path.rstrip("/")
        if flavour == "azure":
            # Azure's SDK takes the bare resource endpoint; accept the v1 base URL too.
            for suffix in ("/openai/v1", "/openai"):
                if path.endswith(suffix):
                    path = path[: -len(suffix)]
                    break
        if timeout_s <= 0:
            raise UpstreamConfigError("--upstream-timeout must be positive")
        base = f"{parts.scheme}://{parts.netloc}{path}"
        return cls(base_url=base, flavour=flavour, api_key=api_key or None, timeout_s=timeout_s)

    @property
    def host(self) -> str:
        """Host and port, for messages and logs (never the key)."""
        return urlsplit(self.base_url).netloc

    def url_for(self, path: str, query: str) -> str:
        """The upstream URL of a client request to `path?query` on the proxy."""
        if self.flavour == "azure":
            if path == "/v1" or path.startswith("/v1/"):
                path = "/openai" + path
            return self.base_url + path + (f"?{query}" if query else "")
        for prefix in ("/openai/v1", "/v1"):
            if path == prefix or path.startswith(prefix + "/"):
                return self.base_url + path[len(prefix) :] + (f"?{query}" if query else "")
        # Azure classic onto an OpenAI-style server (the app routes only API roots here): the
        # deployment is already the body's `model` (the SDK sends both) and `api-version`
        # means nothing there.
        rest = path[len("/openai") :]
        if rest.startswith("/deployments/"):
            rest = "/" + rest.split("/", 3)[3] if rest.count("/") >= 3 else "/"
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if k != "api-version"]
        return self.base_url + rest + (f"?{urlencode(kept)}" if kept else "")

    def request_headers(
        self, client: Iterable[tuple[bytes, bytes]], *, generation: bool
    ) -> Headers:
        """The client's headers as they go upstream.

        Args:
            client: The client's raw headers.
            generation: A captured generation: its body is read (so its length is recomputed) and
                decoded, so the client's `accept-encoding` is replaced by the proxy's own.
        """
        drop = _HOP_BY_HOP | {b"host"}
        if generation:
            drop = drop | {b"content-length", b"accept-encoding"}
        if self.api_key:
            drop = drop | _AUTH_HEADERS
        headers = [(name.lower(), value) for name, value in client if name.lower() not in drop]
        if self.api_key:
            if self.flavour == "azure":
                headers.append((b"api-key", self.api_key.encode()))
            else:
                headers.append((b"authorization", b"Bearer " + self.api_key.encode()))
        elif self.flavour == "openai":
            headers = _bearer_from_api_key(headers)
        return headers


def api_route(path: str) -> str | None:
    """The first segment of `path` under an API root (`/v1/`, `/openai/v1/`,
    `/openai/deployments/{d}/`, `/openai/`) — `models`, `files`, `chat` … — or None outside
    them. `--forward` names routes by it."""
    for prefix in ("/openai/v1/", "/v1/"):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            break
    else:
        if path.startswith("/openai/deployments/"):
            rest = path.split("/", 4)[4] if path.count("/") >= 4 else ""
        elif path.startswith("/openai/"):
            rest = path[len("/openai/") :]
        else:
            return None
    return rest.split("/", 1)[0] or None


def response_headers(upstream: Iterable[tuple[bytes, bytes]], *, decoded: bool) -> Headers:
    """The upstream's response headers as they go to the client: everything but connection-level
    ones and those the proxy's own server writes (`date`, `server`); the body's length and encoding
    too when the proxy decoded the body."""
    drop = _HOP_BY_HOP | {b"date", b"server"}
    if decoded:
        drop = drop | {b"content-length", b"content-encoding"}
    # An upstream's CORS headers would let a page read what it answers to the upstream's key.
    return [
        (name.lower(), value)
        for name, value in upstream
        if name.lower() not in drop and not name.lower().startswith(b"access-control-")
    ]


def infer_flavour(url: str) -> str:
    """`azure` for Azure hosts or a path at `/openai`, else `openai` (OpenAI, vLLM, Ollama, …)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.endswith(_AZURE_HOST_SUFFIXES) or parts.path.rstrip("/").startswith("/openai"):
        return "azure"
    return "openai"


def upstream_key(variable: str, env: Mapping[str, str] | None = None) -> str | None:
    """The upstream key from the environment variable named `variable` (None when unset)."""
    value = (os.environ if env is None else env).get(variable, "").strip()
    return value or None


def _bearer_from_api_key(headers: Headers) -> Headers:
    # An Azure client sends its key as `api-key`; OpenAI-style servers read only Bearer.
    names = {name for name, _ in headers}
    if b"api-key" not in names or b"authorization" in names:
        return headers
    key = next(value for name, value in headers if name == b"api-key")
    return [(n, v) for n, v in headers if n != b"api-key"] + [(b"authorization", b"Bearer " + key)]
