"""Writers SIGKILLed on object storage, and writers racing for one data directory.

A killed build leaves LATEST on a whole version; a killed ingest resumes to the exact id set; the
lease a killed writer held stops blocking once it expires; two builds started together on one
data directory (on S3 and on local disk) never both write: one runs, the other waits or fails
with one line naming the holder.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.completions.table import build_completions, read_completions
from pipelines.curate.table import curate_completions, read_curated, write_curated
from pipelines.datadir.lease import Lease
from pipelines.datadir.object_storage import ObjectPath
from pipelines.datadir.paths import DataPaths
from pipelines.export.versions import build_dataset_version, latest_version, list_versions
from pipelines.ingest.lake import read_raw_completions
from pipelines.recipes import Recipe
from tests.object_store_jobs import assert_latest_is_whole, dagster, job_env
from tests.s3_server import moto_server, new_bucket, s3_environment
from tests.test_ingest import ingest

TTL_S = 3.0
REPO = Path(__file__).resolve().parents[1]
MAIN_JOB = ("job", "execute", "-m", "assets.definitions", "-j", "build_datasets_job")

# Runs in a child process: SIGKILLs itself at the chosen upload, as a crash or an OOM kill would.
KILLER = """
import os, signal, sys
import pipelines.datadir.object_storage as storage

KILL_AT, MATCH = int(sys.argv[2]), sys.argv[3]
seen = 0
real = storage.ObjectPath.upload

def upload(self, local):
    global seen
    if MATCH in self.key:
        seen += 1
        if seen == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)
    real(self, local)

storage.ObjectPath.upload = upload
"""


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_server() as env, s3_environment(env):
        yield env


@pytest.fixture
def data_dir(s3: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ObjectPath:
    monkeypatch.setenv("DISTILLERY_LEASE_TTL_S", str(TTL_S))
    return ObjectPath.from_url(f"s3://{new_bucket(s3)}/distillery")


def run_killed(script: str, *args: str) -> None:
    """Run `KILLER` + `script` in a child; assert it died of SIGKILL."""
    child = subprocess.run(
        [sys.executable, "-c", KILLER + textwrap.dedent(script), *args],
        cwd=REPO,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]


def curated(data_dir: ObjectPath) -> None:
    ingest({}, data_dir)
    build_completions(data_dir)
    recipe = Recipe(name="default")
    write_curated(data_dir, curate_completions(read_completions(data_dir), recipe))


@pytest.mark.slow
def test_a_build_killed_mid_publish_leaves_latest_on_a_whole_version(data_dir: ObjectPath) -> None:
    curated(data_dir)
    first = build_dataset_version(
        data_dir, read_curated(data_dir, "default"), Recipe(name="default")
    )

    # Another split seed is another version; the build dies after three of its uploads.
    run_killed(
        """
        from pipelines.curate.table import read_curated
        from pipelines.export.versions import build_dataset_version
        from pipelines.recipes import Recipe
        recipe = Recipe.model_validate({"name": "default", "split": {"seed": 7}})
        build_dataset_version(sys.argv[1], read_curated(sys.argv[1], "default"), recipe)
        """,
        str(data_dir),
        "3",
        "/artifacts/default/",
    )

    assert assert_latest_is_whole(data_dir) == first.version
    assert [m.version for m in list_versions(data_dir, "default")] == [first.version]
    # The killed build's lease blocks the next build no longer than its time to live.
    started = time.monotonic()
    recipe = Recipe.model_validate({"name": "default", "split": {"seed": 7}})
    second = build_dataset_version(data_dir, read_curated(data_dir, "default"), recipe)
    assert time.monotonic() - started < TTL_S + 5
    assert second.created and second.version != first.version
    assert assert_latest_is_whole(data_dir) == second.version


@pytest.mark.slow
def test_an_ingest_killed_mid_page_resumes_to_the_exact_id_set(
    data_dir: ObjectPath, tmp_path: Path
) -> None:
    ingest({}, tmp_path / "local")
    expected = set(read_raw_completions(tmp_path / "local")["id"])

    # Dies on its second page's batch, before the sync state names that page.
    run_killed(
        """
        from pipelines.ingest.sources import open_source
        from pipelines.ingest import IngestSettings, ingest_completions
        with open_source({}) as (client, source, requests):
            ingest_completions(client, source=source, data_dir=sys.argv[1],
                               settings=IngestSettings(), requests=requests)
        """,
        str(data_dir),
        "2",
        "/raw_completions/batch-",
    )
    partial = set(read_raw_completions(data_dir)["id"])
    assert 0 < len(partial) < len(expected)

    started = time.monotonic()
    ingest({}, data_dir, lock_wait_s=TTL_S + 10)  # waits out the dead holder's lease

    assert time.monotonic() - started < TTL_S + 10
    ids = read_raw_completions(data_dir)["id"]
    assert set(ids) == expected and ids.n_unique() == ids.len()


@pytest.mark.slow
def test_a_sigkilled_lease_holder_blocks_no_longer_than_the_lease(data_dir: ObjectPath) -> None:
    lease = DataPaths(data_dir).lease
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pipelines.datadir.lease import one_writer\n"
            "from pipelines.datadir.paths import DataPaths\n"
            "with one_writer(DataPaths(sys.argv[1]), what='a stuck build'):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(600)\n",
            str(data_dir),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(Exception, match="a stuck build holds"):
        Lease(lease, what="a build", ttl_s=TTL_S).acquire(wait_s=0)
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    started = time.monotonic()
    taker = Lease(lease, what="the next build", ttl_s=TTL_S)
    taker.acquire(wait_s=60)
    waited = time.monotonic() - started
    taker.release()

    assert waited <= TTL_S + 3  # the expiry, a poll interval (1 s) and a loaded machine's slack


# Loaded by every Python process of a run (a `sitecustomize` on its PYTHONPATH): wraps the real
# `one_writer` so each process appends when it held the writer, and, on object storage, whom the
# lease object named while it did. With no path to log to (any other process) it does nothing.
RECORDER = """
import contextlib, json, os, time

