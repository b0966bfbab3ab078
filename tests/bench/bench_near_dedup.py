"""Near-duplicate clustering benchmark: N synthetic prompts with planted near-duplicate pairs.

Prompts are 8–16 words drawn from a Zipf-like vocabulary (deterministic seed). About 2% of rows
are variants of another row with one word replaced; the (original, variant) pairs whose true word
Jaccard is at least the threshold are the ground truth. Clustering runs in a child process so its
peak RSS is not mixed with the generator's. Reports wall seconds, peak RSS, recall of planted
pairs (both rows got the same cluster_id) and merges between unrelated rows (a precision proxy:
every merged pair passed the exact Jaccard check, so these are chance look-alikes, not LSH noise).
Run on demand (not part of the test suite):

    /work/venv/bin/python tests/bench/bench_near_dedup.py --n 1000000
    /work/venv/bin/python tests/bench/bench_near_dedup.py --n 200000 --templated 0.3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.curate.near_dedup import choose_bands, cluster_near_duplicates  # noqa: E402

SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
TEMPLATES = 50


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4)))] = None
    return list(words)


def build_prompts(
    n: int, *, seed: int, variant_share: float, templated: float, vocab_size: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Prompts (`id`, `prompt_text`, `family`) and the planted pairs (`a`, `b`, `jaccard`)."""
    rng = random.Random(seed)
    vocab = vocabulary(vocab_size, rng)
    # Zipf (s = 1) weights: a few words are in most prompts, as stopwords are in real ones.
    cum_weights, total = [], 0.0
    for rank in range(1, vocab_size + 1):
        total += 1 / rank
        cum_weights.append(total)
    templates = [rng.choices(vocab[:2000], k=rng.randint(3, 6)) for _ in range(TEMPLATES)]
    n_variants = int(n * variant_share)
    n_base = n - n_variants
    lengths = [rng.randint(8, 16) for _ in range(n_base)]
    tokens = rng.choices(vocab, cum_weights=cum_weights, k=sum(lengths))
    bases: list[list[str]] = []
    start = 0
    for length in lengths:
        words = tokens[start : start + length]
        start += length
        if rng.random() < templated:
            words = rng.choice(templates) + words[: max(4, length - 5)]
        bases.append(words)
    texts = [" ".join(words) for words in bases]
    family = list(range(n_base))
    planted: list[tuple[int, int, float]] = []
    for _ in range(n_variants):
        base = rng.randrange(n_base)
        words = list(bases[base])
        words[rng.randrange(len(words))] = rng.choice(vocab)
        if rng.random() < 0.5:  # casing and punctuation must not matter
            words[0] = words[0].capitalize() + ","
        texts.append(" ".join(words))
        family.append(base)
        old, new = set(bases[base]), {w.strip(",").lower() for w in words}
        planted.append((base, len(texts) - 1, len(old & new) / len(old | new)))
    order = list(range(n))
    rng.shuffle(order)  # variants must not sit next to their originals
    position = {row: pos for pos, row in enumerate(order)}
    prompts = pl.DataFrame(
        {
            "id": [f"p{pos:08d}" for pos in range(n)],
            "prompt_text": [texts[row] for row in order],
            "family": [family[row] for row in order],
        }
    )
    pairs = pl.DataFrame(
        [(position[a], position[b], j) for a, b, j in planted],
        schema={"a": pl.UInt32, "b": pl.UInt32, "jaccard": pl.Float64},
        orient="row",
    )
    return prompts, pairs


def cluster_child(workdir: Path, options: dict) -> None:
    """Child-process side: cluster the stored prompts, store the result and the stats."""
    prompts = pl.read_parquet(workdir / "prompts.parquet", columns=["id", "prompt_text"])
    result, stats = cluster_near_duplicates(prompts, **options)
    result.write_parquet(workdir / "clusters.parquet")
    (workdir / "stats.json").write_text(json.dumps(dataclasses.asdict(stats)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--num-bands", type=int, default=None)
    parser.add_argument("--shingle", default="words")
    parser.add_argument("--variants", type=float, default=0.02, help="share of planted variants")
    parser.add_argument("--templated", type=float, default=0.0, help="share with a shared prefix")
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    options = {
        "threshold": args.threshold,
        "num_perm": args.num_perm,
        "num_bands": args.num_bands,
        "shingle": args.shingle,
    }
    if args.child:
        cluster_child(args.child, options)
        return

    started = time.perf_counter()
    prompts, planted = build_prompts(
        args.n,
        seed=args.seed,
        variant_share=args.variants,
        templated=args.templated,
        vocab_size=args.vocab,
    )
    truth = planted.filter(pl.col("jaccard") >= args.threshold)
    print(f"generated {args.n:,} prompts in {time.perf_counter() - started:.1f} s; planted pairs:")
    print(f"  {planted.height:,} total, {truth.height:,} with Jaccard ≥ {args.threshold}")
    if args.num_bands:
        bands, rows = args.num_bands, args.num_perm // args.num_bands
    else:
        bands, rows = choose_bands(args.threshold, args.num_perm)
    print(f"LSH: {bands} bands × {rows} rows = {bands * rows} permutations")

    with tempfile.TemporaryDirectory(prefix="distillery-bench-") as tmp:
        workdir = Path(tmp)
        prompts.write_parquet(workdir / "prompts.parquet")
        command = [sys.executable, __file__, *sys.argv[1:], "--child", str(workdir)]
        started = time.perf_counter()
        process = subprocess.Popen(command)
        _, status, usage = os.wait4(process.pid, 0)
        if status:
            raise SystemExit(f"clustering child failed with status {status}")
        stats = json.loads((workdir / "stats.json").read_text())
        child_wall = time.perf_counter() - started
        clusters = pl.read_parquet(workdir / "clusters.parquet")

    label = clusters["cluster_id"]
    hit = label.gather(truth["a"]) == label.gather(truth["b"])
    # Unrelated merges: per cluster, how many distinct planted families it joined beyond the first.
    families = (
        clusters.with_columns(family=prompts["family"])
        .group_by("cluster_id")
        .agg(pl.col("family").n_unique())
    )
    unrelated = int((families["family"] - 1).sum())
    print(f"cluster_near_duplicates: {stats['seconds']:.2f} s")
    print(f"  child process wall (incl. parquet I/O, imports): {child_wall:.2f} s")
    print(f"  peak RSS of the clustering process: {usage.ru_maxrss / 1024:,.0f} MiB")
    print(f"  recall of planted pairs: {hit.mean():.4f} ({int(hit.sum()):,}/{truth.height:,})")
    print(f"  unrelated-family merges: {unrelated:,}")
    print("  stats:", {k: v for k, v in stats.items() if k != "seconds"})


if __name__ == "__main__":
    main()
