"""The neural metric of the Brain-Score-style benchmarks and its ceiling (after Schrimpf et al. 2018, as the 2022
Brain-Score board ran it).

* **metric**: PLS regression (25 components, no scaling) from a layer's activations to all neuroids of a
  region; 10 stratified splits (by ``object_name``) with 90 % of the stimuli for training; Pearson r per
  neuroid on the held-out stimuli; median over neuroids; mean over splits, with the standard error of the
  mean over splits.
* **ceiling**: split the repetitions in half, average each half, Pearson r per neuroid
  across stimuli, Spearman-Brown ``2 r / (1 + r)``, median over neuroids, mean over splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DataError
from ..core.runtime import get_logger

__all__ = [
    "pearson_per_column",
    "MetricSettings",
    "pls_cross_validated",
    "split_half_ceiling",
    "ceiling_error_bound",
]

log = get_logger(__name__)


def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching columns of ``a`` and ``b`` ``(n, k)``; 0 where a column is constant."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denom = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / denom
    return np.where(denom > 0, r, 0.0)


@dataclass(frozen=True)
class MetricSettings:
    """PLS components, number of splits, training fraction, seed of the splits."""

    n_components: int = 25
    n_splits: int = 10
    train_fraction: float = 0.9
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pls_cross_validated(
    features: np.ndarray, responses: np.ndarray, object_name: Sequence, settings: MetricSettings = MetricSettings()
) -> dict[str, Any]:
    """Cross-validated PLS predictivity of ``responses`` ``(n_stimuli, n_neuroids)`` from ``features``
    ``(n_stimuli, n_features)``.

    Returns ``{"raw", "sem", "per_split" (n_splits,), "per_neuroid" (n_splits, n_neuroids)}``: Pearson r per
    neuroid on each split's held-out stimuli, median over neuroids per split, mean and SEM over splits.
    """
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    features = np.asarray(features, dtype=np.float64)
    responses = np.asarray(responses, dtype=np.float64)
    if features.shape[0] != responses.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows for {responses.shape[0]} stimuli")
    labels = np.asarray(object_name).astype(str)
    n_classes = len(np.unique(labels))
    n_test = len(labels) - int(np.floor(settings.train_fraction * len(labels)))
    stratify = n_test >= n_classes and len(labels) - n_test >= n_classes
    if not stratify:  # too few stimuli for every object in every test split (small sets only)
        log.warning("%d held-out stimuli per split < %d objects: splits are not stratified", n_test, n_classes)
    splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
        n_splits=settings.n_splits, train_size=settings.train_fraction, random_state=settings.seed
    )
    per_neuroid = []
    for train, test in splitter.split(features, labels):
        k = max(1, min(settings.n_components, len(train) - 1, features.shape[1]))
        pls = PLSRegression(n_components=k, scale=False)
        pls.fit(features[train], responses[train])
        per_neuroid.append(pearson_per_column(pls.predict(features[test]), responses[test]))
    per_neuroid_arr = np.asarray(per_neuroid)
    per_split = np.median(per_neuroid_arr, axis=1)
    sem = per_split.std(ddof=1) / np.sqrt(len(per_split)) if len(per_split) > 1 else float("nan")
    return {"raw": float(per_split.mean()), "sem": float(sem), "per_split": per_split, "per_neuroid": per_neuroid_arr}


def split_half_ceiling(
    assembly, stimulus_ids: Sequence | None = None, n_splits: int = 10, seed: int = 0, n_bootstrap: int = 200
) -> dict[str, Any]:
    """Split-half reliability over repetitions with Spearman-Brown correction.

    Each split draws half of the ``repetition`` values at random (the same for every stimulus, as
    Brain-Score splits the repetition coordinate); each half is averaged per stimulus; Pearson r per neuroid
    across stimuli; ``2 r / (1 + r)``; median over neuroids; mean over splits. Stimuli without a presentation
    in both halves of a split are left out of it. Responses are averaged over time bins.

    Sampling error: ``bootstrap_se`` is the standard deviation of the ceiling over ``n_bootstrap`` resamples
    of the stimuli (with replacement, the same resample for every split), so it holds both the trial noise and
    the draw of the stimuli, with whatever correlation between neuroids the shared stimuli bring.

    Returns ``{"ceiling", "sem" (over repetition splits), "bootstrap_se", "per_neuroid" (n_neuroids,): mean
    over splits}``.
    """
    values = np.asarray(assembly.values, dtype=np.float64).mean(axis=2)  # (presentations, neuroids)
    stim = np.asarray(assembly["stimulus_id"].values)
    rep = np.asarray(assembly["repetition"].values)
    ids = np.unique(stim) if stimulus_ids is None else np.asarray(stimulus_ids)
    codes = pd.Index(ids).get_indexer(stim)
    keep = codes >= 0
    values, codes, rep = values[keep], codes[keep], rep[keep]
    repetitions = np.unique(rep)
    if len(repetitions) < 2:
        raise DataError(None, "a split-half ceiling needs at least two repetitions")
    rng = np.random.default_rng(seed)
    boot_rows = np.random.default_rng([seed, 11]).integers(0, len(ids), size=(n_bootstrap, len(ids)))
    per_split, per_neuroid, boot = [], [], []
    for _ in range(n_splits):
        first = np.isin(rep, rng.permutation(repetitions)[: len(repetitions) // 2])
        sums, counts = [], []
        for mask in (first, ~first):
            total = np.zeros((len(ids), values.shape[1]))
            np.add.at(total, codes[mask], values[mask])
            sums.append(total)
            counts.append(np.bincount(codes[mask], minlength=len(ids)))
        usable = (counts[0] > 0) & (counts[1] > 0)
        if usable.sum() < 3:
            raise DataError(None, "a split-half ceiling needs at least 3 stimuli shown in both halves")
        halves = [s[usable] / c[usable, None] for s, c in zip(sums, counts)]
        r = pearson_per_column(halves[0], halves[1])
        corrected = 2 * r / (1 + r)
        per_neuroid.append(corrected)
        per_split.append(np.median(corrected))
        position = np.cumsum(usable) - 1  # row of each usable stimulus in halves
        boot.append(
            [
                _spearman_brown_median(halves[0][position[rows[usable[rows]]]], halves[1][position[rows[usable[rows]]]])
                for rows in boot_rows
            ]
        )
    per_split_arr = np.asarray(per_split)
    boot_ceiling = np.mean(boot, axis=0) if n_bootstrap > 1 else np.full(1, np.nan)
    return {
        "ceiling": float(per_split_arr.mean()),
        "sem": float(per_split_arr.std(ddof=1) / np.sqrt(n_splits)) if n_splits > 1 else float("nan"),
        "bootstrap_se": float(np.std(boot_ceiling, ddof=1)) if n_bootstrap > 1 else float("nan"),
        "per_neuroid": np.mean(per_neuroid, axis=0),
    }


def _spearman_brown_median(a: np.ndarray, b: np.ndarray) -> float:
    r = pearson_per_column(a, b)
    return float(np.median(2 * r / (1 + r)))


def ceiling_error_bound(bootstrap_se: float, z: float = 3.0) -> float:
    """How far a measured ceiling may sit from the true reliability by sampling alone: ``z`` bootstrap standard
    errors (z = 3: about 1 in 370 runs of a normal estimate falls outside)."""
    return float(z * bootstrap_se)
