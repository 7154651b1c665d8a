"""Statistics over held-out predictions: block bootstrap over events, FDR, and the per-electrode significance.

Every comparison works on out-of-fold predictions (events, targets) where a target is one electrode in one time
bin. The bootstrap resamples contiguous blocks of events (a moving-block bootstrap: neighbouring events of a movie
are autocorrelated, so resampling single events would understate the spread), the same resamples for every model
so differences are paired, and recomputes Pearson r of every target; resamples are drawn as count weights so that
all targets and models are handled with a few matrix products. The one-sided bootstrap p-values of a comparison
are corrected for the false discovery rate (Benjamini-Hochberg, ``scipy.stats.false_discovery_control``) over
one family: all electrode x time-bin tests of that comparison in one alignment.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control


def default_block(n_events: int) -> int:
    """Block length of the block bootstrap when none is set: about the square root of the number of events."""
    return max(1, int(round(np.sqrt(n_events))))


def bootstrap_weights(n_events: int, n_boot: int = 1000, seed: int = 0, block: int | None = None) -> np.ndarray:
    """(n_boot, events) float32 counts of each event in each moving-block resample.

    Each resample concatenates ``ceil(n_events / block)`` blocks of ``block`` consecutive events, each starting at
    a uniformly drawn event (blocks that would run past the end are cut short), truncated to ``n_events``
    events. ``block=1`` is the ordinary bootstrap of single events.
    """
    block = default_block(n_events) if block is None else max(1, min(int(block), n_events))
    gen = np.random.default_rng(seed)
    n_blocks = -(-n_events // block)
    starts = gen.integers(0, n_events - block + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(n_boot, -1)[:, :n_events]
    weights = np.zeros((n_boot, n_events), np.float32)
    np.add.at(weights, (np.repeat(np.arange(n_boot), n_events), idx.ravel()), 1.0)
    return weights


def bootstrap_r(Y: np.ndarray, Yhat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n_boot, targets) Pearson r of ``Yhat`` with ``Y`` (events, targets) in every resample."""
    Y = (Y - Y.mean(0)).astype(np.float32)
    P = (Yhat - Yhat.mean(0)).astype(np.float32)
    n = weights.sum(1, keepdims=True)
    sy, sp = weights @ Y, weights @ P
    syy, spp, syp = weights @ (Y * Y), weights @ (P * P), weights @ (Y * P)
    cov = syp - sy * sp / n
    var = (syy - sy**2 / n) * (spp - sp**2 / n)
    return np.where(var > 0, cov / np.sqrt(np.maximum(var, 1e-30)), 0.0)


def confidence_interval(boot: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (low, high), each (targets,)."""
    q = (1 - level) / 2
    return np.quantile(boot, q, axis=0), np.quantile(boot, 1 - q, axis=0)


def p_greater(diff_boot: np.ndarray) -> np.ndarray:
    """One-sided bootstrap p-value that a difference (n_boot, targets) is above zero."""
    return (1.0 + (diff_boot <= 0).sum(0)) / (diff_boot.shape[0] + 1.0)


def significant_bins(diff_boot: np.ndarray, n_electrodes: int, q: float = 0.05) -> np.ndarray:
    """(electrodes, bins) bool: difference > 0 after Benjamini-Hochberg FDR over every electrode and bin.

    ``diff_boot`` is (n_boot, electrodes * bins) with the targets in electrode-major order; the family of tests
    is all of its targets (one comparison in one alignment).
    """
    p = p_greater(diff_boot)
    return (false_discovery_control(p, method="bh") < q).reshape(n_electrodes, -1)


def passes(diff_boot: np.ndarray, n_electrodes: int, min_bins: int, q: float = 0.05) -> np.ndarray:
    """(electrodes,) bool: at least ``min_bins`` significant bins."""
    return significant_bins(diff_boot, n_electrodes, q).sum(1) >= min_bins
