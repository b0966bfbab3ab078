"""`forget_job`: `distillery forget` from the UI, with the same settings as run config."""

import dagster as dg
from pydantic import Field

from assets.resources import DataDirectory, StoredCompletionsSource
from pipelines.datadir.lock import LockBusy
from pipelines.forget import Selection, forget, parse_metadata, read_ids_file


class ForgetConfig(dg.Config):
    """What to erase. Dagster keeps run config in its run storage, which no erasure rewrites: a
    selector that is itself personal data (a user id) is better given through `ids_file`, a
    file the run reads, or through the CLI, which keeps nothing."""

    ids: list[str] = Field(default_factory=list)
    """Completion, response or conversation ids."""
    ids_file: str = ""
    """A file of ids, one a line."""
    metadata: list[str] = Field(default_factory=list)
    """`KEY=VALUE` pairs of stored metadata, e.g. `user_id=4711`."""
    users: list[str] = Field(default_factory=list)
    """The requests' `user` / `safety_identifier`."""
    dry_run: bool = False
    """Count per place and list the versions that would be replaced; change nothing."""
    at_source: bool = False
    """Also delete at the configured source through its API."""
    store_dbs: list[str] = Field(default_factory=list)
    """Store SQLite files on the run's machine to erase from too."""


@dg.op(description="Erase what the config names from the lake, tables, versions and stores.")
def forget_data(
    context: dg.OpExecutionContext,
    config: ForgetConfig,
    data_dir: DataDirectory,
    source: StoredCompletionsSource,
) -> None:
    try:
        ids = list(config.ids)
        if config.ids_file:
            with open(config.ids_file, encoding="utf-8") as ids_file:
                ids.extend(read_ids_file(ids_file.read()))
        selection = Selection(tuple(ids), parse_metadata(config.metadata), tuple(config.users))
    except (OSError, ValueError) as error:
        raise dg.Failure(description=str(error)) from None
    if not selection:
        raise dg.Failure(description="name what to forget: ids, ids_file, metadata or users")
    try:
        if config.at_source and not config.dry_run:
            with source.open() as (client, _, _):
                report = forget(
                    data_dir.path, selection, store_dbs=config.store_dbs, source_client=client
                )
        else:
            report = forget(
                data_dir.path, selection, dry_run=config.dry_run, store_dbs=config.store_dbs
            )
    except (FileNotFoundError, LockBusy) as error:
        raise dg.Failure(description=str(error)) from None
    # Counts and version ids only: the report holds no personal data.
    context.log.info(report.summary())


@dg.job(description="Erase a person's or a conversation's data (run config: what to forget).")
def forget_job() -> None:
    forget_data()
