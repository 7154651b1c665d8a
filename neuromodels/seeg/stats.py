"""Statistics over held-out predictions: bootstrap over events, FDR, and the test ladder.

Every comparison works on out-of-fold predictions (events, targets) where a target is one electrode in one time
bin. The bootstrap resamples events (with replacement, the same resamples for every model so differences are
paired) and recomputes Pearson r of every target; resamples are drawn as multinomial count weights so that all
targets and models are handled with a few matrix products.
"""

from __future__ import annotations

import numpy as np


def bootstrap_weights(n_events: int, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_boot, events) float32 counts of each event in each resample."""
    gen = np.random.default_rng(seed)
    return gen.multinomial(n_events, np.full(n_events, 1.0 / n_events), size=n_boot).astype(np.float32)


def bootstrap_r(Y: np.ndarray, Yhat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(n_boot, targets) Pearson r of ``Yhat`` with ``Y`` (events, targets) in every resample."""
    Y = (Y - Y.mean(0)).astype(np.float32)
    P = (Yhat - Yhat.mean(0)).astype(np.float32)
    n = weights.sum(1, keepdims=True)
    sy, sp = weights @ Y, weights @ P
    syy, spp, syp = weights @ (Y * Y), weights @ (P * P), weights @ (Y * P)
    cov = syp - sy * sp / n
    var = (syy - sy ** 2 / n) * (spp - sp ** 2 / n)
    return np.where(var > 0, cov / np.sqrt(np.maximum(var, 1e-30)), 0.0)


def confidence_interval(boot: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval (low, high), each (targets,)."""
    q = (1 - level) / 2
    return np.quantile(boot, q, axis=0), np.quantile(boot, 1 - q, axis=0)


def p_greater(diff_boot: np.ndarray) -> np.ndarray:
    """One-sided bootstrap p-value that a difference (n_boot, targets) is above zero."""
    return (1.0 + (diff_boot <= 0).sum(0)) / (diff_boot.shape[0] + 1.0)


def fdr_bh(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along ``axis`` (e.g. the time bins of each electrode)."""
    p = np.moveaxis(np.asarray(p, dtype=float), axis, -1)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1)
    ranked = np.take_along_axis(p, order, -1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), -1)
    return np.moveaxis(out, -1, axis)


def significant_bins(diff_boot: np.ndarray, n_electrodes: int, q: float = 0.05) -> np.ndarray:
    """(electrodes, bins) bool: difference > 0 after FDR across the time bins of each electrode.

    ``diff_boot`` is (n_boot, electrodes * bins) with the targets in electrode-major order.
    """
    p = p_greater(diff_boot).reshape(n_electrodes, -1)
    return fdr_bh(p, axis=1) < q


def passes(diff_boot: np.ndarray, n_electrodes: int, min_bins: int, q: float = 0.05) -> np.ndarray:
    """(electrodes,) bool: at least ``min_bins`` significant bins."""
    return significant_bins(diff_boot, n_electrodes, q).sum(1) >= min_bins
