"""Shopping questions answered from a fictional catalog given in the system prompt."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple

from tests.sample_generator.fillers import COUNTRIES, and_join
from tests.sample_generator.shapes import Dialogue, Turn, script


class Product(NamedTuple):
    """An entry of the fictional PixelPeak catalog."""

    name: str
    slug: str
    price: int
    weight_g: int
    battery: str
    colors: tuple[str, ...]
    features: tuple[str, ...]


CATALOG = (
    Product(
        "PixelPeak Aero 14 laptop", "aero-14", 1199, 1300, "14 hours",
        ("silver", "midnight blue"), ("Wi-Fi 7", "USB-C charging", "a backlit keyboard"),
    ),
    Product(
        "PixelPeak Buds Pro", "buds-pro", 149, 52, "7 hours (28 with the case)",
        ("white", "black", "sage green"),
        ("active noise cancelling", "Bluetooth 5.3", "IPX4 splash resistance"),
    ),
    Product(
        "PixelPeak Watch S2", "watch-s2", 299, 38, "3 days", ("graphite", "rose gold"),
        ("GPS", "heart-rate monitoring", "5 ATM water resistance"),
    ),
    Product(
        "PixelPeak Tab 11", "tab-11", 449, 490, "12 hours", ("grey",),
        ("stylus support", "a 120 Hz display", "USB-C charging"),
    ),
    Product(
        "PixelPeak Home Speaker", "home-speaker", 99, 820, "none (mains powered)",
        ("charcoal", "chalk"), ("multi-room audio", "a built-in voice assistant", "Bluetooth 5.3"),
    ),
    Product(
        "PixelPeak Action Cam 4", "action-cam-4", 329, 130, "2.5 hours of 4K recording",
        ("black",), ("4K at 60 fps", "waterproofing to 10 m", "image stabilisation"),
    ),
)  # fmt: skip


def _catalog_line(product: Product) -> str:
    return (
        f"- {product.name}: ${product.price}, {product.weight_g} g, battery {product.battery}, "
        f"colours {', '.join(product.colors)}; features: {', '.join(product.features)}."
    )


def shop_system(products: Sequence[Product]) -> str:
    """Write the shop assistant's system prompt, with the catalog it answers from.

    Args:
        products: The catalog entries to list.

    Returns:
        The system prompt.
    """
    catalog = "\n".join(_catalog_line(p) for p in products)
    return (
        "You are the shopping assistant of the PixelPeak online store. Answer only from the "
        f"catalog below; if the answer isn't there, say so.\n\nCatalog:\n{catalog}"
    )


def _feature_turn(rng: random.Random, product: Product) -> Turn:
    if rng.random() < 0.6:
        feature = rng.choice(product.features)
        return (
            f"Does the {product.name} have {feature}?",
            f"Yes, the {product.name} has {feature}.",
        )
    others = [f for p in CATALOG for f in p.features if f not in product.features]
    feature = rng.choice(others)
    return (
        f"Does the {product.name} have {feature}?",
        f"No, the {product.name} doesn't have {feature}. Its main features are "
        f"{and_join(product.features)}.",
    )


def _product_openers(rng: random.Random, products: Sequence[Product]) -> tuple[Turn, ...]:
    main, other = products[0], products[1]
    lighter, heavier = sorted((main, other), key=lambda p: p.weight_g)
    budget = rng.choice((150, 300, 500))
    affordable = [p.name for p in products if p.price <= budget]
    budget_answer = (
        f"Within ${budget} you can get the {and_join(affordable)}."
        if affordable
        else f"Sorry, nothing in this selection costs ${budget} or less."
    )
    return (
        _feature_turn(rng, main),
        (
            f"Which is lighter, the {main.name} or the {other.name}?",
            f"The {lighter.name} is lighter: {lighter.weight_g} g versus {heavier.weight_g} g "
            f"for the {heavier.name}.",
        ),
        (
            f"How long does the battery last on the {main.name}?",
            f"The {main.name} is rated for {main.battery}.",
        ),
        (f"I have a budget of ${budget}. What can I afford?", budget_answer),
        (f"how much is the {main.name.lower()}", f"The {main.name} costs ${main.price}."),
    )


def _product_follow_ups(rng: random.Random, product: Product) -> tuple[Turn, ...]:
    country = rng.choice(COUNTRIES)
    days = rng.randint(3, 7)
    return (
        (
            "What colours does it come in?",
            f"The {product.name} comes in {and_join(product.colors)}.",
        ),
        (
            f"Do you ship to {country}?",
            f"Yes, we ship to {country}. Delivery takes {days}-{days + 3} business days, and "
            "duties are calculated at checkout.",
        ),
        (
            "Can I pay in instalments?",
            "Yes, orders over $100 can be split into 4 interest-free payments at checkout.",
        ),
        (
            "Great, I'll take it. Thanks! 😊",
            "Great choice! You can add it to your cart from the product page. Enjoy!",
        ),
    )


def product_dialogue(rng: random.Random) -> Dialogue:
    """Script a shopping question answered from a catalog in the system prompt.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the product Q&A category.
    """
    products = rng.sample(CATALOG, 3)
    opener = rng.choice(_product_openers(rng, products))
    follow_ups = _product_follow_ups(rng, products[0])
    return Dialogue("product_qa", shop_system(products), script(rng, opener, follow_ups))
