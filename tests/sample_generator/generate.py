"""Generate the bundled samples: stored chat completions, and beside them stored responses
(`responses`) and conversations (`conversations`).

Each JSONL line is a chat.completion object exactly as `GET /v1/chat/completions/{id}` returns it,
plus the request's input messages under the extra key `input_messages` (without the ids the store
assigns, `<completion_id>-<index>`).

The sample mixes ordinary traffic (customer support, coding, SQL, summarisation, translation,
product Q&A, maths; single- and multi-turn) with the cases a pipeline has to handle: tool use,
refusals, truncated answers, Azure content filters, exact and near duplicates, personal data and
secrets, a field the API does not document, and malformed records. Malformed records are marked
with `metadata["sample_case"] = "malformed_<kind>"`, the undocumented field with `"unknown_field"`.

The output is a pure function of `seed` and `count`: one `random.Random`, no clock, no iteration
over sets. This module plans the sample and writes it; the records are assembled by
`tests.sample_generator.builder`, and each kind of record comes from its own module (`texts_*` for
ordinary topics, `tool_use`, `azure`, `sensitive`, `duplicates`, `malformed`, ...).
Regenerate the shipped files with:

    python -m tests.sample_generator [--out-dir DIR | --out PATH]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from pipelines.sample import CONVERSATIONS_SAMPLE_PATH, RESPONSES_SAMPLE_PATH, SAMPLE_PATH
from tests.sample_generator.builder import SampleBuilder
from tests.sample_generator.chats import TURN_BY_TURN_RECORDS, add_turn_by_turn_chats
from tests.sample_generator.conversations import generate_conversations
from tests.sample_generator.duplicates import add_duplicates
from tests.sample_generator.features import add_feature
from tests.sample_generator.malformed import MALFORMED_KINDS, add_malformed, add_unknown_field
from tests.sample_generator.responses import generate_responses
from tests.sample_generator.shapes import Record
from tests.sample_generator.traffic import add_chain, add_multi_turn, add_single_turn

DEFAULT_SEED = 7
DEFAULT_COUNT = 315

# Records per special feature; the rest of `count` is ordinary single- and multi-turn traffic.
FEATURE_QUOTAS: tuple[tuple[str, int], ...] = (
    ("tool_answer", 16),
    ("tool_answer_parallel", 6),
    ("tool_call_output", 12),
    ("refusal", 8),
    ("length", 10),
    ("azure", 10),
    ("azure_filtered_violence", 1),
    ("azure_filtered_sexual", 1),
    ("image", 6),
    ("json_mode", 6),
    ("email", 8),
    ("phone_us", 5),
    ("phone_intl", 5),
    ("card", 3),
    ("openai_key", 4),
    ("aws_key", 2),
)
CONVERSATION_CHAINS = 8
CHAIN_LENGTH = 3
EXACT_DUPLICATES = 10
NEAR_DUPLICATES = 10
_MIN_FILLER = 30
_MULTI_TURN_SHARE = 0.3


def fixed_record_count() -> int:
    """Count the records the special features, chains, copies and malformed cases take.

    Returns:
        The number of records that are not ordinary single- or multi-turn traffic.
    """
    features = sum(n for _, n in FEATURE_QUOTAS)
    chains = CONVERSATION_CHAINS * CHAIN_LENGTH + TURN_BY_TURN_RECORDS
    return features + chains + EXACT_DUPLICATES + NEAR_DUPLICATES + len(MALFORMED_KINDS) + 1


def generate_sample(*, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> list[Record]:
    """Generate the sample of stored completions.

    Args:
        seed: Seed of the single random generator; the output is a pure function of it.
        count: Number of records. The special cases take a fixed number; the rest is ordinary
            single- and multi-turn traffic.

    Returns:
        The records ordered by `created`, each a chat.completion object plus `input_messages`.

    Raises:
        ValueError: If `count` leaves too little room for ordinary traffic.
    """
    minimum = fixed_record_count() + _MIN_FILLER
    if count < minimum:
        raise ValueError(f"count must be at least {minimum}, got {count}")
    builder = SampleBuilder(seed)
    filler = count - fixed_record_count()
    multi_turn = round(filler * _MULTI_TURN_SHARE)
    for _ in range(filler - multi_turn):
        add_single_turn(builder)
    for _ in range(multi_turn):
        add_multi_turn(builder)
    for _ in range(CONVERSATION_CHAINS):
        add_chain(builder, CHAIN_LENGTH)
    for kind, quota in FEATURE_QUOTAS:
        for _ in range(quota):
            add_feature(builder, kind)
    for kind in MALFORMED_KINDS:
        add_malformed(builder, kind)
    add_unknown_field(builder)
    add_duplicates(builder, EXACT_DUPLICATES, NEAR_DUPLICATES)
    # Last, so that every record drawn before them stays as it was.
    add_turn_by_turn_chats(builder)
    return builder.records()


def render_jsonl(records: Sequence[Record]) -> str:
    """Serialise records as JSONL: one object per line, UTF-8 text, trailing newline.

    Args:
        records: The records to write.

    Returns:
        The file content.
    """
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def sample_files(*, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> dict[str, str]:
    """Render the three samples.

    Args:
        seed: See `generate_sample` (the responses and conversations are fixed).
        count: See `generate_sample`.

    Returns:
        File name (as shipped in `pipelines/sample/`) → file content.
    """
    return {
        SAMPLE_PATH.name: render_jsonl(generate_sample(seed=seed, count=count)),
        RESPONSES_SAMPLE_PATH.name: render_jsonl(generate_responses()),
        CONVERSATIONS_SAMPLE_PATH.name: render_jsonl(generate_conversations()),
    }


def write_sample(path: Path, *, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT) -> int:
    """Generate the sample of stored chat completions and write it to `path`.

    Args:
        path: The JSONL file to (over)write.
        seed: See `generate_sample`.
        count: See `generate_sample`.

    Returns:
        The number of records written.
    """
    records = generate_sample(seed=seed, count=count)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_jsonl(records).encode("utf-8"))
    return len(records)


def write_samples(
    directory: Path, *, seed: int = DEFAULT_SEED, count: int = DEFAULT_COUNT
) -> dict[str, int]:
    """Write the three samples into `directory` under their shipped names.

    Returns:
        File name → number of records written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in sample_files(seed=seed, count=count).items():
        (directory / name).write_bytes(text.encode("utf-8"))
        written[name] = text.count("\n")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m tests.sample_generator [--out-dir DIR | --out PATH] [--seed N]
    [--count N]`. Without `--out`, all three samples are written (into the package by default);
    `--out` writes the chat-completions sample alone.

    Args:
        argv: Arguments without the program name; `sys.argv[1:]` when None.

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(description="Write the bundled samples.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out-dir", type=Path, default=SAMPLE_PATH.parent, help="write all three samples here"
    )
    where.add_argument("--out", type=Path, help="write only the chat-completions sample, here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args(argv)
    if args.out is not None:
        written = write_sample(args.out, seed=args.seed, count=args.count)
        print(f"wrote {written} records to {args.out}")
        return 0
    for name, records in write_samples(args.out_dir, seed=args.seed, count=args.count).items():
        print(f"wrote {records} records to {args.out_dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
