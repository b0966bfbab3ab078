"""Realistic stored completions for benchmarks, written straight into raw-lake batches.

Benchmarks on 60-byte strings measure per-row overhead, not the text work real stored completions
cost. These records match real ones in size and shape (a few KB each), built from the bundled
sample's texts, scaled:

- system prompts of 0.5–4 KB, 1–12 user turns (most short), answers of 50–4,000 characters;
- tool schemas on a fifth of the requests, and tool calls with their results in some of those;
- personal data and keys in about 3% of the rows;
- 2% exact duplicates and 2% near duplicates (a few words changed);
- with `chain_share`, that share of the rows belongs to chats stored turn by turn (2–10 turns).

    from tests.bench.realistic import write_realistic_lake
    stats = write_realistic_lake(data_dir, n=100_000, seed=0)
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.datadir.paths import DataPaths
from pipelines.ingest.lake import write_batch
from pipelines.sample import SAMPLE_PATH

BATCH_ROWS = 20_000
_EPOCH = 1_760_000_000
_MODELS = ("gpt-4.1-mini-2025-04-14", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14")
_PII = (
    "You can reach me at {name}@example.com or on +44 20 7946 0{num:03d}.",
    "My card is 4111 1111 1111 1111, expiry 12/29.",
    "Here is my key sk-proj-{key} please check it.",
    "Call me back on (415) 555-0{num:03d} after 5pm.",
)


@dataclass
class LakeStats:
    rows: int
    input_json_bytes: int
    """Bytes of completion_json + messages_json: what an MB/s figure is measured against."""
    rows_in_chains: int

    @property
    def mb(self) -> float:
        return self.input_json_bytes / 1e6


class _Texts:
    """The sample's texts, by kind."""

    def __init__(self) -> None:
        records = [json.loads(line) for line in SAMPLE_PATH.read_text("utf-8").splitlines()]
        messages = [m for r in records for m in r.get("input_messages") or []]
        self.system = _strings(m.get("content") for m in messages if m.get("role") == "system")
        self.user = _strings(m.get("content") for m in messages if m.get("role") == "user")
        self.answers = _strings(
            (r.get("choices") or [{}])[0].get("message", {}).get("content") for r in records
        )
        self.tools = [r["tools"] for r in records if r.get("tools")]


# The sample plants personal data in some texts; the pools leave those out, so that the share of
# rows holding some is the generator's own (about 3%), not the pools'.
_PERSONAL = re.compile(r"@|sk-|AKIA|[0-9][0-9 ().\-]{6,}[0-9]")


def _strings(values: Any) -> list[str]:
    return sorted({v for v in values if isinstance(v, str) and v and not _PERSONAL.search(v)})


