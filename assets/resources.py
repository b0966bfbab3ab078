"""Resources: where the data directory is, and which source to read.

Credentials never pass through Dagster config: the `openai` SDK reads `OPENAI_API_KEY` /
`AZURE_OPENAI_API_KEY` from the environment of the run itself (`pipelines.ingest.sources`), so no
key can reach run config, the event log or the UI.
"""

import contextlib
import os
from collections.abc import Iterator

import dagster as dg
import openai

from pipelines.datadir.paths import DEFAULT_DATA_DIR
from pipelines.ingest.plan import ReadPlan, read_plan
from pipelines.ingest.settings import IngestSettings
from pipelines.ingest.sources import RequestCounter, SourceInfo, open_source

WRITER_POOL = "distillery_data_dir"
"""The Dagster concurrency pool of every asset that writes the data directory. Set its limit to 1
(`dagster instance concurrency set distillery_data_dir 1`, or `concurrency.pools` in dagster.yaml)
and Dagster queues the steps itself, and shows why in the UI; the data directory's own lock or
lease (`pipelines.datadir.lease`) holds whether or not it is set."""


class DataDirectory(dg.ConfigurableResource):
    """Root of the lake and the artifacts (`DISTILLERY_DATA_DIR`): a path, or `s3://`, `az://`,
    `abfs://` or `gs://` URL."""

    path: str = DEFAULT_DATA_DIR


class StoredCompletionsSource(dg.ConfigurableResource):
    """The stored-completions API to read: OpenAI, Azure OpenAI or the local store.

    `kind` empty means: as `DISTILLERY_SOURCE` or the credentials in the environment say, and the
    bundled sample when there are none.
    """

    kind: str = ""
    concurrency: int = IngestSettings.DEFAULTS.concurrency
    overlap_seconds: int = IngestSettings.DEFAULTS.overlap_seconds
    full_refresh_every_days: float = IngestSettings.DEFAULTS.full_refresh_every_days

    @contextlib.contextmanager
    def open(self) -> Iterator[tuple[openai.OpenAI, SourceInfo, RequestCounter]]:
        env = dict(os.environ)
        if self.kind:
            env["DISTILLERY_SOURCE"] = self.kind
        with open_source(env) as opened:
            yield opened

    def plan(self, info: SourceInfo) -> ReadPlan:
        """What to read: `DISTILLERY_CHAT_COMPLETIONS`, `DISTILLERY_RESPONSES_LIST`,
        `DISTILLERY_RESPONSE_IDS`, `DISTILLERY_CONVERSATION_IDS` (`pipelines.ingest.plan`)."""
        return read_plan(info.kind)

    def settings(self, *, full_refresh: bool) -> IngestSettings:
        return IngestSettings(
            concurrency=self.concurrency,
            overlap_seconds=self.overlap_seconds,
            full_refresh=full_refresh,
            full_refresh_every_days=self.full_refresh_every_days,
        )


def env_or_default(name: str, default: str) -> str | dg.EnvVar:
    """`dg.EnvVar(name)` when the variable is set, else `default`.

    A plain `dg.EnvVar` fails the run when its variable is unset, and these settings are optional.
    """
    return dg.EnvVar(name) if os.environ.get(name) else default
