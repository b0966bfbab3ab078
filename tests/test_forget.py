"""`distillery forget`: one user's data leaves every byte distillery keeps, and stays gone.

One world is built once for the module: traffic of many users captured through the proxy (chat
completions, streamed and not, with tools; responses, one continuing another), conversations
imported into the same store, all ingested and built by `build_datasets_job` (Dagster, with its
own DAGSTER_HOME) into versions of two recipes. One user's records carry canary strings in their
metadata, messages, tool arguments and answers. Each test erases that user from a copy of the
world and then searches every byte: Parquet decoded, everything else (SQLite and its WAL
included) read raw.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.capture_support import READ_KEY, TOOLS, capturing_store, sdk
from tests.fake_upstream import running_upstream
from tests.store_process import distillery_command, store_process, write_jsonl

CANARY_USER = "user-quokkamarmalade"
CANARIES = {
    "metadata": CANARY_USER,
    "message": "quokkamarmalade-question",
    "tool_arguments": "quokkamarmalade-city",
    "answer": "quokkamarmalade-echoed",
    "response": "quokkamarmalade-response",
    "conversation": "quokkamarmalade-conversation",
}
TOPICS = ["tides", "compilers", "bread", "glaciers", "tariffs", "vaccines", "jazz", "orbits"]
AUDIENCES = ["child", "lawyer", "farmer", "pilot", "chef", "nurse"]
RECIPES = """
recipes:
  alpha: {}
  beta:
    dedup: {near: {enabled: false}}
    split: {group_by: metadata.user_id}
"""


def _capture(client: Any) -> None:
    """Everyone's traffic through the proxy; the canary user's, first, carries every canary
    (first: the rows a preview of the table's head, or of the oldest rows, would show)."""
    mine = {"user_id": CANARY_USER}
    client.chat.completions.create(
        model="gpt-4.1-mini",
        store=True,
        metadata=mine,
        messages=[{"role": "user", "content": f"Plan: {CANARIES['message']}"}],
    )
    client.chat.completions.create(
        model="gpt-4.1-mini",
        store=True,
        metadata=mine,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "Is it raining where I live?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_canary_1",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": json.dumps({"city": CANARIES["tool_arguments"]}),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_canary_1", "content": "light rain"},
            {"role": "user", "content": f"So take an umbrella? {CANARIES['answer']}"},
        ],
    )
    first = client.responses.create(
        model="gpt-4.1-mini", input=f"Remember {CANARIES['response']}.", metadata=mine
    )
    # A follow-up that names no user: it carries the first turn as its context.
    client.responses.create(model="gpt-4.1-mini", input="And then?", previous_response_id=first.id)
    for n, (topic, audience) in enumerate(itertools.product(TOPICS, AUDIENCES)):
        request: dict[str, Any] = {
            "model": "gpt-4.1-mini",
            "messages": [{"role": "user", "content": f"Explain {topic} to a {audience}, #{n}."}],
            "store": True,
            "metadata": {"user_id": f"user-{n % 9}"},
        }
        if n % 2:
            request |= {"stream": True, "stream_options": {"include_usage": True}}
            list(client.chat.completions.create(**request))
        else:
            client.chat.completions.create(**request)
        if n % 4 == 0:
            client.responses.create(
                model="gpt-4.1-mini",
                input=f"Summarise {topic} for a {audience}, #{n}.",
                metadata={"user_id": f"user-{n % 9}"},
            )


def _conversations() -> list[dict[str, Any]]:
    def conversation(number: int, user: str, text: str) -> dict[str, Any]:
        return {
            "id": f"conv_forget_{number:03d}",
            "object": "conversation",
            "created_at": 1_770_000_500 + number,
            "metadata": {"user_id": user},
            "items": [
                {
                    "id": f"msg_conv_{number:03d}_1",
                    "type": "message",
                    "status": "completed",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
                {
                    "id": f"msg_conv_{number:03d}_2",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": f"Noted: {text}", "annotations": []}
                    ],
                },
            ],
        }

    others = [conversation(n, f"user-{n}", f"Tell me about {TOPICS[n]}.") for n in range(4)]
    return [*others, conversation(9, CANARY_USER, f"My secret is {CANARIES['conversation']}.")]


