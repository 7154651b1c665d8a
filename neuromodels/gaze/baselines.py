"""Scanpath baselines, each sampled to the training set's mean scanpath length (as in OAT's code).

* ``random``: objects drawn uniformly, independently.
* ``centre_bias``: objects drawn independently with probability given by the training fixations' density
  (a Gaussian-smoothed map over normalised image coordinates) at their centres.
* ``nearest``: a walk from the display centre to the nearest not yet visited object, again and again.
* ``similarity``: objects in order of a draw without replacement weighted by the RGB similarity of their crop
  to the target's crop (``exp(z / temperature)``, z the standardised negative mean squared difference).

The named control ``guided_walk`` (:class:`GuidedWalk`) is a walk on observable cues: from the display centre,
the next object is drawn from a softmax over every object of ``w . features``, the features being the RGB
similarity of the object's crop to the target's crop (the z above), its distance from the current fixation (in
units of the display's mean object spacing), whether it was visited before (inhibition of return) and whether it
is the object fixated now (refixation); the walk stops when it lands on the target (or at ``max_length``). Its
four weights are fitted by maximum likelihood (a conditional logit) on the training trials' scanpaths only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from .data import Scanpath, Trial

WALK_FEATURES: tuple[str, ...] = ("similarity", "distance", "visited", "current")

__all__ = ["BASELINES", "centre_bias_map", "baseline_paths", "GuidedWalk", "fit_guided_walk", "WALK_FEATURES"]

BASELINES: tuple[str, ...] = ("random", "centre_bias", "nearest", "similarity")


def centre_bias_map(
    trials: dict[str, Trial], scanpaths: Sequence[Scanpath], bins: int = 32, sigma: float = 2.0
) -> np.ndarray:
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


def baseline_paths(
    name: str,
    trial: Trial,
    length: int,
    n_samples: int,
    rng: np.random.Generator,
    density: np.ndarray | None = None,
    crops: np.ndarray | None = None,
    temperature: float = 0.5,
) -> list[list[int]]:
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


# ---------------------------------------------------------------------------------------- guided walk (control)
def _rgb_z(crops: np.ndarray) -> np.ndarray:
    """Standardised negative mean squared RGB difference of each object's crop to the target's (the last)."""
    x = crops.astype(float) / 255.0
    mse = ((x[:-1] - x[-1:]) ** 2).mean(axis=(1, 2, 3))
    return -(mse - mse.mean()) / (mse.std() + 1e-9)


def _spacing(trial: Trial) -> float:
    return float(np.sqrt(trial.width * trial.height / max(trial.n_objects, 1)))


def _walk_features(trial: Trial, z: np.ndarray, current: int, visited: np.ndarray) -> np.ndarray:
    """(n, 4) features of every object as the next fixation, after ``current`` (-1: the display centre)."""
    c = trial.centres
    pos = c[current] if current >= 0 else np.array([trial.width / 2, trial.height / 2])
    dist = np.hypot(*(c - pos).T) / _spacing(trial)
    cur = np.zeros(trial.n_objects)
    if current >= 0:
        cur[current] = 1.0
    return np.stack([z, dist, visited.astype(float) * (1 - cur), cur], axis=1)


@dataclass(frozen=True)
class GuidedWalk:
    """The fitted walk: ``weights`` over :data:`WALK_FEATURES`, the training trials it was fitted on, the number
    of fixation choices it was fitted to and their mean log-likelihood."""

    weights: tuple[float, ...]
    fitted_on: tuple[str, ...] = ()
    n_choices: int = 0
    log_likelihood: float = float("nan")

    def paths(
        self, trial: Trial, crops: np.ndarray, n_samples: int, max_length: int, rng: np.random.Generator
    ) -> list[list[int]]:
        """``n_samples`` walks on ``trial`` (crops uint8 (n + 1, 3, h, w), the target last): each ends on the
        target (included) or at ``max_length`` fixations."""
        z, w, target = _rgb_z(crops), np.asarray(self.weights), trial.target_index
        out = []
        for _ in range(n_samples):
            current, visited, path = -1, np.zeros(trial.n_objects, bool), []
            while len(path) < max_length:
                u = _walk_features(trial, z, current, visited) @ w
                p = np.exp(u - u.max())
                current = int(rng.choice(trial.n_objects, p=p / p.sum()))
                path.append(current)
                visited[current] = True
                if current == target:
                    break
            out.append(path)
        return out


def fit_guided_walk(
    trials: dict[str, Trial], scanpaths: Sequence[Scanpath], crops: dict[str, np.ndarray], l2: float = 1e-3
) -> GuidedWalk:
    """The walk's weights by maximum likelihood of every fixation choice of ``scanpaths`` (their object
    sequences, from the display centre), given the crops of their trials (``crops[trial]``, the target last).
    Pass the training trials' scanpaths only: nothing else is seen. A small ridge (``l2``) keeps the weights
    finite when the choices are separable."""
    from scipy.optimize import minimize

    feats, chosen = [], []
    used = sorted({s.trial for s in scanpaths})
    z_of = {t: _rgb_z(crops[t]) for t in used}
    for s in scanpaths:
        trial = trials[s.trial]
        current, visited = -1, np.zeros(trial.n_objects, bool)
        for o in s.object_sequence():
            feats.append(_walk_features(trial, z_of[s.trial], current, visited))
            chosen.append(int(o))
            current = int(o)
            visited[current] = True
    if not feats:
        raise ValueError("no fixation on an object to fit the guided walk to")
    n_max = max(len(f) for f in feats)
    x = np.zeros((len(feats), n_max, len(WALK_FEATURES)))
    mask = np.zeros((len(feats), n_max), bool)
    for i, f in enumerate(feats):
        x[i, : len(f)], mask[i, : len(f)] = f, True
    idx = np.asarray(chosen)
    x_chosen = x[np.arange(len(idx)), idx]

    def nll(w: np.ndarray) -> tuple[float, np.ndarray]:
        u = np.where(mask, x @ w, -np.inf)
        m = u.max(1, keepdims=True)
        p = np.exp(u - m)
        total = p.sum(1, keepdims=True)
        log_z = (m + np.log(total))[:, 0]
        p = p / total
        value = float((log_z - x_chosen @ w).sum()) + l2 * float(w @ w) * len(idx)
        grad = (np.einsum("sn,snk->k", p, x) - x_chosen.sum(0)) + 2 * l2 * w * len(idx)
        return value / len(idx), grad / len(idx)

    result = minimize(nll, np.zeros(len(WALK_FEATURES)), jac=True, method="L-BFGS-B")
    w = result.x
    return GuidedWalk(tuple(float(v) for v in w), tuple(used), len(idx), float(-(nll(w)[0] - l2 * float(w @ w))))
