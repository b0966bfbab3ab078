"""Ingest benchmark: N stored completions (3 messages each) behind a store with fixed latency.

Reports wall time against the bound requests ÷ concurrency × latency, and the ingest process's peak
RSS for growing N. Run on demand (not part of the test suite):

    .venv/bin/python tests/bench/bench_ingest.py                      # 10,000 at c = 1, 8, 32
    .venv/bin/python tests/bench/bench_ingest.py --n 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.store.database import StoreDatabase  # noqa: E402
from tests.records import completion_record, conversation  # noqa: E402
from tests.store_process import distillery_command, store_process  # noqa: E402


def build_store(db_path: Path, n: int) -> None:
    lines = (
        json.dumps(
            completion_record(
                f"chatcmpl-bench-{i:07d}",
                created=1_760_000_000 + 60 * i,
                metadata={"i": str(i)},
                input_messages=conversation(3),
            )
        )
        for i in range(n)
    )
    db = StoreDatabase(db_path)
    db.import_lines(lines)
    db.close()


def run_ingest(url: str, data_dir: Path, concurrency: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `distillery ingest` process."""
    env = {
        **os.environ,
        "DISTILLERY_SOURCE": "openai",
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_KEY": "bench",
        "DISTILLERY_DATA_DIR": str(data_dir),
    }
    command = [*distillery_command(), "ingest", "--concurrency", str(concurrency)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    # The child's own high-water mark (VmHWM), read while it runs: ru_maxrss from wait4 would
    # also count the pages this parent had when it forked.
    while process.poll() is None:
        peak = max(peak, _vm_hwm_mib(process.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read().decode() if process.stderr else "ingest failed")
    return wall, peak


def _vm_hwm_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    header = ("n", "conc", "requests", "bound s", "wall s", "ratio", "peak MiB")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (7, 5, 9, 8, 7, 6, 9), strict=True)))
    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        for n in args.n:
            db = Path(tmp) / f"store-{n}.db"
            build_store(db, n)
            flags = ["--fault-latency-ms", str(args.latency_ms)]
            with store_process(db, extra_args=flags) as store:
                requests = math.ceil(n / 100) + n
                for concurrency in args.concurrency:
                    data_dir = Path(tmp) / f"data-{n}-{concurrency}"
                    wall, peak = run_ingest(store.url, data_dir, concurrency)
                    bound = requests / concurrency * args.latency_ms / 1000
                    print(
                        f"{n:>7} {concurrency:>5} {requests:>9} {bound:>8.2f} {wall:>7.2f}"
                        f" {wall / bound:>6.2f} {peak:>9.0f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
