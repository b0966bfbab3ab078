"""Single-turn requests whose user text carries personal data or a secret."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.sample_generator.fillers import (
    COUNTRIES,
    random_aws_key_id,
    random_card_number,
    random_intl_phone,
    random_openai_key,
    random_person,
    random_us_phone,
)
from tests.sample_generator.shapes import Exchange, Turn, assistant_output, text_message
from tests.sample_generator.texts_support import support_system


def _email_turn(rng: random.Random) -> Turn:
    p, other = random_person(rng), random_person(rng)
    return rng.choice(
        (
            (
                f"Please change the email on my account from {p.email} to {other.email}. I no "
                "longer use the old address.",
                f"Done, {p.first}! Your account email is now {other.email}. We've sent a "
                f"confirmation to both {p.email} and {other.email}.",
            ),
            (
                f"My colleague {other.first} {other.last} ({other.email}) should also get the "
                "order notifications. Can you add them?",
                f"Sure, {other.email} now receives order notifications as well. They can "
                "unsubscribe at any time from the link in the emails.",
            ),
        )
    )


def _us_phone_turn(rng: random.Random) -> Turn:
    phone = random_us_phone(rng)
    return (
        f"Could someone call me back at {phone}? I'd rather sort this out by phone.",
        f"Of course. I've requested a callback to {phone}; an agent will call within two "
        "business hours.",
    )


def _intl_phone_turn(rng: random.Random) -> Turn:
    phone = random_intl_phone(rng)
    return (
        f"I'm travelling in {rng.choice(COUNTRIES)} for two weeks. If there's a problem with the "
        f"delivery, reach me on {phone} (WhatsApp works too).",
        f"Noted! I've added {phone} as a temporary contact number for your deliveries.",
    )


def _card_turn(rng: random.Random) -> Turn:
    card = random_card_number(rng)
    expiry = f"{rng.randint(1, 12):02d}/{rng.randint(27, 31)}"
    return (
        f"I was charged twice on my card {card}, exp {expiry}. Can you reverse one of the charges?",
        "For your security, please don't share full card numbers in chat; I've removed it from "
        f"your ticket. I can see two identical charges on the card ending in {card[-4:]} and have "
        "reversed one of them.",
    )


def _openai_key_turn(rng: random.Random) -> Turn:
    key = random_openai_key(rng)
    leaked = (
        "You've also just pasted your key into a chat, so treat it as leaked: revoke it and "
        "create a new one."
    )
    return rng.choice(
        (
            (
                "My OpenAI call fails with a 401. Here's the code:\n\n```python\nfrom openai "
                f'import OpenAI\n\nclient = OpenAI(api_key="{key}")\n```\n\nWhat am I doing '
                "wrong?",
                "A 401 means the key was rejected: it may be revoked, belong to another project, "
                f"or have a typo. {leaked} Then load it from the environment instead of "
                "hard-coding it:\n\n```python\nclient = OpenAI()  # reads OPENAI_API_KEY\n```",
            ),
            (
                "python-dotenv doesn't seem to load my .env file. Is this right?\n\n```\n"
                f"OPENAI_API_KEY={key}\nOPENAI_MODEL=gpt-4o-mini\n```",
                "The file looks fine; the usual cause is calling `load_dotenv()` after the client "
                f"is created, or running from another directory. {leaked}",
            ),
        )
    )


def _aws_key_turn(rng: random.Random) -> Turn:
    key = random_aws_key_id(rng)
    return (
        "boto3 keeps raising `InvalidClientTokenId` even though I set "
        f"`aws_access_key_id='{key}'` in my script. The secret is in ~/.aws/credentials. What's "
        "wrong?",
        "boto3 takes the key id from your code but the secret from the credentials file, so they "
        "probably belong to different users. Remove the hard-coded key id, let boto3 read both "
        "from the same profile, and rotate the key, since it's now in chat.",
    )


# Kind of sensitive data -> (category, builder of a turn whose user text carries it).
SENSITIVE_TURNS: dict[str, tuple[str, Callable[[random.Random], Turn]]] = {
    "email": ("customer_support", _email_turn),
    "phone_us": ("customer_support", _us_phone_turn),
    "phone_intl": ("customer_support", _intl_phone_turn),
    "card": ("customer_support", _card_turn),
    "openai_key": ("coding", _openai_key_turn),
    "aws_key": ("coding", _aws_key_turn),
}


def sensitive_exchange(kind: str, rng: random.Random) -> Exchange:
    """A single-turn request whose user text holds personal data or a secret.

    Args:
        kind: `email`, `phone_us`, `phone_intl`, `card`, `openai_key` or `aws_key`.
        rng: The random source.

    Returns:
        The exchange, in the customer-support or coding category.
    """
    category, make_turn = SENSITIVE_TURNS[kind]
    user, answer = make_turn(rng)
    if category == "coding":
        system = "You are an expert Python developer. Answer with a short explanation."
    else:
        system = support_system(rng)
    messages = [text_message("system", system), text_message("user", user)]
    return Exchange(category, messages, assistant_output(answer))


def sensitive_maker(kind: str) -> Callable[[random.Random], Exchange]:
    """Bind `sensitive_exchange` to one kind of sensitive data.

    Args:
        kind: A key of `SENSITIVE_TURNS`.

    Returns:
        A builder of exchanges carrying that kind of data.
    """
    return lambda rng: sensitive_exchange(kind, rng)
