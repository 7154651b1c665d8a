"""Scanpath metrics as plain functions: Sequence Score, edit distance, MultiMatch, behaviour and its delta, and the
human ceiling.

Definitions (as in OAT, ECCV 2024):

* **Sequence Score**: Needleman-Wunsch alignment of two object-id sequences with match 1, mismatch 0, gap 0
  (so the score is the length of the longest common subsequence), divided by the longer sequence's length.
* **Edit distance**: raw Levenshtein distance between the two object-id sequences (unit costs).
* **MultiMatch**: ``multimatch_gaze.docomparison`` on fixations ``(start_x, start_y, duration in s)`` and the
  screen size: vector, direction, length, position and duration similarities. It is not defined for paths of
  fewer than 3 fixations; as OAT does, such a path is padded to 3 fixations with rows of ones (x 1, y 1,
  duration 1), or with ``pad=False`` the pair gives NaN (the dropped-pair variant).
* **Behaviour** of one scanpath: ``target_fixation`` (1 if the last fixation is on the target), ``length``,
  and the proportions of ``search`` (fixations on a never-visited object), ``refixation`` (the same object as
  the fixation before) and ``revisit`` (a return to an object visited before, after leaving it); the three
  proportions sum to 1. **Delta** = ``nansum(|model - human| / human) / 5`` over those five on data-set means
  (OAT's definition: a measure whose human mean is 0 adds nothing, the sum is still divided by five).
* **Human ceiling**: leave-one-viewer-out agreement; each pair of different viewers of a trial counted once,
  never a scanpath with itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "sequence_score",
    "edit_distance",
    "multimatch",
    "behaviour",
    "behaviour_table",
    "behaviour_delta",
    "mean_agreement",
    "human_ceiling",
    "human_ceiling_delta",
    "BEHAVIOUR",
    "MULTIMATCH",
]

BEHAVIOUR: tuple[str, ...] = ("target_fixation", "length", "search", "refixation", "revisit")
MULTIMATCH: tuple[str, ...] = ("mm_vector", "mm_direction", "mm_length", "mm_position", "mm_duration")


def _nw_matches(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Best Needleman-Wunsch score with match 1, mismatch 0, gap 0 (dynamic programming over a x b)."""
    a, b = list(a), list(b)
    prev = np.zeros(len(b) + 1, dtype=np.int64)
    for x in a:
        cur = np.zeros_like(prev)
        for j, y in enumerate(b, start=1):
            cur[j] = max(prev[j], cur[j - 1], prev[j - 1] + (1 if x == y else 0))
        prev = cur
    return int(prev[-1])


