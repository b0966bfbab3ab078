"""Requests that use tools: the tool catalog, the scenarios, and the two requests of a tool call."""

from __future__ import annotations

import copy
import random
from typing import Any, NamedTuple

from tests.sample_generator.fillers import random_call_id, random_person
from tests.sample_generator.shapes import (
    Exchange,
    assistant_output,
    text_message,
    tool_call,
    tool_calls_message,
    tool_result_message,
)
from tests.sample_generator.texts_support import CARRIERS, support_system


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict:
    parameters = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


_STRING = {"type": "string"}
_TOOLS = (
    _tool(
        "get_order_status",
        "Look up the shipping status of an order.",
        {"order_id": {"type": "string", "description": "The order number, digits only."}},
        ["order_id"],
    ),
    _tool(
        "get_weather",
        "Get the current weather for a city.",
        {"city": _STRING, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ["city", "unit"],
    ),
    _tool(
        "convert_currency",
        "Convert an amount between currencies at today's rate.",
        {
            "amount": {"type": "number"},
            "from_currency": {"type": "string", "description": "ISO 4217 code"},
            "to_currency": {"type": "string", "description": "ISO 4217 code"},
        },
        ["amount", "from_currency", "to_currency"],
    ),
    _tool(
        "search_products",
        "Search the product catalog.",
        {"query": _STRING, "max_price": {"type": "number"}},
        ["query", "max_price"],
    ),
    _tool(
        "create_support_ticket",
        "Open a ticket so that a human agent contacts the customer.",
        {
            "subject": _STRING,
            "priority": {"type": "string", "enum": ["low", "normal", "high"]},
            "customer_email": _STRING,
        },
        ["subject", "priority", "customer_email"],
    ),
)
_TOOL_NAMES = tuple(tool["function"]["name"] for tool in _TOOLS)


class ToolScenario(NamedTuple):
    """A request that needs tools: the calls the model makes, their results, the final answer."""

    category: str
    system: str
    user: str
    calls: tuple[tuple[str, dict[str, Any]], ...]
    results: tuple[dict[str, Any], ...]
    answer: str


_TRAVEL_SYSTEM = "You are a travel assistant. Use the tools for live data; never guess."
_SHOP_TOOL_SYSTEM = "You are the PixelPeak store assistant. Use the tools to look things up."
_CITIES = ("Lisbon", "Zürich", "Kraków", "São Paulo", "Tokyo", "Chicago", "Malmö", "Cape Town")
# Condition, its wording in an answer, and the range of the chance of rain that goes with it.
_CONDITIONS = (
    ("sunny", "sunny", 0, 10),
    ("partly cloudy", "partly cloudy", 5, 30),
    ("overcast", "overcast", 20, 50),
    ("light rain", "raining lightly", 60, 90),
    ("thunderstorms", "stormy", 70, 100),
)


def order_scenario(rng: random.Random) -> ToolScenario:
    """Script an order-status lookup with one `get_order_status` call.

    Args:
        rng: The random source.

    Returns:
        The scenario, in the customer-support category.
    """
    order = str(rng.randint(100000, 999999))
    carrier = rng.choice(CARRIERS)
    day = rng.randint(2, 28)
    status = rng.choice(("in_transit", "in_transit", "delivered", "processing"))
    result: dict[str, Any] = {"order_id": order, "status": status, "carrier": carrier}
    if status == "in_transit":
        city = rng.choice(("Memphis, TN", "Louisville, KY", "Leipzig", "Indianapolis, IN"))
        result |= {"last_scan": city, "estimated_delivery": f"2026-10-{day:02d}"}
        answer = (
            f"Your order #{order} is on its way with {carrier}. It was last scanned in {city} "
            f"and should arrive by October {day}."
        )
    elif status == "delivered":
        result["delivered_at"] = f"2026-10-{day:02d}T14:{rng.randint(10, 59)}:00Z"
        answer = (
            f"Order #{order} was delivered by {carrier} on October {day}. If you can't find it, "
            "check with neighbours or your building's mailroom, and let me know."
        )
    else:
        answer = f"Order #{order} is still being packed; it should ship within 1-2 business days."
    user = rng.choice(
        (
            f"Where is my order {order}?",
            f"Hi! Can you tell me when order #{order} will arrive?",
            f"order {order} status pls",
        )
    )
    system = support_system(rng)
    calls = (("get_order_status", {"order_id": order}),)
    return ToolScenario("customer_support", system, user, calls, (result,), answer)


def _weather_result(rng: random.Random, city: str) -> dict[str, Any]:
    condition, _, low, high = rng.choice(_CONDITIONS)
    return {
        "city": city,
        "temperature": rng.randint(-3, 31),
        "unit": "celsius",
        "condition": condition,
        "precipitation_chance": rng.randrange(low, high + 1, 5),
    }


def _weather_sentence(result: dict[str, Any]) -> str:
    wording = next(words for name, words, *_ in _CONDITIONS if name == result["condition"])
    chance = result["precipitation_chance"]
    advice = "take an umbrella" if chance >= 50 else "you can leave the umbrella at home"
    return (
        f"In {result['city']} it's {result['temperature']} °C and {wording}, with a {chance}% "
        f"chance of rain, so {advice}."
    )


def _weather_scenario(rng: random.Random) -> ToolScenario:
    city = rng.choice(_CITIES)
    result = _weather_result(rng, city)
    user = f"What's the weather like in {city} right now? Do I need an umbrella?"
    calls = (("get_weather", {"city": city, "unit": "celsius"}),)
    return ToolScenario("travel", _TRAVEL_SYSTEM, user, calls, (result,), _weather_sentence(result))


def _two_cities_scenario(rng: random.Random) -> ToolScenario:
    origin, destination = rng.sample(_CITIES, 2)
    results = (_weather_result(rng, origin), _weather_result(rng, destination))
    user = f"I'm flying from {origin} to {destination} tomorrow. What's the weather in both now?"
    calls = tuple(("get_weather", {"city": c, "unit": "celsius"}) for c in (origin, destination))
    answer = " ".join(_weather_sentence(result) for result in results)
    return ToolScenario("travel", _TRAVEL_SYSTEM, user, calls, results, answer)


def _currency_scenario(rng: random.Random) -> ToolScenario:
    source, target, base_rate = rng.choice(
        (
            ("USD", "EUR", 0.92),
            ("EUR", "JPY", 162.4),
            ("GBP", "USD", 1.27),
            ("CHF", "EUR", 1.06),
            ("USD", "BRL", 5.43),
        )
    )
    amount = rng.choice((20, 75, 150, 480, 1200, 2500))
    rate = round(base_rate * rng.uniform(0.98, 1.02), 4)
    converted = round(amount * rate, 2)
    user = f"How much is {amount} {source} in {target}?"
    args = {"amount": amount, "from_currency": source, "to_currency": target}
    result = {**args, "rate": rate, "converted": converted}
    answer = f"{amount:,} {source} is about {converted:,.2f} {target} at today's rate of {rate}."
    calls = (("convert_currency", args),)
    return ToolScenario("travel", _TRAVEL_SYSTEM, user, calls, (result,), answer)


def _search_scenario(rng: random.Random) -> ToolScenario:
    query, names = rng.choice(
        (
            ("trail running shoes", ("Ridge Runner 3", "Summit Trail GTX", "Mudlark Pro")),
            ("noise cancelling headphones", ("PixelPeak Buds Pro", "QuietWave 700", "Hush One")),
            ("2-person tent", ("Nimbus 2 UL", "Trailhead Dome 2", "Cirrus Pop-Up")),
            ("mechanical keyboard", ("Keystone 75", "TypeCraft TKL", "Clackmaster Mini")),
        )
    )
    max_price = rng.choice((100, 150, 200, 300))
    items = [
        {"name": name, "price": round(max_price * rng.uniform(0.5, 0.98), 2)}
        for name in rng.sample(names, rng.randint(2, 3))
    ]
    user = f"Find me {query} under ${max_price}."
    listing = "\n".join(f"- {item['name']}: ${item['price']:.2f}" for item in items)
    answer = f"Here's what I found under ${max_price}:\n\n{listing}\n\nWant details on any of them?"
    calls = (("search_products", {"query": query, "max_price": max_price}),)
    return ToolScenario("product_qa", _SHOP_TOOL_SYSTEM, user, calls, ({"results": items},), answer)


def _ticket_scenario(rng: random.Random) -> ToolScenario:
    p = random_person(rng)
    ticket = f"T-{rng.randint(10000, 99999)}"
    user = (
        "This is the third time my delivery is late and I'm done with the chatbot. Please get a "
        f"human to contact me at {p.email}."
    )
    args = {"subject": "Repeated late deliveries", "priority": "high", "customer_email": p.email}
    result = {"ticket_id": ticket, "status": "open", "expected_response": "within 4 hours"}
    answer = (
        f"I'm sorry for the repeated delays, {p.first}. I've opened ticket {ticket} with high "
        f"priority; a member of our team will email you at {p.email} within 4 hours."
    )
    calls = (("create_support_ticket", args),)
    return ToolScenario("customer_support", support_system(rng), user, calls, (result,), answer)


_SINGLE_CALL_SCENARIOS = (
    order_scenario,
    _weather_scenario,
    _currency_scenario,
    _search_scenario,
    _ticket_scenario,
)


def _tools_for(rng: random.Random, scenario: ToolScenario) -> list[dict[str, Any]]:
    """The tools sent with the request: the ones called plus up to two others, in catalog order."""
    needed = {name for name, _ in scenario.calls}
    extras = rng.sample([n for n in _TOOL_NAMES if n not in needed], rng.randint(0, 2))
    return [copy.deepcopy(t) for t in _TOOLS if t["function"]["name"] in needed | set(extras)]


def _scenario_calls(rng: random.Random, scenario: ToolScenario) -> list[dict[str, Any]]:
    return [tool_call(random_call_id(rng), name, args) for name, args in scenario.calls]


def tool_answer_exchange(rng: random.Random, scenario: ToolScenario) -> Exchange:
    """Build the request after the tools ran: earlier tool calls and results, then the answer.

    Args:
        rng: The random source.
        scenario: The calls, their results and the final answer.

    Returns:
        The exchange whose output is the final answer.
    """
    calls = _scenario_calls(rng, scenario)
    messages = [
        text_message("system", scenario.system),
        text_message("user", scenario.user),
        tool_calls_message(calls),
    ]
    messages += [
        tool_result_message(call["id"], result)
        for call, result in zip(calls, scenario.results, strict=True)
    ]
    tools = _tools_for(rng, scenario)
    return Exchange(scenario.category, messages, assistant_output(scenario.answer), tools=tools)


def tool_call_output_exchange(rng: random.Random, scenario: ToolScenario) -> Exchange:
    """Build the first request of a tool conversation: the output itself is the tool call.

    Args:
        rng: The random source.
        scenario: The calls the model makes.

    Returns:
        The exchange, with `finish_reason` `tool_calls`.
    """
    messages = [text_message("system", scenario.system), text_message("user", scenario.user)]
    output = assistant_output(tool_calls=_scenario_calls(rng, scenario))
    tools = _tools_for(rng, scenario)
    return Exchange(scenario.category, messages, output, "tool_calls", tools)


def single_tool_answer(rng: random.Random) -> Exchange:
    """Build the final answer of a scenario with a single tool call.

    Args:
        rng: The random source.

    Returns:
        The exchange.
    """
    return tool_answer_exchange(rng, rng.choice(_SINGLE_CALL_SCENARIOS)(rng))


def parallel_tool_answer(rng: random.Random) -> Exchange:
    """Build the final answer after two parallel weather calls.

    Args:
        rng: The random source.

    Returns:
        The exchange.
    """
    return tool_answer_exchange(rng, _two_cities_scenario(rng))


def tool_call_output(rng: random.Random) -> Exchange:
    """Build a request whose output is one or two tool calls.

    Args:
        rng: The random source.

    Returns:
        The exchange.
    """
    scenario = rng.choice((*_SINGLE_CALL_SCENARIOS, _two_cities_scenario))(rng)
    return tool_call_output_exchange(rng, scenario)