class _Generator:
    def __init__(self, seed: int, chain_share: float, id_prefix: str = "r") -> None:
        self.rng = random.Random(seed)
        self.id_prefix = id_prefix
        self.texts = _Texts()
        # A chat adds 6 rows on average, any other request 1.04 (with its copies): the chance of
        # starting a chat that makes `chain_share` of the rows chat turns.
        self.chat_chance = 1.04 * chain_share / (6 - 4.96 * chain_share)
        self.count = 0
        self.rows_in_chains = 0

    def text(self, pool: list[str], low: int, high: int, typical: int) -> str:
        """Sample texts joined to a length in [low, high], log-normally spread around `typical`
        (most answers are short, a few are long)."""
        target = min(high, max(low, int(self.rng.lognormvariate(0, 0.8) * typical)))
        parts, length = [], 0
        while length < target:
            part = self.rng.choice(pool)
            parts.append(part)
            length += len(part) + 1
        return " ".join(parts)[:high]

    def user_text(self) -> str:
        text = self.text(self.texts.user, 20, 1500, 160)
        if self.rng.random() < 0.03:
            pii = self.rng.choice(_PII).format(
                name=f"user{self.rng.randrange(10**6)}",
                num=self.rng.randrange(1000),
                key="".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=40)),
            )
            text = f"{text} {pii}"
        return text

    def turns(self) -> int:
        return min(12, 1 + int(self.rng.expovariate(0.7)))

    def conversation(self, turns: int) -> tuple[list[dict], list[str], dict | None]:
        """A system prompt, `turns` user messages with the answers between them, and tools."""
        messages = [{"role": "system", "content": self.text(self.texts.system, 500, 4000, 900)}]
        answers = [self.text(self.texts.answers, 50, 4000, 380) for _ in range(turns)]
        tools = self.rng.choice(self.texts.tools) if self.rng.random() < 0.2 else None
        for turn in range(turns):
            messages.append({"role": "user", "content": self.user_text()})
            if turn < turns - 1:
                messages.append({"role": "assistant", "content": answers[turn]})
        if tools and self.rng.random() < 0.5:
            call = {
                "id": f"call_{self.rng.randrange(10**12):012d}",
                "type": "function",
                "function": {"name": tools[0]["function"]["name"], "arguments": '{"q": "status"}'},
            }
            messages += [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": '{"status": "ok"}'},
            ]
        return messages, answers, tools

    def record(self, messages: list[dict], answer: str, tools: Any, created: int) -> dict:
        self.count += 1
        completion_id = f"chatcmpl-{self.id_prefix}{self.count:09d}"
        prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4
        item = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": self.rng.choice(_MODELS),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": len(answer) // 4,
                "total_tokens": prompt + len(answer) // 4,
            },
            "metadata": {"app": "bench", "user_id": f"u{self.rng.randrange(5000)}"},
            "temperature": 1.0,
            "top_p": 1.0,
            "seed": None,
            **({"tools": tools} if tools else {}),
        }
        stored = [{"id": f"{completion_id}-{i}", **m} for i, m in enumerate(messages)]
        return {"item": item, "messages": stored}

    def records(self, n: int) -> list[dict]:
        out: list[dict] = []
        while len(out) < n:
            created = _EPOCH + self.rng.randrange(30 * 86400)
            if self.rng.random() < self.chat_chance:  # a chat, stored turn by turn
                turns = self.rng.randint(2, 10)
                self.rows_in_chains += turns
                messages, answers, tools = self.conversation(turns)
                ends = [i + 1 for i, m in enumerate(messages) if m["role"] == "user"]
                for turn, end in enumerate(ends):
                    out.append(self.record(messages[:end], answers[turn], tools, created + turn))
                continue
            messages, answers, tools = self.conversation(self.turns())
            record = self.record(messages, answers[-1], tools, created)
            out.append(record)
            roll = self.rng.random()
            if roll < 0.02:  # an exact duplicate: the same request, stored again
                out.append(self.record(messages, answers[-1], tools, created + 5))
            elif roll < 0.04:  # a near duplicate: the question reworded a little
                edited = [dict(m) for m in messages]
                edited[-1]["content"] = "Please, " + str(edited[-1]["content"]) + " Thanks!"
                out.append(self.record(edited, answers[-1], tools, created + 7))
        return out[:n]


def write_realistic_lake(
    data_dir: Path,
    *,
    n: int,
    seed: int = 0,
    chain_share: float = 0.0,
    run: str = "bench",
) -> LakeStats:
    """Write `n` realistic stored completions into the raw lake under `data_dir`.

    `run` names the batches and prefixes the ids, so a later run (a new day) adds new records
    in batches that sort after the earlier ones'.
    """
    generator = _Generator(seed, chain_share, id_prefix="r" if run == "bench" else f"{run}-")
    paths = DataPaths(data_dir)
    ingested_at = datetime(2026, 11, 1, tzinfo=UTC)
    total_bytes = written = 0
    for batch, start in enumerate(range(0, n, BATCH_ROWS)):
        rows = []
        for record in generator.records(min(BATCH_ROWS, n - start)):
            completion_json = json.dumps(record["item"], ensure_ascii=False)
            messages_json = json.dumps(record["messages"], ensure_ascii=False)
            total_bytes += len(completion_json.encode()) + len(messages_json.encode())
            rows.append(
                {
                    "id": record["item"]["id"],
                    "created": record["item"]["created"],
                    "model": record["item"]["model"],
                    "source": "local",
                    "ingested_at": ingested_at,
                    "deleted": False,
                    "item_sha256": hashlib.sha256(completion_json.encode()).hexdigest(),
                    "completion_json": completion_json,
                    "messages_json": messages_json,
                }
            )
        write_batch(paths, f"{run}-{batch:06d}", rows)
        written += len(rows)
    return LakeStats(written, total_bytes, min(generator.rows_in_chains, written))
