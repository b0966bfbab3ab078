"""Counts in messages agree with their nouns: "1 conversation", never "1 conversations"."""

from __future__ import annotations

from pipelines.ingest.plan import ReadPlan
from pipelines.wording import counted


def test_a_count_of_one_takes_the_singular() -> None:
    assert counted(1, "conversation") == "1 conversation"
    assert counted(0, "page") == "0 pages"
    assert counted(1200, "retry", "retries") == "1,200 retries"
    assert counted(1, "retry", "retries") == "1 retry"


def test_the_read_plan_says_one_conversation() -> None:
    plan = ReadPlan(chat_completions=False, response_ids=("r1",), conversation_ids=("c1",))

    assert plan.describe() == "1 response by id, 1 conversation by id"
