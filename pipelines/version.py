"""The installed package's version: a leaf module, so a stage can record it in a manifest without
importing the `pipelines` face (which would make a circle)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distillery")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
