"""The topics of ordinary traffic, and how often each is drawn."""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.sample_generator.shapes import Dialogue
from tests.sample_generator.texts_coding import coding_dialogue
from tests.sample_generator.texts_math import math_dialogue
from tests.sample_generator.texts_product import product_dialogue
from tests.sample_generator.texts_sql import sql_dialogue
from tests.sample_generator.texts_summary import summary_dialogue
from tests.sample_generator.texts_support import support_dialogue
from tests.sample_generator.texts_translation import translation_dialogue

TOPICS: tuple[Callable[[random.Random], Dialogue], ...] = (
    support_dialogue,
    coding_dialogue,
    sql_dialogue,
    summary_dialogue,
    translation_dialogue,
    product_dialogue,
    math_dialogue,
)
_TOPIC_WEIGHTS = (5, 4, 3, 3, 3, 3, 3)


def random_dialogue(rng: random.Random) -> Dialogue:
    """Draw a topic by weight and script a dialogue on it.

    Args:
        rng: The random source.

    Returns:
        A dialogue on the drawn topic.
    """
    topic = rng.choices(TOPICS, weights=_TOPIC_WEIGHTS)[0]
    return topic(rng)
