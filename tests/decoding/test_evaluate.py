"""Retrieval, identification and correlation metrics against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from neuromodels.decoding.evaluate import embedding_correlation, retrieval_top1, top1_hits, two_way_identification


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _brute_retrieval(pred, target, idx):
    """Loops: image retrieval (prediction picks its stimulus) and brain retrieval (stimulus picks its
    prediction) among the stimuli ``idx``; strict maximum needed."""
    fwd = bwd = 0
    for i in idx:
        own = _cos(pred[i], target[i])
        fwd += all(own > _cos(pred[i], target[j]) for j in idx if j != i)
        bwd += all(own > _cos(pred[j], target[i]) for j in idx if j != i)
    return fwd / len(idx), bwd / len(idx)


def test_retrieval_matches_brute_force_on_all_stimuli():
    rng = np.random.default_rng(0)
    target = rng.standard_normal((40, 8))
    pred = target + rng.standard_normal((40, 8)) * 1.2
    got = retrieval_top1(pred, target, batch=300)
    f, b = _brute_retrieval(pred, target, list(range(40)))
    assert got["k"] == 40 and got["chance"] == pytest.approx(1 / 40)
    assert got["image_retrieval"] == pytest.approx(f) and got["brain_retrieval"] == pytest.approx(b)
    assert 0 < f < 1 and f != b  # the two directions differ on noisy predictions


def test_retrieval_draws_random_batches():
    rng = np.random.default_rng(1)
    target = rng.standard_normal((60, 5))
    pred = target + rng.standard_normal((60, 5))
    got = retrieval_top1(pred, target, batch=20, draws=4, seed=3)
    sets_rng = np.random.default_rng(3)
    ref = [_brute_retrieval(pred, target, list(sets_rng.choice(60, 20, replace=False))) for _ in range(4)]
    assert got["k"] == 20
    assert got["image_retrieval"] == pytest.approx(np.mean([r[0] for r in ref]))
    assert got["brain_retrieval"] == pytest.approx(np.mean([r[1] for r in ref]))


def test_ties_count_as_misses_and_perfect_is_one():
    assert top1_hits(np.ones((3, 3))).tolist() == [False, False, False]
    x = np.random.default_rng(2).standard_normal((10, 4))
    r = retrieval_top1(x, x)
    assert r["image_retrieval"] == 1.0 and r["brain_retrieval"] == 1.0
    assert two_way_identification(x, x) == 1.0
    assert embedding_correlation(x, x) == pytest.approx(1.0)


def test_two_way_and_correlation_match_references():
    rng = np.random.default_rng(4)
    target = rng.standard_normal((25, 6))
    pred = 0.5 * target + rng.standard_normal((25, 6))
    n = len(pred)
    ref = np.mean(
        [
            np.mean(
                [
                    np.corrcoef(pred[i], target[i])[0, 1] > np.corrcoef(pred[i], target[j])[0, 1]
                    for j in range(n)
                    if j != i
                ]
            )
            for i in range(n)
        ]
    )
    assert two_way_identification(pred, target) == pytest.approx(ref)
    ref_r = np.mean([pearsonr(pred[i], target[i])[0] for i in range(n)])
    assert embedding_correlation(pred, target) == pytest.approx(ref_r)


def test_unrelated_predictions_sit_at_chance():
    rng = np.random.default_rng(5)
    target = rng.standard_normal((600, 16))
    pred = rng.standard_normal((600, 16))
    r = retrieval_top1(pred, target, batch=300, draws=30)
    assert r["image_retrieval"] < 4 * r["chance"]
    assert abs(two_way_identification(pred, target) - 0.5) < 0.03
