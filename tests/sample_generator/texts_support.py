"""Customer-support conversations about an order, a return or an account."""

from __future__ import annotations

import random
from typing import NamedTuple

from tests.sample_generator.fillers import Person, random_person, random_us_phone
from tests.sample_generator.shapes import Dialogue, Turn, script

_COMPANIES = (
    ("Northwind Outfitters", "outdoor gear"),
    ("Brightleaf Home", "kitchen and home goods"),
    ("PixelPeak", "consumer electronics"),
    ("Maple & Thread", "clothing and accessories"),
)
_SUPPORT_PRODUCTS = (
    "hiking backpack",
    "rain jacket",
    "cast-iron skillet",
    "espresso machine",
    "wireless earbuds",
    "smart watch",
    "wool sweater",
    "desk lamp",
    "blender",
    "sleeping bag",
)
CARRIERS = ("UPS", "FedEx", "DHL", "USPS")


def support_system(rng: random.Random) -> str:
    """Write a support agent's system prompt for one of the fictional stores.

    Args:
        rng: The random source.

    Returns:
        The system prompt.
    """
    company, goods = rng.choice(_COMPANIES)
    return (
        f"You are a friendly support agent for {company}, an online store selling {goods}. "
        "Be concise and polite, and never promise a refund larger than the order total."
    )


class SupportCase(NamedTuple):
    """The slots a support conversation is filled from."""

    p: Person
    order: str
    product: str
    carrier: str
    days: int
    refund_days: int


def _support_case(rng: random.Random) -> SupportCase:
    return SupportCase(
        p=random_person(rng),
        order=str(rng.randint(100000, 999999)),
        product=rng.choice(_SUPPORT_PRODUCTS),
        carrier=rng.choice(CARRIERS),
        days=rng.randint(2, 12),
        refund_days=rng.randint(3, 10),
    )


def _support_openers(case: SupportCase) -> tuple[Turn, ...]:
    p, order, product, carrier, days, refund_days = case
    return (
        (
            f"Hi, my order #{order} still hasn't arrived. It was supposed to be here {days} days "
            "ago. Can you check what's going on?",
            f"Hi {p.first}, I'm sorry about the delay. Order #{order} left our warehouse and is "
            f"with {carrier}, but the tracking hasn't updated in {days} days, which usually means "
            f"the parcel is stuck at a sorting hub. I've opened a trace with {carrier}; if it "
            "doesn't move within 48 hours we'll send a replacement at no cost.",
        ),
        (
            f"I was charged twice for order #{order}. Can you refund the duplicate charge? My "
            f"account email is {p.email}.",
            f"Thanks for letting us know, {p.first}. I can see two identical charges for order "
            f"#{order}. I've reversed the duplicate; a confirmation is on its way to {p.email}, "
            f"and the money should be back on your statement within {refund_days} business days.",
        ),
        (
            f"How do I return the {product} I bought last week? It doesn't work the way I "
            "expected.",
            f'Returns are easy: go to Orders, pick the {product} and choose "Return item". Print '
            "the prepaid label, pack the item (in its original box if you still have it) and drop "
            f"it off at any {carrier} location. Once it reaches us, the refund goes to your "
            f"original payment method within {refund_days} business days.",
        ),
        (
            "I can't log into my account. I've reset the password twice and still get \"invalid "
            f'credentials". The email on file is {p.email}.',
            f"Sorry about that! The account for {p.email} was locked after several failed "
            "attempts. I've unlocked it and sent a fresh reset link. Please use the newest email "
            "only, since earlier links stop working once a new one is sent.",
        ),
        (
            f"The {product} arrived damaged, the box was completely crushed. What are my options?",
            f"I'm sorry the {product} arrived damaged, {p.first}. You can choose a free "
            "replacement, shipped express, or a full refund, and there's no need to send the "
            "damaged item back. Just reply with your choice and I'll set it up right away.",
        ),
        (
            f"Can I change the delivery address for order #{order}? I'm moving next week.",
            f"Yes, as long as it hasn't shipped. Order #{order} is still being packed, so reply "
            f"with the new address and I'll update it. If it ships first, we can ask {carrier} to "
            "redirect the parcel.",
        ),
    )


def _support_follow_ups(rng: random.Random, case: SupportCase) -> tuple[Turn, ...]:
    p, refund_days = case.p, case.refund_days
    return (
        (
            "Thanks. If I end up needing a refund, how long does that take?",
            f"Once approved, refunds take {refund_days} business days to process, and your bank "
            "may need another 2-3 days to show it.",
        ),
        (
            "Can I get a discount for the trouble?",
            f"I understand the frustration. I've added a one-time "
            f"{rng.choice((10, 15, 20))}% discount code, SORRY{rng.randint(10, 99)}, to your "
            "account. It's valid for 30 days.",
        ),
        (
            "Is there a phone number I can call instead?",
            f"Yes, our support line is {random_us_phone(rng)}, open Monday to Friday, 9 am to 5 pm "
            "Eastern.",
        ),
        (
            "Will I get an email confirmation?",
            f"Yes, a confirmation will go to {p.email} within a few minutes. Please check your "
            "spam folder if you don't see it.",
        ),
        ("Ok great, thanks for your help! 🙏", f"You're welcome, {p.first}! Have a great day."),
    )


def support_dialogue(rng: random.Random) -> Dialogue:
    """Script a customer-support conversation about an order, a return or an account.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the customer-support category.
    """
    system = support_system(rng)
    case = _support_case(rng)
    opener = rng.choice(_support_openers(case))
    turns = script(rng, opener, _support_follow_ups(rng, case))
    return Dialogue("customer_support", system, turns)
