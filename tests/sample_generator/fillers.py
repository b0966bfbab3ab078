"""Fictional values for text slots (people, phones, cards, keys, call ids) and prose helpers."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import NamedTuple

ALNUM = string.ascii_letters + string.digits
_BASE32 = string.ascii_uppercase + "234567"

PEOPLE = (
    ("Maria", "Garcia", "maria.garcia"),
    ("James", "Smith", "jsmith"),
    ("Aisha", "Khan", "aisha.khan"),
    ("Chen", "Wei", "chen.wei"),
    ("Sofia", "Rossi", "sofia.rossi"),
    ("Liam", "Murphy", "liam.murphy"),
    ("Priya", "Patel", "priya.patel"),
    ("Mateo", "Fernández", "mateo.fernandez"),
    ("Zoë", "Müller", "zoe.mueller"),
    ("José", "Silva", "jose.silva"),
    ("Łukasz", "Kowalski", "lukasz.kowalski"),
    ("Søren", "Andersen", "soren.andersen"),
    ("Amélie", "Dubois", "amelie.dubois"),
    ("Yuki", "Nakamura", "yuki.nakamura"),
    ("Kwame", "Okafor", "kwame.okafor"),
    ("Hannah", "Johnson", "hannah.j"),
)
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
COUNTRIES = ("Portugal", "Japan", "Germany", "Brazil", "Australia", "India", "France")


class Person(NamedTuple):
    """A fictional customer."""

    first: str
    last: str
    email: str


def random_person(rng: random.Random) -> Person:
    """Draw a fictional customer with an email address on a reserved domain.

    Args:
        rng: The random source.

    Returns:
        The person.
    """
    first, last, handle = rng.choice(PEOPLE)
    suffix = str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
    return Person(first, last, f"{handle}{suffix}@{rng.choice(_EMAIL_DOMAINS)}")


def random_us_phone(rng: random.Random) -> str:
    """Draw a fictional US phone number (555-01xx), in one of the common notations.

    Args:
        rng: The random source.

    Returns:
        The phone number.
    """
    area = rng.choice((206, 212, 312, 415, 512, 617))
    line = f"01{rng.randint(0, 99):02d}"
    formats = (f"({area}) 555-{line}", f"{area}-555-{line}", f"+1 {area} 555 {line}")
    return rng.choice((*formats, f"{area}.555.{line}"))


def random_intl_phone(rng: random.Random) -> str:
    """Draw a phone number outside the US, in its country's usual notation.

    Args:
        rng: The random source.

    Returns:
        The phone number, starting with `+` and the country code.
    """
    n = rng.randint
    return rng.choice(
        (
            f"+44 20 7946 0{n(100, 999)}",
            f"+49 30 {n(1000, 9999)} {n(100, 999)}",
            f"+33 6 {n(10, 99)} {n(10, 99)} {n(10, 99)} {n(10, 99)}",
            f"+81 3-{n(1000, 9999)}-{n(1000, 9999)}",
            f"+61 2 5550 {n(1000, 9999)}",
            f"+91 98{n(100, 999)} {n(10000, 99999)}",
        )
    )


def _luhn_check_digit(digits: Sequence[int]) -> int:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return (10 - total % 10) % 10


def random_card_number(rng: random.Random) -> str:
    """Draw a Luhn-valid 16-digit Visa-like number, grouped in fours.

    Args:
        rng: The random source.

    Returns:
        The card number.
    """
    digits = [4, *(rng.randrange(10) for _ in range(14))]
    digits.append(_luhn_check_digit(digits))
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def random_openai_key(rng: random.Random) -> str:
    """Draw a fake OpenAI project API key.

    Args:
        rng: The random source.

    Returns:
        `sk-proj-` followed by 48 letters and digits.
    """
    return "sk-proj-" + "".join(rng.choice(ALNUM) for _ in range(48))


def random_aws_key_id(rng: random.Random) -> str:
    """Draw a fake AWS access key id.

    Args:
        rng: The random source.

    Returns:
        `AKIA` followed by 16 base-32 characters.
    """
    return "AKIA" + "".join(rng.choice(_BASE32) for _ in range(16))


def random_call_id(rng: random.Random) -> str:
    """Draw a tool call id.

    Args:
        rng: The random source.

    Returns:
        `call_` followed by 24 letters and digits.
    """
    return "call_" + "".join(rng.choice(ALNUM) for _ in range(24))


def and_join(items: Sequence[str]) -> str:
    """Join words as prose: `a`, `a and b`, `a, b and c`.

    Args:
        items: At least one word.

    Returns:
        The joined text.
    """
    *head, last = items
    return f"{', '.join(head)} and {last}" if head else last


def format_number(value: float) -> str:
    """Format a number without a trailing `.0`, with at most two decimals.

    Args:
        value: The number.

    Returns:
        The number as text.
    """
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")
