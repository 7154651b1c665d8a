"""Scanpath baselines, each sampled to the training set's mean scanpath length (as in OAT's code).

* ``random``: objects drawn uniformly, independently.
* ``centre_bias``: objects drawn independently with probability given by the training fixations' density
  (a Gaussian-smoothed map over normalised image coordinates) at their centres.
* ``nearest``: a walk from the display centre to the nearest not yet visited object, again and again.
* ``similarity``: objects in order of a draw without replacement weighted by the RGB similarity of their crop
  to the target's crop (``exp(z / temperature)``, z the standardised negative mean squared difference).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter

from .data import Scanpath, Trial

__all__ = ["BASELINES", "centre_bias_map", "baseline_paths"]

BASELINES: tuple[str, ...] = ("random", "centre_bias", "nearest", "similarity")


def centre_bias_map(trials: dict[str, Trial], scanpaths: Sequence[Scanpath], bins: int = 32,
                    sigma: float = 2.0) -> np.ndarray:
    """(bins, bins) fixation density of the training scanpaths over normalised (y, x), smoothed, summing to 1."""
    hist = np.zeros((bins, bins))
    for s in scanpaths:
        t = trials[s.trial]
        r = np.clip((s.y / t.height * bins).astype(int), 0, bins - 1)
        c = np.clip((s.x / t.width * bins).astype(int), 0, bins - 1)
        np.add.at(hist, (r, c), 1.0)
    smooth = gaussian_filter(hist, sigma) + 1e-9
    return smooth / smooth.sum()


def _map_probability(trial: Trial, density: np.ndarray) -> np.ndarray:
    bins = density.shape[0]
    c = trial.centres
    r = np.clip((c[:, 1] / trial.height * bins).astype(int), 0, bins - 1)
    k = np.clip((c[:, 0] / trial.width * bins).astype(int), 0, bins - 1)
    p = density[r, k]
    return p / p.sum()


def _nearest_walk(trial: Trial, length: int) -> list[int]:
    c = trial.centres
    pos = np.array([trial.width / 2, trial.height / 2])
    visited = np.zeros(trial.n_objects, bool)
    path: list[int] = []
    for _ in range(length):
        if visited.all():
            visited[:] = False
        d = np.hypot(*(c - pos).T)
        d[visited] = np.inf
        nxt = int(d.argmin())
        path.append(nxt)
        visited[nxt] = True
        pos = c[nxt]
    return path


def _similarity_weights(crops: np.ndarray, temperature: float) -> np.ndarray:
    """``crops`` uint8 (n + 1, 3, h, w), the target last; weights over the n objects."""
    x = crops.astype(float) / 255.0
    mse = ((x[:-1] - x[-1:]) ** 2).mean(axis=(1, 2, 3))
    z = -(mse - mse.mean()) / (mse.std() + 1e-9)
    w = np.exp(z / temperature)
    return w / w.sum()


def baseline_paths(name: str, trial: Trial, length: int, n_samples: int, rng: np.random.Generator,
                   density: np.ndarray | None = None, crops: np.ndarray | None = None,
                   temperature: float = 0.5) -> list[list[int]]:
    """``n_samples`` scanpaths (object indices) of ``length`` fixations from baseline ``name``."""
    n = trial.n_objects
    if name == "random":
        return [list(rng.integers(n, size=length)) for _ in range(n_samples)]
    if name == "centre_bias":
        if density is None:
            raise ValueError("centre_bias needs the training fixation density")
        p = _map_probability(trial, density)
        return [list(rng.choice(n, size=length, p=p)) for _ in range(n_samples)]
    if name == "nearest":
        return [_nearest_walk(trial, length)]  # deterministic: one path stands for every sample
    if name == "similarity":
        if crops is None:
            raise ValueError("similarity needs the object crops")
        w = _similarity_weights(crops, temperature)
        paths = []
        for _ in range(n_samples):
            # a weighted draw without replacement: the order of Gumbel-perturbed log weights
            keys = np.log(w) + rng.gumbel(size=n)
            order = list(np.argsort(-keys))
            paths.append([int(o) for o in (order * (length // n + 1))[:length]])
        return paths
    raise ValueError(f"unknown baseline {name!r} ({', '.join(BASELINES)})")
