"""The sample of stored responses (`pipelines/sample/stored_responses.jsonl`).

Each line is a Response object exactly as `GET /responses/{id}` returns it, plus its input items
under `input_items` (each with its id). Eighteen responses, numbered in creation order
(`resp_sample_0001` …), over the last days of the chat sample's span:

- 0001–0004 single-turn text (0002 plants an email address, 0004 an OpenAI key, drawn as the chat
  sample draws them);
- 0005→0006 and 0007→0008 function calling: a call, then its output sent back with
  `previous_response_id`;
- 0009→0010→0011 a chain of three text turns by `previous_response_id`;
- 0012 reasoning before its answer; 0013 an image beside the text; 0014 a client-managed history
  (developer, user, assistant, user) in one request;
- 0015–0018 the shapes a dataset cannot use, each marked `metadata["sample_case"]`: incomplete
  (`max_output_tokens`), failed, only a reasoning item, a function-call output nothing called.

Nothing here draws from the chat sample's generator: the set is fixed, and only the planted values
come from a random source of its own, so the chat sample is unchanged by it.
"""

from __future__ import annotations

import random

from tests.sample_generator.response_shapes import (
    FAILED_MESSAGE,
    FULL,
    MINI,
    REASONING,
    ResponseSample,
    function_call_output,
    message,
    reasoning,
)
from tests.sample_generator.response_tools import WEATHER_TOOLS, add_function_pairs
from tests.sample_generator.sensitive import SENSITIVE_TURNS
from tests.sample_generator.shapes import Record
from tests.sample_generator.texts_support import support_system

_SEED = 14
UNUSABLE_CASES = ("incomplete", "failed", "reasoning_only", "orphan_call_output")
"""`metadata["sample_case"]` is `unusable_<case>` on the responses a dataset cannot use."""


def generate_responses() -> list[Record]:
    """The stored responses of the sample, in creation order (see the module docstring)."""
    rng = random.Random(_SEED)
    sample = ResponseSample()
    _single_turns(sample, rng)
    add_function_pairs(sample)
    _chain(sample)
    _reasoning_image_history(sample)
    _unusable(sample)
    return sample.records


def _single_turns(sample: ResponseSample, rng: random.Random) -> None:
    ids = sample.next_ids()
    notes = (
        "Release 4.2 (2026-10-19)\n- New: export reports as CSV or Parquet from the Reports page."
        "\n- New: SSO with Okta and Microsoft Entra ID for Team plans.\n- Fixed: dashboard charts "
        "no longer shift one day back for users east of UTC.\n- Fixed: the mobile app kept a "
        "stale session after a password change.\n- Changed: API rate limits are now per "
        "workspace instead of per user (600 requests/minute).\n- Deprecated: the v1 webhooks "
        "format; v2 becomes the default on 2027-01-15."
    )
    sample.add(
        5,
        model=MINI,
        instructions="You summarise release notes for a product changelog. Answer in at most "
        "three bullet points, most important change first, for a non-technical reader.",
        input_items=[message(ids("msg"), "user", f"Summarise these release notes:\n\n{notes}")],
        output=[
            message(
                ids("msg"),
                "assistant",
                "- API limits now apply per workspace (600 requests a minute), and v2 webhooks "
                "become the default on 15 January 2027.\n- Reports can be exported as CSV or "
                "Parquet, and Team plans can sign in with Okta or Microsoft Entra ID.\n- Fixes "
                "for charts showing the wrong day east of UTC and for stale mobile sessions "
                "after a password change.",
            )
        ],
        metadata={"app": "docs-summarizer", "env": "prod", "feature": "release_notes"},
        temperature=0.3,
    )
    ids = sample.next_ids()
    user, answer = SENSITIVE_TURNS["email"][1](rng)
    sample.add(
        41,
        model=MINI,
        instructions=support_system(rng),
        input_items=[message(ids("msg"), "user", user)],
        output=[message(ids("msg"), "assistant", answer)],
        metadata={
            "app": "support-bot",
            "env": "prod",
            "feature": "account_settings",
            "user_id": "user_3f9a1c07",
        },
        temperature=0.7,
    )
    ids = sample.next_ids()
    sample.add(
        97,
        model=FULL,
        instructions="You are a senior data engineer. Answer with one PostgreSQL query in a "
        "code block and one sentence on how it works.",
        input_items=[
            message(
                ids("msg"),
                "user",
                "Table orders(id, customer_id, created_at timestamptz, total_cents int). For "
                "each customer, I need their first order date and how many orders they placed in "
                "their first 30 days.",
            )
        ],
        output=[
            message(
                ids("msg"),
                "assistant",
                "```sql\nWITH first AS (\n  SELECT customer_id, min(created_at) AS first_at\n"
                "  FROM orders\n  GROUP BY customer_id\n)\nSELECT f.customer_id,\n"
                "       f.first_at::date AS first_order_date,\n       count(*) AS orders_first_30d"
                "\nFROM first f\nJOIN orders o\n  ON o.customer_id = f.customer_id\n AND "
                "o.created_at < f.first_at + interval '30 days'\nGROUP BY f.customer_id, "
                "f.first_at\nORDER BY f.customer_id;\n```\n\nThe CTE finds each customer's first "
                "order; the join then counts their orders placed before that moment plus 30 days.",
            )
        ],
        metadata={"app": "data-assistant", "env": "prod", "feature": "sql_help"},
        temperature=0.2,
    )
    ids = sample.next_ids()
    user, answer = SENSITIVE_TURNS["openai_key"][1](rng)
    sample.add(
        160,
        model=MINI,
        instructions="You are an expert Python developer. Answer with a short explanation.",
        input_items=[message(ids("msg"), "user", user)],
        output=[message(ids("msg"), "assistant", answer)],
        metadata={"app": "code-helper", "env": "staging", "feature": "debugging"},
        temperature=0.2,
    )


