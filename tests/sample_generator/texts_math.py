"""Maths exercises with a worked answer, a check and a variation."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction
from typing import NamedTuple

from tests.sample_generator.fillers import format_number
from tests.sample_generator.shapes import Dialogue, script

_TIMES = "\u00d7"  # the multiplication sign, escaped: ruff (RUF001) flags it as confusable


class Problem(NamedTuple):
    """A maths exercise with its worked answer, a check and a variation."""

    question: str
    answer: str
    check: str
    variant_question: str
    variant_answer: str


def _percent_problem(rng: random.Random) -> Problem:
    p, p2 = rng.sample((5, 12, 15, 18, 20, 25, 35), 2)
    n = rng.randrange(4, 60) * 20
    result = p * n / 100
    return Problem(
        f"What is {p}% of {n}?",
        f"{p}% means {p}/100 = {p / 100:g}, so {p / 100:g} {_TIMES} {n} = {format_number(result)}.",
        f"Check: {format_number(result)} / {n} = {p / 100:g}, which is {p}%. ✓",
        f"What if it were {p2}% instead?",
        f"{p2 / 100:g} {_TIMES} {n} = {format_number(p2 * n / 100)}.",
    )


def _signed(value: int) -> str:
    return f"+ {value}" if value >= 0 else f"- {-value}"


def _linear_problem(rng: random.Random) -> Problem:
    x = rng.randint(-9, 15)
    a = rng.randint(2, 9)
    b = rng.choice([v for v in range(-20, 31) if v])
    c = a * x + b
    shift = rng.randint(1, 4)
    step = f"Subtract {b} from" if b > 0 else f"Add {-b} to"
    x_text = f"({x})" if x < 0 else str(x)
    return Problem(
        f"Solve for x: {a}x {_signed(b)} = {c}",
        f"1. {step} both sides: {a}x = {c - b}.\n2. Divide both sides by {a}: x = {x}.\n\n"
        f"So x = {x}.",
        f"Substitute x = {x}: {a} {_TIMES} {x_text} {_signed(b)} = {a * x} {_signed(b)} = {c}. ✓",
        f"What if the right-hand side were {c + a * shift}?",
        f"Then {a}x = {c + a * shift - b}, so x = {x + shift}.",
    )


def _average_problem(rng: random.Random) -> Problem:
    scores = [rng.randint(55, 98) for _ in range(5)]
    total = sum(scores)
    mean = total / len(scores)
    target = min(95, math.floor(mean) + 3)
    needed = target * 6 - total
    verdict = (
        f"You'd need {needed} on the next test."
        if needed <= 100
        else f"You'd need {needed}, which is more than 100, so that target isn't reachable."
    )
    return Problem(
        f"My test scores are {', '.join(map(str, scores))}. What's my average?",
        f"Add them: {' + '.join(map(str, scores))} = {total}. Divide by {len(scores)}: "
        f"{total} / {len(scores)} = {format_number(mean)}.",
        f"Check: {format_number(mean)} lies between your lowest ({min(scores)}) and highest "
        f"({max(scores)}) score, as an average must. ✓",
        f"What do I need on the next test to average {target}?",
        f"Six tests averaging {target} add up to {target * 6}; you have {total} so far. " + verdict,
    )


def _interest_problem(rng: random.Random) -> Problem:
    principal = rng.choice((1000, 2500, 5000, 10000))
    rate = rng.choice((3, 4, 5, 6.5))
    years = rng.choice((3, 5, 10))
    growth = (1 + rate / 100) ** years
    amount = principal * growth
    monthly = principal * (1 + rate / 1200) ** (12 * years)
    simple = principal * (1 + rate / 100 * years)
    return Problem(
        f"If I invest ${principal:,} at {rate:g}% interest compounded annually, how much will I "
        f"have after {years} years?",
        f"Use A = P(1 + r)^t:\n\nA = {principal:,} {_TIMES} (1 + {rate / 100:g})^{years} = "
        f"{principal:,} {_TIMES} {growth:.4f} ≈ ${amount:,.2f}.\n\nThat's about "
        f"${amount - principal:,.2f} in interest.",
        f"Check: simple interest would give ${simple:,.2f}; compounding adds a little on top, so "
        f"${amount:,.2f} is plausible. ✓",
        "And with monthly compounding?",
        f"A = {principal:,} {_TIMES} (1 + {rate / 100:g}/12)^{12 * years} ≈ ${monthly:,.2f}, "
        f"about ${monthly - amount:,.2f} more than annual compounding.",
    )


def _circle_problem(rng: random.Random) -> Problem:
    r = rng.randint(2, 25)
    area = math.pi * r * r
    return Problem(
        f"What's the area of a circle with a radius of {r} cm?",
        f"A = πr² = π {_TIMES} {r}² = {r * r}π ≈ {area:.2f} cm².",
        f"Check: the circle fits in a {2 * r} {_TIMES} {2 * r} cm square of {4 * r * r} cm², and "
        f"π/4 ≈ 0.785 of that is {area:.2f} cm². ✓",
        "And its circumference?",
        f"C = 2πr = 2 {_TIMES} π {_TIMES} {r} = {2 * r}π ≈ {2 * math.pi * r:.2f} cm.",
    )


def _fraction_problem(rng: random.Random) -> Problem:
    b, d = rng.sample((2, 3, 4, 5, 6, 8, 9, 10, 12), 2)
    a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
    lcm = b * d // math.gcd(b, d)
    total = Fraction(a, b) + Fraction(c, d)
    difference = Fraction(a, b) - Fraction(c, d)
    raw = a * lcm // b + c * lcm // d
    simplified = "" if total.denominator == lcm else f" = {total}"
    return Problem(
        f"What is {a}/{b} + {c}/{d}?",
        f"Use the common denominator {lcm}: {a}/{b} = {a * lcm // b}/{lcm} and {c}/{d} = "
        f"{c * lcm // d}/{lcm}. Add the numerators: {raw}/{lcm}{simplified}.",
        f"Check with decimals: {a / b:.3f} + {c / d:.3f} = {float(total):.3f}. ✓",
        f"And {a}/{b} - {c}/{d}?",
        f"{a * lcm // b}/{lcm} - {c * lcm // d}/{lcm} = {difference}.",
    )


_PROBLEMS: tuple[Callable[[random.Random], Problem], ...] = (
    _percent_problem,
    _linear_problem,
    _average_problem,
    _interest_problem,
    _circle_problem,
    _fraction_problem,
)


def math_dialogue(rng: random.Random) -> Dialogue:
    """Script a maths exercise with a worked answer, a check and a variation.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the math category.
    """
    problem = rng.choice(_PROBLEMS)(rng)
    system = "You are a patient math tutor. Explain each step briefly."
    follow_ups = (
        ("Can you double-check that?", problem.check),
        (problem.variant_question, problem.variant_answer),
        ("Got it, thanks! 💪", "You're welcome! Keep practising."),
    )
    opener = (problem.question, problem.answer)
    return Dialogue("math", system, script(rng, opener, follow_ups))
