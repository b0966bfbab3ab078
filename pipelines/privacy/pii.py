"""What counts as personal data or a secret, kind by kind, and the placeholder each becomes.

Shared by curation (`pipelines.curate.redact`, in polars) and by the log scrubber
(`pipelines.privacy.scrub`, in Python), so both know the same kinds.

Two kinds of detector:
- `PATTERNS`: a regular expression whose every match is redacted (keys, e-mail addresses, IPs).
- `CANDIDATES` + `CONFIRM`: a broad expression finds candidates fast (polars, every core), and a
  Python function decides on the few distinct ones: a card number only when its Luhn checksum
  holds; a phone number only when Google's libphonenumber (`phonenumbers`) accepts it: with `+`
  or `00` and a country code, a length that country's plan allows; national, a valid number of
  one of `PHONE_REGIONS` written the way that country groups its digits (North American
  notation by its shape alone). Dates, versions, order numbers and plain numbers are not.

Secrets are the rules of `pipelines.privacy.secret_rules`: Yelp's detect-secrets, plus what it
lacks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import phonenumbers

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

PATTERNS = {
    "secret": _SECRET,
    "email": r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
    # Four dotted octets, each 0-255; three-part versions (3.11.7) never match.
    "ip": rf"\b{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\b",
}
"""Kinds whose every match is redacted."""

CANDIDATES = {
    # Digit runs of 13-19 with optional single spaces or dashes.
    "card": r"\b[0-9](?:[ \-]?[0-9]){12,18}\b",
    # Digits, with separators and parentheses, from 9 characters; a letter prefix (`ORD-`,
    # `INV#`) is matched too so that identifiers can be told apart (the rust regex engine has no
    # look-behind).
    "phone": r"(?:[A-Za-z]+[#\-])?(?:\+|\b|\()[0-9(][0-9()\-./ ]{6,24}[0-9]",
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


PHONE_REGIONS = ("US", "GB", "FR", "DE", "JP", "IN", "AU", "BR", "MX", "ES", "IT", "CN")
"""Countries whose national notation (no country code) is recognised; with `+` or `00` and a
country code, every country's numbers are."""

_DIGIT_GROUP = re.compile(r"[0-9]+")
# North American notation, (415) 555-0123, 415-555-0123, 415.555.0123: a phone by its shape
# alone, the fictional 555 area code included (libphonenumber calls those invalid).
_NANP_SHAPE = re.compile(r"^(?:\([0-9]{3}\) ?|[0-9]{3}([.\-]))[0-9]{3}[.\-][0-9]{4}$")
_ALLOWED_SEPARATORS = re.compile(r"^(?:[0-9]+|\([0-9]+\)|[ .\-/]|\) ?|[ .\-]?\()+$")


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


def confirm_cards(candidates: Iterable[str]) -> list[str]:
    """The candidates whose Luhn checksum holds."""
    return sorted({c for c in candidates if luhn_valid(c)})


def confirm_phones(candidates: Iterable[str]) -> list[str]:
    """The phone numbers in `candidates`: each candidate, or its longest leading part that is
    one (a number followed by another number, `06 89 99 67 28 2`, is still found)."""
    found = set()
    for candidate in set(candidates):
        if candidate[:1].isalpha():  # an identifier such as ORD-2026-88412
            continue
        number = _leading_phone(candidate.rstrip(" .-/"))
        if number:
            found.add(number)
    return sorted(found)


def is_phone_number(text: str) -> bool:
    """Is `text`, as a whole, a phone number (see the module docstring)?"""
    digits = sum(c.isdigit() for c in text)
    if text.startswith(("+", "00")):
        international = "+" + text[2:] if text.startswith("00") else text
        # A country code and a length that country's plan allows is evidence enough: reserved
        # ranges (Ofcom's drama numbers, +44 7700 900…) are not "valid", yet are phones.
        number = _parse(international, None)
        return 8 <= digits <= 17 and number is not None and phonenumbers.is_possible_number(number)
    if _NANP_SHAPE.match(text):
        return True
    if not 9 <= digits <= 12 or not _ALLOWED_SEPARATORS.match(text):
        return False
    groups = _DIGIT_GROUP.findall(text)
    if len(groups) < 2:  # an unseparated run is a plain number, whatever its length
        return False
    for region in PHONE_REGIONS:
        number = _parse(text, region)
        if number is None or not phonenumbers.is_valid_number(number):
            continue
        national = _DIGIT_GROUP.findall(
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        )
        if _same_grouping(groups, national):
            return True
    return False


def _leading_phone(candidate: str) -> str | None:
    """The longest prefix of `candidate`, cut at a separator, that is a phone number."""
    cuts = [m.end() for m in _DIGIT_GROUP.finditer(candidate)]
    for end in reversed(cuts):
        prefix = candidate[:end]
        # A closing parenthesis belongs to the prefix when it closes one opened there.
        if prefix.count("(") > prefix.count(")") and candidate[end : end + 1] == ")":
            prefix += ")"
        if is_phone_number(prefix):
            return prefix
    return None


def _same_grouping(written: list[str], national: list[str]) -> bool:
    """Is the number written in its country's grouping? A national trunk `0` may be left out
    of either (India's mobiles are written `98998 79647` and formatted `098998 79647`)."""
    if written == national:
        return True
    if national and national[0].startswith("0") and [national[0][1:], *national[1:]] == written:
        return True
    return bool(written[0].startswith("0") and [written[0][1:], *written[1:]] == national)


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


CONFIRM: dict[str, Callable[[Iterable[str]], list[str]]] = {
    "card": confirm_cards,
    "phone": confirm_phones,
}
