"""The family end to end from the command line on the tiny preset: stimuli, three diets' backbones, every
model, the analysis; the headline findings on the tiny preset."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from neuromodels.cli import main
from neuromodels.core.findings import read_summary
from neuromodels.search.presets import DIETS, get_preset


def run(*args: str) -> None:
    assert main(["search", *args, "--preset", "tiny", "--threads", "1"]) == 0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """Every step of the tiny preset once; returns the analysis folder."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_all(tmp_path_factory.mktemp("search"))
    finally:
        torch.set_num_threads(before)


def _run_all(tmp_path: Path) -> Path:
    trials = tmp_path / "trials"
    run("stimuli", "--out-dir", str(trials))
    runs = []
    for diet in DIETS:
        run("train", "--diet", diet, "--out", str(tmp_path / f"{diet}.pt"), "--checkpoint",
            str(tmp_path / f"{diet}_ckpt.pt"), "--device", "cpu")
    for model in get_preset("tiny").models:
        diet = "none" if model in ("pixel", "chance") else "upright"
        out = tmp_path / f"{model}_{diet}.csv"
        extra = [] if diet == "none" else ["--backbone", str(tmp_path / "upright.pt")]
        run("run", "--model", model, "--trials", str(trials), "--diet", diet, "--out", str(out), *extra)
        runs.append(str(out))
    for diet in DIETS[1:]:
        out = tmp_path / f"eccnet_{diet}.csv"
        run("run", "--model", "eccnet", "--trials", str(trials), "--backbone", str(tmp_path / f"{diet}.pt"),
            "--diet", diet, "--out", str(out))
        runs.append(str(out))
    run("analyze", "--runs", *runs, "--trials", str(trials), "--out-dir", str(tmp_path / "out"))
    return tmp_path / "out"


@pytest.mark.slow
def test_tiny_pipeline_outputs(tiny_run: Path) -> None:
    out = tiny_run
    for name in ("slopes.csv", "indices.csv", "diets.csv", "rt_vs_set_size.png", "indices.png", "fixations.png",
                 "diets.png"):
        assert (out / name).stat().st_size > 0, name
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices["experiment"]) == {"curvature", "lighting", "intersection", "t_vs_l",
                                          "orientation_homogeneous", "orientation_heterogeneous"}
    assert indices["index"].between(-1, 1).all()
    diets = pd.read_csv(out / "diets.csv")
    assert set(diets["diet"]) == set(DIETS)
    summary = read_summary(out / "summary.json")
    assert set(summary["notes"]["diet_lighting_index"]) == set(DIETS)
    # chance searches every item in random order: its index is ~0 by construction of the draws
    assert abs(summary["notes"]["mean_index"]["chance"]) < 0.05
    findings = {f["finding"]: f for f in summary["findings"]}
    assert len(findings) == 3
    # the findings are computed from the indices table, not typed
    mean = indices.groupby("model")["index"].mean()
    above_chance = findings["eccNET mean asymmetry index above chance's"]
    assert above_chance["value"] == pytest.approx(mean["eccnet"] - mean["chance"])


@pytest.mark.slow
def test_tiny_eccnet_mean_index_above_chance(tiny_run: Path) -> None:
    """The issue's tiny-preset finding: eccNET's mean index exceeds chance's by the summary's margin (0.1).
    Measured 0.143 vs -0.012 with the pipeline's seed (0). It is not robust: backbones trained with seeds 1, 2
    and 3 give eccNET -0.25, -0.30 and -0.18 (chance -0.004), so this asserts the seed-0 run, not a property
    of every tiny backbone (README, search section)."""
    summary = read_summary(tiny_run / "summary.json")
    findings = {f["finding"]: f for f in summary["findings"]}
    above_chance = findings["eccNET mean asymmetry index above chance's"]
    assert above_chance["threshold"] == pytest.approx(0.1)
    assert above_chance["met"], json.dumps(summary["notes"]["index_per_experiment"]["eccnet"])
