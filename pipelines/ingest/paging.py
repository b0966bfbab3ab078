"""Cursor paging and the outer retry, written once for every source and both list calls.

Pages are read as raw JSON (`with_raw_response`), not SDK models, so the lake keeps exactly what the
API returned, unknown fields included. The cursor rule is the SDK's: `after` = the last item's id,
stop on `has_more: false` or an empty page.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai

log = logging.getLogger("distillery.ingest")


class SourceAccessError(RuntimeError):
    """The source refused us in a way no retry fixes: bad key, no permission, or no quota."""


class SourceUnavailableError(RuntimeError):
    """The source kept failing after the SDK's retries and ours."""


@dataclass
class RetryPolicy:
    """The outer retry, for what the SDK gives up on (connection drops, 5xx after its retries,
    429 with a Retry-After above the SDK's 120 s).

    Attributes:
        attempts: Tries per call, the first included.
        max_wait_s: Longest wait between tries, whatever Retry-After asks for.
    """

    attempts: int = 5
    max_wait_s: float = 60.0


class RetryCounter:
    """Thread-safe count of outer retries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


def call_with_retry(
    call: Callable[[], Any], *, policy: RetryPolicy, retries: RetryCounter, what: str
) -> Any:
    """Run `call`, retrying transient failures within `policy`; stop at once on access errors.

    Raises:
        SourceAccessError: 401, 403 or `insufficient_quota`; the message says what to fix.
        SourceUnavailableError: Still failing after `policy.attempts` tries.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except openai.AuthenticationError as err:
            raise SourceAccessError(
                f"the source rejected the API key (HTTP 401) while {what}: check the key"
                f" for this source{_request_id(err)}"
            ) from None
        except openai.PermissionDeniedError as err:
            raise SourceAccessError(
                f"the key has no permission to read stored completions (HTTP 403) while {what}"
                f"{_request_id(err)}"
            ) from None
        except openai.RateLimitError as err:
            if err.code == "insufficient_quota":
                raise SourceAccessError(
                    "the account has no quota left (429 insufficient_quota) while"
                    f" {what}: add credits or raise the limit, then run again{_request_id(err)}"
                ) from None
            error: Exception = err
            wait = _retry_after_s(err.response)
        except (openai.APIConnectionError, openai.InternalServerError) as err:
            error, wait = err, None
        except openai.APIStatusError as err:
            if err.status_code not in (408, 409):
                raise
            error, wait = err, None
        if attempt == policy.attempts:
            raise SourceUnavailableError(
                f"gave up {what} after {attempt} attempts: {type(error).__name__}: {error}"
            ) from error
        delay = min(wait if wait is not None else 2.0**attempt, policy.max_wait_s)
        log.warning(
            "%s failed (%s); retry %d of %d in %.1f s",
            what,
            type(error).__name__,
            attempt,
            policy.attempts - 1,
            delay,
        )
        retries.add()
        time.sleep(delay)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class RawPage:
    """One page of a list call: its items as parsed JSON, and whether more follow."""

    items: list[dict[str, Any]]
    has_more: bool


def read_page(response: Any) -> RawPage:
    """Parse a raw list response (`with_raw_response`)."""
    body = json.loads(response.text)
    items = body.get("data") or []
    return RawPage(items=items, has_more=bool(body.get("has_more")) and bool(items))


def iter_pages(
    fetch: Callable[[str | None], Any],
    *,
    after: str | None,
    policy: RetryPolicy,
    retries: RetryCounter,
    what: str,
) -> Iterator[RawPage]:
    """Follow the cursor from `after` until the last page.

    Args:
        fetch: Makes one raw list request for a cursor (None: the first page).
        after: Where to start.
        policy: The outer retry.
        retries: Counts outer retries.
        what: Names the call in errors and logs.
    """
    while True:
        request = functools.partial(fetch, after)
        page = read_page(call_with_retry(request, policy=policy, retries=retries, what=what))
        yield page
        if not page.has_more:
            return
        after = page.items[-1]["id"]


def _retry_after_s(response: Any) -> float | None:
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is not None:
            try:
                return float(value) / divisor
            except ValueError:
                continue
    return None


def _request_id(err: openai.APIStatusError) -> str:
    request_id = err.response.headers.get("x-request-id")
    return f" (request id {request_id})" if request_id else ""
