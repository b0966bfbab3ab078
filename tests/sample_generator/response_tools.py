"""Function calling in the responses sample: the tools, and two call → output pairs.

In each pair, response A answers a user message with a function call; response B continues A by
`previous_response_id`, and its own input is only the call's output, as a client sends it.
"""

from __future__ import annotations

from typing import Any

from tests.sample_generator.response_shapes import (
    MINI,
    ResponseSample,
    function_call,
    function_call_output,
    function_tool,
    message,
)

WEATHER_TOOLS = [
    function_tool(
        "get_weather",
        "Current weather and the next 24 hours' forecast for a city.",
        {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
    )
]
ORDER_TOOLS = [
    function_tool(
        "get_order_status",
        "Look up an order's shipping status by its order number.",
        {"order_id": {"type": "string", "description": "Order number, e.g. 48213-FR"}},
    ),
    function_tool(
        "request_return",
        "Open a return for an order that has been delivered.",
        {
            "order_id": {"type": "string"},
            "reason": {
                "type": "string",
                "enum": ["damaged", "wrong_item", "changed_mind", "other"],
            },
        },
    ),
]


def add_function_pairs(sample: ResponseSample) -> None:
    """Add the weather pair (0005 → 0006) and the order-status pair (0007 → 0008)."""
    _add_pair(
        sample,
        minutes=620,
        instructions="You are a travel assistant. Use the tools for live data.",
        tools=WEATHER_TOOLS,
        question="Do I need an umbrella in Paris tomorrow morning?",
        call=("call_R2kP7dXw9QeL4mTz1VbN6cHs", "get_weather", {"city": "Paris", "unit": "celsius"}),
        result={
            "city": "Paris",
            "date": "2026-10-21",
            "temperature_c": 13,
            "conditions": "light rain",
            "precipitation_probability": 0.7,
            "wind_kph": 18,
        },
        answer="Yes, take one: light rain is likely in Paris tomorrow morning (70% chance, "
        "around 13 °C, with a breeze of 18 km/h). A light jacket would help too.",
        metadata={"app": "travel-assistant", "env": "prod", "feature": "weather"},
    )
    _add_pair(
        sample,
        minutes=1105,
        instructions="You are a support agent for Maple & Thread. Look orders up before "
        "answering; never guess a delivery date.",
        tools=ORDER_TOOLS,
        question="Where is my order 48213-FR? It was supposed to arrive yesterday.",
        call=("call_9gHn3LsV0pYc5TqW8eKx2AmB", "get_order_status", {"order_id": "48213-FR"}),
        result={
            "order_id": "48213-FR",
            "status": "in_transit",
            "carrier": "Colissimo",
            "last_scan": "2026-10-21T16:40:00+02:00, Lyon sorting centre",
            "estimated_delivery": "2026-10-23",
        },
        answer="Sorry for the wait! Order 48213-FR is on its way with Colissimo: it was last "
        "scanned at the Lyon sorting centre yesterday at 16:40 and should reach you on Friday "
        "23 October. If it hasn't arrived by Saturday, reply here and I'll open an inquiry with "
        "the carrier.",
        metadata={
            "app": "support-bot",
            "env": "prod",
            "feature": "order_status",
            "user_id": "user_8c21d4e9",
        },
    )


def _add_pair(
    sample: ResponseSample,
    *,
    minutes: int,
    instructions: str,
    tools: list[dict[str, Any]],
    question: str,
    call: tuple[str, str, dict[str, Any]],
    result: dict[str, Any],
    answer: str,
    metadata: dict[str, str],
) -> None:
    call_id, name, arguments = call
    ids = sample.next_ids()
    calling = sample.add(
        minutes,
        model=MINI,
        instructions=instructions,
        input_items=[message(ids("msg"), "user", question)],
        output=[function_call(ids("fc"), call_id, name, arguments)],
        tools=tools,
        metadata=metadata,
        temperature=0.2,
    )
    ids = sample.next_ids()
    sample.add(
        minutes + 1,
        model=MINI,
        instructions=instructions,
        input_items=[function_call_output(ids("fco"), call_id, result)],
        output=[message(ids("msg"), "assistant", answer)],
        tools=tools,
        metadata=metadata,
        previous=calling,
        temperature=0.2,
    )
