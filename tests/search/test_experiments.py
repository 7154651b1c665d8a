"""Every experiment's generator, in both directions: set size, exactly one target, the target's box on its
pixels, every item inside the display and no two items overlapping; the trial table round-trips."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromodels.core.errors import ConfigError, DataError
from neuromodels.search.data import read_trials, write_trials
from neuromodels.search.experiments import EXPERIMENTS, make_trial, make_trials

CASES = [
    (e.name, c.name, s) for e in EXPERIMENTS.values() for c in e.conditions for s in (e.set_sizes[0], e.set_sizes[-1])
]


@pytest.mark.parametrize("experiment,condition,set_size", CASES)
def test_generator(experiment: str, condition: str, set_size: int) -> None:
    exp = EXPERIMENTS[experiment]
    d = make_trial(experiment, condition, set_size, seed=set_size + 7, px_per_deg=6.0)
    h, w = d.image.shape[:2]
    rows, cols = exp.grid
    assert (h, w) == (rows * d.cell_px, cols * d.cell_px)
    assert abs(w / 6.0 - exp.display_deg) < 1.0  # the paper's display size in degrees
    assert d.set_size == set_size == len(d.boxes) == len(d.categories)
    # exactly one target: the target's glyph appears once, the distractors are all something else
    target_name = d.categories[d.target_index]
    assert d.categories.count(target_name) == 1
    # every item inside the display, no two boxes overlapping
    assert (d.boxes[:, :2] >= 0).all() and (d.boxes[:, 2] <= w).all() and (d.boxes[:, 3] <= h).all()
    for a, b in itertools.combinations(d.boxes, 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    # every drawn pixel lies in some item's box (noise-free background), and the target's box holds ink
    background = np.asarray(d.image[0, 0], dtype=int)
    drawn = np.abs(d.image.astype(int) - background).max(axis=2) > 3
    covered = np.zeros_like(drawn)
    for x0, y0, x1, y1 in d.boxes:
        covered[y0:y1, x0:x1] = True
    assert not (drawn & ~covered).any()
    x0, y0, x1, y1 = d.target_box
    assert drawn[y0:y1, x0:x1].sum() >= 3
    # the target image shows the same item: same amount of ink up to anti-aliasing
    alone = np.abs(d.target_image.astype(int) - background).max(axis=2) > 3
    assert abs(int(alone.sum()) - int(drawn[y0:y1, x0:x1].sum())) <= 0.25 * alone.sum() + 4


def test_heterogeneous_distractors_never_share_a_target_orientation() -> None:
    for condition in ("target_0", "target_minus20"):
        d = make_trial("orientation_heterogeneous", condition, 12, seed=3, px_per_deg=6.0)
        others = [c for i, c in enumerate(d.categories) if i != d.target_index]
        assert d.categories[d.target_index] not in others
        assert len(set(others)) > 2


def test_same_seed_same_display_and_bad_names() -> None:
    a = make_trial("lighting", "top_down", 6, seed=11, px_per_deg=5.0)
    b = make_trial("lighting", "top_down", 6, seed=11, px_per_deg=5.0)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    with pytest.raises(ConfigError, match="experiments"):
        make_trial("colour", "red", 4, seed=0)
    with pytest.raises(ConfigError, match="condition"):
        make_trial("lighting", "bottom_up", 4, seed=0)


def test_trial_table_round_trip_and_bad_tables(tmp_path: Path) -> None:
    displays = make_trials(["lighting", "t_vs_l"], 1, seed=0, px_per_deg=4.0)
    assert len(displays) == 2 * 2 * 3
    write_trials(tmp_path, displays)
    trials = read_trials(tmp_path)
    assert len(trials) == len(displays)
    for i, d in enumerate(displays):
        assert np.array_equal(trials.image(i), d.image)
        assert np.array_equal(trials.boxes[i], d.boxes)
        assert trials.table["set_size"].iloc[i] == d.set_size
    table = pd.read_csv(tmp_path / "trials.csv")
    bad = table.copy()
    bad.loc[2, "target_x0"] += 1
    bad.to_csv(tmp_path / "trials.csv", index=False)
    with pytest.raises(DataError, match=r"trials.csv: row 2 .*target box"):
        read_trials(tmp_path)
    bad = table.copy()
    bad.loc[1, "item_boxes"] = json.dumps([[0, 0, 4, 4]])  # a set size 6 trial with one box
    bad.to_csv(tmp_path / "trials.csv", index=False)
    with pytest.raises(DataError, match="set_size"):
        read_trials(tmp_path)
    table.drop(columns=["item_boxes"]).to_csv(tmp_path / "trials.csv", index=False)
    with pytest.raises(DataError, match="missing columns"):
        read_trials(tmp_path)
