"""Turn exchanges into stored-completion records: ids, times, models, metadata and settings."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.sample_generator.fillers import ALNUM
from tests.sample_generator.shapes import Exchange, Record
from tests.sample_generator.usage import estimate_usage

BASE_TIME = datetime(2026, 10, 1, tzinfo=UTC)
SPAN_SECONDS = 25 * 24 * 60 * 60
MODELS = (
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4o-2024-08-06",
)
_MODEL_WEIGHTS = (4, 2, 3, 2)
_METADATA_SHARE = 0.85
_APPS = {
    "customer_support": "support-bot",
    "coding": "code-helper",
    "sql": "data-assistant",
    "summarization": "docs-summarizer",
    "translation": "translator",
    "product_qa": "shop-assistant",
    "math": "math-tutor",
    "extraction": "crm-sync",
    "travel": "travel-assistant",
    "general": "assistant-web",
    "creative_writing": "story-studio",
}
_MAX_ATTEMPTS = 100


def completion_id(seed: int, index: int) -> str:
    """Return the id of the `index`-th generated completion.

    Args:
        seed: The generator seed.
        index: The position of the completion in generation order.

    Returns:
        `chatcmpl-` followed by 24 hex characters of a SHA-256 over seed and index.
    """
    return "chatcmpl-" + _hex_digest(seed, index, length=24)


def _hex_digest(*parts: object, length: int) -> str:
    text = ":".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _exchange_key(exchange: Exchange) -> str:
    """What makes two records exact duplicates: the same input messages and output."""
    return json.dumps([exchange.messages, exchange.output], sort_keys=True)


@dataclass
class SampleBuilder:
    """Accumulates records; every random choice comes from one seeded `random.Random`.

    Generated exchanges are kept distinct, so that the only exact duplicates are the planned
    copies. The modules that make each kind of record (`traffic`, `features`, `malformed`,
    `duplicates`) add them through `fresh_one`, `add` and `replace`.

    Attributes:
        seed: The generator seed.
        rng: The only source of randomness.
        user_ids: The pool of end-user ids shared across records.
        duplicable: Ordinary single-turn records that duplicates may copy.
    """

    seed: int
    rng: random.Random = field(init=False)
    user_ids: list[str] = field(init=False)
    duplicable: list[Record] = field(default_factory=list)
    _entries: list[tuple[int, Record]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.user_ids = [f"user_{_hex_digest('user', self.seed, i, length=8)}" for i in range(24)]

    def fresh(self, make: Callable[[], list[Exchange]]) -> list[Exchange]:
        """Call `make` until none of the exchanges it returns was generated before.

        Args:
            make: Builds one or more exchanges from `self.rng`.

        Returns:
            The first result whose exchanges are new and distinct from each other.

        Raises:
            RuntimeError: If `_MAX_ATTEMPTS` tries all repeat an earlier exchange.
        """
        for _ in range(_MAX_ATTEMPTS):
            exchanges = make()
            keys = [_exchange_key(exchange) for exchange in exchanges]
            if len(set(keys)) == len(keys) and self._seen.isdisjoint(keys):
                return exchanges
        raise RuntimeError("could not generate a new distinct exchange")

    def fresh_one(self, make: Callable[[random.Random], Exchange]) -> Exchange:
        """`fresh` for a single exchange.

        Args:
            make: Builds one exchange from the random source it is given (`self.rng`).

        Returns:
            The first exchange `make` returns that was not generated before.
        """
        return self.fresh(lambda: [make(self.rng)])[0]

    def random_created(self, *, margin: int = 0) -> int:
        """Draw a creation time within the sample's span.

        Args:
            margin: Seconds to leave free at the end of the span, for records created later.

        Returns:
            A Unix timestamp.
        """
        return int(BASE_TIME.timestamp()) + self.rng.randrange(SPAN_SECONDS - margin)

    def random_model(self) -> str:
        """Draw a model snapshot, weighted towards the cheaper ones.

        Returns:
            One of `MODELS`.
        """
        return self.rng.choices(MODELS, weights=_MODEL_WEIGHTS)[0]

    def system_role(self, model: str) -> str | None:
        """Draw the role of a request's system prompt.

        Args:
            model: The request's model; only gpt-4.1 models get `developer` prompts.

        Returns:
            `system`, `developer`, or None for a request without a system prompt.
        """
        draw = self.rng.random()
        if draw < 0.12:
            return None
        if model.startswith("gpt-4.1") and draw < 0.45:
            return "developer"
        return "system"

    def metadata(
        self,
        category: str,
        *,
        force: bool = False,
        user_id: str | None = None,
        conversation_id: str | None = None,
    ) -> dict[str, str]:
        """Draw a completion's metadata (empty for about 15% of records unless `force`).

        Args:
            category: The record's topic, for the `category` and `app` keys.
            force: Always return metadata.
            user_id: The end-user id to use; drawn from `user_ids` (or left out) when None.
            conversation_id: The conversation id to use; new (or left out) when None.

        Returns:
            The metadata, string values only.
        """
        rng = self.rng
        if not force and rng.random() >= _METADATA_SHARE:
            return {}
        meta: dict[str, str] = {}
        if rng.random() < 0.9:
            meta["app"] = _APPS[category]
        if rng.random() < 0.8:
            meta["env"] = rng.choice(("prod", "prod", "prod", "staging", "dev"))
        if user_id is None and rng.random() < 0.6:
            user_id = rng.choice(self.user_ids)
        if user_id:
            meta["user_id"] = user_id
        if rng.random() < 0.7:
            meta["category"] = category
        if conversation_id is None and rng.random() < 0.2:
            conversation_id = self.new_conversation_id()
        if conversation_id:
            meta["conversation_id"] = conversation_id
        if rng.random() < 0.5:
            meta["prompt_version"] = rng.choice(("v1", "v2", "v3", "2026-09-15"))
        return meta

    def new_conversation_id(self) -> str:
        """Draw a fresh conversation id.

        Returns:
            `conv_` followed by 16 letters and digits.
        """
        return "conv_" + "".join(self.rng.choice(ALNUM) for _ in range(16))

    def add(
        self,
        exchange: Exchange,
        *,
        created: int | None = None,
        model: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Record:
        """Turn an exchange into a stored-completion record and keep it.

        Args:
            exchange: The request and its output.
            created: Unix creation time; random within the span when None.
            model: The model snapshot; random when None.
            metadata: The completion's metadata; random when None.

        Returns:
            The record (replace it with `replace` to reshape it).
        """
        index = len(self._entries)
        self._seen.add(_exchange_key(exchange))
        created = self.random_created() if created is None else created
        model = model or self.random_model()
        if metadata is None:
            metadata = self.metadata(exchange.category)
        record: Record = {
            "id": completion_id(self.seed, index),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": exchange.output,
                    "finish_reason": exchange.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": estimate_usage(exchange.messages, exchange.output, exchange.tools),
            "metadata": metadata,
            "service_tier": "default",
            "system_fingerprint": "fp_" + _hex_digest(model, self.rng.randrange(2), length=10),
            "request_id": "req_" + _hex_digest("request", self.seed, index, length=32),
            **self._request_settings(exchange, metadata),
            "input_messages": exchange.messages,
        }
        self._entries.append((created, record))
        return record

    def replace(self, old: Record, new: Record) -> None:
        """Swap a kept record for a reshaped copy, at the same sort position.

        Args:
            old: A record `add` returned.
            new: Its replacement.

        Raises:
            KeyError: If `old` is not a kept record.
        """
        for position, (created, record) in enumerate(self._entries):
            if record is old:
                self._entries[position] = (created, new)
                return
        raise KeyError(old["id"])

    def _request_settings(self, exchange: Exchange, metadata: dict[str, str]) -> dict[str, Any]:
        rng = self.rng
        seed = rng.randint(1, 99999) if rng.random() < 0.3 else None
        temperature = rng.choice((0.0, 0.2, 0.7, 0.7, 1.0))
        frequency_penalty = 0.5 if rng.random() < 0.1 else 0.0
        input_user = metadata.get("user_id") if rng.random() < 0.4 else None
        return {
            "seed": seed,
            "temperature": temperature,
            "top_p": 1.0,
            "presence_penalty": 0.0,
            "frequency_penalty": frequency_penalty,
            "tools": exchange.tools,
            "tool_choice": "auto" if exchange.tools else None,
            "response_format": exchange.response_format,
            "input_user": input_user,
        }

    def records(self) -> list[Record]:
        """List the records as the list endpoint returns them.

        Returns:
            All records, ordered by creation time, then id.
        """
        ordered = sorted(self._entries, key=lambda entry: (entry[0], entry[1]["id"]))
        return [record for _, record in ordered]
