"""The sample of conversations (`pipelines/sample/conversations.jsonl`).

Each line is a conversation as `GET /conversations/{id}` returns it, plus its items in order under
`items`, each with its id, as `GET /conversations/{id}/items?order=asc` serves them:

- `conv_sample_0001`: plain multi-turn (user, assistant, user, assistant messages);
- `conv_sample_0002`: a tool round trip inside (user message, function call, its output,
  assistant message), whose user text plants a phone number drawn as the chat sample draws them.
"""

from __future__ import annotations

import random

from tests.sample_generator.fillers import random_intl_phone
from tests.sample_generator.response_shapes import (
    BASE_CREATED,
    ItemIds,
    function_call,
    function_call_output,
    message,
)
from tests.sample_generator.shapes import Record

_SEED = 1402


def generate_conversations() -> list[Record]:
    """The conversations of the sample, in creation order (see the module docstring)."""
    return [_phrasebook(), _order_check(random.Random(_SEED))]


def _phrasebook() -> Record:
    ids = ItemIds("conv_0001")
    return {
        "id": "conv_sample_0001",
        "object": "conversation",
        "created_at": BASE_CREATED + 60 * 2200,
        "metadata": {
            "app": "assistant-web",
            "topic": "language_learning",
            "user_id": "user_5d0e7b42",
        },
        "items": [
            message(
                ids("msg"),
                "user",
                "How do I say 'I'd like a table for two by the window, please' in Portuguese?",
            ),
            message(
                ids("msg"),
                "assistant",
                "« Queria uma mesa para dois junto à janela, por favor. » In Portugal, "
                "'queria' (I would like) is the polite everyday form; in Brazil you'll also hear "
                "'Eu gostaria de uma mesa para dois perto da janela.'",
            ),
            message(ids("msg"), "user", "And how do I ask for the bill at the end?"),
            message(
                ids("msg"),
                "assistant",
                "Say « A conta, por favor. » To ask whether you can pay by card, add « Posso "
                "pagar com cartão? » Tipping is optional in Portugal; rounding up is common.",
            ),
        ],
    }


def _order_check(rng: random.Random) -> Record:
    ids = ItemIds("conv_0002")
    phone = random_intl_phone(rng)
    call_id = "call_Fz6uJ1wQe8Rk3NyP0sLd7VtG"
    return {
        "id": "conv_sample_0002",
        "object": "conversation",
        "created_at": BASE_CREATED + 60 * 3710,
        "metadata": {"app": "shop-assistant", "env": "prod", "channel": "web_chat"},
        "items": [
            message(
                ids("msg"),
                "user",
                f"Hi! When will order 77120-DE arrive? If the courier needs me, I'm on {phone} "
                "all week.",
            ),
            function_call(ids("fc"), call_id, "get_order_status", {"order_id": "77120-DE"}),
            function_call_output(
                ids("fco"),
                call_id,
                {
                    "order_id": "77120-DE",
                    "status": "out_for_delivery",
                    "carrier": "DHL",
                    "estimated_delivery": "2026-10-23",
                    "delivery_window": "10:00–14:00",
                },
            ),
            message(
                ids("msg"),
                "assistant",
                "Good news: order 77120-DE is out for delivery with DHL today, between 10:00 and "
                f"14:00. I've added {phone} to the delivery so the courier can reach you.",
            ),
        ],
    }