def _chain(sample: ResponseSample) -> None:
    instructions = (
        "You are a travel assistant. Be concrete: name places and neighbourhoods, keep answers "
        "short, and use the traveller's own plan when they refer to it."
    )
    metadata = {"app": "travel-assistant", "env": "prod", "feature": "trip_planner"}
    turns = (
        (
            "I'm spending three days in Lisbon in early November. Give me a rough plan, one line "
            "per half-day.",
            "Day 1 morning: Alfama and the Castelo de São Jorge.\nDay 1 afternoon: tram 28 to "
            "Graça, sunset at the Miradouro da Senhora do Monte.\nDay 2 morning: Belém — the "
            "Jerónimos Monastery and the tower.\nDay 2 afternoon: MAAT and the Gulbenkian "
            "Museum.\nDay 3 morning: day trip to Sintra (Pena Palace).\nDay 3 afternoon: back "
            "for Chiado and Bairro Alto in the evening.",
        ),
        (
            "Day 2 looks heavy on museums. Swap the afternoon for something food-related.",
            "Day 2 afternoon: Time Out Market for a late lunch, then a pastel de nata tasting "
            "at Manteigaria and a petiscos crawl through Cais do Sodré. The morning in Belém "
            "stays — and you can still try the original pastéis de Belém there.",
        ),
        (
            "Great. What should I pack, given the weather then?",
            "Early November in Lisbon is mild and showery: 14–19 °C by day, around 11 °C at "
            "night, rain about one day in three. Pack layers, a light waterproof jacket, a "
            "small umbrella, and shoes with grip — the calçada cobbles get slippery when wet, "
            "especially on the hills of Alfama and Sintra.",
        ),
    )
    previous = None
    for minutes, (question, answer) in zip((1460, 1463, 1471), turns, strict=True):
        ids = sample.next_ids()
        previous = sample.add(
            minutes,
            model=MINI,
            instructions=instructions,
            input_items=[message(ids("msg"), "user", question)],
            output=[message(ids("msg"), "assistant", answer)],
            metadata=metadata,
            previous=previous,
            temperature=0.7,
        )


