"""The yardstick: the pipeline's default steps done one record at a time, in plain Python.

Lake → parse → validate → select → redact → exact dedup → split → fine-tuning JSONL, with the
standard library only (json, re, hashlib) after pyarrow hands over the raw rows. Kept honest and
simple: one pass, the same patterns the pipeline uses (`pipelines.privacy.pii`, run rule by rule as
`re` runs them fastest), a Luhn check on card candidates, no phone-number library (a regex only,
which the pipeline's libphonenumber confirmation costs more than). It is what a careful engineer
writes in an afternoon; the pipeline should beat it by an order of magnitude.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.datadir.paths import DataPaths
from pipelines.privacy.pii import CANDIDATES, PATTERNS, PLACEHOLDERS, luhn_valid
from pipelines.privacy.secret_rules import SECRET_RULES

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
_RULES = [
    *((re.compile(rule), PLACEHOLDERS["secret"]) for rule in SECRET_RULES.values()),
    (re.compile(PATTERNS["email"]), PLACEHOLDERS["email"]),
    (re.compile(PATTERNS["ip"]), PLACEHOLDERS["ip"]),
]
_CARD = re.compile(CANDIDATES["card"])
_PHONE = re.compile(
    r"\+[0-9]{1,3}[ .\-]?(?:\([0-9]{1,4}\)[ .\-]?)?[0-9]{2,4}(?:[ .\-][0-9]{2,4}){1,4}\b"
    r"|(?:\([0-9]{3}\) ?|\b[0-9]{3}[.\-])[0-9]{3}[.\-][0-9]{4}\b"
)
_SPACES = re.compile(r"\s+")


def redact(text: str) -> str:
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    text = _CARD.sub(lambda m: PLACEHOLDERS["card"] if luhn_valid(m.group()) else m.group(), text)
    return _PHONE.sub(PLACEHOLDERS["phone"], text)


def run_baseline(data_dir: Path, out_dir: Path) -> dict[str, int]:
    """The whole path, one record at a time; writes train/validation/eval JSONL into `out_dir`."""
    paths = DataPaths(data_dir)
    newest: dict[str, dict[str, Any]] = {}
    for batch_file in paths.batch_files():
        for batch in pq.ParquetFile(batch_file).iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                newest[row["id"]] = row  # batches are read oldest first: the newest fetch wins
    kept: dict[str, tuple[int, str, dict]] = {}
    counts = {"rows": 0, "invalid": 0, "selected_out": 0, "duplicates": 0}
    for row in newest.values():
        if row["deleted"]:
            continue
        counts["rows"] += 1
        example = _example(row)
        if example is None:
            counts["invalid"] += 1
            continue
        if example == "drop":
            counts["selected_out"] += 1
            continue
        created, messages = example
        key = "\x1e".join(
            _SPACES.sub(" ", f"{m['role']}\x1f{m.get('content') or ''}").strip().lower()
            for m in messages
        )
        digest = hashlib.sha256(key.encode()).hexdigest()
        if digest in kept:
            counts["duplicates"] += 1
            if kept[digest][0] >= created:
                continue
        kept[digest] = (created, row["id"], {"messages": messages})
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") for name in _SPLITS}
    try:
        for digest, (_, _, line) in sorted(kept.items(), key=lambda item: item[1][1]):
            split = _split(digest)
            files[split].write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        for stream in files.values():
            stream.close()
    counts["published"] = len(kept)
    return counts


_SPLITS = ("train", "validation", "eval")


def _split(group: str) -> str:
    position = int(hashlib.sha256(f"0:{group}".encode()).hexdigest()[:13], 16) / 16**13
    return "train" if position < 0.8 else "validation" if position < 0.9 else "eval"


def _example(row: dict[str, Any]) -> tuple[int, list[dict]] | str | None:
    """The redacted fine-tuning messages, "drop" when selection removes it, None if invalid."""
    try:
        item = json.loads(row["completion_json"])
        stored = json.loads(row["messages_json"])
    except json.JSONDecodeError:
        return None
    choices = item.get("choices") or []
    if not choices or not isinstance(item.get("created"), int) or not item.get("usage"):
        return None
    output = choices[0].get("message") or {}
    if choices[0].get("finish_reason") not in ("stop", "tool_calls") or output.get("refusal"):
        return "drop"
    messages = []
    for message in stored:
        role, content = message.get("role"), message.get("content")
        if role not in _ROLES or not isinstance(content, str | type(None)):
            return None
        shaped: dict[str, Any] = {"role": "system" if role == "developer" else role}
        if content is not None:
            shaped["content"] = redact(content)
        for call in message.get("tool_calls") or []:
            call["function"]["arguments"] = redact(call["function"]["arguments"])
            shaped.setdefault("tool_calls", []).append(call)
        if message.get("tool_call_id"):
            shaped["tool_call_id"] = message["tool_call_id"]
        messages.append(shaped)
    answer = {"role": "assistant", "content": redact(output.get("content") or "")}
    return item["created"], [*messages, answer]
