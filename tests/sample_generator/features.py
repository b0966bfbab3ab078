"""Dispatch from a special-feature kind (a `FEATURE_QUOTAS` key) to the builder of its record."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.sample_generator.azure import add_azure, add_azure_filtered
from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.sensitive import SENSITIVE_TURNS, sensitive_maker
from tests.sample_generator.shapes import Exchange, Record
from tests.sample_generator.single_turn_cases import (
    image_exchange,
    json_mode_exchange,
    length_exchange,
    refusal_exchange,
)
from tests.sample_generator.tool_use import (
    parallel_tool_answer,
    single_tool_answer,
    tool_call_output,
)

# Builders of the features that are a plain exchange (the Azure ones also reshape the record).
_FEATURE_EXCHANGES: dict[str, Callable[[random.Random], Exchange]] = {
    "tool_answer": single_tool_answer,
    "tool_answer_parallel": parallel_tool_answer,
    "tool_call_output": tool_call_output,
    "refusal": refusal_exchange,
    "length": length_exchange,
    "image": image_exchange,
    "json_mode": json_mode_exchange,
    **{kind: sensitive_maker(kind) for kind in SENSITIVE_TURNS},
}


def add_feature(builder: SampleBuilder, kind: str) -> Record:
    """Add one record showing a special feature.

    Args:
        builder: The sample being built.
        kind: A feature kind: one of the plain-exchange kinds, `azure`, or
            `azure_filtered_<category>`.

    Returns:
        The record added.
    """
    if kind == "azure":
        return add_azure(builder)
    if kind.startswith("azure_filtered_"):
        return add_azure_filtered(builder, kind.removeprefix("azure_filtered_"))
    return builder.add(builder.fresh_one(_FEATURE_EXCHANGES[kind]))
