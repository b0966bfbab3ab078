"""Chain detection's cost: curation of realistic records with and without chat chains.

A third of the rows are chats stored turn by turn (2–10 turns); the rest is ordinary traffic.
Goal (issue 16): chain detection adds at most 20% to curation's time.

    .venv/bin/python tests/bench/bench_chains.py --n 100000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.completions import build_completions, read_completions  # noqa: E402
from pipelines.curate import curate_completions  # noqa: E402
from pipelines.curate.chains import chain_figures, find_chains  # noqa: E402
from pipelines.recipes import Recipe  # noqa: E402
from tests.bench.realistic import write_realistic_lake  # noqa: E402


def timed(work):
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        stats = write_realistic_lake(Path(tmp), n=args.n, seed=1, chain_share=1 / 3)
        build_completions(tmp)
        rows = read_completions(tmp)
    without = Recipe.model_validate({"name": "plain", "chains": {"enabled": False}})
    with_chains = Recipe.model_validate({"name": "chains", "chains": {"keep": "every_turn"}})
    print(f"rows                       {stats.rows:>12,}   ({stats.mb:,.0f} MB of stored JSON)")
    print(f"rows in planted chats      {stats.rows_in_chains:>12,}")
    for attempt in range(1, args.repeat + 1):
        _, plain_s = timed(lambda: curate_completions(rows, without))
        _, chained_s = timed(lambda: curate_completions(rows, with_chains))
        chains, detect_s = timed(lambda: find_chains(rows, with_chains.dedup.exact))
        figures = chain_figures(chains)
        mb_s = stats.mb / chained_s
        print(f"-- run {attempt}")
        print(f"curation without chains    {plain_s:>10.2f} s")
        print(
            f"curation with chains       {chained_s:>10.2f} s   ({chained_s / plain_s - 1:+.0%};"
            f" {stats.rows / chained_s:,.0f} records/s, {mb_s:,.1f} MB/s)"
        )
        print(
            f"find_chains alone          {detect_s:>10.2f} s"
            f"   ({detect_s / plain_s:.0%} of curation)"
        )
        print(
            f"chains found               {figures.chains:>12,}   ({figures.rows_in_chains:,} rows,"
            f" longest {figures.longest}, {figures.branches} branches)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS                   {peak:>10.0f} MiB")


if __name__ == "__main__":
    main()
