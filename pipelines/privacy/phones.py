"""What counts as a phone number in free text: candidates found by `CANDIDATE` (a regex polars
and `re` both run), confirmed one distinct candidate at a time by `confirm_phones`.

With `+` or `00` and a country code, a number of any country is read by Google's libphonenumber
(`phonenumbers`). Without one, libphonenumber needs to know the country: a national number is
one when it is valid in one of the recipe's `phone_regions`, its digits written as that
country writes them (the trunk `0` where the country dials one), and it is written the way
people write phone numbers, not the way software writes other numbers:

- digit groups of two or more, one kind of separator (space, dash, slash), or an area code in
  parentheses: a group of one digit is an ISBN (978-5-25-125484-0) or a version (10.0.19045);
- dots only in the grouping the country's own format uses (06.12.34.56.78), and never in
  groups of three (362.961.000): dots separate versions, decimals, coordinates and thousands;
- not an ISBN-13 (978 or 979 and a valid check digit), nor a part of one;
- two groups joined by a dash only when the first is an area code (`06-70563849`); otherwise
  it is a range (rows 1732637-1909524);
- no date inside (2026-10-01 14), nothing glued to it (a UUID's or hash's digits);
- one unseparated run of digits (18205707386, 0612345678) only after a word that says phone
  (phone, tel, Handy, móvil, 手机, …): without one it is an order number, a timestamp or a count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import phonenumbers

DEFAULT_PHONE_REGIONS = ("US", "GB", "FR", "DE", "JP", "IN", "AU", "BR", "MX", "ES", "IT", "CN")
"""Countries whose national notation (no country code) is read when a recipe names none: those
of the README's examples and of the languages the bundled sample holds."""

# Words that say the number after them is a phone, in the languages of the default regions
# (JSON keys such as "phone_number" included); Chinese and Japanese words need no word boundary.
_CONTEXT_WORDS = (
    r"phone|telephone|tel|mobile|mob|cell|cellphone|whatsapp|sms|fax|call me|call us|ring me"
    r"|text me|reach me|dial|teléfono|telefono|telefone|tfno|móvil|movil|celular|cellulare"
    r"|llámame|llama al|llamar al|chiamami|chiama il|chiamare il|telefon|handy|handynummer|mobil"
    r"|mobilnummer|rufnummer|ruf mich an|anrufen|téléphone|portable|tél|appelez|appelle|appeler"
)
_CONTEXT_WORDS_CJK = r"电话|電話|手机|手機|联系电话|拨打|致电|携帯"
PHONE_CONTEXT = (
    rf"(?i:(?:(?:\b|_)(?:{_CONTEXT_WORDS})|{_CONTEXT_WORDS_CJK})"
    r"(?:[ _\-]?(?:numbers?|no|nr|num|号|番号))?)"
)
_AFTER_CONTEXT = r"(?:[^0-9A-Za-z+(\n][^0-9+(\n]{0,16})?"

CANDIDATE = (
    # A phone word and what follows it up to the number, or a letter prefix (`ORD-`, `INV#`)
    # that makes it an identifier; the rust regex engine has no look-behind, so both are
    # matched and told apart in Python.
    rf"(?:{PHONE_CONTEXT}{_AFTER_CONTEXT}[+(]?|(?:[A-Za-z]+[#\-])?(?:\+|\b|\())"
    r"[0-9(][0-9()\-./ ]{6,24}[0-9]"
    # A letter glued to the end makes the digits part of a token (a UUID, a hash).
    r"[A-Za-z_]?"
)
"""Digits with separators and parentheses, from 8 characters, with what tells them apart."""

_CONTEXT_PREFIX = re.compile(f"{PHONE_CONTEXT}{_AFTER_CONTEXT}")
_DIGIT_GROUP = re.compile(r"[0-9]+")
# North American notation, (415) 555-0123, 415-555-0123, 415.555.0123: a phone by its shape
# alone, the fictional 555 area code included (libphonenumber calls those invalid).
_NANP_SHAPE = re.compile(r"^(?:\([0-9]{3}\) ?|[0-9]{3}([.\-]))[0-9]{3}[.\-][0-9]{4}$")
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}[\-./][0-9]{2}[\-./][0-9]{2}|[0-9]{2}[\-./][0-9]{2}[\-./](?:19|20)[0-9]{2}"
)
# Countries whose people leave out the trunk 0 their format shows (India: `98998 79647`).
_TRUNK_OPTIONAL = frozenset({"IN"})


