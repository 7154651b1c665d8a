"""The family's findings: detection at exactly the bar counts as met, the trained-vs-random claims carry their
measured values, and the family summary gathers every seed."""

import pandas as pd

from neuromodels.core.findings import Summary, read_summary, write_summary
from neuromodels.seeg.evaluate import _findings, combine_summaries


def _detection(precision, recall, clip_dr=0.03, simclr_fraction=0.0):
    row = {"driven_electrodes": 10, "trained_beats_random": 3, "fraction": 0.3, "mean_delta_r": clip_dr,
           "classes": ["vision"]}
    return {"multimodal_weak": {"precision": precision, "recall": recall, "called": 5, "planted": 5,
                                "true_positives": 4},
            "trained_vs_random_on_driven": {
                "clip": row, "simclr": {**row, "fraction": simclr_fraction},
                "minilm": {**row, "mean_delta_r": -0.02}, "simclr+minilm": row}}


def test_findings_thresholds_and_directions():
    s = Summary("seeg")
    _findings(s, _detection(0.8, 1.0), pd.DataFrame(), "clip")
    met = {f.finding.split(":")[0][:40]: f.met for f in s.findings}
    assert all(met.values()), met  # precision exactly 0.8 passes the ">= 0.8" bar
    assert len(s.findings) == 5  # two detection findings and one claim per named model (not the pair)
    minilm = next(f for f in s.findings if "MiniLM" in f.finding)
    assert minilm.value == 0.02 and minilm.direction == "below"
    s = Summary("seeg")
    _findings(s, _detection(0.75, 1.0, clip_dr=-0.01, simclr_fraction=0.9), pd.DataFrame(), "clip")
    unmet = [f.finding for f in s.findings if not f.met]
    assert len(unmet) == 3 and "precision" in unmet[0]


def test_family_summary_gathers_every_seed(tmp_path):
    paths = []
    for seed, value in ((0, 0.9), (1, 0.7)):
        s = Summary("seeg", preset="tiny", seed=seed)
        s.add("recall", value, 0.8)
        paths.append(tmp_path / f"s{seed}.json")
        write_summary(paths[-1], s)
    combine_summaries(paths, tmp_path / "summary.json")
    out = read_summary(tmp_path / "summary.json")
    assert [f["finding"] for f in out["findings"]] == ["seed 0: recall", "seed 1: recall"]
    assert [f["met"] for f in out["findings"]] == [True, False] and out["all_met"] is False
    combine_summaries(paths[:1], tmp_path / "one.json")
    assert read_summary(tmp_path / "one.json")["findings"][0]["finding"] == "recall"
