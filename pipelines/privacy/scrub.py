"""Scrub text that came from outside before it reaches a log line or an exception message.

A server's error body can echo what it was sent (the presented key, a prompt with an e-mail
address); Dagster stores every log line in its event log. Known secrets (the key in use) are
replaced wherever they occur, and so is anything `pipelines.privacy.pii.PATTERNS` recognises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipelines.privacy.pii import PATTERNS, PLACEHOLDERS
from pipelines.privacy.secret_rules import python_replacement

_PATTERNS = [
    (re.compile(pattern), python_replacement(PLACEHOLDERS[kind]))
    for kind, pattern in PATTERNS.items()
]
MAX_CHARS = 500
"""Longest outside text kept in a message: an error page is not a log line."""


def scrub(text: object, *, secrets: Iterable[str | None] = ()) -> str:
    """`text` with `secrets` and every recognisable secret or personal datum replaced, cut to
    `MAX_CHARS`."""
    cleaned = str(text)
    for secret in secrets:
        # Short strings ("local", "x") are not secrets and would mangle the message.
        if secret and len(secret) >= 8:
            cleaned = cleaned.replace(secret, PLACEHOLDERS["secret"])
    for pattern, placeholder in _PATTERNS:
        cleaned = pattern.sub(placeholder, cleaned)
    if len(cleaned) > MAX_CHARS:
        cleaned = cleaned[:MAX_CHARS] + f"… ({len(cleaned) - MAX_CHARS} more characters)"
    return cleaned
