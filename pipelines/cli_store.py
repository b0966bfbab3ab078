"""`distillery store serve` and `distillery store import`: their arguments and what they run
(`pipelines.store`).

Kept apart from `pipelines.cli` so that module stays one screenful per command. Importing it
loads the store, not polars, pandera or the SDK.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.store.database import StoreDatabase
from pipelines.store.faults import FaultConfig
from pipelines.store.guards import DEFAULT_MAX_BODY_BYTES
from pipelines.store.server import InsecureBindError, serve


def add_store_commands(commands: argparse._SubParsersAction) -> None:
    """Add `store serve` and `store import` to the `distillery` subcommands."""
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
        type=positive_int,
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
        # The flags named as `serve` names its options, passed through as they are.
        same_names = ("host", "port", "api_key", "test_controls", "access_log", "read_key")
        serve(
            args.db,
            faults=faults,
            capture=capture,
            allowed_hosts=args.allowed_host,
            max_body_bytes=args.max_body_bytes,
            insecure_no_key=args.insecure_no_key,
            keys_file=args.keys,
            **{name: getattr(args, name) for name in same_names},
        )
    except (InsecureBindError, CaptureKeyError, KeysFileError, StoreFileError) as err:
        print(f"distillery: error: {err}", file=sys.stderr)
        return 2
    return 0


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
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