def sequence_score(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Needleman-Wunsch score of two object sequences (match 1, mismatch 0, gap 0) / the longer length.

    1 for identical sequences, 0 when they share no object; NaN when both are empty."""
    n = max(len(a), len(b))
    return _nw_matches(a, b) / n if n else float("nan")


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning ``a`` into ``b``."""
    a, b = list(a), list(b)
    prev = np.arange(len(b) + 1)
    for i, x in enumerate(a, start=1):
        cur = np.empty_like(prev)
        cur[0] = i
        for j, y in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return int(prev[-1])


def _fixations(x: Sequence[float], y: Sequence[float], duration: Sequence[float]) -> np.ndarray:
    out = np.recarray((len(x),), dtype=[("start_x", "f8"), ("start_y", "f8"), ("duration", "f8")])
    out["start_x"], out["start_y"], out["duration"] = x, y, duration
    return out


def _pad(x: Sequence[float], y: Sequence[float], d: Sequence[float]) -> tuple[np.ndarray, ...]:
    """OAT's padding of a path shorter than 3 fixations: rows of ones (x 1, y 1, duration 1) up to 3."""
    out = [np.ones(max(3, len(x))) for _ in range(3)]
    for row, values in zip(out, (x, y, d)):
        row[: len(x)] = np.asarray(values, dtype=float)
    return tuple(out)


def multimatch(
    x1: Sequence[float],
    y1: Sequence[float],
    d1: Sequence[float],
    x2: Sequence[float],
    y2: Sequence[float],
    d2: Sequence[float],
    screensize: tuple[float, float],
    pad: bool = False,
) -> np.ndarray:
    """MultiMatch (vector, direction, length, position, duration) of two scanpaths through ``multimatch_gaze``
    (no grouping). Pixels, durations in seconds, ``screensize`` = (width, height). A path of fewer than 3
    fixations: padded as OAT pads it (``pad``), else NaN x 5."""
    if len(x1) < 3 or len(x2) < 3:
        if not pad:
            return np.full(5, np.nan)
        (x1, y1, d1), (x2, y2, d2) = _pad(x1, y1, d1), _pad(x2, y2, d2)
    import multimatch_gaze

    return np.asarray(
        multimatch_gaze.docomparison(_fixations(x1, y1, d1), _fixations(x2, y2, d2), screensize=list(screensize)),
        dtype=float,
    ).reshape(5)


def behaviour(objects: Sequence[int], target: Hashable) -> dict[str, float]:
    """The behavioural measures of one scanpath (object sequence) on a display with ``target``."""
    seq = list(objects)
    n = len(seq)
    if n == 0:
        return {
            "target_fixation": 0.0,
            "length": 0.0,
            "search": float("nan"),
            "refixation": float("nan"),
            "revisit": float("nan"),
        }
    search = refix = revisit = 0
    seen: set = set()
    for i, o in enumerate(seq):
        if i > 0 and o == seq[i - 1]:
            refix += 1
        elif o in seen:
            revisit += 1
        else:
            search += 1
        seen.add(o)
    return {
        "target_fixation": float(seq[-1] == target),
        "length": float(n),
        "search": search / n,
        "refixation": refix / n,
        "revisit": revisit / n,
    }


def behaviour_table(sequences: Sequence[Sequence[int]], targets: Sequence[Hashable]) -> pd.DataFrame:
    """One row of :func:`behaviour` per scanpath."""
    return pd.DataFrame([behaviour(s, t) for s, t in zip(sequences, targets)], columns=list(BEHAVIOUR))


def behaviour_delta(model: Mapping[str, float], human: Mapping[str, float]) -> float:
    """``|model - human| / human`` (data-set means) summed over the five measures and divided by five, as OAT
    defines it (``nansum(|m - h| / h) / 5``): a measure whose human mean is 0 (or undefined) adds nothing but
    the sum is still divided by five. NaN when no measure has a usable human mean."""
    terms = [
        abs(float(model[k]) - float(human[k])) / abs(float(human[k]))
        for k in BEHAVIOUR
        if float(human[k]) != 0.0 and np.isfinite(float(human[k])) and np.isfinite(float(model[k]))
    ]
    return float(np.sum(terms)) / len(BEHAVIOUR) if terms else float("nan")


def mean_agreement(
    model: Mapping[Hashable, Sequence[Any]],
    human: Mapping[Hashable, Mapping[Hashable, Any]],
    score: Callable[[Any, Any], float],
) -> float:
    """Mean over trials of the mean of ``score(model path, human path)`` over the trial's model paths
    (samples) and viewers. ``model``: trial -> list of paths; ``human``: trial -> {viewer: path}."""
    per_trial = []
    for trial, paths in model.items():
        values = [score(m, h) for m in paths for h in human.get(trial, {}).values()]
        values = [v for v in values if np.isfinite(v)]
        if values:
            per_trial.append(np.mean(values))
    return float(np.mean(per_trial)) if per_trial else float("nan")


def human_ceiling(human: Mapping[Hashable, Mapping[Hashable, Any]], score: Callable[[Any, Any], float]) -> float:
    """Human-to-human agreement: for each trial the mean of ``score`` over every pair of *different* viewers
    (each unordered pair once; a symmetric score is assumed, as the Sequence Score and edit distance are), then
    the mean over trials. Trials with fewer than two viewers are skipped. This equals leave-one-viewer-out
    (each viewer against the others) without ever comparing a scanpath with itself."""
    per_trial = []
    for viewers in human.values():
        paths = list(viewers.values())
        values = [score(a, b) for a, b in combinations(paths, 2)]
        values = [v for v in values if np.isfinite(v)]
        if values:
            per_trial.append(np.mean(values))
    return float(np.mean(per_trial)) if per_trial else float("nan")


def human_ceiling_delta(table: pd.DataFrame) -> float:
    """Leave-one-viewer-out behavioural delta: each viewer's mean behaviour against the mean of the other
    viewers' scanpaths, averaged over viewers. ``table``: :func:`behaviour_table` rows with a ``viewer``
    column."""
    deltas = []
    for viewer in table["viewer"].unique():
        own = table[table["viewer"] == viewer][list(BEHAVIOUR)].mean()
        rest = table[table["viewer"] != viewer][list(BEHAVIOUR)].mean()
        if len(table[table["viewer"] != viewer]):
            deltas.append(behaviour_delta(own, rest))
    return float(np.nanmean(deltas)) if deltas else float("nan")
