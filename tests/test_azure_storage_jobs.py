"""The whole `build_datasets_job`, and its re-run that writes nothing, with the data directory on
`az://` in Azurite (Microsoft's Blob Storage emulator, from npm), started here on a loopback port.
Without Azurite (`bash .ci/install-azurite.sh`) the test is skipped, except under CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.datadir.object_storage import ObjectPath
from tests.azurite_server import azurite_installed, azurite_server, new_container
from tests.consumers import missing
from tests.object_store_jobs import assert_latest_is_whole, job_env, objects, run_job

VERSION_LINE = re.compile(
    r"dataset version (\w+) of recipe default (written|unchanged, already) at (\S+)"
)


@pytest.mark.slow
def test_main_job_on_azure_blob_then_a_rerun_that_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not azurite_installed():
        missing("Azurite from npm", "bash .ci/install-azurite.sh")
    with azurite_server() as azure:
        monkeypatch.setenv(*next(iter(azure.items())))
        url = f"az://{new_container(azure)}/prod/distillery"
        data_dir = ObjectPath.from_url(url)
        env = job_env(tmp_path / "home", url, azure)

        first = run_job("build_datasets_job", cwd=tmp_path, env=env)

        version, state, where = VERSION_LINE.search(first).groups()  # type: ignore[union-attr]
        assert (state, where) == ("written", f"{url}/artifacts/default/{version}")
        assert assert_latest_is_whole(data_dir) == version
        before = objects(data_dir / "artifacts")

        second = run_job("build_datasets_job", cwd=tmp_path, env=env)

        again = VERSION_LINE.search(second)
        assert again and again.groups()[:2] == (version, "unchanged, already")
        assert objects(data_dir / "artifacts") == before
