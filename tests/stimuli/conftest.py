"""Helpers for the stimulus tests: which pixels an object covers, measured against its own background."""

from __future__ import annotations

import numpy as np

from neuromodels.stimuli.render import background, to_uint8


def object_mask(image: np.ndarray, stimulus_id: int, threshold: float = 60.0) -> np.ndarray:
    """(H, W) bool: pixels that differ clearly from the scene's background (same seed, so noise cancels)."""
    bg = to_uint8(background(image.shape[0], image.shape[1], seed=stimulus_id)).astype(float)
    return np.abs(image.astype(float) - bg).sum(-1) > threshold


def centroid(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(x, y) centre of mass in pixels (pixel i spans [i, i + 1))."""
    ys, xs = np.nonzero(mask)
    w = np.ones(len(xs)) if weights is None else weights[ys, xs]
    return np.array([np.average(xs + 0.5, weights=w), np.average(ys + 0.5, weights=w)])


def orientation_deg(mask: np.ndarray) -> float:
    """Angle of the mask's long axis, counter-clockwise from the +x axis on screen, in [0, 180)."""
    ys, xs = np.nonzero(mask)
    x, y = xs - xs.mean(), -(ys - ys.mean())  # y up
    cov = np.cov(np.stack([x, y]))
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, np.argmax(vals)]
    return float(np.degrees(np.arctan2(major[1], major[0])) % 180.0)


def angle_diff(a: float, b: float, period: float = 360.0) -> float:
    d = (a - b) % period
    return min(d, period - d)
