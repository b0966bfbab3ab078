"""Cursor paging and the outer retry, written once for every source and both list calls.

Pages are read as raw JSON (`with_raw_response`), not SDK models, so the lake keeps exactly what the
API returned, unknown fields included. The cursor rule is the SDK's: `after` = the last item's id,
stop on `has_more: false` or an empty page. What the SDK never checks is checked here: the body is
JSON with a `data` list, every item an object with a string id, and the listing advances (a server
that repeats a page or moves its cursor backwards would otherwise be paged forever).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from pipelines.ingest.errors import (
    CursorLost,
    SourceAccessError,
    SourceProtocolError,
    SourceUnavailableError,
)
from pipelines.privacy.scrub import scrub

log = logging.getLogger("distillery.ingest")


@dataclass
class RetryPolicy:
    """The outer retry, for what the SDK gives up on (connection drops, 5xx after its retries,
    429 with a Retry-After above the SDK's 120 s). A stall (timeout) is not retried here: the
    SDK already tried it three times, and a stalled source is reported, not waited on.

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
    call: Callable[[], Any],
    *,
    policy: RetryPolicy,
    retries: RetryCounter,
    what: str,
    secrets: Sequence[str | None] = (),
) -> Any:
    """Run `call`, retrying transient failures within `policy`; stop at once on access errors.

    Args:
        call: One SDK request.
        policy: The outer retry.
        retries: Counts outer retries.
        what: Names the call in errors and logs ("listing stored completions").
        secrets: Scrubbed from any server text that reaches a message (the key in use).

    Raises:
        SourceAccessError: 401, 403 or `insufficient_quota`; the message says what to fix.
        SourceUnavailableError: Still failing after `policy.attempts` tries, a stall, or an
            HTTP error no retry fixes.
        openai.NotFoundError: 404, for the caller to interpret.
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
        except openai.APITimeoutError:
            raise SourceUnavailableError(
                f"the source stalled while {what}: no complete answer within the request"
                " deadline, after the SDK's retries; run again later, or raise"
                " DISTILLERY_REQUEST_DEADLINE_S if answers are legitimately slow"
            ) from None
        except (openai.APIConnectionError, openai.InternalServerError) as err:
            error, wait = err, None
        except openai.NotFoundError:
            raise
        except openai.APIStatusError as err:
            if err.status_code not in (408, 409):
                raise SourceUnavailableError(
                    f"the source answered HTTP {err.status_code} while {what}:"
                    f" {scrub(err.message, secrets=secrets)}{_request_id(err)}"
                ) from None
            error, wait = err, None
        if attempt == policy.attempts:
            raise SourceUnavailableError(
                f"gave up {what} after {attempt} attempts: {type(error).__name__}:"
                f" {scrub(error, secrets=secrets)}"
            ) from None
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
class Rejected:
    """A list item that cannot be stored by id, kept with the reason (nothing is dropped)."""

    reason: str
    item_json: str


@dataclass(frozen=True)
class RawPage:
    """One page of a list call: its items as parsed JSON, and whether more follow.

    Attributes:
        items: Objects with a non-empty string `id`.
        has_more: The source says more follow (and this page had items).
        rejected: Items without a usable id, and why.
        invalid_utf8: The body held bytes that are not UTF-8; they are kept as lone surrogates
            (`surrogateescape`), which normalize marks and validation quarantines.
    """

    items: list[dict[str, Any]]
    has_more: bool
    rejected: list[Rejected] = field(default_factory=list)
    invalid_utf8: bool = False


def read_page(response: Any, *, what: str = "reading a page") -> RawPage:
    """Parse a raw list response (`with_raw_response`), checking what the SDK would assume.

    Raises:
        SourceProtocolError: The body is not JSON, not an object, or has no `data` list.
    """
    body, invalid_utf8 = _json_body(response, what)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        shape = type(body.get("data")).__name__ if isinstance(body, dict) else type(body).__name__
        raise SourceProtocolError(
            f"the source's answer while {what} has no `data` list (found {shape}):"
            " is the base URL an OpenAI-compatible API?"
        )
    items, rejected = [], []
    for item in body["data"]:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            items.append(item)
        else:
            reason = "not an object" if not isinstance(item, dict) else "no string id"
            rejected.append(Rejected(reason, json.dumps(item, ensure_ascii=True)))
    has_more = bool(body.get("has_more")) and bool(items)
    return RawPage(items, has_more, rejected, invalid_utf8)


@dataclass(frozen=True)
class RawObject:
    """One object read by id: its parsed JSON, and whether the body held invalid UTF-8."""

    item: dict[str, Any]
    invalid_utf8: bool = False


def read_object(response: Any, *, object_id: str, what: str) -> RawObject | Rejected:
    """Parse a raw retrieve response: the object, or why it cannot be stored as `object_id`.

    Raises:
        SourceProtocolError: The body is not JSON.
    """
    body, invalid_utf8 = _json_body(response, what)
    if not isinstance(body, dict):
        return Rejected("not an object", json.dumps(body, ensure_ascii=True))
    if body.get("id") != object_id:
        return Rejected(
            f"the source answered an object whose id is not {object_id!r}",
            json.dumps(body, ensure_ascii=True),
        )
    return RawObject(body, invalid_utf8)


def _json_body(response: Any, what: str) -> tuple[Any, bool]:
    """The body parsed as JSON, and whether it held bytes that are not UTF-8."""
    raw: bytes = response.content
    invalid_utf8 = False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Lossless: each invalid byte becomes a lone surrogate that encodes back to it.
        text, invalid_utf8 = raw.decode("utf-8", "surrogateescape"), True
    try:
        return json.loads(text), invalid_utf8
    except json.JSONDecodeError as err:
        raise SourceProtocolError(
            f"the source's answer while {what} is not JSON ({err.msg} at character {err.pos};"
            f" it starts {scrub(text[:500])[:60]!r}): is the base URL an OpenAI-compatible API?"
        ) from None


def iter_pages(
    fetch: Callable[[str | None], Any],
    *,
    after: str | None,
    policy: RetryPolicy,
    retries: RetryCounter,
    what: str,
    secrets: Sequence[str | None] = (),
) -> Iterator[RawPage]:
    """Follow the cursor from `after` until the last page.

    Args:
        fetch: Makes one raw list request for a cursor (None: the first page).
        after: Where to start.
        policy: The outer retry.
        retries: Counts outer retries.
        what: Names the call in errors and logs.
        secrets: Scrubbed from any server text that reaches a message.

    Raises:
        CursorLost: `after` (given, or taken from a page) is gone at the source.
        SourceProtocolError: A page brought no item this listing had not seen already.
    """
    listed: set[str] = set()
    while True:
        request = functools.partial(fetch, after)
        try:
            response = call_with_retry(
                request, policy=policy, retries=retries, what=what, secrets=secrets
            )
        except openai.NotFoundError:
            if after is None:
                raise
            raise CursorLost(after) from None
        page = read_page(response, what=what)
        if not page.items and not page.rejected:
            return  # an empty page ends a listing, whatever `has_more` says
        ids = [item["id"] for item in page.items]
        if ids and listed.issuperset(ids):
            raise SourceProtocolError(
                f"the source answered {what} after {after!r} with {len(ids)} items it had"
                f" already listed: its cursor repeats or moves backwards, so the listing would"
                f" never end (stopped after {len(listed):,} distinct items)"
            )
        listed.update(ids)
        yield page
        if not page.has_more:
            return
        after = ids[-1]


def _retry_after_s(response: Any) -> float | None:
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value is not None:
            try:
                seconds = float(value) / divisor
            except ValueError:
                continue
            if math.isfinite(seconds) and seconds >= 0:  # a server's -1 or NaN is no answer
                return seconds
    return None


def _request_id(err: openai.APIStatusError) -> str:
    request_id = err.response.headers.get("x-request-id")
    return f" (request id {request_id})" if request_id else ""
