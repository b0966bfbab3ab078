"""Recipes: named dataset definitions, read from YAML and validated by pydantic.

A recipe says which completions to take, how to redact and deduplicate them, how to split them and
what to export. One lake feeds many recipes. `DISTILLERY_RECIPES` names the file; without it the
bundled `default_recipes.yaml` (one recipe, `default`) is used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Literal, get_args

import yaml
from phonenumbers import SUPPORTED_REGIONS
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.privacy.phones import DEFAULT_PHONE_REGIONS

BUNDLED_RECIPES = Path(str(files("pipelines") / "default_recipes.yaml"))
RedactionKind = Literal["secret", "email", "card", "phone", "ip"]
REDACTION_KINDS: tuple[str, ...] = get_args(RedactionKind)
"""Every kind redaction knows, in the order they are replaced (a phone before an IP address:
06.12.34.56.78 holds the address-shaped 12.34.56.78)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class RecipeError(ValueError):
    """A recipes file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selection(_Strict):
    """Which completions a recipe takes. Every condition must hold."""

    models: list[str] = Field(default_factory=list, description="Exact names or globs; empty: any.")
    metadata: dict[str, str | list[str]] = Field(
        default_factory=dict, description="key: value, or key: [any, of, these]."
    )
    created_from: datetime | None = Field(None, description="Inclusive lower bound (UTC if naive).")
    created_to: datetime | None = Field(None, description="Exclusive upper bound (UTC if naive).")
    finish_reasons: list[str] = Field(default_factory=lambda: ["stop", "tool_calls"])
    refusals: Literal["exclude", "include", "only"] = "exclude"
    content_filtered: Literal["exclude", "include"] = "exclude"
    tool_use: Literal["any", "only", "none"] = "any"
    min_total_tokens: int | None = Field(
        None, ge=0, description="Least `estimated_tokens` (usage, else estimated from the text)."
    )
    max_total_tokens: int | None = Field(
        None, ge=0, description="Most `estimated_tokens` (usage, else estimated from the text)."
    )
    include_deleted: bool = Field(False, description="Keep completions deleted at the source.")

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> Selection:
        if self.created_from and self.created_to and self.created_from >= self.created_to:
            raise ValueError("created_from must be before created_to")
        low, high = self.min_total_tokens, self.max_total_tokens
        if low is not None and high is not None and low > high:
            raise ValueError("min_total_tokens must not exceed max_total_tokens")
        return self


class Redaction(_Strict):
    """PII and secret handling: replace with typed placeholders, drop the record, or leave it."""

    mode: Literal["redact", "drop", "off"] = "redact"
    kinds: list[RedactionKind] = Field(default_factory=lambda: list(REDACTION_KINDS))
    phone_regions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PHONE_REGIONS),
        description="ISO 3166 codes of the countries whose national phone notation (no country"
        " code) is read; with `+` or `00` and a country code, every country's numbers are.",
    )

    @field_validator("phone_regions")
    @classmethod
    def _regions_are_known(cls, regions: list[str]) -> list[str]:
        codes = [region.upper() for region in regions]
        unknown = [
            r for r, code in zip(regions, codes, strict=True) if code not in SUPPORTED_REGIONS
        ]
        if unknown:
            raise ValueError(f"unknown phone regions {unknown}: ISO 3166 codes such as ES, DE, CN")
        return codes


class ExactDedup(_Strict):
    """Exact duplicates by a stable hash of the normalized conversation."""

    enabled: bool = True
    scope: Literal["input", "input_output"] = "input_output"
    fold_case: bool = True
    fold_whitespace: bool = True
    keep: Literal["newest", "oldest"] = "newest"


class NearDedup(_Strict):
    """Near-duplicate clusters by MinHash LSH over the prompt text, checked by true Jaccard."""

    enabled: bool = True
    threshold: float = Field(0.8, gt=0, le=1)
    num_perm: int = Field(128, ge=16, le=1024)
    shingle: Literal["words", "word_bigrams"] = "words"
    keep: Literal["one", "all"] = Field("one", description="One row per cluster, or all of them.")


class Dedup(_Strict):
    exact: ExactDedup = Field(default_factory=ExactDedup)
    near: NearDedup = Field(default_factory=NearDedup)


class Chains(_Strict):
    """Chats stored turn by turn (`pipelines.curate.chains`): what a recipe keeps of each."""

    enabled: bool = True
    keep: Literal["longest", "every_turn", "last_turn_only"] = Field(
        "longest",
        description="`longest`: one example per chat, the whole conversation, its earlier "
        "assistant turns learned as `export.train_on` says; `last_turn_only`: the same example, "
        "learning only its last answer; `every_turn`: every stored turn, grouped by chat.",
    )


class Split(_Strict):
    """How rows are assigned to train / validation / eval."""

    train: float = Field(0.8, ge=0, le=1)
    validation: float = Field(0.1, ge=0, le=1)
    eval: float = Field(0.1, ge=0, le=1)
    seed: int = 0
    group_by: str = Field(
        "cluster", description="`cluster` (near-duplicate cluster) or `metadata.<key>`."
    )
    stratify_by: str | None = Field(None, description="`metadata.<key>` to balance across splits.")
    by_time: bool = Field(False, description="Newest share goes to eval, then validation.")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> Split:
        if abs(self.train + self.validation + self.eval - 1) > 1e-9:
            raise ValueError("train + validation + eval must add up to 1")
        return self

    @field_validator("group_by", "stratify_by")
    @classmethod
    def _known_key(cls, value: str | None) -> str | None:
        if value is None or value == "cluster" or value.startswith("metadata."):
            return value
        raise ValueError("use `cluster` or `metadata.<key>`")


TargetName = Literal[
    "openai",
    "azure",
    "hf",
    "llamafactory",
    "axolotl",
    "promptfoo",
    "inspect_ai",
    "foundry",
    "oss_evals",
    "preference",
]
TARGET_NAMES: tuple[str, ...] = get_args(TargetName)
"""Every export target (`pipelines.export.targets` registers one writer and validator each)."""
DEFAULT_TARGETS: tuple[str, ...] = ("openai", "hf", "promptfoo")
"""Written when a recipe names none: OpenAI/Azure fine-tuning JSONL, TRL-ready Parquet, and a
promptfoo suite (OpenAI's migration path off its hosted Evals)."""


class Preference(_Strict):
    """Preference pairs from feedback stored on completions: a metadata key set through the API
    (`chat.completions.update(id, metadata={key: value})`), either up/down labels or a score."""

    key: str = Field(description="The metadata key holding the feedback, e.g. `feedback`.")
    scale: Literal["up_down", "score"] = Field(
        "up_down", description="`up_down`: labels listed in `up` and `down`; `score`: a number."
    )
    up: list[str] = Field(default_factory=lambda: ["up", "thumbs_up", "good", "positive", "1"])
    down: list[str] = Field(
        default_factory=lambda: ["down", "thumbs_down", "bad", "negative", "0", "-1"]
    )
    min_margin: float = Field(
        1.0, gt=0, description="`score`: how much higher the chosen answer's score must be."
    )
    max_pairs_per_prompt: int = Field(4, ge=1, description="Pairs kept per prompt at most.")


class Export(_Strict):
    """What a dataset version contains."""

    train_on: Literal["all", "last_assistant"] = Field(
        "all", description="Which assistant turns carry weight 1 in fine-tuning lines."
    )
    min_train_examples: int = Field(10, ge=1, description="Refuse to publish below this.")
    targets: list[TargetName] = Field(
        default_factory=lambda: list(DEFAULT_TARGETS),
        description="Formats written into each version; more can be added to a published "
        "version later (`distillery export`) without changing its id.",
    )
    parallel_tool_calls: Literal["sequential", "keep"] = Field(
        "sequential",
        description="Chat-template targets (hf, axolotl, preference): `sequential` writes each "
        "call of a message with several as its own assistant message followed by its result "
        "(Llama 3.x templates refuse several, gpt-oss renders only the first); `keep` as stored.",
    )
    eval_text_match: Literal["rubric", "exact"] = Field(
        "rubric",
        description="How evaluation targets compare a text answer with the reference: a model "
        "grader (`rubric`) or exact equality; tool calls and JSON answers always match exactly.",
    )
    preference: Preference | None = Field(
        None, description="The feedback that `preference` pairs answers by."
    )

    @model_validator(mode="after")
    def _preference_has_feedback(self) -> Export:
        if "preference" in self.targets and self.preference is None:
            raise ValueError("target `preference` needs `preference: {key: <metadata key>}`")
        if len(set(self.targets)) != len(self.targets):
            raise ValueError("a target is listed twice")
        return self


class Recipe(_Strict):
    """A named dataset definition."""

    name: str
    description: str = ""
    select: Selection = Field(default_factory=Selection)
    redact: Redaction = Field(default_factory=Redaction)
    dedup: Dedup = Field(default_factory=Dedup)
    chains: Chains = Field(default_factory=Chains)
    split: Split = Field(default_factory=Split)
    export: Export = Field(default_factory=Export)
    target_model: str = Field("gpt-4.1-mini", description="Sets the per-example token limit.")

    @property
    def fine_tuning_train_on(self) -> str:
        """What fine-tuning lines learn: `export.train_on`, except that a recipe keeping only
        the last turn of each chat learns only the last answer."""
        if self.chains.enabled and self.chains.keep == "last_turn_only":
            return "last_assistant"
        return self.export.train_on

    @field_validator("name")
    @classmethod
    def _asset_safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lower-case letters, digits and _, starting with a letter")
        return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping: YAML would keep the last
    silently, and a recipe defined twice would lose its first definition without a word."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} is defined twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def recipes_path(env: Mapping[str, str] | None = None) -> Path:
    """`DISTILLERY_RECIPES`, else the bundled default."""
    env = os.environ if env is None else env
    return Path(env["DISTILLERY_RECIPES"]) if env.get("DISTILLERY_RECIPES") else BUNDLED_RECIPES


def load_recipes(path: str | Path | None = None) -> dict[str, Recipe]:
    """Read and validate a recipes file: `recipes: {name: {...}, ...}`.

    Raises:
        RecipeError: The file is missing, not YAML, or a field is wrong; the message names the file
            and the field (e.g. `recipes.default.split.train`).
    """
    path = Path(path) if path is not None else recipes_path()
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipes file not found") from None
    except IsADirectoryError:
        raise RecipeError(f"{path}: is a directory, not a recipes file") from None
    except UnicodeDecodeError as err:
        raise RecipeError(
            f"{path}: not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start})"
        ) from None
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(document, dict) or not isinstance(document.get("recipes"), dict):
        raise RecipeError(f"{path}: expected a mapping with a `recipes:` mapping of name → recipe")
    recipes = {}
    for name, body in document["recipes"].items():
        try:
            recipes[name] = Recipe.model_validate({**(body or {}), "name": name})
        except ValidationError as err:
            problems = "; ".join(
                f"recipes.{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in err.errors()
            )
            raise RecipeError(f"{path}: {problems}") from None
    if not recipes:
        raise RecipeError(f"{path}: no recipes defined")
    return recipes
