"""The brainscore DAG (tiny preset) on data in Brain-Score's published layout, pointed at by a config file only:
the brainio store's assembly (regions V4, pIT, cIT, aIT and V1; three time bins; two NaN neuroids) and its stimulus
set folder. Nothing is edited by hand; what was averaged and dropped reaches the family's summary notes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, run_snakemake, scratch_workdir

from .brainio_layout import write_brainio_fixture

REGIONS = (("V4", 12), ("V1", 6), ("pIT", 6), ("cIT", 4), ("aIT", 4))
BINS = ((0, 70), (70, 120), (120, 170))


# a whole family DAG of its own (one to two minutes): CI keeps one tiny end-to-end run, `make test-all` runs this
@pytest.mark.slow
def test_tiny_dag_on_brain_score_layout(tmp_path: Path) -> None:
    fx = write_brainio_fixture(
        tmp_path / "brainio", n_stimuli=80, repetitions=4, regions=REGIONS, time_bins=BINS, nan_neuroids=2
    )
    work = scratch_workdir(tmp_path / "work")
    config = {
        "preset": "tiny",
        "device": "cpu",
        "brainscore": {
            "assembly": str(fx["assembly"]),
            "stimuli": str(fx["stimuli"]),
            "regions": {"V4": "V4", "IT": ["IT", "pIT", "cIT", "aIT"]},
            "time_bins": [70, 170],
        },
    }
    (work / "real.yaml").write_text(yaml.safe_dump(config))
    out = run_snakemake(
        "--profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--cores",
        "2",
        "brainscore",
        "--configfile",
        "real.yaml",
        cwd=work,
    )
    assert out.returncode == 0, out.stderr[-6000:]
    results = work / "results" / "brainscore"
    assert not (work / "data" / "brainscore" / "neural").exists()  # nothing simulated: the user's data
    summary = json.loads((results / "summary.json").read_text())
    notes = summary["notes"]["assembly"]
    assert notes["time_bins"].startswith("mean of 2 of 3 bins within 70-170 ms")
    assert notes["unmapped_regions"] == {"V1": 6} and notes["nan_neuroids_dropped"] == 2
    assert notes["regions_scored"] == ["V4", "IT"]
    assert "ceiling_statistics_skipped" in summary["notes"]  # no planted truth for a user's file
    variants = pd.read_csv(results / "variants.csv")
    # four variants and the untrained control, one seed
    assert len(variants) == 5 and variants["time_bins"].str.startswith("mean of 2 of 3").all()
    neural = pd.read_csv(results / "base" / "seed0" / "neural.csv")
    assert list(neural["region"]) == ["V4", "IT"] and list(neural["n_neuroids"]) == [10, 14]
    # the fixture's responses carry a pixel-driven signal after 70 ms: the split-half ceilings of the window see it
    assert (neural["ceiling"] > 0.7).all()
    # the claims' statistics come from the user's recordings and the classification set; the planted-ceiling
    # claims are not measured (nothing planted); no old-style findings
    stats = summary["statistics"]["0"]
    assert {
        "base.pgd_accuracy",
        "adversarial.pgd_accuracy",
        "rotation_adversarial.ceiled_score.v4",
        "trained_min.ceiled_score.it",
        "untrained_crossvit.ceiled_score.it",
    } <= set(stats)
    assert not [k for k in stats if k.startswith("ceiling.")] and summary["findings"] == []