def confirm_phones(
    candidates: Iterable[str], *, regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> list[str]:
    """The phone numbers in `candidates` (matches of `CANDIDATE`): each candidate's number, or
    its longest leading part that is one (a number followed by another, `06 89 99 67 28 2`)."""
    found = set()
    for candidate in set(candidates):
        context = _CONTEXT_PREFIX.match(candidate)
        number = candidate[context.end() :] if context else candidate
        if number[:1].isalpha() or number[-1:].isalpha() or number.endswith("_"):
            continue  # an identifier (ORD-2026-88412) or digits inside a token
        if _is_isbn(number):
            continue  # neither the ISBN nor a part of it (978 66 69700 93 2)
        phone = _leading_phone(number.rstrip(" .-/"), regions, named=bool(context))
        if phone:
            found.add(phone)
    return sorted(found)


def is_phone_number(
    text: str, *, regions: Sequence[str] = DEFAULT_PHONE_REGIONS, named: bool = False
) -> bool:
    """Is `text`, as a whole, a phone number (see the module docstring)? `named`: a phone word
    stands before it."""
    digits = sum(c.isdigit() for c in text)
    if text.startswith(("+", "00")):
        international = "+" + text[2:] if text.startswith("00") else text
        # A country code and a length that country's plan allows is evidence enough: reserved
        # ranges (Ofcom's drama numbers, +44 7700 900…) are not "valid", yet are phones.
        number = _parse(international, None)
        return 8 <= digits <= 17 and number is not None and phonenumbers.is_possible_number(number)
    if _NANP_SHAPE.match(text):
        return any(phonenumbers.country_code_for_region(region) == 1 for region in regions)
    if not 9 <= digits <= 12 or _DATE.search(text):
        return False
    groups = _DIGIT_GROUP.findall(text)
    grouping = _written_grouping(text, groups, named=named)
    if grouping is None:
        return False
    for region in regions:
        number = _parse(text, region)
        if number is None or not phonenumbers.is_valid_number(number):
            continue
        national = _DIGIT_GROUP.findall(
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        )
        if grouping == "exact" and groups != national:
            continue
        written, dialled = "".join(groups), "".join(national)
        if written == dialled or (region in _TRUNK_OPTIONAL and "0" + written == dialled):
            return True
    return False


def _written_grouping(text: str, groups: list[str], *, named: bool) -> str | None:
    """How `text` groups its digits: None when not as a phone is written, "exact" when only the
    country's own grouping makes it a phone (dots), "any" otherwise."""
    if len(groups) == 1:
        return "any" if named and text.isdigit() else None
    if any(len(group) < 2 for group in groups):
        return None
    leading, *separators, trailing = _DIGIT_GROUP.split(text)
    area_code = leading == "("
    if area_code:
        if separators[0] not in (")", ") ", ")-"):
            return None
        separators = separators[1:]
        allowed = ({" "}, {"-"}, {" ", "-"}, set())
    else:
        allowed = ({" "}, {"-"}, {"/"}, {"."})
    if (leading and not area_code) or trailing or set(separators) not in allowed:
        return None
    if named:
        return "any"
    if separators == ["-"] and not area_code and not groups[0].startswith("0"):
        return None  # a range
    if "." not in separators:
        return "any"
    if all(len(group) == 3 for group in groups[1:]) and len(groups[0]) <= 3:
        return None  # thousands (362.961.000 VND), though Italy formats a mobile alike
    return "exact"


def _is_isbn(text: str) -> bool:
    """Is `text` an ISBN-13: 978 or 979, ten more digits, the EAN check digit right?"""
    digits = [int(c) for c in text if c.isdigit()]
    if len(digits) != 13 or digits[:2] != [9, 7] or digits[2] not in (8, 9):
        return False
    return sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10 == 0


def _leading_phone(candidate: str, regions: Sequence[str], *, named: bool) -> str | None:
    """The longest prefix of `candidate` that is a phone number, cut where a space follows it
    (`112-3456789-1234567` is one identifier, not a phone and a rest)."""
    cuts = [m.end() for m in _DIGIT_GROUP.finditer(candidate)]
    for end in reversed(cuts):
        prefix = candidate[:end]
        # A closing parenthesis belongs to the prefix when it closes one opened there.
        if prefix.count("(") > prefix.count(")") and candidate[end : end + 1] == ")":
            prefix += ")"
        if len(prefix) < len(candidate) and candidate[len(prefix)] != " ":
            continue
        if is_phone_number(prefix, regions=regions, named=named):
            return prefix
    return None


def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
