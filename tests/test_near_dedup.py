"""Near-duplicate clustering on literal frames: which rows share a cluster, under which name."""

from __future__ import annotations

import polars as pl
import pytest
import rensa

from pipelines.curate import near_dedup
from pipelines.curate.near_dedup import choose_bands, cluster_near_duplicates, shingles

BASE = "please summarize the quarterly sales report for the northern region team"  # 10 words
NATO = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november"


def prompts(*texts: str | None, ids: list | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": ids or [f"p{i}" for i in range(len(texts))], "prompt_text": list(texts)},
        schema_overrides={"prompt_text": pl.String},
    )


def clusters(result: pl.DataFrame) -> dict[str, str]:
    return dict(zip(result["id"], result["cluster_id"], strict=True))


def test_planted_variants_share_one_cluster_named_after_the_smallest_id() -> None:
    frame = prompts(
        "write a haiku about autumn leaves falling",
        BASE.replace("northern", "southern"),  # one word of ten changed: Jaccard 9/11
        "Please Summarize THE Quarterly sales report for the northern region team",
        BASE,
        "Please, summarize the quarterly sales report -- for the northern region team!",
        "what is the capital city of australia",
        ids=["p5", "p7", "p3", "p4", "p9", "p1"],
    )
    result, stats = cluster_near_duplicates(frame)
    assert clusters(result) == {
        "p5": "p5",
        "p7": "p3",
        "p3": "p3",
        "p4": "p3",
        "p9": "p3",
        "p1": "p1",
    }
    assert result["cluster_size"].to_list() == [1, 4, 4, 4, 4, 1]
    assert stats.rows == 6
    assert stats.exact_duplicate_rows == 2  # casing and punctuation leave the token set unchanged
    assert stats.clusters_with_duplicates == 1
    assert stats.rows_in_duplicate_clusters == 4


def test_output_schema_and_order() -> None:
    frame = prompts(BASE, "translate this sentence into french", BASE, ids=["z", "m", "a"])
    result, _ = cluster_near_duplicates(frame)
    assert result.schema == pl.Schema(
        {"id": pl.String, "cluster_id": pl.String, "cluster_size": pl.UInt32}
    )
    assert result["id"].to_list() == ["z", "m", "a"]
    assert result["cluster_id"].to_list() == ["a", "m", "a"]


def test_numeric_ids_compare_as_numbers() -> None:
    result, _ = cluster_near_duplicates(prompts(BASE, BASE + "!", ids=[10, 9]))
    assert result["cluster_id"].to_list() == ["9", "9"]


def test_unrelated_prompts_stay_singletons() -> None:
    frame = prompts(
        "write a haiku about autumn leaves falling",
        "what is the capital city of australia",
        "translate this sentence into french please",
        "explain how a transformer attention layer works",
    )
    result, stats = cluster_near_duplicates(frame)
    assert result["cluster_id"].to_list() == result["id"].to_list()
    assert result["cluster_size"].to_list() == [1, 1, 1, 1]
    assert stats.clusters_with_duplicates == 0
    assert stats.verified_pairs == 0


def test_pair_just_below_the_threshold_is_proposed_but_not_merged() -> None:
    words = (NATO + " oscar papa quebec").split()  # 17 words
    changed = " ".join([*words[:-2], "romeo", "sierra"])  # Jaccard 15/19 = 0.789
    result, stats = cluster_near_duplicates(prompts(" ".join(words), changed))
    assert stats.candidate_pairs == 1
    assert stats.verified_pairs == 0
    assert result["cluster_size"].to_list() == [1, 1]


def test_pair_exactly_at_the_threshold_is_merged() -> None:
    words = (NATO + " oscar papa quebec romeo").split()  # 18 words
    changed = " ".join([*words[:-2], "sierra", "tango"])  # Jaccard 16/20 = 0.8
    result, stats = cluster_near_duplicates(prompts(" ".join(words), changed))
    assert stats.verified_pairs == 1
    assert result["cluster_id"].to_list() == ["p0", "p0"]


def test_lsh_false_positives_never_merge() -> None:
    # One-row bands propose any two prompts that share a single MinHash value; these share half
    # their words, so they are proposed, and the exact Jaccard check must turn them all down.
    frame = prompts(
        "alpha bravo charlie delta echo one two three four five",
        "alpha bravo charlie delta echo six seven eight nine ten",
        "alpha bravo charlie delta echo eleven twelve thirteen fourteen fifteen",
    )
    result, stats = cluster_near_duplicates(frame, num_perm=128, num_bands=128)
    assert stats.candidate_pairs > 0
    assert stats.verified_pairs == 0
    assert result["cluster_size"].to_list() == [1, 1, 1]


def test_similarity_is_transitive() -> None:
    a = BASE
    b = a.replace("team", "staff")  # a~b: 9/11
    c = b.replace("region", "district")  # b~c: 9/11, but a~c only 8/12
    result, stats = cluster_near_duplicates(
        prompts("unrelated prompt about gardening tools", c, a, b, ids=["p0", "p3", "p2", "p1"])
    )
    assert clusters(result) == {"p0": "p0", "p3": "p1", "p2": "p1", "p1": "p1"}
    assert result["cluster_size"].to_list() == [1, 3, 3, 3]
    assert stats.verified_pairs == 2


