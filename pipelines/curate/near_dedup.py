"""Near-duplicate clustering of prompts: MinHash LSH proposes pairs, exact Jaccard decides.

1. `shingles` makes token sets; tokens are hashed to u64 once and reused by every later step.
2. Identical token sets (repeats, casing or punctuation edits) are grouped exactly, so LSH sees
   each distinct set once and no band bucket fills up with copies.
3. rensa sketches the distinct sets from one flat buffer and flags those sharing a band with
   another; only flagged sets are banded again here to list pairs, because rensa's bulk API
   returns flags, not pairs, and its signatures leave only as Python ints.
4. Each candidate pair's true Jaccard is computed on the hash sets; only pairs at or above the
   threshold are merged (union-find), so LSH false positives never join clusters.
"""

from __future__ import annotations

import array
import time
from dataclasses import dataclass
from itertools import chain

import polars as pl
import pyarrow as pa
import rensa

SHINGLE_KINDS = ("words", "word_bigrams")
# With automatic bands, a pair exactly at the threshold becomes a candidate this often (more above).
TARGET_RECALL_AT_THRESHOLD = 0.99
# A band bucket of k rows holds k·(k−1)/2 pairs and templated prompts share a band by the
# thousand, so each row is paired with at most this many following rows of its bucket (all pairs
# of ordinary buckets), and wider steps stop once this many pairs (8 bytes each) are listed.
MAX_BUCKET_NEIGHBOURS = 64
MAX_CANDIDATE_PAIRS = 30_000_000
SIGNATURE_CHUNK = 65_536
VERIFY_CHUNK = 1_000_000
# Token identity only; independent of the MinHash seed so the verified Jaccard never depends on it.
_TOKEN_HASH_SEED = 0x5EED


@dataclass(frozen=True)
class NearDupStats:
    """Counts from one `cluster_near_duplicates` run.

    Attributes:
        rows: Input rows.
        exact_duplicate_rows: Non-empty rows repeating an earlier row's token set (not sent to LSH).
        candidate_pairs: Distinct token-set pairs proposed by LSH.
        verified_pairs: Candidate pairs whose true Jaccard reached the threshold.
        clusters_with_duplicates: Clusters with two or more rows.
        rows_in_duplicate_clusters: Rows in those clusters.
        seconds: Wall time of the whole call.
    """

    rows: int
    exact_duplicate_rows: int
    candidate_pairs: int
    verified_pairs: int
    clusters_with_duplicates: int
    rows_in_duplicate_clusters: int
    seconds: float


def shingles(texts: pl.Series, *, kind: str = "words") -> pl.Series:
    """Token sets of texts: lowercased, punctuation removed, split on whitespace, deduplicated.

    Punctuation is deleted rather than replaced by a space so that "don't" and "dont" agree.

    Args:
        texts: String series; nulls count as empty text.
        kind: "words" for unigrams, "word_bigrams" for unigrams plus adjacent word pairs.

    Returns:
        List(String) series, one token set per text in first-seen order; empty for empty text.

    Raises:
        ValueError: If `kind` is not one of `SHINGLE_KINDS`.
    """
    if kind not in SHINGLE_KINDS:
        raise ValueError(f"kind must be one of {SHINGLE_KINDS}, got {kind!r}")
    lowered = texts.fill_null("").str.to_lowercase()
    words = lowered.str.replace_all(r"\p{P}+", "").str.extract_all(r"\S+")
    if kind == "word_bigrams":
        bigrams = words.list.eval((pl.element() + " " + pl.element().shift(-1)).drop_nulls())
        words = words.list.concat(bigrams)
    return words.list.unique(maintain_order=True).alias(texts.name)


