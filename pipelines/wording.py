"""Counts in messages, in the number the count asks for ("1 page", "2 pages")."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun`, the noun plural unless the count is 1: `counted(1, "conversation")` is
    "1 conversation", `counted(1200, "page")` "1,200 pages"; `plural` for irregular nouns."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
