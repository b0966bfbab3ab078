"""Set-up resolves without pip backtracking: pyproject's boto3 bound agrees with the botocore that
the installed aiobotocore (via s3fs) pins, so pip never walks boto3 releases down to one that fits
(25 of them, minutes of a fresh set-up, issue 26). Installed versions stand in for what pip
picks from these bounds: CI installs from this pyproject in a fresh clone."""

from __future__ import annotations

import importlib.metadata as metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def declared(name: str) -> SpecifierSet:
    """The specifier pyproject gives `name` (main dependencies or an extra)."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"].values()
    lines = project["dependencies"] + [line for extra in extras for line in extra]
    (found,) = [r.specifier for r in map(Requirement, lines) if r.name == name]
    return found


def required_by(package: str, name: str) -> SpecifierSet:
    """What the installed `package` asks of `name`."""
    requirements = map(Requirement, metadata.requires(package) or [])
    (found,) = [r.specifier for r in requirements if r.name == name and not r.marker]
    return found


def test_the_boto3_bound_allows_only_what_the_installed_aiobotocore_allows() -> None:
    boto3 = declared("boto3")
    botocore_for_aiobotocore = required_by("aiobotocore", "botocore")
    # boto3 X.Y.Z needs botocore X.Y.Z: every boto3 the bound lets pip try must fit aiobotocore.
    installed = Version(metadata.version("botocore"))
    candidates = [Version(f"{installed.major}.{installed.minor}.{p}") for p in range(0, 400)]
    allowed = [v for v in candidates if v in boto3]
    assert allowed, f"boto3{boto3} allows no release of {installed.major}.{installed.minor}"
    assert all(v in botocore_for_aiobotocore for v in allowed), (
        f"boto3{boto3} lets pip try boto3 releases whose botocore aiobotocore"
        f" {metadata.version('aiobotocore')} refuses ({botocore_for_aiobotocore}): pip backtracks"
    )
    assert Version(metadata.version("aiobotocore")) in declared("aiobotocore")
    assert Version(metadata.version("boto3")) in boto3
