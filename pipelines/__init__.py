"""distillery's library: sources, the local store, and the pure transforms over polars frames.

Nothing in this package imports dagster; `assets` wires these functions into Dagster, and a
notebook can call them directly.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("distillery")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