def _environment(world: Path, source_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "DISTILLERY_"))
    }
    return env | {
        "DAGSTER_HOME": str(world / "dagster_home"),
        "DISTILLERY_SOURCE": "openai",
        "OPENAI_BASE_URL": f"{source_url}/v1",
        "OPENAI_API_KEY": READ_KEY,  # the store's reader of every tenant
        "DISTILLERY_DATA_DIR": str(world / "data"),
        "DISTILLERY_RECIPES": str(world / "recipes.yaml"),
        "DISTILLERY_RESPONSES_LIST": "on",
        "DISTILLERY_CONVERSATION_IDS": str(world / "conversation_ids.txt"),
    }


def _build(world: Path, source_url: str) -> None:
    dagster = str(Path(sys.executable).parent / "dagster")
    run = subprocess.run(
        [dagster, "job", "execute", "-m", "assets.definitions", "-j", "build_datasets_job"],
        cwd=world,
        env=_environment(world, source_url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The captured, ingested and built world (never changed: tests work on copies)."""
    world = tmp_path_factory.mktemp("forget-world")
    (world / "dagster_home").mkdir()
    (world / "recipes.yaml").write_text(RECIPES, encoding="utf-8")
    conversations = _conversations()
    (world / "conversation_ids.txt").write_text(
        "".join(c["id"] + "\n" for c in conversations), encoding="utf-8"
    )
    db = world / "capture.db"
    imported = write_jsonl(world / "conversations.jsonl", conversations)
    subprocess.run(
        [*distillery_command(), "store", "import", str(imported), "--db", str(db)], check=True
    )
    (world / "conversations.jsonl").unlink()
    with running_upstream() as upstream, capturing_store(db, f"{upstream.url}/v1") as proxy:
        _capture(sdk(proxy))
        _build(world, proxy.url)
    return world


@pytest.fixture
def copy(world: Path, tmp_path: Path) -> Path:
    target = tmp_path / "world"
    shutil.copytree(world, target)
    # Dagster's storage names its own directory: the copy's runs stay in the copy.
    return target


def forget_command(world: Path, *extra: str, env: dict[str, str] | None = None, store: bool = True):
    return subprocess.run(
        [
            *distillery_command(),
            "forget",
            "--metadata",
            f"user_id={CANARY_USER}",
            *(["--store-db", str(world / "capture.db")] if store else []),
            "--data-dir",
            str(world / "data"),
            *extra,
        ],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def canaries_in(root: Path, extra: set[str] = frozenset()) -> dict[str, list[str]]:
    """Which canaries (and `extra` strings) each file holds: Parquet decoded (every column, as
    JSON), every other file's raw bytes, SQLite files and their logs included."""
    wanted = {**CANARIES, **{text: text for text in extra}}
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".parquet":
            data += pl.read_parquet(path).write_ndjson().encode("utf-8")
        hits = [name for name, canary in wanted.items() if canary.encode("utf-8") in data]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def lake_ids(world: Path) -> set[str]:
    from pipelines.ingest import read_raw_completions

    return set(read_raw_completions(world / "data")["id"].to_list())


def version_ids(world: Path) -> dict[str, set[str]]:
    """recipe/version → the completion ids of its rows."""
    found = {}
    for manifest in sorted((world / "data" / "artifacts").glob("*/*/manifest.json")):
        rows = pl.read_parquet(list(manifest.parent.glob("*.parquet")))
        found[f"{manifest.parent.parent.name}/{manifest.parent.name}"] = set(rows["completion_id"])
    return found


def assert_versions_verify(world: Path) -> None:
    """Every published version's files are those its manifest lists, byte for byte, and
    LATEST names a published version."""
    for manifest_path in (world / "data" / "artifacts").glob("*/*/manifest.json"):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for name, entry in manifest["files"].items():
            data = (manifest_path.parent / name).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (
                entry["sha256"],
                entry["bytes"],
            )
    for latest in (world / "data" / "artifacts").glob("*/LATEST"):
        assert (latest.parent / latest.read_text().strip() / "manifest.json").is_file()


def assert_forgotten(
    world: Path, before: Path, *, in_one_run: bool = True, store: bool = True
) -> None:
    """No canary anywhere, every other record in place, every version verifying, and a record
    naming no id (counting all of them when one run did it all)."""
    gone = lake_ids(before) - lake_ids(world)
    # Not even the ids: they are remembered only as salted hashes.
    for root in ("data", "dagster_home"):
        assert canaries_in(world / root, gone) == {}
    if store:  # the store's files; the ids file is the test's own input, not distillery's
        assert canaries_in(world, gone).keys() <= {"conversation_ids.txt"}
    # Two chats, two responses (the follow-up only by its context) and a conversation.
    kinds = sorted(i.split("_")[0].split("-")[0] for i in gone)
    assert kinds == ["chatcmpl", "chatcmpl", "conv", "resp", "resp"], sorted(gone)
    old, new = version_ids(before), version_ids(world)
    assert set(old) - set(new) and set(new) - set(old)  # versions replaced, under new ids
    assert set().union(*old.values()) - gone == set().union(*new.values())
    assert_versions_verify(world)
    (record,) = (world / "data" / "forget").glob("*T*.json")
    text = record.read_text(encoding="utf-8")
    assert not any(i in text for i in gone) and CANARY_USER not in text
    if in_one_run:  # a run finishing a killed one counts what was left
        assert json.loads(text)["places"]["raw_rows"] >= len(gone)


@pytest.mark.slow
def test_the_world_holds_the_canaries_before(world: Path) -> None:
    # What the other tests rely on: every canary reached the lake, the versions of both
    # recipes and the capture store.
    in_data = canaries_in(world / "data")
    assert {n for hits in in_data.values() for n in hits} == set(CANARIES)
    assert {path.split("/")[1] for path in in_data if path.startswith("artifacts/")} == {
        "alpha",
        "beta",
    }
    assert set(canaries_in(world)["capture.db"]) >= {"metadata", "message", "conversation"}


@pytest.mark.slow
def test_forget_a_user_leaves_no_byte_and_a_resync_brings_nothing_back(
    world: Path, copy: Path
) -> None:
    # The source still has everything: a copy of the store as it was, served read-only.
    shutil.copy(world / "capture.db", copy / "source.db")
    run = forget_command(copy)
    assert run.returncode == 0, run.stderr
    (copy / "source.db").rename(copy.parent / "source.db")
    assert_forgotten(copy, world)

    with store_process(copy.parent / "source.db", extra_args=["--read-key", READ_KEY]) as source:
        _build(copy, source.url)
    assert canaries_in(copy / "data") == {}
    assert canaries_in(copy / "dagster_home") == {}
    assert_versions_verify(copy)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["raw_batch", "version"])
def test_a_forget_killed_midway_is_finished_by_the_next_run(
    world: Path, copy: Path, kill_at: str
) -> None:
    # The process SIGKILLs itself at the named point (`pipelines.forget.run.KILL_HOOK`): a real
    # kill -9, at a known step. No store named: the re-run has only the data directory (its
    # tombstones) to know what the killed run was erasing.
    killed = forget_command(copy, env={"DISTILLERY_TEST_KILL_FORGET_AT": kill_at}, store=False)
    assert killed.returncode == -9, killed.stderr
    assert canaries_in(copy / "data") != {}  # it was killed with work left
    finished = forget_command(copy, store=False)
    assert finished.returncode == 0, finished.stderr
    assert_forgotten(copy, world, in_one_run=False, store=False)
