"""The personal data and secrets the sample generator planted, recorded as it draws them.

The sample is regenerated with every drawing function wrapped, so the list is what the generator
put in, found without any of the redactor's patterns: a leak test built on it checks redaction
against the truth, not against itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tests.sample_generator import fillers
from tests.sample_generator.generate import sample_files

# Filler function → kind of what it returns.
_DRAWS = {
    "random_us_phone": "phone",
    "random_intl_phone": "phone",
    "random_card_number": "card",
    "random_openai_key": "secret",
    "random_aws_key_id": "secret",
    "random_person": "email",
}


def planted_values() -> dict[str, set[str]]:
    """kind → every value of that kind that occurs in the generated samples (chat completions,
    responses and conversations)."""
    drawn: dict[str, set[str]] = {kind: set() for kind in _DRAWS.values()}
    originals: list[tuple[Any, str, Callable[..., Any]]] = []

    def recording(name: str, draw: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = draw(*args, **kwargs)
            drawn[_DRAWS[name]].add(value.email if name == "random_person" else value)
            return value

        return wrapper

    modules = [m for n, m in sys.modules.items() if n.startswith("tests.sample_generator")]
    for module in [fillers, *modules]:
        for name in _DRAWS:
            if hasattr(module, name):
                original = getattr(module, name)
                originals.append((module, name, original))
                setattr(module, name, recording(name, getattr(fillers, name)))
    try:
        text = "".join(sample_files().values())
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    return {kind: {v for v in values if v in text} for kind, values in drawn.items()}
