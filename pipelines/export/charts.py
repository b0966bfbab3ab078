"""A version's token chart (`VersionLayout.TOKENS_CHART`): a token-length histogram per split, as
a picture the card links.

Plain SVG text (no plotting library): every bar is a `<rect>` whose `data-count`, `data-from` and
`data-to` carry its numbers, so the picture can be checked against the rows it was drawn from.
"""

from __future__ import annotations

from html import escape

import polars as pl

from pipelines.export.splits import SPLITS

_BINS = 12
_PANEL_W, _PANEL_H, _PAD = 360, 160, 28
_COLOURS = {"train": "#4c72b0", "validation": "#dd8452", "eval": "#55a868"}


def token_bins(tokens: pl.Series, *, low: int, width: int) -> list[tuple[int, int, int]]:
    """(from, to, count) for each of `_BINS` bins of `width` tokens starting at `low`."""
    counts = dict(
        tokens.to_frame("t")
        .select(((pl.col("t") - low) // width).clip(0, _BINS - 1).alias("bin"))
        .group_by("bin")
        .len()
        .iter_rows()
    )
    return [
        (low + b * width, low + (b + 1) * width - 1, int(counts.get(b, 0))) for b in range(_BINS)
    ]


def token_histogram_svg(rows: pl.DataFrame) -> str:
    """The SVG: one panel per split (train, validation, eval), the same bins in each, so the
    panels compare at a glance. `rows` holds `split` and `estimated_tokens`."""
    tokens = rows["estimated_tokens"].drop_nulls()
    low = int(tokens.min()) if len(tokens) else 0  # type: ignore[arg-type]
    high = int(tokens.max()) if len(tokens) else 0  # type: ignore[arg-type]
    width = max(1, -(-(high - low + 1) // _BINS))
    height = len(SPLITS) * (_PANEL_H + _PAD) + _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_PANEL_W + 2 * _PAD}"'
        f' height="{height}" font-family="sans-serif" font-size="11">',
        "<title>Tokens per example, by split</title>",
    ]
    for index, split in enumerate(SPLITS):
        split_tokens = rows.filter(pl.col("split") == split)["estimated_tokens"].drop_nulls()
        bins = token_bins(split_tokens, low=low, width=width)
        top = _PAD + index * (_PANEL_H + _PAD)
        peak = max((count for _, _, count in bins), default=0) or 1
        bar_w = _PANEL_W / _BINS
        parts.append(
            f'<g class="split" data-split="{split}" data-rows="{len(split_tokens)}">'
            f'<text x="{_PAD}" y="{top - 8}">{escape(split)}: {len(split_tokens):,} examples,'
            f" {low:,}–{high:,} tokens</text>"
        )
        for number, (start, end, count) in enumerate(bins):
            bar_h = round(count / peak * (_PANEL_H - 14), 1)
            x, y = round(_PAD + number * bar_w, 1), round(top + _PANEL_H - bar_h, 1)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{round(bar_w - 2, 1)}"'
                f' height="{bar_h}" fill="{_COLOURS.get(split, "#888")}" data-count="{count}"'
                f' data-from="{start}" data-to="{end}"><title>{start:,}–{end:,} tokens:'
                f" {count:,}</title></rect>"
            )
        parts.append(
            f'<line x1="{_PAD}" y1="{top + _PANEL_H}" x2="{_PAD + _PANEL_W}"'
            f' y2="{top + _PANEL_H}" stroke="#333"/></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
