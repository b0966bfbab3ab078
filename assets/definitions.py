"""The one `Definitions` of the code location that workspace.yaml points at."""

import dagster as dg

defs = dg.Definitions()
