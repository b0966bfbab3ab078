"""Chats stored turn by turn: find the prefix chains, keep one example per chat (or every turn).

Every Chat Completions call resends the history, so a chat of N turns stored with `store=true`
is N completions, each the previous one's input, its answer, and the next user (or tool)
messages. A row *continues* another when its input begins with that row's input followed by that
row's answer, after the normalization exact dedup uses. Found with hashes and joins, never by
comparing rows pairwise:

1. each input message, and each row's answer as the message it becomes, is reduced to a number
   (sha256 of its normalized text), and every prefix of a row's input gets a polynomial rolling
   hash, twice, modulo two primes below 2³¹ (all in 64-bit integers; a false match needs both
   62 bits and the prefix length to collide);
2. a row's *extended* key is the hash of its input followed by its answer;
3. each prefix of a row's input that ends with an assistant message is looked up among the
   extended keys; the longest match is the row's parent, so a chat whose middle turn was never
   stored still joins its earlier turns.

Parents form trees: the root is the chain's first row (`chain_id`), depth gives `turn`. Two rows
with the same parent are a branch (an answer regenerated, or the chat forked).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import polars_hash as plh

from pipelines.curate.text_fields import FIELD_SEPARATOR, calls_text, message_texts
from pipelines.recipes import Chains, ExactDedup
from pipelines.steps import StepReport

_PRIMES = (2_147_483_647, 2_147_483_629)
_BASES = (1_000_003, 911_382_323)


@dataclass(frozen=True)
class ChainFigures:
    """What chain detection found, for the step report, the metadata and the dataset card."""

    chains: int
    """Chains of two rows or more."""
    rows_in_chains: int
    longest: int
    """Turns of the longest chain."""
    branches: int
    """Rows with more than one continuation."""

    @property
    def average(self) -> float:
        return self.rows_in_chains / self.chains if self.chains else 0.0


def find_chains(completions: pl.DataFrame, normalization: ExactDedup) -> pl.DataFrame:
    """`id`, `parent_id` (null for a chain's first row), `chain_id` and `turn` of every row.

    Args:
        completions: Rows with `id`, `messages`, `output_content`, `output_tool_calls`.
        normalization: Exact dedup's options; its case and whitespace folding apply here too.
    """
    return chains_from_keys(chain_keys(completions, normalization))


@dataclass(frozen=True)
class ChainKeys:
    """What chain detection reads of some rows, each row alone: the hashes of the prefixes of
    its input that end with an assistant message (`id`, `_length`, `_h0`, `_h1`), and its own
    extended key (`id`, `created`, `_ext_length`, `_ext0`, `_ext1`). Keys of parts of a table
    are concatenated, then `chains_from_keys` joins them."""

    prefixes: pl.DataFrame
    rows: pl.DataFrame


def chain_keys(completions: pl.DataFrame, normalization: ExactDedup) -> ChainKeys:
    """The keys of `completions` (rows with `id`, `messages`, `output_content`,
    `output_tool_calls`, `created`)."""
    prefixes = _prefix_keys(_message_hashes(completions, normalization))
    rows = _row_keys(completions, prefixes, normalization)
    assistant = prefixes.filter(pl.col("_role") == "assistant").select(
        "id", "_length", "_h0", "_h1"
    )
    return ChainKeys(prefixes=assistant, rows=rows)


def chains_from_keys(keys: ChainKeys) -> pl.DataFrame:
    """`id`, `parent_id`, `chain_id` and `turn` of every row whose keys these are."""
    return _trees(keys.rows.select("id"), _parents(keys.prefixes, keys.rows))


def chain_figures(chains: pl.DataFrame) -> ChainFigures:
    sizes = chains.group_by("chain_id").agg(pl.len().alias("rows"), pl.col("turn").max())
    chained = sizes.filter(pl.col("rows") > 1)
    children = chains.drop_nulls("parent_id").group_by("parent_id").len()
    return ChainFigures(
        chains=chained.height,
        rows_in_chains=int(chained["rows"].sum()),
        longest=int(sizes["turn"].max() or 0) if not sizes.is_empty() else 0,
        branches=children.filter(pl.col("len") > 1).height,
    )


def chain_completions(
    completions: pl.DataFrame, options: Chains, normalization: ExactDedup
) -> tuple[pl.DataFrame, StepReport]:
    """Add `chain_id` and `turn`; keep one row per chain or every turn, as `options.keep` says.

    `longest` and `last_turn_only` keep each chain's deepest row (the whole conversation, its
    earlier assistant turns included); among equally deep leaves of a branch, the newest, then
    the smallest id. The two differ in what fine-tuning learns from it (see
    `pipelines.export`): every assistant turn as the export's `train_on` says, or the last
    answer only. `every_turn` keeps every row, grouped by chain for the splits.
    """
    if not options.enabled or completions.is_empty():
        alone = completions.with_columns(
            pl.col("id").alias("chain_id"), pl.lit(1, pl.UInt32).alias("turn")
        )
        return alone, StepReport("chains", completions.height, completions.height)
    return keep_chains(completions, find_chains(completions, normalization), options)


def keep_chains(
    completions: pl.DataFrame, chains: pl.DataFrame, options: Chains
) -> tuple[pl.DataFrame, StepReport]:
    """Add `chain_id` and `turn` from `chains` (`find_chains`) and keep what `options.keep`
    says. The rows may be the whole table or only `id` and `created`: nothing else is read."""
    figures = chain_figures(chains)
    counts = {
        "chains": figures.chains,
        "rows_in_chains": figures.rows_in_chains,
        "longest_chain_turns": figures.longest,
        "branches": figures.branches,
    }
    chained = completions.join(
        chains.select("id", "chain_id", "turn"), on="id", how="left", maintain_order="left"
    )
    if options.keep == "every_turn":
        return chained, StepReport("chains", completions.height, chained.height, counts=counts)
    chosen = (
        chained.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
            "chain_id",
            "turn",
            "created",
            "id",
        )
        .sort(["turn", "created", "id"], descending=[True, True, False], nulls_last=True)
        .unique("chain_id", keep="first")["_row"]
    )
    keep = pl.repeat(False, chained.height, eager=True).scatter(chosen, True)
    kept = chained.filter(keep)
    report = StepReport.removing(
        "chains", "earlier_turn_of_a_chat", completions.height, kept.height, **counts
    )
    return kept, report


# -- the keys ------------------------------------------------------------------------------------


def _normalized(text: pl.Expr, normalization: ExactDedup) -> pl.Expr:
    if normalization.fold_whitespace:
        text = text.str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()
    if normalization.fold_case:
        text = text.str.to_lowercase()
    return text


def _residues() -> list[pl.Expr]:
    """The sha256 of the `_text` column, read as one number below each prime."""
    word = plh.col("_text").chash.sha2_256().str.slice(0, 15).str.to_integer(base=16)
    return [(word.cast(pl.Int64) % prime).alias(f"_x{i}") for i, prime in enumerate(_PRIMES)]


def _message_hashes(completions: pl.DataFrame, normalization: ExactDedup) -> pl.DataFrame:
    """One row per input message: row id, position, role, and its two residues."""
    exploded = (
        completions.lazy()
        .select(
            "id",
            message_texts().alias("_texts"),
            pl.col("messages").list.eval(pl.element().struct.field("role")).alias("_roles"),
        )
        .explode(["_texts", "_roles"])
        .drop_nulls("_texts")
        .with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).over("id").alias("_position"),
            _normalized(pl.col("_texts"), normalization).alias("_text"),
        )
    )
    return (
        exploded.with_columns(_residues())
        .select("id", "_position", pl.col("_roles").alias("_role"), "_x0", "_x1")
        .collect(engine="streaming")
    )


def _powers(length: int) -> pl.DataFrame:
    """B^i and B^-i modulo each prime, for every position below `length`."""
    columns: dict[str, list[int]] = {"_position": list(range(length))}
    for i, (prime, base) in enumerate(zip(_PRIMES, _BASES, strict=True)):
        inverse = pow(base, -1, prime)
        columns[f"_pow{i}"] = [pow(base, p, prime) for p in range(length)]
        columns[f"_inv{i}"] = [pow(inverse, p, prime) for p in range(length)]
    return pl.DataFrame(columns, schema={name: pl.Int64 for name in columns})


def _prefix_keys(messages: pl.DataFrame) -> pl.DataFrame:
    """For every prefix of every row's input: its length and its two rolling hashes.

    H_k = Σ_{j<k} x_j·B^(k-1-j) = B^(k-1)·Σ_{j<k} x_j·B^(-j) (mod p): a cumulative sum of
    precomputed weights, so every prefix of every row comes out of one vectorized pass.
    """
    if messages.is_empty():
        return messages.with_columns(
            pl.lit(0, pl.Int64).alias("_length"),
            pl.lit(0, pl.Int64).alias("_h0"),
            pl.lit(0, pl.Int64).alias("_h1"),
        )
    powers = _powers(int(messages["_position"].max()) + 1)  # type: ignore[arg-type]
    weighted = messages.join(powers, on="_position", how="left").with_columns(
        (pl.col(f"_x{i}") * pl.col(f"_inv{i}") % prime).alias(f"_w{i}")
        for i, prime in enumerate(_PRIMES)
    )
    return weighted.select(
        "id",
        "_role",
        (pl.col("_position") + 1).alias("_length"),
        *[
            (pl.col(f"_w{i}").cum_sum().over("id") % prime * pl.col(f"_pow{i}") % prime).alias(
                f"_h{i}"
            )
            for i, prime in enumerate(_PRIMES)
        ],
    )


def _row_keys(
    completions: pl.DataFrame, prefixes: pl.DataFrame, normalization: ExactDedup
) -> pl.DataFrame:
    """Per row: its input's length and hash, and its extended key (input, then its answer)."""
    last = prefixes.sort("_length").group_by("id").last().select("id", "_length", "_h0", "_h1")
    answer = pl.concat_str(
        [pl.lit("assistant"), pl.col("output_content"), calls_text(pl.col("output_tool_calls"))],
        separator=FIELD_SEPARATOR,
        ignore_nulls=True,
    )
    answers = (
        completions.lazy()
        .select("id", "created", _normalized(answer, normalization).alias("_text"))
        .with_columns(_residues())
        .select("id", "created", "_x0", "_x1")
        .collect(engine="streaming")
    )
    rows = answers.join(last, on="id", how="left").with_columns(
        pl.col("_length").fill_null(0), pl.col("_h0").fill_null(0), pl.col("_h1").fill_null(0)
    )
    return rows.select(
        "id",
        "created",
        (pl.col("_length") + 1).alias("_ext_length"),
        *[
            ((pl.col(f"_h{i}") * base + pl.col(f"_x{i}")) % prime).alias(f"_ext{i}")
            for i, (prime, base) in enumerate(zip(_PRIMES, _BASES, strict=True))
        ],
    )


