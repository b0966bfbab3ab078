"""The data directory on object storage: paths, whole-object writes, the pipeline, and the lease,
against a real S3-compatible server (moto's server mode) on a loopback port."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import polars as pl
import pytest

from pipelines.completions.table import build_completions, read_completions
from pipelines.curate.table import curate_completions, read_curated, write_curated
from pipelines.datadir.atomic import atomic_path, write_parquet_atomically
from pipelines.datadir.lease import Lease, one_writer
from pipelines.datadir.lock import LockBusy
from pipelines.datadir.object_storage import (
    ObjectPath,
    ObjectTag,
    as_path,
    is_object_url,
    read_parquet,
)
from pipelines.datadir.paths import DataPaths
from pipelines.export.manifest import read_manifest
from pipelines.export.retarget import add_targets
from pipelines.export.versions import build_dataset_version, latest_version, list_versions
from pipelines.ingest import ReadPlan
from pipelines.ingest import ingest as ingest_run
from pipelines.ingest.errors import LakeWriteError, SourceUnavailableError
from pipelines.ingest.lake import read_raw_completions
from pipelines.ingest.paging import RetryPolicy
from pipelines.ingest.plan import read_plan
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import SourceInfo
from pipelines.ingest.state import read_state
from pipelines.recipes import Recipe
from tests.s3_server import moto_server, new_bucket, s3_environment
from tests.spans import export_request, span_record
from tests.test_ingest import ingest
from tests.test_normalize_traces import SEMCONV_ROUND_TRIP


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_server() as env, s3_environment(env):
        yield env


@pytest.fixture
def data_dir(s3: dict[str, str]) -> ObjectPath:
    return ObjectPath.from_url(f"s3://{new_bucket(s3)}/team/distillery")


def test_urls_become_object_paths_and_local_paths_stay_paths(tmp_path) -> None:
    assert is_object_url("s3://b/p") and is_object_url("az://c/p") and is_object_url("gs://b")
    assert not is_object_url(str(tmp_path)) and not is_object_url("s3-archive/x")
    paths = DataPaths("s3://bucket/a/b")
    assert paths.remote
    assert str(paths.latest("default")) == "s3://bucket/a/b/artifacts/default/LATEST"
    assert str(paths.raw_batch("r-1")) == "s3://bucket/a/b/lake/raw_completions/batch-r-1.parquet"
    assert DataPaths(tmp_path).data_dir == tmp_path and not DataPaths(tmp_path).remote
    assert as_path("s3://bucket/x").parent == ObjectPath("s3://bucket", "")


@pytest.mark.slow
def test_objects_are_written_whole_and_listed_like_files(data_dir: ObjectPath) -> None:
    frame = pl.DataFrame({"id": ["a", "b"], "n": [1, 2]})
    write_parquet_atomically(frame, data_dir / "lake" / "t.parquet")
    with atomic_path(data_dir / "lake" / "state.json") as temporary:
        temporary.write_text("{}")
    with pytest.raises(RuntimeError), atomic_path(data_dir / "lake" / "broken.json") as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")

    assert read_parquet(data_dir / "lake" / "t.parquet").equals(frame)
    assert (data_dir / "lake" / "state.json").read_text() == "{}"
    assert not (data_dir / "lake" / "broken.json").exists()
    assert [p.name for p in (data_dir / "lake").glob("*.parquet")] == ["t.parquet"]
    assert (data_dir / "lake").is_dir() and not (data_dir / "nothing").exists()
    assert (data_dir / "lake" / "t.parquet").create(b"x") is None  # If-None-Match: *


@pytest.mark.slow
def test_the_pipeline_on_s3_publishes_a_version_readers_can_trust(data_dir: ObjectPath) -> None:
    report = ingest({}, data_dir)
    lake = read_raw_completions(data_dir)
    assert report.new == lake.height > 0
    assert read_state(DataPaths(data_dir)).high_water_mark is not None

    validated = build_completions(data_dir)
    assert read_completions(data_dir).height == validated.completions.height
    recipe = Recipe(name="default")
    write_curated(data_dir, curate_completions(read_completions(data_dir), recipe))
    first = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)

    assert first.created and latest_version(data_dir, "default") == first.version
    manifest = read_manifest(first.path / "manifest.json")
    for name, entry in manifest.files.items():
        data = (first.path / name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry.sha256, entry.bytes), name
    assert [m.version for m in list_versions(data_dir, "default")] == [first.version]

    again = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)
    assert (again.version, again.created) == (first.version, False)

    added = add_targets(data_dir, "default", first.version, ["axolotl"])
    assert added.added == ["axolotl"]
    manifest = read_manifest(first.path / "manifest.json")
    assert "axolotl" in manifest.targets
    for name in [*manifest.targets["axolotl"].files, "README.md"]:
        data = (first.path / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest.files[name].sha256, name


@pytest.mark.slow
def test_a_version_without_its_manifest_is_absent_and_is_uploaded_again(
    data_dir: ObjectPath,
) -> None:
    ingest({}, data_dir)
    build_completions(data_dir)
    recipe = Recipe(name="default")
    write_curated(data_dir, curate_completions(read_completions(data_dir), recipe))
    built = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)
    # A build killed after uploading the files but before the manifest: no version, no LATEST.
    (built.path / "manifest.json").unlink()
    (DataPaths(data_dir).latest("default")).unlink()
    assert list_versions(data_dir, "default") == [] and latest_version(data_dir, "default") is None

    rebuilt = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)

    assert (rebuilt.version, rebuilt.created) == (built.version, True)
    assert latest_version(data_dir, "default") == built.version


def test_a_missing_bucket_stops_ingest_in_one_line(s3: dict[str, str]) -> None:
    with pytest.raises(LakeWriteError) as failed:
        ingest({}, ObjectPath.from_url("s3://no-such-bucket/distillery"))
    message = str(failed.value)
    assert "NoSuchBucket: The specified bucket does not exist" in message
    assert "\n" not in message and "s3://no-such-bucket/distillery" in message


@pytest.mark.slow
def test_a_second_writer_fails_naming_the_holder(data_dir: ObjectPath) -> None:
    paths = DataPaths(data_dir)
    with one_writer(paths, what="an ingest"):
        holder = json.loads(paths.lease.read_text())
        # (Within one process the lease is re-entrant: the second writer is another Lease.)
        with pytest.raises(LockBusy) as busy:
            Lease(paths.lease, what="a build of completions", ttl_s=30).acquire(wait_s=0.5)
    message = str(busy.value)
    assert "a build of completions cannot start: an ingest holds" in message
    assert f"pid {holder['pid']}" in message and "\n" not in message
    assert not paths.lease.exists()  # released


@pytest.mark.slow
def test_a_waiting_writer_runs_once_the_holder_is_done(data_dir: ObjectPath) -> None:
    paths = DataPaths(data_dir)
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with one_writer(paths, what="first"):
            held.set()
            time.sleep(1.0)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(10)
    second = Lease(paths.lease, what="second", ttl_s=30)
    second.acquire(wait_s=20)
    order.append("second runs")
    second.release()
    thread.join()
    assert order == ["first done", "second runs"]


@pytest.mark.slow
def test_an_expired_lease_is_taken_over(data_dir: ObjectPath, monkeypatch) -> None:
    paths = DataPaths(data_dir)
    dead = {"owner": "a killed build", "pid": 1, "host": "gone", "expires": time.time() - 1}
    paths.lease.write_text(json.dumps(dead))
    monkeypatch.setenv("DISTILLERY_LEASE_TTL_S", "3")

    with one_writer(paths, what="an ingest"):
        now = json.loads(paths.lease.read_text())
        assert now["owner"] == "an ingest" and now["expires"] > time.time()
        time.sleep(2.5)  # past the first expiry: the heartbeat renewed it
        assert json.loads(paths.lease.read_text())["heartbeat"] > now["heartbeat"]
        stale = ObjectTag('"not-its-tag"', None)
        assert paths.lease.replace_if(b"{}", stale) is None  # If-Match is enforced


def test_a_conditional_replace_names_the_version_gcs_needs(monkeypatch) -> None:
    # object_store makes GCS's conditional put from the version (the generation) and S3's and
    # Azure's from the entity tag; no GCS emulator on PyPI takes object_store's puts, so the
    # request it is given is checked here.
    import pipelines.datadir.object_storage as object_storage

    sent: list[object] = []

    def put(store: object, key: str, data: bytes, *, mode: object) -> dict[str, str]:
        sent.append(mode)
        return {"e_tag": '"new"', "version": "18"}

    monkeypatch.setattr(object_storage, "_store", lambda root: None)
    monkeypatch.setattr(object_storage.obstore, "put", put)
    lease = ObjectPath("gs://bucket", "lake/state/writer.lease")

    renewed = lease.replace_if(b"{}", ObjectTag('"old"', "17"))
    on_s3 = lease.replace_if(b"{}", ObjectTag('"old"', None))

    assert sent == [{"e_tag": '"old"', "version": "17"}, {"e_tag": '"old"'}]
    assert renewed == ObjectTag('"new"', "18") == on_s3


@pytest.mark.slow
def test_trace_objects_under_a_prefix_are_read_once_and_new_ones_on_the_next_run(
    s3: dict[str, str], tmp_path
) -> None:
    import boto3

    bucket = new_bucket(s3)
    client = boto3.client(
        "s3",
        endpoint_url=s3["AWS_ENDPOINT_URL"],
        aws_access_key_id=s3["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3["AWS_SECRET_ACCESS_KEY"],
        region_name=s3["AWS_REGION"],
    )

    def put(key: str, lines: list[str]) -> None:
        client.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode())

    spans = [span_record(SEMCONV_ROUND_TRIP, span_id=f"{n:016x}") for n in range(1, 5)]
    agent_step = span_record({"gen_ai.operation.name": "invoke_agent"}, span_id="f" * 16)
    # The Collector's file exporter, one ExportTraceServiceRequest per line; an object is put
    # whole, so its last line counts without a newline.
    first_lines = [
        json.dumps(export_request([spans[0], agent_step])),
        json.dumps(export_request([spans[1]])),
    ]
    put("traces/2026/12/08/traces-1.jsonl", first_lines)
    put("traces/README.txt", ["not a trace file"])
    env = {
        "DISTILLERY_SOURCE": "openai",
        "OPENAI_API_KEY": "unused",
        "DISTILLERY_CHAT_COMPLETIONS": "off",
        "DISTILLERY_TRACES_PATH": f"s3://{bucket}/traces/",
    }
    data_dir = tmp_path / "data"

    def run() -> Any:
        unused = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
        return ingest_run(
            unused,
            source=SourceInfo(kind="openai", endpoint_host="none"),
            data_dir=data_dir,
            plan=read_plan("openai", env),
            settings=IngestSettings(retry=RetryPolicy(attempts=1)),
        ).by_reader()["traces_files"]

    def lake_ids() -> list[str]:
        return sorted(read_raw_completions(data_dir)["id"])

    def ids(*numbers: int) -> list[str]:
        return [f"span_5b8aa5a2d2c872e8321cf37308d69df2_{n:016x}" for n in numbers]

    first = run()
    assert (first.listed, first.new, first.skipped, first.rejected) == (3, 2, 1, 0)
    assert lake_ids() == ids(1, 2)

    again = run()
    assert (again.listed, again.new, again.batch_files) == (0, 0, [])

    # The exporter rotates: a new object; the first is not read again.
    put("traces/2026/12/08/traces-2.jsonl", [json.dumps(export_request([spans[2]])) + "\n"])
    third = run()
    assert (third.listed, third.new, third.skipped) == (1, 1, 0)
    # An object replaced by a longer one (a grown file uploaded again): only its new line.
    put("traces/2026/12/08/traces-1.jsonl", [*first_lines, json.dumps(export_request([spans[3]]))])
    fourth = run()
    assert (fourth.listed, fourth.new) == (1, 1)
    assert lake_ids() == ids(1, 2, 3, 4)  # each span once


def test_a_trace_prefix_in_a_missing_bucket_is_named_in_one_line(
    s3: dict[str, str], tmp_path
) -> None:
    unused = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(SourceUnavailableError) as failed:
        ingest_run(
            unused,
            source=SourceInfo(kind="openai", endpoint_host="none"),
            data_dir=tmp_path / "data",
            plan=ReadPlan(chat_completions=False, traces_path="s3://no-such-bucket/traces"),
            settings=IngestSettings(retry=RetryPolicy(attempts=1)),
        )
    message = str(failed.value)
    assert "NoSuchBucket" in message and "s3://no-such-bucket/traces" in message
    assert "\n" not in message
