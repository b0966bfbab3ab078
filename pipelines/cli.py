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
import os
import sys
from collections.abc import Sequence

from pipelines.cli_forget import add_forget_command
from pipelines.store.database import StoreDatabase
from pipelines.store.faults import FaultConfig
from pipelines.store.guards import DEFAULT_MAX_BODY_BYTES
from pipelines.store.server import InsecureBindError, serve
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
    store = commands.add_parser("store", help="the local stored-completions store").add_subparsers(
        dest="store_command", required=True
    )

    serve_cmd = store.add_parser("serve", help="serve the stored-completions API over HTTP")
    serve_cmd.add_argument("--db", required=True, help="SQLite file (created when missing)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    serve_cmd.add_argument(
        "--api-key",
        default=os.environ.get("DISTILLERY_STORE_API_KEY"),
        help="require this key on every request (default: $DISTILLERY_STORE_API_KEY, else none)",
    )
    serve_cmd.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable; default: loopback names and"
        " --host only, against DNS rebinding)",
    )
    serve_cmd.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"refuse larger request bodies with 413 (default: {DEFAULT_MAX_BODY_BYTES})",
    )
    serve_cmd.add_argument(
        "--insecure-no-key",
        action="store_true",
        help="serve a non-loopback --host without an API key (refused otherwise)",
    )
    serve_cmd.add_argument("--access-log", action="store_true", help="log every request")
    serve_cmd.add_argument(
        "--keys",
        metavar="FILE",
        help="tenants and their keys (YAML/JSON: tenants: {NAME: {key | key_sha256, role:"
        " generate|read}}); each capture records its tenant, each tenant sees only its own",
    )
    serve_cmd.add_argument(
        "--read-key",
        default=os.environ.get("DISTILLERY_STORE_READ_KEY"),
        help="a key that reads every tenant's captures and does nothing else (what ingest uses;"
        " default: $DISTILLERY_STORE_READ_KEY)",
    )
    capture = serve_cmd.add_argument_group(
        "capture", "also proxy an OpenAI-compatible upstream, storing what it generates"
    )
    capture.add_argument(
        "--upstream",
        metavar="URL",
        help="forward generations (and all the store does not serve) here: an OpenAI-style base URL"
        " (https://api.openai.com/v1, http://localhost:8000/v1) or an Azure endpoint",
    )
    capture.add_argument(
        "--upstream-flavour",
        choices=["openai", "azure"],
        help="how the upstream takes paths and keys (default: azure for Azure hosts, else openai)",
    )
    capture.add_argument(
        "--upstream-key-env",
        metavar="NAME",
        help="environment variable holding the upstream's key (default:"
        " DISTILLERY_UPSTREAM_API_KEY); unset, each client's own key is passed through",
    )
    capture.add_argument(
        "--upstream-timeout",
        type=float,
        metavar="S",
        help="answer 504 when the upstream sends nothing for S seconds (default: 600)",
    )
    capture.add_argument(
        "--capture",
        choices=["request", "always", "never"],
        default="request",
        help="what is stored: as each request asks (store: true for chat; responses unless"
        " store: false; the default), always, or never",
    )
    capture.add_argument(
        "--forward",
        metavar="ROUTES",
        help="comma-separated routes besides generations that go upstream with its key, by their"
        " first path segment under /v1 (default: models,embeddings); e.g. add files,audio",
    )
    capture.add_argument(
        "--stream-usage",
        action="store_true",
        help="ask the upstream for usage on every stream (stored with the capture) and strip the"
        " usage-only chunk from clients that did not ask for it",
    )
    capture.add_argument(
        "--capture-budget",
        type=float,
        metavar="S",
        help="drop (and count on /distillery/health) a capture not committed within S seconds,"
        " e.g. while another process holds the write lock; answers never wait (default: 30)",
    )
    faults = serve_cmd.add_argument_group(
        "test controls", "fault injection and the /_admin routes; for tests, never for real data"
    )
    faults.add_argument("--test-controls", action="store_true", help="serve /_admin routes")
    faults.add_argument("--fault-latency-ms", type=float, default=0.0)
    faults.add_argument("--fault-error-rate", type=float, default=0.0, help="share answered 503")
    faults.add_argument("--fault-rate-limit-every", type=int, default=0, help="every Nth is 429")
    faults.add_argument("--fault-retry-after-ms", type=int, default=50)
    faults.add_argument("--fault-drop-rate", type=float, default=0.0, help="share dropped")
    faults.add_argument("--fault-insufficient-quota", action="store_true")
    faults.add_argument("--fault-seed", type=int, default=0)
    serve_cmd.set_defaults(run=_serve)

    import_cmd = store.add_parser(
        "import",
        help="import a JSONL export (completions, responses, conversations) into the store",
    )
    import_cmd.add_argument(
        "file", help="JSONL: one stored chat completion, response or conversation per line"
    )
    import_cmd.add_argument("--db", required=True, help="SQLite file (created when missing)")
    import_cmd.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid lines even if some are invalid (default: import nothing)",
    )
    import_cmd.set_defaults(run=_import)

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