def _parents(prefixes: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """`id`, `parent_id`: the row whose extended key is the longest matching prefix."""
    candidates = prefixes.join(
        rows.select(
            pl.col("id").alias("parent_id"),
            pl.col("_ext_length").alias("_length"),
            pl.col("_ext0").alias("_h0"),
            pl.col("_ext1").alias("_h1"),
        ),
        on=["_length", "_h0", "_h1"],
        how="inner",
    )
    # Exact duplicates of a parent (kept when dedup is off) share its key: the smallest id wins.
    return (
        candidates.sort(["id", "_length", "parent_id"], descending=[False, True, False])
        .unique("id", keep="first")
        .select("id", "parent_id")
    )


def _trees(ids: pl.DataFrame, parents: pl.DataFrame) -> pl.DataFrame:
    """Walk down from the roots: each row's chain (its root's id) and turn (depth + 1)."""
    nodes = ids.join(parents, on="id", how="left")
    frontier = nodes.filter(pl.col("parent_id").is_null()).select(
        "id", "parent_id", pl.col("id").alias("chain_id"), pl.lit(1, pl.UInt32).alias("turn")
    )
    placed = [frontier]
    remaining = nodes.filter(pl.col("parent_id").is_not_null())
    while not frontier.is_empty() and not remaining.is_empty():
        frontier = remaining.join(
            frontier.select(
                pl.col("id").alias("parent_id"), "chain_id", (pl.col("turn") + 1).alias("turn")
            ),
            on="parent_id",
            how="inner",
        )
        placed.append(frontier)
        remaining = remaining.join(frontier.select("id"), on="id", how="anti")
    return pl.concat(placed)
