"""What counts as personal data or a secret, kind by kind, and the placeholder each becomes.

Shared by curation (`pipelines.curate.redact`, in polars) and by the log scrubber
(`pipelines.privacy.scrub`, in Python), so both know the same kinds.

Two kinds of detector:
- `PATTERNS`: a regular expression whose every match is redacted (keys, e-mail addresses, IPs).
- `CANDIDATES` + `CONFIRM`: a broad expression finds candidates fast (polars, every core), and a
  Python function decides on the few distinct ones: a card number only when its Luhn checksum
  holds; a phone number as `pipelines.privacy.phones` says (libphonenumber, the recipe's
  regions, and how people write phone numbers). Dates, versions, ISBNs, order numbers and
  plain numbers are not.

Secrets are the rules of `pipelines.privacy.secret_rules`: Yelp's detect-secrets, plus what it
lacks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from pipelines.privacy.phones import CANDIDATE as PHONE_CANDIDATE
from pipelines.privacy.phones import confirm_phones
from pipelines.privacy.secret_rules import SECRET_RULES

PLACEHOLDERS = {
    "secret": "<SECRET>",
    "email": "<EMAIL>",
    "card": "<CARD>",
    "ip": "<IP>",
    "phone": "<PHONE>",
}

# Every rule uses scoped flags only, (?s:…) not (?s): the same text runs in polars and `re`.
_SECRET = "|".join(f"(?:{rule})" for rule in SECRET_RULES.values())
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Any first octet but 0 (0.0.0.0, "every interface") and 127 (loopback): a server listening on
# 0.0.0.0:8080 names no one.
_FIRST_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1(?:[01][0-9]|2[0-68-9]|[3-9][0-9])|[1-9][0-9]?)"

PATTERNS = {
    "secret": _SECRET,
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
    # Four dotted octets, each 0-255; three-part versions (3.11.7) never match.
    "ip": rf"\b{_FIRST_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\b",
}
"""Kinds whose every match is redacted."""

CANDIDATES = {
    # Digit runs of 13-19 with optional single spaces or dashes.
    "card": r"\b[0-9](?:[ \-]?[0-9]){12,18}\b",
    "phone": PHONE_CANDIDATE,
}
"""Kinds whose matches are only candidates; `CONFIRM` picks the real ones."""

# Looser twins of the detectors, for the first scan only: no word boundaries and no optional
# prefixes, which force the regex engine off its fast path (the IP pattern scanned at 50 MB/s,
# this one at 4 GB/s). Every text the detector matches, its twin matches too.
_SCAN = {
    "ip": r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",
    "card": r"[0-9](?:[ \-]?[0-9]){12,18}",
    "phone": r"[0-9][0-9()\-./ ]{6,24}[0-9]",
}


def scan_patterns(kinds: Iterable[str]) -> list[str]:
    """The expressions a first scan runs one by one to find rows that may hold any of `kinds`.

    Each secret rule alone: one regex per rule keeps its literal prefix (`AKIA`, `ghp_`, …),
    which the engine finds with a vectorized substring search at gigabytes a second; the same
    rules joined into one alternation lose it and scan two hundred times slower.
    """
    patterns: list[str] = []
    for kind in kinds:
        if kind == "secret":
            patterns += SECRET_RULES.values()
        else:
            patterns.append(_SCAN.get(kind) or PATTERNS[kind])
    return patterns


def luhn_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def confirm_cards(candidates: Iterable[str], *, regions: Sequence[str] = ()) -> list[str]:
    """The candidates that are card numbers: Luhn checksum right, a card network's prefix, and
    digits unseparated or grouped as cards print them (4-4-4-4, Amex 4-6-5). An ISBN, a
    timestamp, an order number (351-3269450-9628506) or a row range passes Luhn one time in ten.
    """
    del regions  # card numbers are the same everywhere
    return sorted({c for c in candidates if _card_shaped(c) and luhn_valid(c)})


# Visa 4, Mastercard 51-55 and 2221-2720, Maestro 50 and 56-58, Discover and UnionPay 6,
# Amex 34 and 37, Diners 30, 36, 38 and 39, JCB 35.
_CARD_PREFIX = re.compile(
    r"^(?:[456]|3[0457-9]|2(?:22[1-9]|2[3-9][0-9]|[3-6][0-9]{2}|7[01][0-9]|720))"
)
_CARD_GROUPS = re.compile(
    r"^(?:[0-9]{13,19}"  # unseparated
    r"|[0-9]{4}(?:([ \-])[0-9]{4}){2}\1[0-9]{1,4}(?:\1[0-9]{1,3})?"  # 4-4-4-4, 4-4-4-4-3
    r"|[0-9]{4}([ \-])[0-9]{6}\2[0-9]{4,5})$"  # Amex, Diners: 4-6-5, 4-6-4
)


def _card_shaped(candidate: str) -> bool:
    return bool(_CARD_PREFIX.match(candidate) and _CARD_GROUPS.match(candidate))


CONFIRM: dict[str, Callable[..., list[str]]] = {
    "card": confirm_cards,
    "phone": confirm_phones,
}
"""Per candidate kind: (distinct candidates, *, regions) → the confirmed ones."""