def choose_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """LSH (bands, rows_per_band) for `threshold` from at most `num_perm` permutations.

    Longer bands propose fewer unrelated pairs, so this takes the longest band that still proposes
    a pair at exactly `threshold` with `TARGET_RECALL_AT_THRESHOLD` probability, 1 − (1 − t^r)^b;
    the num_perm mod r leftover permutations are not computed.
    """
    best = (num_perm, 1)
    for rows in range(2, num_perm + 1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands < TARGET_RECALL_AT_THRESHOLD:
            break
        best = (bands, rows)
    return best


def cluster_near_duplicates(
    frame: pl.DataFrame,
    *,
    text_column: str = "prompt_text",
    id_column: str = "id",
    threshold: float = 0.8,
    num_perm: int = 128,
    shingle: str = "words",
    seed: int = 42,
    num_bands: int | None = None,
) -> tuple[pl.DataFrame, NearDupStats]:
    """Cluster rows whose shingle sets have Jaccard similarity ≥ `threshold`, transitively.

    Args:
        frame: Input rows.
        text_column: Column holding the text to compare.
        id_column: Column holding row ids; a cluster is named after its smallest id.
        threshold: Minimum true Jaccard similarity for two rows to be linked.
        num_perm: MinHash permutations available to LSH.
        shingle: Shingle kind passed to `shingles`.
        seed: MinHash seed.
        num_bands: LSH bands; `num_perm` must then be divisible by it. None picks them with
            `choose_bands`.

    Returns:
        A frame with one row per input row, in input order: `id`, `cluster_id` (String, the
        smallest id in the row's cluster; a singleton's own id) and `cluster_size` (UInt32), and
        the run's `NearDupStats`. Rows with empty text are always singletons.

    Raises:
        ValueError: On a threshold outside (0, 1] or bands that do not divide `num_perm`.
    """
    started = time.perf_counter()
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if num_bands is not None and (num_bands < 1 or num_perm % num_bands):
        raise ValueError(f"num_bands={num_bands} must divide num_perm={num_perm}")
    if num_bands is None:
        num_bands, band_rows = choose_bands(threshold, num_perm)
    else:
        band_rows = num_perm // num_bands

    # Sorted u64 hashes are cheap to sketch, intersect and group by (two tokens colliding in 64
    # bits is negligible), and the strings can go at once. Sorted inside list.eval: polars 2.1's
    # list.sort takes ~18 µs a row.
    tokens = shingles(frame[text_column], kind=shingle)
    hashes = tokens.list.eval(pl.element().hash(_TOKEN_HASH_SEED).sort())
    del tokens
    rows = pl.DataFrame(
        {"idx": pl.int_range(frame.height, dtype=pl.UInt32, eager=True), "hashes": hashes}
    ).with_columns(empty=pl.col("hashes").list.len() == 0)
    # `rep`: the first row with the same token set, which stands for all of them from here on.
    rows = rows.with_columns(
        rep=pl.when("empty").then("idx").otherwise(pl.col("idx").min().over("hashes"))
    )
    distinct = rows.filter(~pl.col("empty") & (pl.col("idx") == pl.col("rep")))
    width = num_bands * band_rows
    flags: list[bool] = []
    if distinct.height > 1:
        lsh = rensa.RMinHashLSH(threshold, width, num_bands)
        # The matrix (4·width bytes a row) is a temporary, freed as soon as the flags are out.
        flags = lsh.query_duplicate_flags_matrix_one_shot(
            _digest_matrix(distinct["hashes"], width, seed)
        )
    flagged = distinct.filter(pl.Series(flags, dtype=pl.Boolean)) if flags else distinct.clear()

    candidates = _band_pairs(flagged["hashes"], num_bands, band_rows, seed)
    verified = _verify_pairs(candidates, flagged["hashes"], threshold)
    ids = flagged["idx"]
    root = _union_find_roots(ids.gather(verified["a"]), ids.gather(verified["b"]))

    label = pl.col("rep").replace(root["node"], root["root"])
    result = rows.with_columns(id=frame[id_column]).select(
        "id",
        # The minimum in the id column's own order (numbers as numbers), then written as text.
        cluster_id=pl.col("id").min().over(label).cast(pl.String),
        cluster_size=pl.len().over(label).cast(pl.UInt32),
    )
    duplicate_rows = result.filter(pl.col("cluster_size") > 1)
    stats = NearDupStats(
        rows=frame.height,
        exact_duplicate_rows=frame.height - int(rows["empty"].sum()) - distinct.height,
        candidate_pairs=candidates.height,
        verified_pairs=verified.height,
        clusters_with_duplicates=duplicate_rows["cluster_id"].n_unique(),
        rows_in_duplicate_clusters=duplicate_rows.height,
        seconds=time.perf_counter() - started,
    )
    return result, stats


def _u64_buffer(series: pl.Series) -> memoryview:
    """Zero-copy u64 view of a null-free UInt64 series, for rensa's flat-buffer API."""
    arrow = series.rechunk().to_arrow()
    return memoryview(arrow.buffers()[1]).cast("Q")[arrow.offset : arrow.offset + len(arrow)]


def _digest_matrix(hashes: pl.Series, num_perm: int, seed: int) -> rensa.RMinHashDigestMatrix:
    """rensa signatures of non-empty hash sets; the flat buffer avoids a Python list per row."""
    offsets = pl.Series([0], dtype=pl.UInt64).append(hashes.list.len().cast(pl.UInt64).cum_sum())
    flat = _u64_buffer(hashes.explode(empty_as_null=False))
    return rensa.RMinHash.digest_matrix_from_flat_token_hashes(
        flat, _u64_buffer(offsets), num_perm, seed
    )


def _band_pairs(hashes: pl.Series, num_bands: int, band_rows: int, seed: int) -> pl.DataFrame:
    """Distinct pairs (a < b, positions in `hashes`) that share at least one LSH band.

    Bands are contiguous slices of the signature, as in rensa's index, so on rensa's flagged rows
    this lists the pairs behind the flags.
    """
    empty = pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})
    if hashes.len() < 2:
        return empty
    width = num_bands * band_rows
    keys = []
    # rensa hands signatures back only as Python ints (`to_rows`); chunking bounds those to
    # ~36 bytes × width × SIGNATURE_CHUNK at a time instead of for every flagged row at once.
    for start in range(0, hashes.len(), SIGNATURE_CHUNK):
        chunk = hashes.slice(start, SIGNATURE_CHUNK)
        flat = array.array("I", chain.from_iterable(_digest_matrix(chunk, width, seed).to_rows()))
        signatures = pl.from_arrow(
            pa.Array.from_buffers(pa.uint32(), len(flat), [None, pa.py_buffer(flat)])
        ).reshape((chunk.len(), width))
        row = pl.int_range(start, start + chunk.len(), dtype=pl.UInt32, eager=True)
        for band in range(num_bands):
            # Seeding the hash with the band number keeps equal slices of two bands apart.
            key = signatures.arr.slice(band * band_rows, band_rows).hash(band)
            keys.append(pl.DataFrame({"row": row, "key": key}))
    # Sorted by key then row, a bucket's members sit next to each other in row order; pairing
    # each member with the one `step` places further, for every step up to the cap, lists each
    # pair of an ordinary bucket exactly once. Sorting rather than group_by: with millions of
    # one-row buckets the hash table of a group_by costs ~180 bytes per row.
    index = pl.int_range(pl.len())
    bucket_end = (pl.col("key") != pl.col("key").shift(-1)).fill_null(True)
    buckets = (
        pl.concat(keys)
        .sort("key", "row")
        .filter((pl.col("key") == pl.col("key").shift(1)) | ~bucket_end)
        .select("row", after=pl.when(bucket_end).then(index).backward_fill() - index)
    )
    members, after = buckets["row"], buckets["after"]
    found, listed = [], 0
    for step in range(1, MAX_BUCKET_NEIGHBOURS + 1):
        starts = (after >= step).arg_true()
        # Step 1 chains every bucket, so clusters stay connected even when the budget stops the
        # wider steps (a data set that is one giant template would otherwise list billions).
        if starts.is_empty() or (step > 1 and listed + starts.len() > MAX_CANDIDATE_PAIRS):
            break
        listed += starts.len()
        # One u64 per pair (a < b), so deduplicating across bands is a single-column unique.
        pair = members.gather(starts).cast(pl.UInt64) * 2**32 + members.gather(starts + step)
        found.append(pair)
    if not found:
        return empty
    pairs = pl.concat(found).unique().sort()
    return pl.DataFrame(
        {"a": (pairs // 2**32).cast(pl.UInt32), "b": (pairs % 2**32).cast(pl.UInt32)}
    )


def _verify_pairs(pairs: pl.DataFrame, hashes: pl.Series, threshold: float) -> pl.DataFrame:
    """The pairs whose exact Jaccard similarity of token-hash sets is at least `threshold`."""
    kept = [pairs.clear()]
    # In slices: both sides' lists are materialised per pair, ~2 GB for 10M pairs at once.
    for chunk in pairs.iter_slices(VERIFY_CHUNK):
        left, right = hashes.gather(chunk["a"]), hashes.gather(chunk["b"])
        shared = left.list.set_intersection(right).list.len()
        union = left.list.len() + right.list.len() - shared
        # Division, not shared ≥ threshold·union: 4/5 rounds to the same double as literal 0.8.
        kept.append(chunk.filter(shared / union >= threshold))
    return pl.concat(kept)


def _union_find_roots(left: pl.Series, right: pl.Series) -> pl.DataFrame:
    """Map each non-root node of edges (left[i], right[i]) to its component's smallest node.

    Verified pairs are few (the near-duplicates themselves), so a Python union-find beats
    label propagation in polars, whose rounds grow with the length of a chain.
    """
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        while (up := parent.get(node, node)) != node:
            parent[node] = parent.get(up, up)
            node = parent[node]
        return node

    for a, b in zip(left.to_list(), right.to_list(), strict=True):
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    nodes = list(parent)
    return pl.DataFrame(
        {"node": nodes, "root": [find(node) for node in nodes]},
        schema={"node": pl.UInt32, "root": pl.UInt32},
    )
