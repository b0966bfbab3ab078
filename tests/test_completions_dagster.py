"""The completions assets and the quarantine check through `dagster.materialize`."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.completions import completions_quarantine_share, completions_tables
from assets.ingestion import raw_completions
from assets.resources import DataDirectory, StoredCompletionsSource
from pipelines.sample import SAMPLE_PATHS


def build(data_dir: Path, *, max_share: float | None = None) -> dg.ExecuteInProcessResult:
    config = (
        {
            "ops": {
                "completions_quarantine_completions_quarantine_share": {
                    "config": {"max_quarantine_share": max_share}
                }
            }
        }
        if max_share is not None
        else None
    )
    return dg.materialize(
        [raw_completions, completions_tables, completions_quarantine_share],
        resources={
            "data_dir": DataDirectory(path=str(data_dir)),
            "source": StoredCompletionsSource(),
        },
        run_config=config,
        raise_on_error=False,
    )


@pytest.mark.slow
def test_sample_build_reports_counts_reasons_and_a_warning(
    tmp_path: Path, no_credentials: None
) -> None:
    result = build(tmp_path)

    assert result.success
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    completions, quarantine = events["completions"], events["completions_quarantine"]
    records, marked = sample_records()
    assert completions["dagster/row_count"].value + quarantine["dagster/row_count"].value == records
    assert quarantine["dagster/row_count"].value == marked
    assert "| known_roles | 1 |" in quarantine["reasons"].value
    assert "| response_completed | 2 |" in quarantine["reasons"].value
    # Counts only: no id and no text of a row in the event log.
    assert "| api | model | finish_reason | rows |" in completions["summary"].value
    assert "chatcmpl" not in completions["summary"].value
    (check,) = result.get_asset_check_evaluations()
    # The sample's few malformed records are well under the limit: a pass, with a warning.
    assert (check.passed, check.severity) == (True, dg.AssetCheckSeverity.WARN)
    share = f"{marked / records:.1%}"
    assert check.description == (
        f"passed: {marked} of {records} records quarantined ({share}), under the 20% limit"
    )


def sample_records() -> tuple[int, int]:
    """Records in the bundled sample (chat completions, responses, conversations), and how many
    the sample marks as malformed or unusable."""
    lines = [json.loads(line) for path in SAMPLE_PATHS for line in path.read_text().splitlines()]
    marked = sum(
        1
        for record in lines
        if str((record.get("metadata") or {}).get("sample_case", "")).startswith(
            ("malformed_", "unusable_")
        )
    )
    return len(lines), marked


@pytest.mark.slow
def test_a_quarantine_share_above_the_limit_is_an_error(
    tmp_path: Path, no_credentials: None
) -> None:
    result = build(tmp_path, max_share=0.01)

    (check,) = result.get_asset_check_evaluations()
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert check.description.startswith("did not pass: ")
    assert check.description.endswith(", over the 1% limit")
