"""Capture benchmark: what `distillery store serve --upstream` adds to a request, against a local
upstream that takes as long as a model would to answer (the deterministic fake from the tests, in
a process of its own).

The same requests go straight to the upstream and through the proxy, in alternating rounds (so
load from elsewhere on the machine hits both sides alike), and the difference of the two latency
percentiles is what the proxy adds: for whole chat completions stored with `store: true`, the
same unstored (pure forwarding), stored streams read to their end, and the time to a stream's
first chunk. The proxy's CPU per request comes from its process's own counters (/proc). Last, the
stored whole answers again while another process holds the store's write lock for 10 s: answers
must not wait for it. Client, proxy and upstream share this machine's cores. Run on demand (not
part of the test suite):

    nice .venv/bin/python tests/bench/bench_capture.py          # c = 16, upstream 200 ms
    .venv/bin/python tests/bench/bench_capture.py --requests 500 --concurrency 1 16 --latency-ms 0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import httpx2  # noqa: E402

from tests.capture_support import hold_write_lock  # noqa: E402
from tests.store_process import store_process  # noqa: E402

QUESTION = [{"role": "user", "content": "Say hello in a short sentence, please."}]
ROUNDS = 10


def serve_upstream(latency_ms: float) -> None:
    """Run the fake upstream in this process until killed; print its URL."""
    import uvicorn

    from tests.fake_upstream import FakeUpstream, create_upstream_app

    app = create_upstream_app(FakeUpstream(latency_s=latency_ms / 1000))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)

    original = server.startup

    async def startup(sockets: object = None) -> None:
        await original(sockets=sockets)  # type: ignore[arg-type]
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"upstream listening on http://127.0.0.1:{port}", flush=True)

    server.startup = startup  # type: ignore[method-assign]
    server.run()


def start_upstream(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    match = re.search(r"(http://\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise RuntimeError("the upstream did not start")
    return process, match.group(1)


async def measure(
    concurrency: int, requests: int, one: Callable[[httpx2.AsyncClient], Awaitable[float]]
) -> tuple[list[float], float]:
    """Latencies (ms) of `requests` calls of `one`, `concurrency` at a time, and the wall time."""
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
        # Open every connection first: their set-up is not what is measured.
        await asyncio.gather(*(one(client) for _ in range(concurrency)))
        queue = iter(range(requests))
        latencies: list[float] = []

        async def worker() -> None:
            for _ in queue:
                latencies.append(await one(client))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def whole(url: str, *, store: bool) -> Callable[[httpx2.AsyncClient], Awaitable[float]]:
    body = json.dumps({"model": "m", "messages": QUESTION, "store": store}).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}

    async def one(client: httpx2.AsyncClient) -> float:
        started = time.perf_counter()
        response = await client.post(f"{url}/v1/chat/completions", content=body, headers=headers)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    return one


def streamed(url: str, *, to_end: bool) -> Callable[[httpx2.AsyncClient], Awaitable[float]]:
    """A stored stream, timed to its first chunk or to its end."""
    request = {"model": "m", "messages": QUESTION, "store": True, "stream": True}
    body = json.dumps(request).encode()
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}

    async def one(client: httpx2.AsyncClient) -> float:
        started = time.perf_counter()
        first = None
        async with client.stream(
            "POST", f"{url}/v1/chat/completions", content=body, headers=headers
        ) as response:
            async for _ in response.aiter_raw():
                first = first or time.perf_counter()
        ended = time.perf_counter()
        return ((ended if to_end else (first or ended)) - started) * 1000

    return one


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def row(
    label: str,
    latency_ms: float,
    concurrency: int,
    direct: list[float],
    proxied: list[float],
    cpu_ms: float,
) -> str:
    d50, d99 = percentile(direct, 0.5), percentile(direct, 0.99)
    p50, p99 = percentile(proxied, 0.5), percentile(proxied, 0.99)
    return (
        f"{label:<22} {latency_ms:>6.0f}ms {concurrency:>4} {d50:>9.2f} {p50:>9.2f}"
        f" {p50 - d50:>+9.2f} {d99:>9.2f} {p99:>9.2f} {p99 - d99:>+9.2f} {cpu_ms:>7.2f}"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Rounds:
    """Alternating direct and proxied rounds of one case, and the proxy's CPU over its rounds."""

    def __init__(self, proxy_pid: int) -> None:
        self.proxy_pid = proxy_pid
        self.direct: list[float] = []
        self.proxied: list[float] = []
        self.cpu = 0.0

    async def round(
        self, concurrency: int, count: int, direct: Callable, proxied: Callable
    ) -> None:
        self.direct += (await measure(concurrency, count, direct))[0]
        before = cpu_seconds(self.proxy_pid)
        self.proxied += (await measure(concurrency, count, proxied))[0]
        self.cpu += cpu_seconds(self.proxy_pid) - before

    @property
    def cpu_ms_per_request(self) -> float:
        # Each measure() also opens `concurrency` connections with one request each.
        return self.cpu * 1000 / max(1, len(self.proxied))


