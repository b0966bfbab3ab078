"""Per-example token limits of fine-tuning targets (REFERENCE.md; Azure's published figures)."""

from __future__ import annotations

import re

# Longest first, so `gpt-4.1-nano` is not read as `gpt-4.1`.
_LIMITS = [
    ("gpt-4.1-nano", 32_768),
    ("gpt-4.1-mini", 65_536),
    ("gpt-4.1", 65_536),
    ("gpt-4o-mini", 65_536),
    ("gpt-4o", 65_536),
]
DEFAULT_LIMIT = 32_768
"""For a model not in the table: the smallest published limit, so nothing is cut silently."""


def token_limit(model: str) -> int:
    """Per-example token limit for fine-tuning `model` (a snapshot name such as
    `gpt-4.1-mini-2025-04-14` counts as its family)."""
    for family, limit in _LIMITS:
        if re.match(rf"^{re.escape(family)}(?:$|-\d{{4}}-\d{{2}}-\d{{2}}$)", model):
            return limit
    return DEFAULT_LIMIT