def test_empty_texts_are_singletons() -> None:
    frame = prompts("", None, "   ", "?! ...", "", BASE, BASE.upper())
    result, stats = cluster_near_duplicates(frame)
    assert result["cluster_id"].to_list() == ["p0", "p1", "p2", "p3", "p4", "p5", "p5"]
    assert result["cluster_size"].to_list() == [1, 1, 1, 1, 1, 2, 2]
    assert stats.exact_duplicate_rows == 1


def test_all_empty_and_no_rows() -> None:
    result, stats = cluster_near_duplicates(prompts("", None))
    assert result["cluster_size"].to_list() == [1, 1]
    assert stats.candidate_pairs == 0
    empty, stats = cluster_near_duplicates(prompts())
    assert empty.height == 0
    assert stats.rows == 0


def test_same_input_gives_same_output_whatever_the_row_order() -> None:
    texts = [BASE, BASE.replace("sales", "revenue"), "write a haiku about autumn leaves"]
    texts += [f"{NATO} {extra}" for extra in ("oscar", "papa", "quebec", "romeo")]
    frame = prompts(*texts)
    first, first_stats = cluster_near_duplicates(frame)
    second, second_stats = cluster_near_duplicates(frame)
    assert first.equals(second)
    assert first_stats.verified_pairs == second_stats.verified_pairs
    shuffled, _ = cluster_near_duplicates(frame.sample(fraction=1.0, shuffle=True, seed=3))
    assert clusters(shuffled) == clusters(first)
    assert first["cluster_size"].to_list() == [2, 2, 1, 4, 4, 4, 4]


@pytest.mark.parametrize(("neighbours", "budget"), [(1, 10**9), (64, 0)])
def test_capped_buckets_still_chain_a_cluster(
    monkeypatch: pytest.MonkeyPatch, neighbours: int, budget: int
) -> None:
    # Twelve prompts, each BASE plus its own word: every pair has Jaccard 10/12, so all twelve
    # share most bands. With wider steps cut off, the step-1 chain must still connect them.
    monkeypatch.setattr(near_dedup, "MAX_BUCKET_NEIGHBOURS", neighbours)
    monkeypatch.setattr(near_dedup, "MAX_CANDIDATE_PAIRS", budget)
    extras = [
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "indigo",
        "violet",
        "black",
        "white",
        "grey",
        "pink",
        "brown",
    ]
    result, stats = cluster_near_duplicates(prompts(*(f"{BASE} {word}" for word in extras)))
    assert set(result["cluster_id"]) == {"p0"}
    assert result["cluster_size"].to_list() == [12] * 12
    assert stats.candidate_pairs < 12 * 11 // 2


def test_word_bigrams_see_word_order() -> None:
    frame = prompts("alpha bravo charlie delta echo", "echo delta charlie bravo alpha")
    by_words, _ = cluster_near_duplicates(frame)
    by_bigrams, _ = cluster_near_duplicates(frame, shingle="word_bigrams")
    assert by_words["cluster_size"].to_list() == [2, 2]
    assert by_bigrams["cluster_size"].to_list() == [1, 1]


def test_shingles() -> None:
    texts = pl.Series("t", ["Hello, World!  hello   don't", None, "a b a b"])
    assert shingles(texts).to_list() == [["hello", "world", "dont"], [], ["a", "b"]]
    assert shingles(texts, kind="word_bigrams").to_list()[2] == ["a", "b", "a b", "b a"]
    assert shingles(texts).dtype == pl.List(pl.String)
    with pytest.raises(ValueError, match="kind must be one of"):
        shingles(texts, kind="chars")


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="threshold"):
        cluster_near_duplicates(prompts(BASE), threshold=0)
    with pytest.raises(ValueError, match="must divide"):
        cluster_near_duplicates(prompts(BASE), num_perm=128, num_bands=20)


def test_choose_bands_takes_the_longest_band_that_keeps_recall() -> None:
    bands, rows = choose_bands(0.8, 128)
    assert (bands, rows) == (21, 6)
    assert 1 - (1 - 0.8**rows) ** bands >= near_dedup.TARGET_RECALL_AT_THRESHOLD
    longer = rows + 1
    assert 1 - (1 - 0.8**longer) ** (128 // longer) < near_dedup.TARGET_RECALL_AT_THRESHOLD


@pytest.mark.parametrize(("bands", "rows"), [(21, 6), (16, 8), (32, 4)])
def test_band_pairs_find_the_rows_rensa_flags(bands: int, rows: int) -> None:
    # Pairs are listed by banding rensa's signatures here; if rensa ever sliced bands differently,
    # the pairs would no longer cover its flags and recall would fall without any error.
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(words[i : i + 12]) for i in range(0, 48, 2)]  # neighbours overlap 10 of 14
    texts += [" ".join(reversed(words[i : i + 12])) + " extra" for i in range(0, 48, 5)]
    texts += [" ".join(f"u{i}x{j}" for j in range(10)) for i in range(10)]  # share no word
    hashes = shingles(pl.Series(texts)).list.eval(pl.element().hash(7).sort())
    lsh = rensa.RMinHashLSH(0.8, bands * rows, bands)
    flags = lsh.query_duplicate_flags_matrix_one_shot(
        near_dedup._digest_matrix(hashes, bands * rows, 42)
    )
    pairs = near_dedup._band_pairs(hashes, bands, rows, 42)
    in_pairs = set(pairs["a"]) | set(pairs["b"])
    assert any(flags) and not all(flags)
    assert in_pairs == {row for row, flagged in enumerate(flags) if flagged}
