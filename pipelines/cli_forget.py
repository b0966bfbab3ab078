"""`distillery forget`: its arguments and what it runs (`pipelines.forget`).

Kept apart from `pipelines.cli` so that module stays one screenful per command; importing this
one costs nothing (polars loads only when the command runs).
"""

from __future__ import annotations

import argparse
import sys


def add_forget_command(commands: argparse._SubParsersAction) -> None:
    """Add `forget` to the `distillery` subcommands."""
    forget_cmd = commands.add_parser(
        "forget",
        help="erase completions, responses or conversations (by id, metadata or user) from the"
        " lake, the tables, every dataset version and the stores",
    )
    forget_cmd.add_argument("--id", action="append", default=[], metavar="ID", help="repeatable")
    forget_cmd.add_argument("--ids-file", metavar="FILE", help="ids, one a line")
    forget_cmd.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    forget_cmd.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="VALUE",
        help="the request's `user` / `safety_identifier` (repeatable)",
    )
    forget_cmd.add_argument(
        "--dry-run", action="store_true", help="count per place and list versions; change nothing"
    )
    forget_cmd.add_argument(
        "--at-source",
        action="store_true",
        help="also delete at the configured source through its API (refusals are counted)",
    )
    forget_cmd.add_argument(
        "--store-db",
        action="append",
        default=[],
        metavar="FILE",
        help="a store SQLite file on this machine to erase from too (repeatable)",
    )
    forget_cmd.add_argument(
        "--data-dir", help="data directory (default: $DISTILLERY_DATA_DIR, else ./distillery-data)"
    )
    forget_cmd.set_defaults(run=_forget)


def _forget(args: argparse.Namespace) -> int:
    # Imported here: `distillery store …` should not pay for polars and pyarrow.
    from pipelines.datadir.lock import LockBusy
    from pipelines.datadir.paths import data_dir_from_env
    from pipelines.forget import Selection, forget, parse_metadata, read_ids_file

    try:
        ids = list(args.id)
        if args.ids_file:
            with open(args.ids_file, encoding="utf-8") as ids_file:
                ids.extend(read_ids_file(ids_file.read()))
        selection = Selection(tuple(ids), parse_metadata(args.metadata), tuple(args.user))
    except (OSError, ValueError) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    if not selection:
        print(
            "distillery: error: name what to forget: --id, --ids-file, --metadata or --user",
            file=sys.stderr,
        )
        return 2
    data_dir = args.data_dir or data_dir_from_env()
    try:
        if args.at_source and not args.dry_run:
            from pipelines.ingest import SourceConfigError, open_source

            try:
                with open_source() as (client, _, _):
                    report = forget(
                        data_dir, selection, store_dbs=args.store_db, source_client=client
                    )
            except SourceConfigError as err:
                print(f"distillery: error: {err}", file=sys.stderr)
                return 2
        else:
            report = forget(data_dir, selection, dry_run=args.dry_run, store_dbs=args.store_db)
    except (FileNotFoundError, LockBusy) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0
