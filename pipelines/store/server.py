"""Run the local store over HTTP: in the foreground (`distillery store serve`) or on a background
thread of the current process (the embedded default when no provider is configured)."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import uvicorn

from pipelines.store.app import create_app
from pipelines.store.database import StoreDatabase
from pipelines.store.faults import FaultConfig, FaultInjector
from pipelines.store.guards import DEFAULT_MAX_BODY_BYTES, is_loopback
from pipelines.store.tenants import Keys, KeysFileError, load_keys

if TYPE_CHECKING:
    from pipelines.store.capture import CaptureSettings

SHUTDOWN_GRACE_S = 10
"""How long a stopping proxy lets streams in flight finish before it cuts them."""


class InsecureBindError(ValueError):
    """Serving a non-loopback address without an API key was asked for but not insisted on."""


class CaptureKeyError(ValueError):
    """The store has keys of its own but the upstream has none: the client's key is the
    store's, and forwarding it would hand the store's key to the upstream."""


class StoreFileError(ValueError):
    """The store's file cannot be opened for writing (read-only, or in a directory the process
    cannot write, where SQLite keeps its write-ahead log)."""


@dataclass(frozen=True)
class RunningStore:
    """A store listening on loopback.

    Attributes:
        url: Root URL, e.g. ``http://127.0.0.1:54321``; OpenAI clients use ``url + "/v1"``.
        db: The database it serves.
        app: The app, whose `stats()` and `configure()` reach the request counters and faults.
    """

    url: str
    db: StoreDatabase
    app: FaultInjector

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"


def serve(
    db_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
    faults: FaultConfig | None = None,
    test_controls: bool = False,
    access_log: bool = False,
    announce: TextIO = sys.stdout,
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    insecure_no_key: bool = False,
    capture: CaptureSettings | None = None,
    keys_file: str | Path | None = None,
    read_key: str | None = None,
) -> None:
    """Serve the store until interrupted; prints one line with its URL once it is listening.

    Args:
        db_path: SQLite file to serve (created when missing).
        host: Interface to bind; loopback by default.
        port: Port to bind; 0 picks a free one (the announced URL says which).
        api_key: Require this key on every request.
        faults: Faults to inject from the start.
        test_controls: Serve the `/_admin` routes (faults, stats, import).
        access_log: Log every request (uvicorn's access log).
        announce: Where the URL line goes.
        allowed_hosts: `Host` names to answer besides loopback names and `host`.
        max_body_bytes: Largest request body accepted.
        insecure_no_key: Serve a non-loopback `host` without an API key (with a warning on
            stderr) instead of refusing.
        capture: Also be a capturing proxy in front of this upstream.
        keys_file: The tenants' keys (see `tenants`); excludes `api_key`.
        read_key: A key that reads every tenant's captures and nothing else.

    Raises:
        InsecureBindError: `host` is not loopback, there is no `api_key`, and `insecure_no_key`
            is not set. Raised before anything is opened or bound.
        CaptureKeyError: `api_key` or `keys_file` is set and `capture` has no upstream key.
        KeysFileError: The keys file is unusable, or given with `api_key`.
        StoreFileError: The database cannot be written.
    """
    named = load_keys(keys_file, read_key=read_key)
    if keys_file is not None and api_key:
        raise KeysFileError("--keys and --api-key exclude each other: give every key in the file")
    keyed = bool(api_key or keys_file)
    warning = check_bind(host, keyed=keyed, insecure_no_key=insecure_no_key)
    if capture is not None and keyed and not capture.upstream.api_key:
        raise CaptureKeyError(
            "a store with --api-key needs the upstream's key in the environment (see"
            " --upstream-key-env): clients present the store's key, which is never forwarded"
        )
    if warning:
        print(f"distillery: warning: {warning}", file=sys.stderr, flush=True)
    db = open_for_writing(db_path)
    keys = Keys(
        named=named,
        store_key=api_key,
        salt=db.tenant_salt() if capture is not None else None,
        from_file=keys_file is not None,
    )
    proxy = None
    if capture is not None:
        # Imported only for a proxy: a plain store never loads the HTTP client.
        from pipelines.store.capture import Proxy
        from pipelines.store.capture.proxy import SWITCH_INTERVAL_S

        proxy = Proxy(capture, db.path)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    app = create_app(
        db,
        api_key=api_key,
        faults=faults,
        test_controls=test_controls,
        host=host,
        allowed_hosts=allowed_hosts,
        max_body_bytes=max_body_bytes,
        proxy=proxy,
        keys=keys,
    )
    sock = _bind(host, port)
    url = _url(sock)
    line = f"distillery store listening on {url}"
    if capture is not None:
        upstream = capture.upstream
        line += f" (capturing: {upstream.flavour} upstream at {upstream.host}, {capture.policy})"
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=access_log,
        # The proxy's lifespan closes its upstream connections.
        lifespan="on" if capture is not None else "off",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S if capture is not None else None,
    )
    server = _AnnouncingServer(config, on_started=lambda: print(line, file=announce, flush=True))
    try:
        server.run(sockets=[sock])
    finally:
        # Whatever the writer still holds is committed before the database closes.
        if proxy is not None:
            proxy.close()
        db.close()


def open_for_writing(db_path: str | Path) -> StoreDatabase:
    """The store's database, once a write to it has succeeded.

    Raises:
        StoreFileError: It cannot be created, opened or written (one line, no traceback).
    """
    try:
        db = StoreDatabase(db_path)
    except (sqlite3.Error, OSError) as err:
        raise StoreFileError(f"cannot open the store file {db_path}: {err}") from None
    try:
        with db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES ('last_served', ?)",
                (str(int(time.time())),),
            )
    except sqlite3.Error as err:
        db.close()
        raise StoreFileError(f"cannot write the store file {db_path}: {err}") from None
    return db


def check_bind(host: str, *, keyed: bool, insecure_no_key: bool) -> str | None:
    """Refuse to serve a non-loopback address without a key, unless told to.

    Args:
        host: The interface to bind.
        keyed: The store takes only known keys (`--api-key` or `--keys`).
        insecure_no_key: Serve such an address anyway.

    Returns:
        A warning to print when the bind is allowed only by `insecure_no_key`, else None.

    Raises:
        InsecureBindError: The bind is not loopback, there is no key, and `insecure_no_key` is
            not set.
    """
    if keyed or is_loopback(host):
        return None
    if not insecure_no_key:
        raise InsecureBindError(
            f"refusing to serve {host} without an API key: anyone who can reach it could read and"
            " change the store; pass --api-key KEY (or set DISTILLERY_STORE_API_KEY), bind"
            " 127.0.0.1, or pass --insecure-no-key to serve it open anyway"
        )
    return (
        f"serving {host} without an API key (--insecure-no-key): anyone who can reach it can read"
        " and change the store"
    )


@contextlib.contextmanager
def running_store(
    db_path: str | Path,
    *,
    api_key: str | None = None,
    faults: FaultConfig | None = None,
    allowed_hosts: Iterable[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Iterator[RunningStore]:
    """Serve the store on a loopback port from a background thread for the `with` block.

    The embedded default uses this: the SDK still speaks real HTTP, just to this process.
    """
    db = StoreDatabase(db_path)
    app = create_app(
        db,
        api_key=api_key,
        faults=faults,
        test_controls=True,
        allowed_hosts=allowed_hosts,
        max_body_bytes=max_body_bytes,
    )
    sock = _bind("127.0.0.1", 0)
    started = threading.Event()
    server = _AnnouncingServer(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"),
        on_started=started.set,
    )
    # uvicorn installs signal handlers only on the main thread; on this one it must not try.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="distillery-store", daemon=True
    )
    thread.start()
    try:
        if not started.wait(timeout=30):
            raise RuntimeError("the local store did not start within 30 s")
        yield RunningStore(url=_url(sock), db=db, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        db.close()


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `on_started` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
