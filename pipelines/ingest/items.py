"""One stored object's inner items (a completion's messages, a response's input items, a
conversation's items), read whole, or kept aside whole when some of them cannot be stored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import openai

from pipelines.ingest.apis import StoredApi
from pipelines.ingest.errors import CursorLost
from pipelines.ingest.paging import Rejected, RetryCounter, RetryPolicy, iter_pages


@dataclass(frozen=True)
class InnerItems:
    """One object's inner items, oldest first, and those that cannot be stored, with why."""

    items: list[dict[str, Any]]
    unusable: list[Rejected] = field(default_factory=list)

    def rejection(self, item: dict[str, Any], api: StoredApi) -> Rejected | None:
        """Why `item` (the object) is not stored in the lake, or None when it is whole.

        An object missing some of its items would make a training example of a conversation
        that never happened; so it is kept aside whole (the object, its items and the unusable
        ones) under `lake/rejected/`, counted, and asked for again by the next run.
        """
        if not self.unusable:
            return None
        kept = {
            "object": item,
            "items": self.items,
            "unusable_items": [json.loads(r.item_json) for r in self.unusable],
        }
        return Rejected(
            f"{len(self.unusable)} of its {api.items_noun} unusable ({self.unusable[0].reason})",
            json.dumps(kept, ensure_ascii=True),
        )


def read_items(
    client: openai.OpenAI,
    api: StoredApi,
    object_id: str,
    *,
    policy: RetryPolicy,
    retries: RetryCounter,
    secrets: tuple[str | None, ...],
) -> InnerItems | None:
    """Every inner item of one object, oldest first, or None when the object is gone (404)."""
    items: list[dict[str, Any]] = []
    unusable: list[Rejected] = []
    try:
        for page in iter_pages(
            lambda after: api.items_page(client, object_id, after),
            after=None,
            policy=policy,
            retries=retries,
            what=f"reading the {api.items_noun} of {object_id}",
            secrets=secrets,
        ):
            items.extend(page.items)
            unusable.extend(page.rejected)
    except (openai.NotFoundError, CursorLost):
        return None
    return InnerItems(items, unusable)
