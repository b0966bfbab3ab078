"""The dataset card (README.md) of a version: a Hugging Face YAML header, then what is inside."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import yaml

from pipelines.datadir.paths import VersionLayout
from pipelines.export.manifest import Manifest
from pipelines.export.splits import SPLITS
from pipelines.export.targets import TARGETS, hf

_BAR_WIDTH = 40


def dataset_card(manifest: Manifest, rows: pl.DataFrame) -> str:
    """Markdown for `README.md`: splits, sources, recipe, drops and the token distribution."""
    header = {"configs": _configs(manifest), "tags": ["distillery", "stored-completions", "chat"]}
    recipe, inputs = manifest.recipe, manifest.inputs
    read_from = _read_from(manifest)
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).strip(),
        "---",
        "",
        f"# {recipe['name']} — dataset version `{manifest.version}`",
        "",
        recipe.get("description") or "",
        "",
        f"Built by distillery {manifest.package.version} on {manifest.created_at.isoformat()}"
        f" from stored completions read from {read_from}.",
        "",
        "## Splits",
        "",
        "| split | examples | tokens | rows |",
        "|---|---:|---:|---|",
    ]
    for name in SPLITS:
        counts = manifest.splits[name]
        lines.append(
            f"| {name} | {counts.rows:,} | {counts.tokens:,} | {VersionLayout.rows(name)} |"
        )
    lines += [
        "",
        "Rows are grouped before splitting (by "
        f"`{recipe['split']['group_by']}`), so no group straddles two splits. Each split's"
        " Parquet holds the version's rows (the stored messages, output, tools, metadata and"
        " the OpenAI line); every target below is made from them.",
        "",
        *_targets_section(manifest),
        "## Inputs",
        "",
        f"- records read: {inputs.rows + inputs.quarantined:,}; valid: {inputs.rows:,};"
        f" quarantined: {inputs.quarantined:,}"
        + (
            " ("
            + ", ".join(f"{check} {n:,}" for check, n in inputs.quarantined_by_reason.items())
            + ")"
            if inputs.quarantined_by_reason
            else ""
        ),
        *(
            f"- from {source_kind}: "
            + ", ".join(f"{api} {count:,}" for api, count in by_api.items())
            for source_kind, by_api in inputs.rows_by_source.items()
        ),
        f"- created: {_iso(inputs.created_min)} … {_iso(inputs.created_max)}",
        f"- id set sha256: `{inputs.id_set_sha256}`",
        "",
        "## Dropped, by reason",
        "",
    ]
    drops = manifest.drops_by_reason
    lines += [f"- {reason}: {count:,}" for reason, count in drops.items()] or ["- none"]
    lines += _redactions_section(manifest)
    lines += _chains_section(manifest)
    if manifest.transforms:
        lines += ["", "## Written differently from the stored records", ""]
        lines += [f"- {transform}" for transform in manifest.transforms]
    lines += ["", "## Tokens per example", ""]
    if VersionLayout.TOKENS_CHART in manifest.files:
        lines += [f"![Tokens per example, by split]({VersionLayout.TOKENS_CHART})", ""]
    lines += [
        "| split | min | median | p95 | max |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {name} | {_n(c.tokens_min)} | {_n(c.tokens_median)} | {_n(c.tokens_p95)}"
            f" | {_n(c.tokens_max)} |"
            for name, c in manifest.splits.items()
        ),
        "",
        *token_histogram(rows),
        "",
    ]
    lines += _rows_by_model_and_api(manifest)
    lines += [
        "Tokens are the provider's usage where it reported one, else estimated from the text"
        " (UTF-8 bytes / 4): a conversation has no usage.",
        "",
    ]
    lines += ["## Recipe", "", "```yaml", yaml.safe_dump(recipe, sort_keys=False).strip(), "```"]
    return "\n".join(lines) + "\n"


def _read_from(manifest: Manifest) -> str:
    """Every source the input rows came from, with its row count, so a lake that mixes sources
    says so in the first sentence (the last sync's host beside its own kind)."""
    source, by_source = manifest.source, manifest.inputs.rows_by_source
    if not by_source:
        return f"**{source.kind}** ({source.endpoint_host})" if source else "**unknown**"
    parts = []
    for kind, by_api in by_source.items():
        rows = sum(by_api.values())
        where = f", {source.endpoint_host}" if source and source.kind == kind else ""
        parts.append(f"**{kind}** ({rows:,} {'row' if rows == 1 else 'rows'}{where})")
    return ", ".join(parts)


_CHAIN_KEEPS = {
    "longest": "one example per chat, its whole conversation (earlier answers learned as"
    " `export.train_on` says)",
    "last_turn_only": "one example per chat, its whole conversation, learning only its last answer",
    "every_turn": "every stored turn, each an example, all of a chat in one split",
}


def _chains_section(manifest: Manifest) -> list[str]:
    """How chats stored turn by turn (a request per turn, each with the history) were kept."""
    chains = manifest.recipe.get("chains") or {}
    if not chains.get("enabled", True):
        return [
            "",
            "## Chats stored turn by turn",
            "",
            "Not detected: every stored turn is its own example (`chains.enabled: false`).",
        ]
    keep = chains.get("keep", "longest")
    step = next((s for s in manifest.steps if s.step == "chains"), None)
    folded = step.dropped.get("earlier_turn_of_a_chat", 0) if step else 0
    return [
        "",
        "## Chats stored turn by turn",
        "",
        f"Kept: {_CHAIN_KEEPS.get(keep, keep)} (`chains.keep: {keep}`); {folded:,} earlier"
        " turns were folded into the example of their chat. A chat's turns never straddle two"
        " splits.",
    ]


def _configs(manifest: Manifest) -> list[dict]:
    """The card's `configs`: TRL's conversational Parquet first when the version has it (what
    `load_dataset(<repo>)` then loads), and the version's rows."""
    splits = [name for name in SPLITS if manifest.splits[name].rows]
    layouts = [("rows", VersionLayout.ROWS)]
    if "hf" in manifest.targets:
        layouts = [*hf.LAYOUTS.items(), *layouts]
    return [
        {
            "config_name": name,
            "data_files": [{"split": s, "path": pattern.format(split=s)} for s in splits],
            **({"default": True} if index == 0 else {}),
        }
        for index, (name, pattern) in enumerate(layouts)
    ]


def _targets_section(manifest: Manifest) -> list[str]:
    if not manifest.targets:
        return []
    lines = ["## Targets", "", "| target | files | use |", "|---|---|---|"]
    for name, entry in manifest.targets.items():
        target = TARGETS.get(name)
        files = ", ".join(f"`{file}`" for file in entry.files)
        lines.append(f"| `{name}` | {files} | {target.usage if target else ''} |")
    notes = [(name, note) for name, entry in manifest.targets.items() for note in entry.notes]
    if notes:
        lines += ["", *[f"- `{name}`: {note}" for name, note in notes]]
    return [*lines, ""]


def _redactions_section(manifest: Manifest) -> list[str]:
    """Placeholders the redact step wrote, by kind (e-mail, phone, card, …)."""
    step = next((s for s in manifest.steps if s.step == "redact"), None)
    if step is None:
        return []
    kinds = {k: n for k, n in step.counts.items() if k != "records_redacted"}
    records = step.counts.get("records_redacted", 0)
    lines = ["", "## Redactions, by kind", ""]
    lines += [f"- {kind}: {count:,}" for kind, count in sorted(kinds.items())] or ["- none"]
    return [*lines, "", f"{records:,} examples had something redacted."]


def _rows_by_model_and_api(manifest: Manifest) -> list[str]:
    """Published rows per model and per API, one column per split."""
    names = list(manifest.splits)
    header = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines = ["## Rows by model and by API", "", *header]
    for field in ("rows_by_model", "rows_by_api"):
        keys = sorted({k for c in manifest.splits.values() for k in getattr(c, field)})
        for key in keys:
            counts = [getattr(manifest.splits[n], field).get(key, 0) for n in names]
            lines.append(f"| `{key}` | " + " | ".join(f"{c:,}" for c in counts) + " |")
    return [*lines, ""]


def _n(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "unknown"


def token_histogram(rows: pl.DataFrame, *, bins: int = 8) -> list[str]:
    """A text histogram of `estimated_tokens` per example, in a code block."""
    tokens = rows["estimated_tokens"].drop_nulls()
    if tokens.is_empty():
        return ["_(no examples)_"]
    low, high = int(tokens.min()), int(tokens.max())  # type: ignore[arg-type]
    width = max(1, -(-(high - low + 1) // bins))
    counts = (
        tokens.to_frame("t")
        .with_columns(((pl.col("t") - low) // width).alias("bin"))
        .group_by("bin")
        .len()
        .sort("bin")
    )
    peak = counts["len"].max() or 1
    out = ["```"]
    for bin_index, count in counts.iter_rows():
        start = low + bin_index * width
        bar = "█" * max(1, round(count / peak * _BAR_WIDTH))  # type: ignore[operator]
        out.append(f"{start:>7,}–{start + width - 1:<7,} {bar} {count:,}")
    out.append("```")
    return out
