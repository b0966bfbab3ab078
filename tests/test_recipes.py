"""Recipe files: the bundled default, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.recipes import BUNDLED_RECIPES, RecipeError, load_recipes, recipes_path


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipes.yaml"
    path.write_text(text)
    return path


def test_the_bundled_default_recipe() -> None:
    recipes = load_recipes(BUNDLED_RECIPES)

    default = recipes["default"]
    assert default.redact.mode == "redact"
    assert default.select.finish_reasons == ["stop", "tool_calls"]
    assert (default.dedup.near.threshold, default.split.group_by) == (0.8, "cluster")


def test_the_environment_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "recipes:\n  mine: {select: {models: ['gpt-4.1*']}}\n")

    assert recipes_path({"DISTILLERY_RECIPES": str(path)}) == path
    assert recipes_path({}) == BUNDLED_RECIPES
    assert load_recipes(path)["mine"].select.models == ["gpt-4.1*"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "recipes:\n  r: {split: {train: 0.9}}\n",
            "recipes.r.split: Value error, train + validation",
        ),
        ("recipes:\n  r: {select: {refusal: exclude}}\n", "recipes.r.select.refusal: Extra inputs"),
        ("recipes:\n  r: {redact: {mode: mask}}\n", "recipes.r.redact.mode: Input should be"),
        ("recipes:\n  Bad-Name: {}\n", "recipes.Bad-Name.name: Value error, lower-case"),
        ("recipes: [1, 2]\n", "expected a mapping with a `recipes:` mapping"),
        ("recipes:\n  r: {select: [\n", "not valid YAML"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(RecipeError) as caught:
        load_recipes(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"nope\.yaml: recipes file not found"):
        load_recipes(tmp_path / "nope.yaml")


def test_the_readme_example_recipe_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]

    recipe = load_recipes(write(tmp_path, example))["support_tools"]

    assert recipe.select.tool_use == "only"
    assert recipe.split.group_by == "metadata.user_id"


def test_a_recipe_defined_twice_is_refused_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path, "recipes:\n  r: {}\n  other: {}\n  r: {redact: {mode: off}}\n")

    with pytest.raises(RecipeError, match=r"recipes.yaml: not valid YAML: .*'r' is defined twice"):
        load_recipes(path)


def test_a_recipes_path_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as caught:
        load_recipes(tmp_path)

    assert str(caught.value) == f"{tmp_path}: is a directory, not a recipes file"


def test_a_recipes_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "recipes.yaml"
    path.write_bytes("recipes:\n  caf\u00e9: {}\n".encode("latin-1"))

    with pytest.raises(RecipeError) as caught:
        load_recipes(path)

    assert str(caught.value) == f"{path}: not UTF-8 text (byte 0xe9 at offset 14)"
