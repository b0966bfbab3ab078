"""Hypothesis profiles: `ci` (the full example counts, the default) and `dev` (a tenth of them,
for the inner loop). Pick one with `HYPOTHESIS_PROFILE=dev`; property tests size themselves with
`examples(n)`, n being their count under `ci`."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=100)
settings.register_profile("dev", max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(full: int) -> int:
    """`full` under the `ci` profile, scaled with the loaded profile's `max_examples`."""
    return max(5, full * settings().max_examples // 100)
