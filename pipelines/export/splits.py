"""Leakage-safe, deterministic train / validation / eval assignment.

Rows are grouped (by near-duplicate cluster and chat by default, or by a metadata key) and whole
groups are assigned, so exact and near duplicates, the turns of one chat, or one user's
conversations, never straddle splits. The order of groups comes from a seeded sha256 of the group
key, never from `pl.Expr.hash` (which changes between polars versions), so the same inputs and
seed always give the same splits.
"""

from __future__ import annotations

import polars as pl
import polars_hash as plh

from pipelines.recipes import Split

SPLITS = ("train", "validation", "eval")


def assign_splits(curated: pl.DataFrame, split: Split) -> pl.DataFrame:
    """Add `split` (train | validation | eval) and `split_group` to every curated row.

    By default a group's split depends only on its key and the seed: its seeded hash, read as a
    number in [0, 1), falls in the train, validation or eval band. So a group keeps its split as the
    data grows, and an example trained on in one version is never evaluated on in the next.

    With `stratify_by`, groups are instead ordered by hash within each stratum and filled into
    train, then validation, then eval until each holds its fraction of the stratum's rows: exact
    proportions per stratum, at the price of that stability. With `by_time` the order is oldest
    first, so the newest share lands in eval. Either way, when there are at least as many groups as
    non-zero fractions, every such split gets at least one group, however small the data.
    """
    if curated.is_empty():
        return curated.with_columns(
            pl.lit(None, pl.String).alias("split_group"), pl.lit(None, pl.String).alias("split")
        )
    fractions = {"train": split.train, "validation": split.validation, "eval": split.eval}
    wanted = [name for name in SPLITS if fractions[name] > 0]
    rows = curated.with_columns(_group_key(split.group_by).alias("split_group"))
    rows = rows.with_columns(_joined_with_chats(rows))
    if not (split.by_time or split.stratify_by):
        # Every row of a group has the same hash, hence the same split: no group_by needed (at a
        # million distinct groups it would hold a gigabyte).
        banded = rows.with_columns(
            _band(_seeded_hash(split.seed), wanted, fractions).alias("split")
        )
        if set(wanted) <= set(banded["split"].unique()):
            return banded
        # Some split got no group (a small dataset): decide group by group below.
    assigned = _assign_groups(
        rows.with_columns(_stratum(split.stratify_by).alias("_stratum")), split, wanted, fractions
    )
    # A lookup expression, not a join: joining the wide rows would copy every column.
    split_of_group = pl.col("split_group").replace_strict(
        assigned["split_group"], assigned["split"], return_dtype=pl.String
    )
    return rows.with_columns(split_of_group.alias("split"))


def _assign_groups(
    rows: pl.DataFrame, split: Split, wanted: list[str], fractions: dict[str, float]
) -> pl.DataFrame:
    """One row per group with its split: ordered fill (time, strata) or hash bands."""
    groups = (
        rows.group_by("split_group")
        .agg(
            pl.len().alias("rows"),
            pl.col("created").max().alias("newest"),
            # A group whose rows disagree on the stratum takes its most common one.
            pl.col("_stratum").mode().sort().first().alias("_stratum"),
        )
        .with_columns(_seeded_hash(split.seed).alias("_hash"))
    )
    if split.by_time or split.stratify_by:
        order = ["newest", "split_group"] if split.by_time else ["_hash"]
        return pl.concat(
            [
                _fill(stratum.sort(order), fractions)
                for _, stratum in groups.sort("_stratum").group_by("_stratum", maintain_order=True)
            ]
        )
    ordered = groups.sort("_hash")
    labels = ordered.select(_band(pl.col("_hash"), wanted, fractions))["split"].to_list()
    labels = _give_every_split_a_group(labels, wanted)
    return ordered.with_columns(pl.Series("split", labels, dtype=pl.String))


def _seeded_hash(seed: int) -> pl.Expr:
    return plh.concat_str(pl.lit(f"{seed}:"), pl.col("split_group")).chash.sha2_256()


def _band(hashed: pl.Expr, wanted: list[str], fractions: dict[str, float]) -> pl.Expr:
    """The split whose band holds the hash, read as a number in [0, 1)."""
    # 13 hex digits: 52 bits, exact in a float64.
    position = hashed.str.slice(0, 13).str.to_integer(base=16) / float(16**13)
    band = pl.lit(wanted[-1])
    upper = 1.0
    for index in range(len(wanted) - 2, -1, -1):
        upper -= fractions[wanted[index + 1]]
        band = pl.when(position < upper).then(pl.lit(wanted[index])).otherwise(band)
    return band.alias("split")


def _fill(groups: pl.DataFrame, fractions: dict[str, float]) -> pl.DataFrame:
    """Assign ordered groups to splits by cumulative row share."""
    total = groups["rows"].sum()
    wanted = [name for name in SPLITS if fractions[name] > 0]
    bounds, running = [], 0.0
    for name in wanted:
        running += fractions[name]
        bounds.append((name, running))
    labels, seen = [], 0
    for size in groups["rows"]:
        # The group's midpoint decides, so a large group lands where most of it belongs.
        midpoint = (seen + size / 2) / total
        labels.append(next((name for name, bound in bounds if midpoint < bound), wanted[-1]))
        seen += size
    labels = _give_every_split_a_group(labels, wanted)
    return groups.with_columns(pl.Series("split", labels, dtype=pl.String))


def _give_every_split_a_group(labels: list[str], wanted: list[str]) -> list[str]:
    """Move single groups from the fullest split into empty ones, when there are enough groups.

    With time or hash order kept: the group moved is the last of the donor's run, next to the
    empty split's place in the order.
    """
    if len(labels) < len(wanted):
        return labels
    for empty in [name for name in wanted if name not in labels]:
        donor = max(wanted, key=labels.count)
        positions = [i for i, label in enumerate(labels) if label == donor]
        take = positions[-1] if wanted.index(empty) > wanted.index(donor) else positions[0]
        labels[take] = empty
    return labels


def _group_key(group_by: str) -> pl.Expr:
    if group_by == "cluster":
        return pl.col("cluster_id")
    return _metadata_value(group_by.removeprefix("metadata.")).fill_null(
        pl.concat_str(pl.lit("id:"), pl.col("id"))
    )


def _joined_with_chats(rows: pl.DataFrame) -> pl.Series:
    """`split_group` joined with the chats: rows sharing a group or a chat end up in one group
    (the connected components of both relations), so the turns of a chat never straddle splits,
    whatever the recipe groups by.

    Labels spread to the smallest reachable one, through a chat, then through a group, until
    none moves; each round is two window minima, and rounds are as few as the longest
    alternating path of chats and groups.
    """
    if "chain_id" not in rows.columns:  # curated before chains existed
        return rows["split_group"]
    labels = rows.select("chain_id", pl.col("split_group").alias("_by"), "split_group")
    while True:
        spread = labels.with_columns(pl.col("split_group").min().over("chain_id")).with_columns(
            pl.col("split_group").min().over("_by")
        )
        if spread["split_group"].equals(labels["split_group"]):
            return spread["split_group"]
        labels = spread


def _stratum(stratify_by: str | None) -> pl.Expr:
    if stratify_by is None:
        return pl.lit("")
    return _metadata_value(stratify_by.removeprefix("metadata.")).fill_null("")


def _metadata_value(key: str) -> pl.Expr:
    pair = pl.element().struct
    return (
        pl.col("metadata")
        .list.eval(pl.element().filter(pair.field("key") == key).struct.field("value"))
        .list.first()
    )
