"""The family's claims and what they are judged on: seeds reach the displays and the backbone, the
untrained-backbone control is untrained, a degenerate index is undefined (never +/-1), the summary holds every
claim's statistics for every seed, and the registry loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.cli import main
from neuromodels.core.claims import load_registry
from neuromodels.core.findings import read_summary
from neuromodels.core.runtime import seed_everything
from neuromodels.search.data import read_human_slopes, write_trials
from neuromodels.search.evaluate import (
    MIN_SLOPE_MS_PER_ITEM,
    analyze,
    condition_slopes,
    index_table,
    mean_index,
    slope_resolution,
)
from neuromodels.search.experiments import EXPERIMENTS, make_trials
from neuromodels.search.models import VGGBackbone
from neuromodels.search.presets import DIETS, get_preset
from neuromodels.search.train import train_backbone, untrained_copy


def test_seeds_reach_the_displays() -> None:
    """The config's seed draws the item positions and jitter: the same seed the same displays, another seed
    others."""
    a = make_trials(["lighting", "t_vs_l"], 1, seed=0, px_per_deg=6.0)
    again = make_trials(["lighting", "t_vs_l"], 1, seed=0, px_per_deg=6.0)
    other = make_trials(["lighting", "t_vs_l"], 1, seed=1, px_per_deg=6.0)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, again))
    assert sum(not np.array_equal(x.image, y.image) for x, y in zip(a, other)) > len(a) // 2


def _tiny_training(seed: int):
    preset = get_preset("tiny", {"train_images": 64, "epochs": 1, "batch_size": 32})
    return train_backbone("upright", preset, seed=seed, progress=False)


def test_seeds_reach_the_backbone_and_the_untrained_control_is_untrained() -> None:
    trained = _tiny_training(0)
    zero, zero_again, one = trained.model, _tiny_training(0).model, _tiny_training(1).model
    assert 0.0 <= trained.meta["heldout_accuracy"] <= 1.0 and trained.meta["heldout_images"] == 128
    assert all(torch.equal(a, b) for a, b in zip(zero.state_dict().values(), zero_again.state_dict().values()))
    assert not torch.equal(zero.blocks[0][0].weight, one.blocks[0][0].weight)
    # the control: the trained backbone's architecture re-drawn with the seed = where training started
    p = get_preset("tiny")
    seed_everything(0)
    start = VGGBackbone(p.widths, p.convs)
    control = untrained_copy(zero, 0)
    for (name, a), b in zip(start.state_dict().items(), control.state_dict().values()):
        assert torch.equal(a, b), name
    assert not torch.equal(control.blocks[0][0].weight, zero.blocks[0][0].weight)  # training moved the weights
    assert int(control.blocks[0][1].num_batches_tracked) == 0  # no statistics of any image
    assert not torch.equal(untrained_copy(zero, 1).blocks[0][0].weight, control.blocks[0][0].weight)
    assert torch.equal(zero.blocks[0][0].weight, zero_again.blocks[0][0].weight)  # the original untouched


def test_slope_floor_and_degenerate_indices() -> None:
    """Both slopes at most the floor: the index is undefined, not +1 or -1; the floor is one fixation in one
    display at the largest set size (or 1 ms/item)."""
    assert slope_resolution([1, 4, 8, 12], 6) == pytest.approx(252.359 / 6 * 5.75 / 68.75)  # 3.5 ms/item
    assert slope_resolution([3, 6, 9], 3) == pytest.approx(252.359 / 3 * 3 / 18)  # 14.0
    human = read_human_slopes()
    rows = []
    for exp in ("orientation_heterogeneous", "t_vs_l"):
        e = EXPERIMENTS[exp]
        for cond in e.conditions:
            for n in e.set_sizes:
                for t in range(6):
                    # one extra fixation in one display at the largest set size, in the hard condition only
                    extra = cond.name in ("target_minus20", "l_among_t") and n == e.set_sizes[-1] and t == 0
                    rows.append(
                        {
                            "model": "m",
                            "experiment": exp,
                            "condition": cond.name,
                            "set_size": n,
                            "fixations": 1.0 + extra,
                        }
                    )
    table = index_table(condition_slopes(pd.DataFrame(rows)), human).set_index("experiment")
    assert not table["index_defined"].any() and table["index"].isna().all()
    assert table.loc["orientation_heterogeneous", "slope_hard"] == pytest.approx(3.5, abs=0.05)  # the 3.5 vs 0
    assert table.loc["t_vs_l", "floor_ms_per_item"] == pytest.approx(7.0, abs=0.05)
    # the mean over defined experiments; undefined with fewer than half of them
    assert mean_index([0.5, np.nan, 0.1, np.nan, 0.3, np.nan])[:2] == (pytest.approx(0.3), 3)
    value, defined, why = mean_index([0.5, np.nan, np.nan, np.nan, 0.3, np.nan])
    assert np.isnan(value) and defined == 2 and "2 of 6" in why
    assert MIN_SLOPE_MS_PER_ITEM == 1.0


@pytest.fixture(scope="module")
def trials_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trials")
    write_trials(root, make_trials(list(EXPERIMENTS), 1, seed=0, px_per_deg=4.0))
    return root


def _runs(tmp: Path, trials: Path, seeds=(0, 1), flat: str = "pixel") -> list[str]:
    """Run tables as the run step writes them, for every model of the tiny preset and every diet, with
    fixations drawn per seed; ``flat`` finds every target at once (slopes 0: every index degenerate)."""
    table = pd.read_csv(trials / "trials.csv")
    paths = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        pairs = [(m, "none" if m in ("pixel", "chance") else "upright") for m in get_preset("tiny").models]
        pairs += [("eccnet", d) for d in DIETS if d != "upright"]
        for model, diet in pairs:
            fix = 1.0 if model == flat else None
            out = table[["trial_id", "experiment", "condition", "set_size"]].copy()
            out.insert(0, "model", model)
            out.insert(1, "diet", diet)
            out.insert(2, "seed", seed)
            out["fixations"] = fix if fix is not None else 1 + rng.integers(0, out["set_size"].to_numpy() + 1)
            out["found"] = True
            out["sequence"] = ""
            path = tmp / f"seed{seed}_{model}_{diet}.csv"
            out.to_csv(path, index=False)
            paths.append(str(path))
    return paths


def test_summary_has_every_claims_statistics_for_every_seed(tmp_path: Path, trials_dir: Path) -> None:
    runs = _runs(tmp_path, trials_dir)
    history = tmp_path / "upright_history.json"
    history.write_text(json.dumps({"diet": "upright", "seed": 1, "heldout_accuracy": 0.75}))
    result = analyze(runs, trials_dir, tmp_path / "out", preset="tiny", histories=[history])
    summary = read_summary(tmp_path / "out" / "summary.json")
    assert summary["seeds"] == [0, 1] and summary["findings"] == [] and result["findings"] == []
    claims = load_registry("search")
    assert claims and {c.control for c in claims} >= {"untrained_backbone", "ivsn", "pixel", "chance"}
    for seed in ("0", "1"):
        stats = summary["statistics"][seed]
        for claim in claims:
            for name in [claim.value] + ([claim.control_value] if claim.comparative else []):
                assert name in stats, (seed, claim.id, name)
    # different seeds' runs give different numbers; pixel found every target at once: degenerate, undefined
    assert summary["statistics"]["0"]["eccnet.mean_index"] != summary["statistics"]["1"]["eccnet.mean_index"]
    assert summary["statistics"]["0"]["pixel.mean_index"] is None
    assert "only 0 of 6" in summary["undefined"]["0"]["pixel.mean_index"]
    assert "at most the floor" in summary["undefined"]["0"]["pixel.index.lighting"]
    assert summary["statistics"]["0"]["pixel.slope_correlation"] is None  # flat slopes correlate with nothing
    assert summary["notes"]["undefined_indices"]["1"]["pixel"] == sorted(EXPERIMENTS)
    assert summary["notes"]["backbone_heldout_accuracy"] == {"1": {"upright": 0.75}}
    assert summary["statistics"]["1"]["eccnet_upright.backbone_heldout_accuracy"] == 0.75
    indices = pd.read_csv(tmp_path / "out" / "indices.csv")
    assert set(indices["seed"]) == {0, 1} and indices.loc[indices["model"] == "pixel", "index"].isna().all()
    assert set(pd.read_csv(tmp_path / "out" / "diets.csv")["diet"]) == set(DIETS)
    # pace against chance: pixel found every target at once, faster than chance wherever chance's slope rises
    stats = summary["statistics"]["0"]
    pixel = indices[(indices["model"] == "pixel") & (indices["seed"] == 0)].iloc[0]
    assert pixel["conditions_faster_than_chance"] == pixel["conditions_with_chance"] > 0
    assert abs(stats["pixel.slope_ratio_to_chance"]) < 1e-12
    assert stats["pixel.conditions_faster_than_chance"] == pixel["conditions_faster_than_chance"]
    assert "chance.slope_ratio_to_chance" not in stats and "eccnet_rotated_90.slope_ratio_to_chance" in stats
    assert "slope_ratio_to_chance" in pd.read_csv(tmp_path / "out" / "diets.csv")


def test_cli_runs_the_untrained_control_with_its_seed(tmp_path: Path) -> None:
    """`search run --model untrained_backbone`: the named backbone's architecture, initialised with --seed,
    labelled with its seed; two seeds search differently, the same seed the same."""
    tiny = ["--preset", "tiny", "--threads", "1"]
    trials = tmp_path / "trials"
    params = json.dumps({"n_trials": 1, "experiments": ["lighting"]})
    assert main(["search", "stimuli", "--out-dir", str(trials), "--params", params, *tiny]) == 0
    out = {s: tmp_path / f"untrained_{s}.csv" for s in ("0", "0b", "7")}
    for key, path in out.items():
        assert (
            main(
                [
                    "search",
                    "run",
                    "--model",
                    "untrained_backbone",
                    "--trials",
                    str(trials),
                    "--diet",
                    "upright",
                    "--out",
                    str(path),
                    "--seed",
                    key.rstrip("b"),
                    *tiny,
                ]
            )
            == 0
        )
    tables = {k: pd.read_csv(p) for k, p in out.items()}
    assert (tables["0"]["model"] == "untrained_backbone").all() and (tables["7"]["seed"] == 7).all()
    assert tables["0"]["sequence"].tolist() == tables["0b"]["sequence"].tolist()
    assert tables["0"]["sequence"].tolist() != tables["7"]["sequence"].tolist()
