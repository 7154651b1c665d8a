"""eccNET's remaining parts, each behind a setting: the difference-of-Gaussians stage, the search over the grid's
cells (empty ones included) and eccNET's count of an unfinished trial, the published stimuli, and the
per-experiment agreement with humans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from neuromodels.search.evaluate import agreement_table, chance_comparison, correlation_interval
from neuromodels.search.experiments import DARK_BACKGROUND, DOG_KERNELS, make_trial, make_trials
from neuromodels.search.models import (
    SearchResult,
    difference_of_gaussians,
    eccnet_fixation_count,
    grid_cells,
    run_search,
)


def test_difference_of_gaussians_keeps_a_flat_map_and_sharpens_a_peak() -> None:
    flat = torch.full((1, 40, 40), 0.3)
    assert torch.allclose(difference_of_gaussians(flat, DOG_KERNELS["curvature"], 6.0), flat, atol=1e-5)
    yy, xx = torch.meshgrid(torch.arange(40.0), torch.arange(40.0), indexing="ij")
    blob = torch.exp(-((yy - 20) ** 2 + (xx - 20) ** 2) / (2 * 6.0**2))[None]
    out = difference_of_gaussians(blob, DOG_KERNELS["lighting"], 6.0)
    # the centre stays the maximum and rises above its surround more than before
    assert int(out[0].argmax()) == int(blob[0].argmax())
    assert out[0, 20, 20] - out[0, 20, 30] > blob[0, 20, 20] - blob[0, 20, 30]


def test_grid_search_lands_on_empty_cells_and_counts_an_unfinished_trial_as_eccnet_does() -> None:
    # a 2x2 grid of 20 px cells; one item (the target) in the bottom-right cell; the map peaks on the empty cells
    image = torch.ones(1, 3, 40, 40)
    boxes = [np.array([[25, 25, 35, 35]])]
    cells = [grid_cells((40, 40), (2, 2))]
    order = torch.zeros(1, 40, 40)
    order[0, :20, :20], order[0, :20, 20:], order[0, 20:, :20], order[0, 20:, 20:] = 4.0, 3.0, 2.0, 1.0

    def prio(images, fixations, trials):
        return order.expand(len(trials), 40, 40)

    res = run_search(prio, image, boxes, np.array([0]), (40, 40), cells=cells)
    assert res.fixations.tolist() == [4] and res.found.all()  # three empty cells first, then the target
    # item by item (no cells) the only item is fixated at once
    assert run_search(prio, image, boxes, np.array([0]), (40, 40)).fixations.tolist() == [1]
    # never found within cells + 1 fixations: eccNET's analysis counts the set size
    capped = run_search(prio, image, boxes, np.array([0]), (40, 40), max_fixations=[2], cells=cells)
    assert not capped.found.any()
    assert eccnet_fixation_count(capped, np.array([1]), np.array([4])).tolist() == [1.0]
    late = SearchResult(fixations=np.array([5, 3]), found=np.array([True, True]))
    assert eccnet_fixation_count(late, np.array([2, 2]), np.array([4, 4])).tolist() == [2.0, 3.0]


def test_published_stimuli() -> None:
    # four orientations of the T among Ls: the targets' images differ across displays
    targets = {
        make_trial("t_vs_l", "t_among_l", 3, seed, px_per_deg=8, published=True).target_image.tobytes()
        for seed in range(12)
    }
    assert len(targets) == 4
    assert (
        len({make_trial("t_vs_l", "t_among_l", 3, seed, px_per_deg=8).target_image.tobytes() for seed in range(6)}) == 1
    )
    # the lighting discs on the dark background
    lit = make_trial("lighting", "top_down", 1, 0, px_per_deg=8, published=True)
    assert abs(int(lit.image[0, 0, 0]) - round(255 * DARK_BACKGROUND)) <= 1
    # heterogeneous distractors include the other target's angle (a -20 deg bar among the vertical's)
    names = set()
    for seed in range(20):
        names |= set(
            make_trial("orientation_heterogeneous", "target_0", 12, seed, px_per_deg=8, published=True).categories
        )
    assert "bar_-20" in names and {"bar_0"} <= names
    # the non-cross keeps its junctions: its strokes touch (one connected figure), the cross's cross
    nc = make_trial("intersection", "noncross_among_cross", 1, 0, px_per_deg=10, published=True)
    assert nc.categories[0].startswith("non-cross")
    # the paper's counts per experiment
    displays = make_trials(
        ["intersection", "lighting"], 2, 0, px_per_deg=4, published=True, n_trials_by_experiment={"intersection": 3}
    )
    per = pd.Series([d.extra["experiment"] for d in displays]).value_counts()
    assert per["intersection"] == 2 * 3 * 3 and per["lighting"] == 2 * 3 * 2


def test_agreement_counts_the_human_sign_and_gives_the_correlation_interval() -> None:
    human = pd.DataFrame(
        {
            "experiment": ["a", "a", "b", "b", "c", "c"],
            "condition": ["x", "y"] * 3,
            "slope_ms_per_item": [1.0, 10.0, 2.0, 20.0, 5.0, 40.0],
            "source": "t",
        }
    )
    slopes = human.rename(columns={"slope_ms_per_item": "h"}).assign(
        seed=0, model="m", slope_ms_per_item=[2.0, 12.0, 30.0, 3.0, 6.0, 50.0], resolution_ms_per_item=0.5
    )
    indices = pd.DataFrame({"seed": 0, "model": "m", "experiment": ["a", "b", "c"], "index": [0.7, -0.8, np.nan]})
    table = agreement_table(indices, slopes, human)
    row = table.iloc[0]
    assert row["experiments_with_human_sign"] == 1 and row["experiments_defined"] == 2
    r = np.corrcoef(slopes["slope_ms_per_item"], human["slope_ms_per_item"])[0, 1]
    assert np.isclose(row["slope_correlation"], r)
    assert row["slope_correlation_low"] < r < row["slope_correlation_high"]
    assert np.isnan(correlation_interval(0.5, 3)[0])


def test_chance_comparison_counts_conditions_below_chance_pace_per_seed() -> None:
    conditions = pd.DataFrame({"experiment": ["a", "a", "b", "b"], "condition": ["x", "y", "x", "y"]})
    chance = conditions.assign(model="chance", slope_ms_per_item=[120.0, 130.0, 125.0, 0.0])
    fast = conditions.assign(model="m", slope_ms_per_item=[60.0, 140.0, 25.0, 10.0])
    slopes = pd.concat([chance.assign(seed=0), fast.assign(seed=0), fast.assign(seed=1)], ignore_index=True)
    slopes.loc[slopes["seed"] == 1, "slope_ms_per_item"] *= 3  # seed 1 is three times slower
    table = chance_comparison(slopes, chance.assign(seed=0)).set_index(["seed", "model"])
    # chance's flat slope in b/y cannot be compared against: three conditions count
    row = table.loc[(0, "m")]
    assert (row["conditions_faster_than_chance"], row["conditions_with_chance"]) == (2, 3)
    assert np.isclose(row["slope_ratio_to_chance"], np.median([60 / 120, 140 / 130, 25 / 125]))
    assert np.isclose(table.loc[(0, "chance"), "slope_ratio_to_chance"], 1.0)
    # seed 1 has no chance run of its own (chance ran with seed 0 only): nothing to compare
    assert table.loc[(1, "m"), "conditions_with_chance"] == 0
    assert np.isnan(table.loc[(1, "m"), "slope_ratio_to_chance"])
