"""The family end to end from the command line on the tiny preset with two seeds, as the DAG runs it: per seed
the stimuli, three diets' backbones and every model (the untrained backbone among them) in one run call; one
analysis over both seeds. What the claims registry needs is there for each seed; no claim's outcome is
asserted here (the tiny run is too small for that: see the findings table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from neuromodels.cli import main
from neuromodels.core.claims import load_registry
from neuromodels.core.findings import read_summary
from neuromodels.search.presets import DIETS, get_preset

SEEDS = (0, 1)


def run(*args: str) -> None:
    assert main(["search", *args, "--preset", "tiny", "--threads", "1"]) == 0


@pytest.fixture(scope="module")
def search_run(tmp_path_factory) -> Path:
    """Every step of the tiny preset for each seed; returns the analysis folder."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_all(tmp_path_factory.mktemp("search"))
    finally:
        torch.set_num_threads(before)


def _run_all(tmp_path: Path) -> Path:
    runs = []
    for seed in map(str, SEEDS):
        root = tmp_path / f"seed{seed}"
        trials = root / "trials"
        run("stimuli", "--out-dir", str(trials), "--seed", seed)
        for diet in DIETS:
            run("train", "--diet", diet, "--out", str(root / f"{diet}.pt"), "--device", "cpu", "--seed", seed)
        pairs = [(m, "none" if m in ("pixel", "chance") else "upright") for m in get_preset("tiny").models]
        pairs += [("eccnet", d) for d in DIETS[1:]]
        outs = [str(root / f"{m}_{d}.csv") for m, d in pairs]
        backbones = ["none" if d == "none" else str(root / f"{d}.pt") for _, d in pairs]
        run(
            "run",
            "--model",
            *(m for m, _ in pairs),
            "--diet",
            *(d for _, d in pairs),
            "--backbone",
            *backbones,
            "--trials",
            str(trials),
            "--out",
            *outs,
            "--seed",
            seed,
        )
        runs += outs
    run("analyze", "--runs", *runs, "--trials", str(tmp_path / "seed0" / "trials"), "--out-dir", str(tmp_path / "out"))
    return tmp_path / "out"


@pytest.mark.slow
def test_tiny_pipeline_outputs(search_run: Path) -> None:
    out = search_run
    for name in (
        "slopes.csv",
        "indices.csv",
        "diets.csv",
        "rt_vs_set_size.png",
        "indices.png",
        "fixations.png",
        "diets.png",
    ):
        assert (out / name).stat().st_size > 0, name
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices["experiment"]) == {
        "curvature",
        "lighting",
        "intersection",
        "t_vs_l",
        "orientation_homogeneous",
        "orientation_heterogeneous",
    }
    assert set(indices["seed"]) == set(SEEDS)
    assert indices["index"].dropna().between(-1, 1).all()
    assert set(pd.read_csv(out / "diets.csv")["diet"]) == set(DIETS)


@pytest.mark.slow
def test_tiny_summary_measures_every_claim_for_every_seed(search_run: Path) -> None:
    summary = read_summary(search_run / "summary.json")
    assert summary["findings"] == [] and summary["seeds"] == list(SEEDS)
    for seed in map(str, SEEDS):
        stats = summary["statistics"][seed]
        for claim in load_registry("search"):
            for name in [claim.value] + ([claim.control_value] if claim.comparative else []):
                assert name in stats, (seed, claim.id, name)
        # chance searches every item in random order: its index is ~0 by construction of the draws
        assert abs(stats["chance.mean_index"]) < 0.05
    # the seeds reach the backbones and the displays: eccNET's numbers differ between seeds
    a, b = (summary["statistics"][str(s)] for s in SEEDS)
    assert [a[k] for k in sorted(a) if k.startswith("eccnet.index.")] != [
        b[k] for k in sorted(b) if k.startswith("eccnet.index.")
    ]