def _reasoning_image_history(sample: ResponseSample) -> None:
    ids = sample.next_ids()
    sample.add(
        2890,
        model=REASONING,
        instructions="You are a patient maths tutor. Show the key step, then the answer.",
        input_items=[
            message(
                ids("msg"),
                "user",
                "A train leaves Lyon at 14:35 and reaches Marseille at 16:20, with one 7-minute "
                "stop in Avignon. The distance is 315 km. What is its average speed while moving?",
            )
        ],
        output=[
            reasoning(
                ids("rs"),
                "**Computing moving time**\n\n14:35 to 16:20 is 105 minutes; minus the 7-minute "
                "stop leaves 98 minutes of movement, so the speed is 315 km over 98/60 hours.",
            ),
            message(
                ids("msg"),
                "assistant",
                "The trip takes 1 h 45 min = 105 min; without the 7-minute stop the train moves "
                "for 98 min ≈ 1.633 h.\n\nAverage moving speed = 315 km ÷ 1.633 h "
                "≈ **192.9 km/h**.",
            ),
        ],
        metadata={"app": "math-tutor", "env": "prod", "feature": "word_problems"},
        reasoning_tokens=384,
    )
    ids = sample.next_ids()
    sample.add(
        3015,
        model=MINI,
        instructions="You help travellers read receipts and menus. Answer in two sentences.",
        input_items=[
            message(
                ids("msg"),
                "user",
                "What's the total on this receipt, and was the tip already included?",
                {
                    "type": "input_image",
                    "image_url": "https://images.example.com/receipts/2026-10-22-bistro-leon.jpg",
                    "detail": "auto",
                },
            )
        ],
        output=[
            message(
                ids("msg"),
                "assistant",
                "The total is €47.80 for two mains, a carafe of wine and two coffees. The line "
                "« service compris » means the tip is included, so anything extra is optional.",
            )
        ],
        metadata={"app": "travel-assistant", "env": "prod", "feature": "receipt_reader"},
        temperature=0.2,
    )
    ids = sample.next_ids()
    draft = (
        "Introducing our cardamom buns: hand-rolled each morning with freshly ground cardamom and "
        "a light sugar glaze. Available from Thursday at both shops, while they last."
    )
    sample.add(
        3390,
        model=FULL,
        instructions=None,
        input_items=[
            message(
                ids("msg"),
                "developer",
                "You write social media posts for Hygge Bakehouse. Keep posts under 280 "
                "characters and never invent prices.",
            ),
            message(ids("msg"), "user", "Write a post announcing our new cardamom buns."),
            message(ids("msg"), "assistant", draft),
            message(ids("msg"), "user", "Make it less formal and add one emoji."),
        ],
        output=[
            message(
                ids("msg"),
                "assistant",
                "New in the case: cardamom buns! 🌀 Rolled by hand every morning, freshly ground "
                "cardamom, a little sugar glaze. Grab one at either shop from Thursday — they "
                "won't last long.",
            )
        ],
        metadata={"app": "story-studio", "env": "prod", "feature": "social_posts"},
        temperature=0.9,
    )


def _unusable(sample: ResponseSample) -> None:
    ids = sample.next_ids()
    sample.add(
        4105,
        model=MINI,
        instructions="You explain web security to junior developers.",
        input_items=[
            message(
                ids("msg"),
                "user",
                "Explain step by step how a browser validates a TLS certificate.",
            )
        ],
        output=[
            message(
                ids("msg"),
                "assistant",
                "1. The server sends its certificate and the intermediate certificates.\n2. The "
                "browser builds a chain from the server's certificate up to a root it trusts, "
                "checking each",
                status="incomplete",
            )
        ],
        metadata={"app": "code-helper", "env": "prod", "sample_case": "unusable_incomplete"},
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        max_output_tokens=46,  # what the truncated text counts
        completed_at=None,
    )
    ids = sample.next_ids()
    sample.add(
        4230,
        model=FULL,
        instructions="You are a meticulous copy editor.",
        input_items=[
            message(
                ids("msg"),
                "user",
                "Proofread this paragraph and list every change you made: 'Their going to "
                "announce the results tomorow, weather or not the board agree.'",
            )
        ],
        output=[],
        metadata={"app": "assistant-web", "env": "prod", "sample_case": "unusable_failed"},
        status="failed",
        error={"code": "server_error", "message": FAILED_MESSAGE},
        completed_at=None,
        usage=None,
    )
    ids = sample.next_ids()
    sample.add(
        4398,
        model=REASONING,
        instructions="Answer with yes or no, then one sentence of justification.",
        input_items=[message(ids("msg"), "user", "Is 2^61 − 1 a prime number?")],
        output=[reasoning(ids("rs"))],
        metadata={"app": "math-tutor", "env": "dev", "sample_case": "unusable_reasoning_only"},
        reasoning_tokens=1024,
    )
    ids = sample.next_ids()
    sample.add(
        4560,
        model=MINI,
        instructions="You are a travel assistant. Use the tools for live data.",
        input_items=[
            function_call_output(
                ids("fco"),
                "call_Xb7T2mQ9LwR4sVn1KcZ8pDfA",
                {"city": "Berlin", "temperature_c": 9, "conditions": "overcast"},
            )
        ],
        output=[
            message(
                ids("msg"),
                "assistant",
                "I received a weather result for Berlin (9 °C, overcast), but I can't see the "
                "question it answers. What would you like to know about Berlin?",
            )
        ],
        tools=WEATHER_TOOLS,
        metadata={
            "app": "travel-assistant",
            "env": "prod",
            "sample_case": "unusable_orphan_call_output",
        },
    )