def _serve(args: argparse.Namespace) -> int:
    from pipelines.store.server import CaptureKeyError, StoreFileError
    from pipelines.store.tenants import KeysFileError

    faults = FaultConfig(
        latency_ms=args.fault_latency_ms,
        error_rate=args.fault_error_rate,
        rate_limit_every=args.fault_rate_limit_every,
        retry_after_ms=args.fault_retry_after_ms,
        drop_rate=args.fault_drop_rate,
        insufficient_quota=args.fault_insufficient_quota,
        seed=args.fault_seed,
    )
    capture = None
    if args.upstream is not None:
        # Imported here: a plain store never loads the capture proxy's HTTP client.
        from pipelines.store.capture import (
            DEFAULT_FORWARD,
            DEFAULT_KEY_VARIABLE,
            DEFAULT_TIMEOUT_S,
            CaptureSettings,
            Upstream,
            UpstreamConfigError,
            upstream_key,
        )

        try:
            upstream = Upstream.parse(
                args.upstream,
                flavour=args.upstream_flavour,
                api_key=upstream_key(args.upstream_key_env or DEFAULT_KEY_VARIABLE),
                timeout_s=args.upstream_timeout or DEFAULT_TIMEOUT_S,
            )
        except UpstreamConfigError as err:
            print(f"distillery: error: {err}", file=sys.stderr)
            return 2
        forward = DEFAULT_FORWARD if args.forward is None else args.forward.split(",")
        capture = CaptureSettings(
            upstream=upstream,
            policy=args.capture,
            forward=frozenset(name.strip() for name in forward if name.strip()),
            stream_usage=args.stream_usage,
            **({"budget_s": args.capture_budget} if args.capture_budget else {}),
        )
    elif (
        args.capture != "request"
        or args.stream_usage
        or any(
            value is not None
            for value in (
                args.upstream_flavour,
                args.upstream_key_env,
                args.upstream_timeout,
                args.forward,
                args.capture_budget,
            )
        )
    ):
        print("distillery: error: the capture flags need --upstream URL", file=sys.stderr)
        return 2
    try:
        serve(
            args.db,
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            faults=faults,
            test_controls=args.test_controls,
            access_log=args.access_log,
            allowed_hosts=args.allowed_host,
            max_body_bytes=args.max_body_bytes,
            insecure_no_key=args.insecure_no_key,
            capture=capture,
            keys_file=args.keys,
            read_key=args.read_key,
        )
    except (InsecureBindError, CaptureKeyError, KeysFileError, StoreFileError) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


_KIND_NAMES = {
    "completions": "chat completions",
    "responses": "responses",
    "conversations": "conversations",
}


def _import(args: argparse.Namespace) -> int:
    db = StoreDatabase(args.db)
    try:
        report = db.import_file(args.file, skip_invalid=args.skip_invalid)
        stored = db.counts()
    finally:
        db.close()
    for line_number, reason in report.invalid:
        print(f"{args.file}:{line_number}: {reason}", file=sys.stderr)
    if report.invalid and not args.skip_invalid:
        print(
            f"nothing imported: {len(report.invalid)} invalid line(s);"
            " fix them or pass --skip-invalid",
            file=sys.stderr,
        )
        return 1
    print(
        f"imported {report.inserted + report.replaced} records into {args.db}"
        f" ({report.inserted} new, {report.replaced} replaced, {len(report.invalid)} skipped;"
        f" {sum(stored.values())} stored)"
    )
    for kind, count in report.kinds.items():
        print(
            f"  {_KIND_NAMES[kind]}: {count.inserted} new, {count.replaced} replaced;"
            f" {stored[kind]} stored"
        )
    return 0


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