async def run(
    upstream: str,
    proxy: str,
    proxy_pid: int,
    db_path: Path,
    concurrencies: list[int],
    requests: int,
    latency_ms: float,
) -> None:
    cases = [
        ("whole, stored", lambda url: whole(url, store=True)),
        ("whole, not stored", lambda url: whole(url, store=False)),
        ("stream, stored, to end", lambda url: streamed(url, to_end=True)),
        ("stream: first chunk", lambda url: streamed(url, to_end=False)),
    ]
    for concurrency in concurrencies:
        for label, make in cases:
            rounds = Rounds(proxy_pid)
            for _ in range(ROUNDS):
                await rounds.round(concurrency, requests // ROUNDS, make(upstream), make(proxy))
            print(
                row(
                    label,
                    latency_ms,
                    concurrency,
                    rounds.direct,
                    rounds.proxied,
                    rounds.cpu_ms_per_request,
                ),
                flush=True,
            )
        # The same stored answers while another process holds the write lock for LOCK_S.
        rounds = Rounds(proxy_pid)
        locker = hold_write_lock(db_path, LOCK_S)
        while locker.poll() is None:
            per_round = max(concurrency, requests // (ROUNDS * 4))
            await rounds.round(
                concurrency, per_round, whole(upstream, store=True), whole(proxy, store=True)
            )
        print(
            row(
                f"stored, lock {LOCK_S:g} s",
                latency_ms,
                concurrency,
                rounds.direct,
                rounds.proxied,
                rounds.cpu_ms_per_request,
            ),
            flush=True,
        )


LOCK_S = 10.0


HEADER = (
    f"{'what':<22} {'upstream':>8} {'conc':>4} {'direct50':>9} {'proxy50':>9} {'added50':>9}"
    f" {'direct99':>9} {'proxy99':>9} {'added99':>9} {'cpu/req':>7}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=800, help="per case, side and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16])
    parser.add_argument(
        "--latency-ms",
        type=float,
        nargs="+",
        default=[200.0],
        help="the upstream's time to answer (a model takes longer; 0 saturates the proxy)",
    )
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.latency_ms[0])
        return
    print(HEADER)
    print("(ms; added = proxy percentile − direct percentile; cpu/req = proxy CPU ms per request)")
    for latency_ms in args.latency_ms:
        upstream_process, upstream = start_upstream(latency_ms)
        try:
            with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
                flags = ["--upstream", f"{upstream}/v1"]
                db_path = Path(tmp) / "capture.db"
                with store_process(db_path, extra_args=flags) as proxy:
                    asyncio.run(
                        run(
                            upstream,
                            proxy.url,
                            proxy.process.pid,
                            db_path,
                            args.concurrency,
                            args.requests,
                            latency_ms,
                        )
                    )
        finally:
            upstream_process.kill()
            upstream_process.wait()


if __name__ == "__main__":
    main()
