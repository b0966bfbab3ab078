"""Whether the source answers at all, asked once before an ingest writes anything.

A closed port or an unknown host is not worth the SDK's and ingest's retries (tens of seconds of
backoff for an address that will not open), and an ingest that gives up afterwards has already
made the data directory. One TCP connection, a few seconds at most, says it in one line first.
"""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from pipelines.ingest.errors import SourceUnavailableError

CONNECT_TIMEOUT_S = 5.0


def check_reachable(base_url: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Open and close one TCP connection to the source's host and port.

    Skipped when a proxy carries the requests (`HTTPS_PROXY`, …): the proxy, not this machine,
    reaches the source.

    Raises:
        SourceUnavailableError: Connection refused, unknown host, or no answer in `timeout_s`;
            the message names the URL (without any user, password or query).
    """
    parts = urlsplit(base_url)
    host = parts.hostname
    if not host or _proxied(parts.scheme, host):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        raise SourceUnavailableError(
            f"cannot reach the source at {public_url(base_url)} ({_reason(err, timeout_s)}):"
            " is it running, and is OPENAI_BASE_URL (or AZURE_OPENAI_ENDPOINT) right?"
        ) from None


def public_url(url: str) -> str:
    """`url` without user, password, query or fragment: safe to print."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _proxied(scheme: str, host: str) -> bool:
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host)


def _reason(err: OSError, timeout_s: float) -> str:
    if isinstance(err, socket.gaierror):
        return "unknown host"
    if isinstance(err, TimeoutError):
        return f"no answer in {timeout_s:g} s"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return err.strerror or type(err).__name__
