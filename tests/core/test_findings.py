"""The findings summary every family writes: met is computed, and the file is checked when read."""

from __future__ import annotations

import json

import pytest

from neuromodels.core.errors import DataError
from neuromodels.core.findings import Finding, Summary, findings_table, read_summary, write_summary


def test_met_follows_value_threshold_and_direction():
    assert Finding("a", 0.5, 0.4).met
    assert not Finding("a", 0.4, 0.4).met  # strictly above
    assert Finding("delta small", 0.1, 0.2, direction="below").met
    assert not Finding("nan", float("nan"), 0.0).met
    with pytest.raises(ValueError):
        Finding("a", 1, 0, direction="sideways")


def test_summary_round_trip_and_table(tmp_path):
    summary = Summary("gaze", preset="tiny", seed=0, notes={"dropped_fixations": 3})
    summary.add("OAT above best baseline", 0.41, 0.35)
    summary.add("delta below baseline", 0.5, 0.3, direction="below")
    write_summary(tmp_path / "summary.json", summary)
    data = read_summary(tmp_path / "summary.json")
    assert [f["met"] for f in data["findings"]] == [True, False]
    assert data["all_met"] is False and data["notes"] == {"dropped_fixations": 3}
    table = findings_table([data])
    assert list(table["family"]) == ["gaze", "gaze"] and table["met"].tolist() == [True, False]


def test_malformed_summary_names_the_file(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"family": "gaze", "findings": [{"finding": "x", "value": 1}]}))
    with pytest.raises(DataError, match="summary.json: finding 0 lacks threshold, met"):
        read_summary(path)
    path.write_text(json.dumps({"findings": []}))
    with pytest.raises(DataError, match="summary.json: not a family summary"):
        read_summary(path)
    path.write_text(json.dumps({"family": "gaze", "statistics": {"0": {"a": "high"}}}))
    with pytest.raises(DataError, match="statistics of seed 0: not numbers: a"):
        read_summary(path)
