"""The scanpath metrics against hand-computed cases and against multimatch-gaze called directly; the human
ceiling never compares a scanpath with itself."""

from __future__ import annotations

import math

import multimatch_gaze
import numpy as np
import pandas as pd
import pytest

from neuromodels.gaze.metrics import (
    BEHAVIOUR,
    behaviour,
    behaviour_delta,
    edit_distance,
    human_ceiling,
    human_ceiling_delta,
    mean_agreement,
    multimatch,
    sequence_score,
)


def test_identical_paths_score_one_and_zero_edits() -> None:
    path = ["a", "b", "c", "b"]
    assert sequence_score(path, list(path)) == 1.0
    assert edit_distance(path, list(path)) == 0


def test_reversed_paths() -> None:
    # a reversed path shares one object in order (1 / 4); turning 1234 into 4321 takes 4 edits
    assert sequence_score([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(0.25)
    assert edit_distance([1, 2, 3, 4], [4, 3, 2, 1]) == 4
    assert sequence_score([1, 2, 3], [3, 2, 1]) == pytest.approx(1 / 3)
    assert edit_distance([1, 2, 3], [3, 2, 1]) == 2


def test_insertions_and_disjoint_paths() -> None:
    assert sequence_score([1, 2, 3], [1, 2, 9, 3]) == pytest.approx(3 / 4)
    assert edit_distance([1, 2, 3], [1, 2, 9, 3]) == 1
    assert edit_distance([1, 2, 3], [7, 1, 8, 2, 3, 9]) == 3
    assert sequence_score([1, 2], [3, 4, 5]) == 0.0
    assert edit_distance([], [1, 2]) == 2
    assert math.isnan(sequence_score([], []))
    # gaps cost nothing, mismatches score nothing: 1 2 x 3 against 1 y 2 3 keeps 1, 2, 3
    assert sequence_score([1, 2, 5, 3], [1, 6, 2, 3]) == pytest.approx(3 / 4)


def _rec(x, y, d):
    return np.rec.fromarrays(
        [np.asarray(x, float), np.asarray(y, float), np.asarray(d, float)], names=("start_x", "start_y", "duration")
    )


def test_multimatch_agrees_with_multimatch_gaze() -> None:
    rng = np.random.default_rng(0)
    x1, y1, d1 = rng.uniform(0, 300, 6), rng.uniform(0, 100, 6), rng.uniform(0.1, 0.4, 6)
    x2, y2, d2 = rng.uniform(0, 300, 5), rng.uniform(0, 100, 5), rng.uniform(0.1, 0.4, 5)
    ours = multimatch(x1, y1, d1, x2, y2, d2, (300, 100))
    theirs = np.asarray(multimatch_gaze.docomparison(_rec(x1, y1, d1), _rec(x2, y2, d2), screensize=[300, 100]))
    np.testing.assert_allclose(ours, theirs.reshape(5))
    assert np.all((ours > 0) & (ours <= 1))
    same = multimatch(x1, y1, d1, x1, y1, d1, (300, 100))
    np.testing.assert_allclose(same, 1.0)


def test_multimatch_short_paths_are_nan() -> None:
    assert np.isnan(multimatch([1, 2], [1, 2], [0.2, 0.2], [1, 2, 3], [1, 2, 3], [0.2] * 3, (10, 10))).all()


def test_multimatch_pads_short_paths_as_oat() -> None:
    """OAT pads a path of fewer than 3 fixations to 3 rows with ones (x 1, y 1, duration 1)."""
    x2, y2, d2 = [10.0, 80.0, 150.0, 40.0], [20.0, 60.0, 30.0, 90.0], [0.2, 0.3, 0.25, 0.4]
    ours = multimatch([50.0, 120.0], [40.0, 70.0], [0.2, 0.3], x2, y2, d2, (300, 100), pad=True)
    theirs = np.asarray(
        multimatch_gaze.docomparison(
            _rec([50.0, 120.0, 1.0], [40.0, 70.0, 1.0], [0.2, 0.3, 1.0]), _rec(x2, y2, d2), screensize=[300, 100]
        )
    )
    np.testing.assert_allclose(ours, theirs.reshape(5))
    empty = multimatch([], [], [], x2, y2, d2, (300, 100), pad=True)
    padded = np.asarray(
        multimatch_gaze.docomparison(_rec([1.0] * 3, [1.0] * 3, [1.0] * 3), _rec(x2, y2, d2), screensize=[300, 100])
    )
    np.testing.assert_allclose(empty, padded.reshape(5))


def test_behaviour_by_hand() -> None:
    # a a b a c: a new, a refix, b new, a revisit, c new (the target, last)
    got = behaviour(["a", "a", "b", "a", "c"], "c")
    assert got == {"target_fixation": 1.0, "length": 5.0, "search": 0.6, "refixation": 0.2, "revisit": 0.2}
    assert behaviour([1, 2, 1, 1], 2)["target_fixation"] == 0.0
    got = behaviour([1, 2, 1, 1], 2)
    assert got["search"] + got["refixation"] + got["revisit"] == pytest.approx(1.0)
    assert (got["search"], got["refixation"], got["revisit"]) == (0.5, 0.25, 0.25)


def test_behaviour_delta_by_hand() -> None:
    human = {"target_fixation": 0.8, "length": 5.0, "search": 0.8, "refixation": 0.1, "revisit": 0.1}
    model = {"target_fixation": 0.4, "length": 6.0, "search": 0.8, "refixation": 0.2, "revisit": 0.0}
    # |0.4-0.8|/0.8 = 0.5, 1/5 = 0.2, 0, 1.0, 1.0 -> mean 0.54
    assert behaviour_delta(model, human) == pytest.approx(0.54)
    assert behaviour_delta(human, human) == 0.0
    # a zero human mean adds nothing, and the sum is still divided by five (OAT's nansum(...) / 5)
    no_revisit = {**human, "revisit": 0.0}
    assert behaviour_delta(model, no_revisit) == pytest.approx((0.5 + 0.2 + 0 + 1.0) / 5)


def test_ceiling_never_pairs_a_scanpath_with_itself() -> None:
    paths = {"t1": {"v1": [1, 2, 3], "v2": [1, 4, 5], "v3": [9, 8]}, "t2": {"v1": [1, 2], "v2": [2, 1]}}
    calls = []

    def score(a, b):
        calls.append((id(a), id(b)))
        return sequence_score(a, b)

    value = human_ceiling(paths, score)
    assert all(a != b for a, b in calls)
    assert len(calls) == 3 + 1  # each unordered pair of different viewers once
    assert len({frozenset(c) for c in calls}) == len(calls)
    expected_t1 = np.mean(
        [sequence_score([1, 2, 3], [1, 4, 5]), sequence_score([1, 2, 3], [9, 8]), sequence_score([1, 4, 5], [9, 8])]
    )
    expected_t2 = sequence_score([1, 2], [2, 1])
    assert value == pytest.approx((expected_t1 + expected_t2) / 2)
    # with self-pairs the value would be inflated towards 1; one viewer alone gives no ceiling
    assert value < 0.5
    assert math.isnan(human_ceiling({"t": {"v1": [1, 2]}}, sequence_score))


def test_ceiling_delta_leaves_each_viewer_out() -> None:
    rows = [behaviour(p, 3) for p in ([1, 3], [1, 2, 3], [1, 1, 3], [2, 3])]
    table = pd.DataFrame(rows)
    table["viewer"] = ["a", "a", "b", "b"]
    a, b = table.iloc[:2][list(BEHAVIOUR)].mean(), table.iloc[2:][list(BEHAVIOUR)].mean()
    expected = (behaviour_delta(a, b) + behaviour_delta(b, a)) / 2
    assert human_ceiling_delta(table) == pytest.approx(expected)


def test_mean_agreement_averages_samples_then_trials() -> None:
    model = {"t1": [[1, 2], [3, 4]], "t2": [[5]]}
    humans = {"t1": {"v": [1, 2]}, "t2": {"v": [5], "w": [6]}}
    # t1: (1 + 0) / 2; t2: (1 + 0) / 2
    assert mean_agreement(model, humans, sequence_score) == pytest.approx(0.5)