LOG = os.environ.get("DISTILLERY_TEST_WRITER_LOG")
if LOG:
    import pipelines.datadir as datadir
    import pipelines.datadir.lease as lease

    real = lease.one_writer
    depth = 0

    @contextlib.contextmanager
    def one_writer(paths, *, what, wait_s=0.0, local_lock=None):
        global depth
        with real(paths, what=what, wait_s=wait_s, local_lock=local_lock):
            depth += 1
            claimed = depth == 1 and (paths.remote or local_lock is not None)
            start = time.time()
            named = json.loads(paths.lease.read_bytes())["pid"] if paths.remote else None
            try:
                yield
            finally:
                depth -= 1
                if claimed:
                    held = {"pid": os.getpid(), "what": what, "start": start,
                            "end": time.time(), "lease_pid": named}
                    with open(LOG, "a") as log:
                        log.write(json.dumps(held) + "\\n")

    lease.one_writer = datadir.one_writer = one_writer
"""


def two_builds_at_once(cwd: Path, url: str, store_env: dict[str, str]) -> list[tuple[int, str]]:
    (cwd / "recorder").mkdir()
    (cwd / "recorder" / "sitecustomize.py").write_text(RECORDER)
    runs = []
    for name in ("a", "b"):
        (cwd / name).mkdir()
        env = job_env(cwd / name / "home", url, store_env)
        env["DISTILLERY_LEASE_TTL_S"] = str(TTL_S)
        env["DISTILLERY_TEST_WRITER_LOG"] = str(cwd / "writers.jsonl")
        env["PYTHONPATH"] = os.pathsep.join([str(cwd / "recorder"), str(REPO)])
        runs.append(dagster(*MAIN_JOB, cwd=cwd / name, env=env))
    results = []
    for run in runs:
        output, _ = run.communicate(timeout=600)
        results.append((run.returncode, output))
    return results


def writer_intervals(log: Path) -> list[dict[str, Any]]:
    """When each process held the writer, in order of taking it."""
    held = [json.loads(line) for line in log.read_text().splitlines()]
    return sorted(held, key=lambda h: h["start"])


@pytest.mark.slow
@pytest.mark.parametrize("where", ["s3", "local"])
def test_two_builds_started_together_never_both_write(
    where: str, s3: dict[str, str], tmp_path: Path
) -> None:
    if where == "s3":
        url = f"s3://{new_bucket(s3)}/distillery"
        busy = "an ingest cannot start: an ingest holds"
    else:
        url = str(tmp_path / "data")
        busy = "an ingest is already running on this data directory (pid "

    results = two_builds_at_once(tmp_path, url, s3 if where == "s3" else {})

    succeeded = [output for code, output in results if code == 0]
    failed = [output for code, output in results if code != 0]
    assert succeeded, results[0][1][-3000:]
    for output in failed:
        assert busy in output, output[-3000:]
    # One writer at a time: the processes' holding intervals never overlap, and on object
    # storage the lease object named the process that held it.
    held = writer_intervals(tmp_path / "writers.jsonl")
    assert held and "an ingest" in {h["what"] for h in held}
    for before, after in itertools.pairwise(held):
        assert before["end"] <= after["start"], (before, after)
    if where == "s3":
        assert all(h["lease_pid"] == h["pid"] for h in held)
        assert_latest_is_whole(ObjectPath.from_url(url))
    else:
        version = latest_version(url, "default")
        assert version
        assert (Path(url) / "artifacts" / "default" / version / "manifest.json").exists()
