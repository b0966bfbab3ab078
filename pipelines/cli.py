"""The `distillery` console script.

distillery build [--recipe NAME] [--full-refresh]
distillery --version
distillery store serve --db PATH [--host 127.0.0.1] [--port N] [--api-key K | --keys FILE]
                       [--read-key K] [--allowed-host NAME] [--max-body-bytes N]
                       [--insecure-no-key] [--upstream URL …] [fault flags]
distillery store import FILE.jsonl --db PATH [--skip-invalid]
distillery export --recipe R [--version V] --target T [--target T2 …] [--data-dir D]
distillery forget [--id ID …] [--ids-file F] [--metadata K=V …] [--user U …] [--dry-run]
                  [--at-source] [--store-db FILE …] [--data-dir D]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pipelines.cli_forget import add_forget_command
from pipelines.cli_store import add_store_commands
from pipelines.version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distillery", description="Stored completions into datasets you own."
    )
    parser.add_argument("--version", action="version", version=f"distillery {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_store_commands(commands)

    ingest_cmd = commands.add_parser(
        "ingest",
        help="sync stored chat completions, responses and conversations from the configured"
        " source into the lake",
    )
    ingest_cmd.add_argument(
        "--data-dir", help="data directory (default: $DISTILLERY_DATA_DIR, else ./distillery-data)"
    )
    ingest_cmd.add_argument("--full-refresh", action="store_true", help="re-read everything")
    ingest_cmd.add_argument(
        "--concurrency",
        type=int,
        help="item reads in flight (default: the pipeline's, `IngestSettings.concurrency`)",
    )
    ingest_cmd.set_defaults(run=_ingest)

    build_cmd = commands.add_parser(
        "build",
        help="run the main job (ingest, validate, curate, publish) in this process, recorded"
        " where `dagster dev` shows it",
    )
    build_cmd.add_argument("--recipe", metavar="NAME", help="build only this recipe")
    build_cmd.add_argument("--full-refresh", action="store_true", help="ingest re-reads everything")
    build_cmd.set_defaults(run=_build)

    export_cmd = commands.add_parser(
        "export", help="add export targets to a published dataset version (same version id)"
    )
    export_cmd.add_argument("--recipe", required=True, help="the recipe's name")
    export_cmd.add_argument("--version", help="the version id (default: the recipe's LATEST)")
    export_cmd.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="NAME",
        help="a target to add (repeatable): openai, azure, hf, llamafactory, axolotl,"
        " promptfoo, inspect_ai, foundry, oss_evals, preference",
    )
    export_cmd.add_argument(
        "--data-dir", help="data directory (default: $DISTILLERY_DATA_DIR, else ./distillery-data)"
    )
    export_cmd.add_argument(
        "--rewrite", action="store_true", help="write targets the version already has again"
    )
    export_cmd.set_defaults(run=_export)
    add_forget_command(commands)
    return parser


def _build(args: argparse.Namespace) -> int:
    # The Dagster layer, imported by name only here: pipelines/ never imports dagster, and the
    # other commands do not pay for loading it.
    build = importlib.import_module("assets.build")
    return build.main(recipe=args.recipe, full_refresh=args.full_refresh)


def _ingest(args: argparse.Namespace) -> int:
    # Imported here: `distillery store …` should not pay for polars and pyarrow.
    from pipelines.datadir.paths import data_dir_from_env
    from pipelines.ingest import (
        IngestError,
        IngestSettings,
        SourceConfigError,
        ingest,
        open_source,
        read_plan,
    )

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("distillery").setLevel(logging.INFO)
    data_dir = args.data_dir or data_dir_from_env()
    settings = IngestSettings(
        concurrency=args.concurrency or IngestSettings.DEFAULTS.concurrency,
        full_refresh=args.full_refresh,
    )
    try:
        with open_source() as (client, source, requests):
            run = ingest(
                client,
                source=source,
                data_dir=data_dir,
                plan=read_plan(source.kind),
                settings=settings,
                requests=requests,
            )
    except (IngestError, SourceConfigError) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    print(run.summary())
    return 0


def _export(args: argparse.Namespace) -> int:
    # Imported here: `distillery store …` should not pay for polars and pyarrow.
    from pipelines.datadir.lock import LockBusy
    from pipelines.datadir.paths import data_dir_from_env
    from pipelines.export.retarget import TargetsRefused, add_targets
    from pipelines.export.versions import latest_version

    data_dir = args.data_dir or data_dir_from_env()
    version = args.version or latest_version(data_dir, args.recipe)
    if version is None:
        print(
            f"distillery: error: recipe {args.recipe} has no version in {data_dir}", file=sys.stderr
        )
        return 2
    try:
        done = add_targets(data_dir, args.recipe, version, args.target, rewrite=args.rewrite)
    except (FileNotFoundError, ValueError, LockBusy, TargetsRefused) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    if not done.added:
        print(f"version {version} of recipe {args.recipe} already has {', '.join(args.target)}")
        return 0
    for name in done.added:
        files = done.manifest.targets[name].files
        print(
            f"{name}: {len(files)} files ({', '.join(files[:4])}{', …' if len(files) > 4 else ''})"
        )
    print(f"version {version} of recipe {args.recipe} at {done.path.resolve()} (id unchanged)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
