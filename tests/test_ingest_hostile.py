"""Ingest against servers that misbehave: it always finishes, or says in one line why not.

Each test stands for one finding of issue 12 (numbers in the test names' comments), and runs the
real SDK over real HTTP against `tests.hostile_server`, or the project's store.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.completions import build_completions
from pipelines.datadir.paths import DataPaths
from pipelines.ingest import (
    IngestBusyError,
    IngestReport,
    IngestSettings,
    LakeWriteError,
    SourceProtocolError,
    SourceUnavailableError,
    ingest_completions,
    open_source,
    read_raw_completions,
)
from pipelines.ingest.paging import RetryPolicy
from pipelines.ingest.sources import DEFAULT_REQUEST_DEADLINE_S
from pipelines.ingest.state import RunCheckpoint, read_state, write_state
from tests.hostile_server import Behaviour, hostile_server, make_items
from tests.records import response_record
from tests.store_process import distillery_command
from tests.test_ingest_dagster import materialize_ingest

KEY = "sk-hostile-test-key-0123456789abcdef"


def sync(
    base_url: str,
    data_dir: Path,
    *,
    full_refresh: bool = False,
    page_size: int = 5,
    **source_options: Any,
) -> IngestReport:
    env = {"DISTILLERY_SOURCE": "openai", "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": base_url}
    settings = IngestSettings(
        page_size=page_size,
        full_refresh=full_refresh,
        retry=RetryPolicy(attempts=2, max_wait_s=0.05),
    )
    with open_source(env, **source_options) as (client, info, counter):
        return ingest_completions(
            client, source=info, data_dir=data_dir, settings=settings, requests=counter
        )


def lake_ids(data_dir: Path, *, deleted: bool | None = None) -> set[str]:
    lake = read_raw_completions(data_dir)
    if deleted is not None:
        lake = lake.filter(lake["deleted"] == deleted)
    return set(lake["id"].to_list())


# -- 1, 2: empty pages, empty accounts, a run killed after its last checkpoint ------------------


@pytest.mark.slow
def test_an_account_with_nothing_stored_syncs_to_an_empty_lake(tmp_path: Path) -> None:
    with hostile_server(Behaviour()) as url:
        report = sync(url, tmp_path)

    assert (report.listed, report.new, report.batch_files) == (0, 0, [])


@pytest.mark.slow
def test_an_empty_page_that_says_has_more_ends_the_listing(tmp_path: Path) -> None:
    with hostile_server(Behaviour(empty_page_with_has_more=True)) as url:
        report = sync(url, tmp_path)

    assert report.listed == 0


@pytest.mark.slow
def test_when_every_completion_expired_a_full_refresh_flags_them_all(tmp_path: Path) -> None:
    behaviour = make_items(12)
    with hostile_server(behaviour) as url:
        sync(url, tmp_path)
        behaviour.items.clear()
        report = sync(url, tmp_path, full_refresh=True)

    assert report.deleted == 12
    assert lake_ids(tmp_path, deleted=True) == {f"chatcmpl-h{i:04d}" for i in range(12)}


@pytest.mark.slow
def test_a_run_killed_after_its_last_checkpoint_finishes_on_the_next_run(tmp_path: Path) -> None:
    behaviour = make_items(12)
    with hostile_server(behaviour) as url:
        sync(url, tmp_path)
        # As a kill leaves it: every page checkpointed, the cursor on the oldest completion,
        # the final state write never made.
        paths = DataPaths(tmp_path)
        state = read_state(paths)
        oldest = min(behaviour.items, key=lambda i: i["created"])["id"]
        checkpoint = RunCheckpoint(
            id="20261126T000000000000Z", source_kind="openai", mode="full", after=oldest, pages=3
        )
        write_state(paths, state.model_copy(update={"run": checkpoint}))

        report = sync(url, tmp_path)

    assert report.resumed
    # Its record of the ids it listed is gone too: it lists again rather than take every
    # completion it did not list for deleted.
    assert report.deleted == 0
    assert read_state(DataPaths(tmp_path)).run is None
    assert lake_ids(tmp_path, deleted=False) == {i["id"] for i in behaviour.items}


# -- 3, 4: completions and cursors that vanish while a sync runs ---------------------------------


@pytest.mark.slow
def test_a_completion_gone_before_its_messages_are_read_is_counted_and_the_sync_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    behaviour = make_items(12)
    behaviour.messages_gone = {"chatcmpl-h0005"}
    with hostile_server(behaviour) as url, caplog.at_level(logging.WARNING, "distillery"):
        report = sync(url, tmp_path)

    assert report.vanished == 1 and report.new == 11
    assert "chatcmpl-h0005" not in lake_ids(tmp_path)
    assert len(lake_ids(tmp_path)) == 11
    assert "gone before their messages could be read" in caplog.text


@pytest.mark.slow
def test_a_resume_cursor_gone_at_the_source_restarts_the_listing(tmp_path: Path) -> None:
    behaviour = make_items(12)
    with hostile_server(behaviour) as url:
        paths = DataPaths(tmp_path)
        checkpoint = RunCheckpoint(
            id="20261126T000000000000Z", source_kind="openai", mode="full", after="chatcmpl-gone"
        )
        write_state(paths, read_state(paths).model_copy(update={"run": checkpoint}))
        behaviour.cursor_gone = {"chatcmpl-gone"}

        report = sync(url, tmp_path)

    assert report.listing_restarts == 1
    assert lake_ids(tmp_path) == {i["id"] for i in behaviour.items}


# -- 5: listings that never end ----------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "fault", [{"repeat_first_page": True}, {"backwards_after_page": 2}, {"messages_repeat": True}]
)
@pytest.mark.slow
def test_a_cursor_that_repeats_or_moves_backwards_stops_with_one_line(
    tmp_path: Path, fault: dict[str, Any]
) -> None:
    behaviour = make_items(30)
    for name, value in fault.items():
        setattr(behaviour, name, value)
    with hostile_server(behaviour) as url, pytest.raises(SourceProtocolError) as caught:
        sync(url, tmp_path)

    assert "cursor repeats or moves backwards" in str(caught.value)
    assert len(behaviour.requests) < 100


# -- 6: servers that stall or trickle ------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fault", "options"),
    [
        ({"stall_s": 30.0}, {"read_timeout_s": 0.5, "request_deadline_s": 5.0}),
        ({"trickle_every_s": 0.05}, {"read_timeout_s": 5.0, "request_deadline_s": 1.0}),
    ],
)
@pytest.mark.slow
def test_a_stalled_or_trickling_server_is_reported_within_the_deadline(
    tmp_path: Path, fault: dict[str, float], options: dict[str, float]
) -> None:
    behaviour = make_items(3)
    for name, value in fault.items():
        setattr(behaviour, name, value)
    with hostile_server(behaviour) as url, pytest.raises(SourceUnavailableError) as caught:
        sync(url, tmp_path, max_retries=1, **options)

    assert "stalled" in str(caught.value)
    assert len(behaviour.requests) == 2  # the SDK's one retry, and no outer retry of a stall


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fault", [{"trickle_every_s": 1.5}, {"stall_s": 60.0}], ids=str)
@pytest.mark.slow
def test_a_trickling_or_stalled_source_ends_ingest_in_one_line_within_deadline_times_tries(
    tmp_path: Path, fault: dict[str, float]
) -> None:
    # Issue 21, item 2: a byte every 1.5 s never trips the read timeout (at most the deadline,
    # 2 s); the deadline bounds each answer, and the SDK's retries share DEADLINE × (retries + 1).
    deadline_s, sdk_retries = 2.0, 2  # `distillery ingest` keeps the SDK's 2 retries
    behaviour = make_items(3)
    for name, value in fault.items():
        setattr(behaviour, name, value)
    with hostile_server(behaviour) as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DISTILLERY_")},
            "DISTILLERY_SOURCE": "openai",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "DISTILLERY_DATA_DIR": str(tmp_path),
            "DISTILLERY_REQUEST_DEADLINE_S": str(deadline_s),
        }
        lines = _stderr_lines_as_they_come([*distillery_command(), "ingest"], env)
    errors = [line for line, _ in lines if "error" in line.lower()]
    stderr = "\n".join(line for line, _ in lines)

    assert len(errors) == 1 and "stalled while listing" in errors[0], stderr
    assert "Traceback" not in stderr
    assert len(behaviour.requests) == sdk_retries + 1  # every try, and no outer retry of a stall
    # From the first request reaching the server to the error line (not the interpreter's exit,
    # which on a busy machine takes a second of its own).
    (error_at,) = [at for line, at in lines if "error" in line.lower()]
    assert error_at - behaviour.request_times[0] <= deadline_s * (sdk_retries + 1) + 0.5


def _stderr_lines_as_they_come(command: list[str], env: dict[str, str]) -> list[tuple[str, float]]:
    """Run `command` to its end; each line it wrote to stderr, with when it came; exit code 2."""
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        lines = [(line.rstrip("\n"), time.monotonic()) for line in process.stderr]
        assert process.wait(timeout=90) == 2, lines
    return lines


def test_the_default_deadline_gives_up_on_a_source_within_five_minutes() -> None:
    env = {"DISTILLERY_SOURCE": "openai", "OPENAI_API_KEY": KEY}
    with open_source(env) as (client, _, _):
        budget = client._client._transport.budget_s  # the SDK's http client, our transport

    assert budget == DEFAULT_REQUEST_DEADLINE_S * (client.max_retries + 1) < 300


# -- 12: a server that echoes the key ------------------------------------------------------------


@pytest.mark.slow
def test_server_error_text_is_scrubbed_before_it_is_logged_or_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        hostile_server(Behaviour(error_echoing_key=True)) as url,
        caplog.at_level(logging.DEBUG),
        pytest.raises(SourceUnavailableError) as caught,
    ):
        sync(url, tmp_path)

    message = str(caught.value)
    assert "HTTP 400" in message and "upstream exploded" in message
    assert KEY not in message and "<SECRET>" in message
    assert KEY not in caplog.text


# -- 13: answers that are not the API's, and a lake that cannot be written ----------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><body>Sign in to continue</body></html>", "is not JSON"),
        (b'{"object": "list", "data": [{"id": "chatcmpl-1", "crea', "is not JSON"),
        (b'{"object": "list", "data": {"id": "chatcmpl-1"}}', "has no `data` list (found dict)"),
        (b"[1, 2, 3]", "has no `data` list (found list)"),
    ],
)
@pytest.mark.slow
def test_an_answer_that_is_not_the_apis_stops_with_one_line(
    tmp_path: Path, body: bytes, expected: str
) -> None:
    with (
        hostile_server(Behaviour(raw_list_body=body)) as url,
        pytest.raises(SourceProtocolError) as caught,
    ):
        sync(url, tmp_path)

    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
def test_items_without_an_id_are_kept_with_their_reason_and_the_rest_is_ingested(
    tmp_path: Path,
) -> None:
    behaviour = make_items(3)
    good = sorted(behaviour.items, key=lambda i: i["created"], reverse=True)
    data = [good[0], {"object": "chat.completion", "created": 1}, {**good[1], "id": None}, good[2]]
    body = json.dumps({"object": "list", "data": data, "has_more": False}).encode()
    behaviour.raw_list_body = body
    with hostile_server(behaviour) as url:
        report = sync(url, tmp_path)

    assert lake_ids(tmp_path) == {good[0]["id"], good[2]["id"]}
    assert report.rejected == 2
    (rejects,) = (tmp_path / "lake" / "rejected").iterdir()
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [line["reason"] for line in lines] == ["no string id", "no string id"]
    assert json.loads(lines[1]["item"])["id"] is None


NOT_OBJECTS = json.dumps({"data": [1, 2, 3], "has_more": False}).encode()


@pytest.mark.parametrize("where", ["list", "messages", "input items"])
@pytest.mark.slow
def test_list_items_that_are_not_objects_are_kept_and_counted_in_the_summary_and_the_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # Issue 21, item 3: `{"data": [1, 2, 3]}` as the list of completions, as a completion's
    # messages, or as the input items of a response read by id. An object missing some of its
    # items is not whole: it is kept aside with them, not in the lake, and asked for again.
    behaviour = make_items(1)
    env = {"DISTILLERY_SOURCE": "openai", "OPENAI_API_KEY": KEY}
    if where == "list":
        behaviour.raw_list_body = NOT_OBJECTS
    else:
        behaviour.raw_items_body = NOT_OBJECTS
    if where == "input items":
        record = response_record("resp_hostile")
        del record["input_items"]
        behaviour.objects[record["id"]] = record
        (tmp_path / "ids.txt").write_text(f"{record['id']}\n", encoding="utf-8")
        env |= {"DISTILLERY_CHAT_COMPLETIONS": "off", "DISTILLERY_RESPONSE_IDS": "ids.txt"}
    stored_object = record if where == "input items" else behaviour.items[0]
    monkeypatch.chdir(tmp_path)
    with hostile_server(behaviour) as url:
        env |= {"OPENAI_BASE_URL": url, "DISTILLERY_DATA_DIR": str(tmp_path / "cli")}

        def ingest() -> subprocess.CompletedProcess[str]:
            command = [*distillery_command(), "ingest"]
            env_all = {**os.environ, **env}
            return subprocess.run(command, env=env_all, capture_output=True, text=True, timeout=120)

        cli = ingest()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("DISTILLERY_DATA_DIR")
        asset = materialize_ingest(tmp_path / "asset")
        lake_after_first_run = lake_ids(tmp_path / "cli")
        behaviour.raw_list_body = behaviour.raw_items_body = None  # the server answers well again
        again = ingest()

    rejected = 3 if where == "list" else 1  # three list items, or the one object
    assert cli.returncode == 0, cli.stderr
    (summary,) = cli.stdout.splitlines()
    assert "0 new" in summary and f", {rejected} rejected," in summary
    (event,) = asset.get_asset_materialization_events()
    assert event.materialization.metadata["items_rejected"].value == rejected
    assert lake_after_first_run == lake_ids(tmp_path / "asset") == set()
    for data_dir in (tmp_path / "cli", tmp_path / "asset"):
        (rejects,) = (data_dir / "lake" / "rejected").iterdir()
        lines = [json.loads(line) for line in rejects.read_text().splitlines()]
        if where == "list":
            assert [(line["reason"], line["item"]) for line in lines] == [
                ("not an object", "1"),
                ("not an object", "2"),
                ("not an object", "3"),
            ]
        else:
            (line,) = lines
            assert line["reason"] == f"3 of its {where} unusable (not an object)"
            kept = json.loads(line["item"])
            assert kept["object"]["id"] == stored_object["id"]
            assert kept["unusable_items"] == [1, 2, 3]
    # Nothing rejected moved the cursor: the next run asks for the object again, and stores it.
    assert again.returncode == 0, again.stderr
    assert lake_ids(tmp_path / "cli") == {stored_object["id"]}


@pytest.mark.slow
def test_a_data_directory_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("oops")
    with hostile_server(make_items(3)) as url, pytest.raises(LakeWriteError) as caught:
        sync(url, not_a_dir)

    assert str(caught.value) == f"the data directory {not_a_dir} is a file, not a directory"


def _limit_file_size() -> None:
    # Writes past 64 KiB fail with EFBIG, as a full disk fails them with ENOSPC.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.slow
def test_a_write_that_fails_mid_ingest_is_one_line_and_the_next_run_resumes(
    tmp_path: Path,
) -> None:
    behaviour = make_items(60)
    for messages in behaviour.messages.values():
        # Text that does not compress: the first batch file passes the limit.
        messages[0]["content"] = os.urandom(2000).hex()
    with hostile_server(behaviour) as url:
        env = {
            **os.environ,
            "DISTILLERY_SOURCE": "openai",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": url,
            "DISTILLERY_DATA_DIR": str(tmp_path),
        }
        run = subprocess.run(
            [*distillery_command(), "ingest"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_limit_file_size,
        )
        errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]

        assert run.returncode == 2, run.stderr
        assert len(errors) == 1 and "cannot write the lake under" in errors[0], run.stderr
        assert "Traceback" not in run.stderr

        report = sync(url, tmp_path, page_size=100)

    assert lake_ids(tmp_path) == {i["id"] for i in behaviour.items}
    assert report.new == 60


# -- 14, 15: bytes that are not UTF-8, and keys in another order ---------------------------------


@pytest.mark.slow
def test_invalid_utf8_is_kept_losslessly_and_its_record_quarantined(tmp_path: Path) -> None:
    behaviour = make_items(2)
    item = json.dumps(behaviour.items[0]).encode().replace(b"Sure, here", b"Sure\xff here")
    other = json.dumps(behaviour.items[1]).encode()
    behaviour.raw_list_body = (
        b'{"object":"list","has_more":false,"data":[' + item + b"," + other + b"]}"
    )
    with hostile_server(behaviour) as url:
        sync(url, tmp_path)
    validated = build_completions(tmp_path)

    bad_id = behaviour.items[0]["id"]
    stored = read_raw_completions(tmp_path).filter(pl.col("id") == bad_id)["completion_json"]
    # The byte survives as a lone surrogate that encodes back to it (surrogateescape).
    assert "\\udcff" in stored.item()
    content = json.loads(stored.item())["choices"][0]["message"]["content"]
    assert content.encode("utf-8", "surrogateescape") == b"Sure\xff here it is."
    quarantined = validated.quarantine.filter(pl.col("id") == bad_id)
    assert quarantined.height == 1
    checks = [reason["check"] for reason in quarantined["reasons"].item()]
    assert "valid_text" in checks
    assert validated.completions["id"].to_list() == [behaviour.items[1]["id"]]


@pytest.mark.slow
def test_a_server_that_reorders_keys_stores_nothing_again(tmp_path: Path) -> None:
    behaviour = make_items(12)
    with hostile_server(behaviour) as url:
        sync(url, tmp_path)
        behaviour.reorder_keys = True
        report = sync(url, tmp_path, full_refresh=True)

    assert report.updated == 0 and report.new == 0
    assert report.batch_files == []


# -- 8: two ingests of one data directory at once ---------------------------------------------


@pytest.mark.slow
def test_a_second_ingest_of_the_same_data_directory_stops_naming_the_first(
    tmp_path: Path,
) -> None:
    behaviour = make_items(40)
    behaviour.delay_s = 0.05  # the first sync takes a second or two
    with hostile_server(behaviour) as url:
        first: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: first.update(report=sync(url, tmp_path)))
        thread.start()
        while not behaviour.requests:
            time.sleep(0.01)
        with pytest.raises(IngestBusyError) as caught:
            sync(url, tmp_path)
        requests_of_second = len(behaviour.requests)
        thread.join(timeout=60)

    assert "an ingest is already running on this data directory (pid" in str(caught.value)
    assert f"pid {os.getpid()} on" in str(caught.value)
    assert first["report"].new == 40
    assert requests_of_second < 40 + 8 + 1  # the second fetched nothing of its own
    assert lake_ids(tmp_path) == {i["id"] for i in behaviour.items}
