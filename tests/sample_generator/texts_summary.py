"""Requests to summarise meeting notes, incident reports and product reviews."""

from __future__ import annotations

import random
from typing import NamedTuple

from tests.sample_generator.fillers import PEOPLE
from tests.sample_generator.shapes import Dialogue, script


class Passage(NamedTuple):
    """A text to summarise, with the facts an answer needs."""

    text: str
    bullets: tuple[str, ...]
    one_liner: str
    actions: str
    title: str


def _first_names(rng: random.Random, k: int) -> list[str]:
    return [person[0] for person in rng.sample(PEOPLE, k)]


def _meeting_passage(rng: random.Random) -> Passage:
    team = rng.choice(("platform", "payments", "mobile", "data", "growth"))
    owner, helper = _first_names(rng, 2)
    project = rng.choice(("billing", "search", "auth", "warehouse"))
    pct = rng.randint(40, 90)
    blocker = rng.choice(
        (
            "a missing API key from the vendor",
            "the security review",
            "a schema change in the orders table",
            "flaky integration tests",
        )
    )
    action = rng.choice(
        ("write the rollback plan", "finish the load test", "update the runbook", "call the vendor")
    )
    deadline = rng.choice(("Friday", "next Tuesday", "the end of the sprint"))
    feature = rng.choice(("dark mode", "saved searches", "one-click checkout", "CSV export"))
    month = rng.choice(("November", "December", "January"))
    budget = f"${rng.randrange(20, 90) * 1000:,}"
    text = (
        f"Notes from the {team} team sync. {owner} reported that the {project} migration is "
        f"{pct}% done but blocked on {blocker}. {helper} will {action} by {deadline}. After some "
        f"discussion the team agreed to move the {feature} launch to {month}, since QA needs two "
        f"more weeks. The Q4 budget stays at {budget}. Next sync: same time next week."
    )
    return Passage(
        text,
        (
            f"The {project} migration is {pct}% done, blocked on {blocker}.",
            f"{helper} will {action} by {deadline}.",
            f"The {feature} launch moves to {month}; the Q4 budget stays at {budget}.",
        ),
        f"The {project} migration is {pct}% done but blocked, {helper} will {action} by "
        f"{deadline}, and {feature} now launches in {month}.",
        f"- {helper}: {action} by {deadline}.\n- {owner}: unblock the {project} migration "
        f"({blocker}).",
        f"{team.title()} sync: {project} migration at {pct}%, {feature} moves to {month}",
    )


def _incident_passage(rng: random.Random) -> Passage:
    service = rng.choice(("checkout", "login", "search", "notifications"))
    (owner,) = _first_names(rng, 1)
    date = f"2026-09-{rng.randint(1, 30):02d}"
    start = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    minutes = rng.randint(8, 95)
    failed = rng.randint(5, 60)
    region = rng.choice(("eu-west-1", "us-east-1", "ap-southeast-2"))
    cause = rng.choice(
        (
            "a config change that halved the database connection pool",
            "an expired TLS certificate on an internal load balancer",
            "a migration that locked the sessions table",
            "a feature flag rolled out to 100% by mistake",
        )
    )
    fix = rng.choice(
        (
            "add a canary stage to the deploy pipeline",
            "automate certificate expiry checks",
            "run migrations in smaller batches",
            "require a review for production flag changes",
        )
    )
    text = (
        f"Incident summary. On {date} at {start} UTC the {service} API started returning 5xx "
        f"errors for about {minutes} minutes. Roughly {failed}% of requests in {region} failed; "
        f"other regions were unaffected. The root cause was {cause}. {owner} rolled back the "
        "change and error rates returned to normal. Follow-ups: add an alert on the "
        f"{service} error rate, and {fix}."
    )
    return Passage(
        text,
        (
            f"{service.title()} API outage on {date}: about {minutes} minutes of 5xx errors, "
            f"{failed}% of requests in {region} failed.",
            f"Root cause: {cause}; {owner} rolled it back.",
            f"Follow-ups: alert on the {service} error rate and {fix}.",
        ),
        f"A {minutes}-minute {service} outage in {region} on {date}, caused by {cause}, was "
        f"fixed by a rollback.",
        f"- Add an alert on the {service} error rate (owner not named).\n- {fix.capitalize()} "
        "(owner not named).",
        f"Postmortem: {service} outage on {date} ({minutes} min)",
    )


def _review_passage(rng: random.Random) -> Passage:
    product = rng.choice(
        ("robot vacuum", "e-reader", "standing desk", "air purifier", "mechanical keyboard")
    )
    weeks = rng.randint(2, 10)
    setup = rng.randint(5, 40)
    pro = rng.choice(("quiet", "easy to clean", "light enough to carry around", "really fast"))
    flaw = rng.choice(
        (
            "the app needs an account just to change basic settings",
            "the cable is too short",
            "it gets warm after an hour",
            "the manual is confusing",
        )
    )
    price = rng.randrange(79, 699)
    verdict = rng.choice(("good value", "a bit overpriced", "hard to beat at this price"))
    text = (
        f"I've been using the {product} for {weeks} weeks now. Setup took about {setup} minutes "
        f"and the build quality feels solid. What I like: it's {pro}. What I don't: {flaw}. "
        f"Customer support answered my question within a day. At ${price} it's {verdict}."
    )
    return Passage(
        text,
        (
            f"After {weeks} weeks the reviewer finds the {product} solid and {pro}.",
            f"Main complaint: {flaw}.",
            f"Verdict: at ${price} it's {verdict}.",
        ),
        f"A solid, {pro} {product} whose main flaw is that {flaw}; at ${price} it's {verdict}.",
        "There are no action items: it's a product review, not a plan.",
        f"Review: the {product} after {weeks} weeks",
    )


def summary_dialogue(rng: random.Random) -> Dialogue:
    """Script a request to summarise meeting notes, an incident report or a product review.

    Args:
        rng: The random source.

    Returns:
        The dialogue, in the summarization category.
    """
    passage = rng.choice((_meeting_passage, _incident_passage, _review_passage))(rng)
    request = rng.choice(
        (
            f"Summarize this:\n\n{passage.text}",
            f"TL;DR please 🙏\n\n{passage.text}",
            f"Can you summarise the following in 3 bullet points?\n\n{passage.text}",
            f'Give me the key points:\n\n"{passage.text}"',
        )
    )
    system = "You summarize text for busy readers. Use at most 3 bullet points."
    answer = "\n".join(f"- {bullet}" for bullet in passage.bullets)
    follow_ups = (
        ("Now make it a single sentence.", passage.one_liner),
        ("What are the action items, and who owns them?", passage.actions),
        ("Suggest a subject line for an email with this summary.", f'"{passage.title}"'),
        ("Thanks!", "You're welcome!"),
    )
    return Dialogue("summarization", system, script(rng, (request, answer), follow_ups))
