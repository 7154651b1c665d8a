"""The paper's numbers from fixations: reaction times, RT slopes, asymmetry indices, the model-vs-human
correlation with its interval, and each model's pace against chance.

- RT (ms) = 252.359 x fixations + 376.271 (the paper's linear map from fixations to key-press times).
- Slope (ms/item) = least-squares line of the mean RT per set size against set size, per condition.
- Asymmetry index of an experiment = (s_H - s_L) / (s_H + s_L), slopes clipped at 0, where H is the condition
  humans find harder (higher human slope): a model with the human asymmetry scores positive, a reversed one
  negative.
- A degenerate index is undefined, not +1 or -1: when both clipped slopes are at most the experiment's floor,
  the index of two flat lines is a ratio of noise (3.5 vs 0 ms/item reads +1). The floor is the larger of
  :data:`MIN_SLOPE_MS_PER_ITEM` (1 ms/item) and the slope's resolution, the slope that one extra fixation in
  one display at the largest set size makes (252.359 ms / displays per set size x (n_max - mean n) /
  sum (n - mean n)^2; 7.0 ms/item for orientation's 1/4/8/12 with 3 displays, 3.5 with 6, 14.0 and 7.0 for
  the intersections' 3/6/9).
- A model's mean index is the mean over its defined experiments, reported with how many were defined; it is
  undefined when fewer than half of the experiments are (:func:`mean_index`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.errors import DataError

__all__ = [
    "RT_MS_PER_FIXATION",
    "RT_OFFSET_MS",
    "MIN_SLOPE_MS_PER_ITEM",
    "reaction_time_ms",
    "fit_slope",
    "slope_resolution",
    "condition_slopes",
    "asymmetry_index",
    "index_floor",
    "index_table",
    "mean_index",
    "slope_correlation",
    "correlation_interval",
    "agreement_table",
    "chance_comparison",
]

RT_MS_PER_FIXATION = 252.359
RT_OFFSET_MS = 376.271
# The smallest slope an asymmetry index is read from, whatever the design: 1 ms/item over the widest set-size
# range of the six experiments (8 to 32 items) is 24 ms of RT, a tenth of one fixation (252 ms); a pair of
# slopes both under it are two flat lines. The human curvature line (0.8 ms/item) is under it, its pair (7.6)
# is not.
MIN_SLOPE_MS_PER_ITEM = 1.0


def reaction_time_ms(fixations: np.ndarray | float) -> np.ndarray:
    return RT_MS_PER_FIXATION * np.asarray(fixations, dtype=np.float64) + RT_OFFSET_MS


def fit_slope(set_sizes: Sequence[float], rts: Sequence[float]) -> float:
    """Least-squares slope of ``rts`` against ``set_sizes`` (ms per item)."""
    x, y = np.asarray(set_sizes, dtype=float), np.asarray(rts, dtype=float)
    if len(np.unique(x)) < 2:
        raise DataError(None, "an RT slope needs at least two set sizes")
    return float(np.polyfit(x, y, 1)[0])


def slope_resolution(set_sizes: Sequence[float], n_displays: int) -> float:
    """The slope (ms/item) that one extra fixation in one of ``n_displays`` displays at the largest set size
    makes: the least-squares slope's step at this design."""
    x = np.asarray(set_sizes, dtype=float)
    spread = float(((x - x.mean()) ** 2).sum())
    if len(x) < 2 or spread == 0 or n_displays < 1:
        return float("nan")
    return RT_MS_PER_FIXATION / n_displays * float(x.max() - x.mean()) / spread


def condition_slopes(fixations: pd.DataFrame) -> pd.DataFrame:
    """Per (seed,) model, experiment and condition: the slope of mean RT vs set size, mean RT per set size,
    the fewest displays of a set size and the slope's resolution (:func:`slope_resolution`).

    ``fixations`` has one row per trial: model, experiment, condition, set_size, fixations (and seed, when
    several seeds' runs are analysed together).
    """
    keys = (["seed"] if "seed" in fixations else []) + ["model", "experiment", "condition"]
    rows = []
    for key, g in fixations.groupby(keys, sort=False):
        by_size = g.groupby("set_size")["fixations"]
        mean, count = by_size.mean(), by_size.size()
        rt = reaction_time_ms(mean.to_numpy())
        n_displays = int(count.min())
        rows.append(
            {
                **dict(zip(keys, key)),
                "slope_ms_per_item": fit_slope(mean.index.to_numpy(), rt),
                "set_sizes": json.dumps([int(s) for s in mean.index]),
                "mean_rt_ms": json.dumps(rt.round(1).tolist()),
                "displays_per_set_size": n_displays,
                "resolution_ms_per_item": slope_resolution(mean.index.to_numpy(), n_displays),
            }
        )
    return pd.DataFrame(rows)


def asymmetry_index(slope_hard: float, slope_easy: float, floor: float = 0.0) -> float:
    """(s_H - s_L) / (s_H + s_L) with both slopes clipped at 0; NaN (undefined) when both clipped slopes are at
    most ``floor`` (with the default 0: when both are 0; "at most" allows for the least-squares fit's rounding)."""
    h, e = max(float(slope_hard), 0.0), max(float(slope_easy), 0.0)
    return float("nan") if max(h, e) <= floor * (1 + 1e-9) + 1e-12 else (h - e) / (h + e)


def index_floor(*resolutions: float) -> float:
    """The floor of an index: :data:`MIN_SLOPE_MS_PER_ITEM` or the coarser of its slopes' resolutions."""
    known = [float(r) for r in resolutions if r is not None and np.isfinite(float(r))]
    return max([MIN_SLOPE_MS_PER_ITEM, *known])


def mean_index(indices: Sequence[float]) -> tuple[float, int, str | None]:
    """(mean over the defined indices, how many are defined, None) or (NaN, defined, reason) when fewer than
    half of the experiments have a defined index."""
    values = np.asarray(indices, dtype=float)
    defined = int(np.isfinite(values).sum())
    if len(values) == 0 or defined < len(values) / 2:
        return (
            float("nan"),
            defined,
            (
                f"only {defined} of {len(values)} experiments have a defined index "
                f"(both slopes at most the floor in the others; at least half needed)"
            ),
        )
    return float(np.nanmean(values)), defined, None


def _hard_easy(human: pd.DataFrame, experiment: str) -> tuple[str, str]:
    h = human[human["experiment"] == experiment].sort_values("slope_ms_per_item")
    if len(h) != 2:
        raise DataError(None, f"human slopes lack experiment {experiment!r}")
    return str(h["condition"].iloc[1]), str(h["condition"].iloc[0])


def index_table(slopes: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """One row per (seed,) model and experiment: the model's and the humans' slopes of the hard and easy
    conditions, both asymmetry indices, the index's floor and whether it is defined (``index`` NaN when not)."""
    keys = (["seed"] if "seed" in slopes else []) + ["model", "experiment"]
    rows = []
    for key, g in slopes.groupby(keys, sort=False):
        head = dict(zip(keys, key))
        model, exp = head["model"], head["experiment"]
        hard, easy = _hard_easy(human, exp)
        by = g.set_index("condition")
        hb = human[human["experiment"] == exp].set_index("condition")["slope_ms_per_item"]
        if hard not in by.index or easy not in by.index:
            raise DataError(None, f"model {model}, experiment {exp}: needs conditions {hard} and {easy}")
        resolution = by["resolution_ms_per_item"] if "resolution_ms_per_item" in by else {}
        floor = index_floor(*(resolution.get(c) for c in (hard, easy))) if len(resolution) else MIN_SLOPE_MS_PER_ITEM
        sh, se = float(by.loc[hard, "slope_ms_per_item"]), float(by.loc[easy, "slope_ms_per_item"])
        index = asymmetry_index(sh, se, floor)
        rows.append(
            {
                **head,
                "hard_condition": hard,
                "easy_condition": easy,
                "slope_hard": sh,
                "slope_easy": se,
                "index": index,
                "index_defined": bool(np.isfinite(index)),
                "floor_ms_per_item": floor,
                "human_slope_hard": hb[hard],
                "human_slope_easy": hb[easy],
                "human_index": asymmetry_index(hb[hard], hb[easy]),
            }
        )
    return pd.DataFrame(rows)


def slope_correlation(slopes: pd.DataFrame, human: pd.DataFrame, model: str) -> float:
    """Pearson correlation between a model's and the humans' slopes over every condition (one seed's slopes);
    NaN with fewer than three conditions, or when every slope is flat (at most its resolution floor, see
    :func:`index_floor`: a correlation of rounding noise is not one)."""
    m = slopes[slopes["model"] == model].merge(human, on=["experiment", "condition"], suffixes=("", "_human"))
    if len(m) < 3 or m["slope_ms_per_item"].std() == 0:
        return float("nan")
    resolution = m["resolution_ms_per_item"] if "resolution_ms_per_item" in m else [None] * len(m)
    floors = np.array([index_floor(r) for r in resolution])
    if (np.abs(m["slope_ms_per_item"].to_numpy(dtype=float)) <= floors).all():
        return float("nan")
    return float(np.corrcoef(m["slope_ms_per_item"], m["slope_ms_per_item_human"])[0, 1])


def correlation_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` interval of a Pearson ``r`` over ``n`` pairs (Fisher's z: atanh(r) +- z_q / sqrt(n - 3));
    NaNs when r is undefined or n < 4."""
    from scipy.stats import norm

    if not np.isfinite(r) or n < 4:
        return float("nan"), float("nan")
    z, half = np.arctanh(np.clip(r, -0.999999, 0.999999)), norm.ppf(0.5 + level / 2) / np.sqrt(n - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def agreement_table(indices: pd.DataFrame, slopes: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Per (seed,) model: how many experiments have a defined index with the human sign (positive: H is the
    condition humans find harder, so every human index is positive), of how many defined, and the Pearson
    correlation of the model's condition slopes with the humans' with its 95% interval (Fisher's z over the
    conditions)."""
    keys = (["seed"] if "seed" in indices else []) + ["model"]
    rows = []
    for key, g in indices.groupby(keys, sort=False):
        head = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        sl = slopes
        for k, v in head.items():
            sl = sl[sl[k] == v]
        r = slope_correlation(sl, human, head["model"])
        n = len(sl.merge(human, on=["experiment", "condition"]))
        low, high = correlation_interval(r, n)
        defined = g["index"].notna()
        rows.append(
            {
                **head,
                "experiments_with_human_sign": int((g["index"][defined] > 0).sum()),
                "experiments_defined": int(defined.sum()),
                "slope_correlation": r,
                "slope_correlation_low": low,
                "slope_correlation_high": high,
                "conditions": n,
            }
        )
    return pd.DataFrame(rows)


def chance_comparison(slopes: pd.DataFrame, chance_slopes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (seed,) model: in how many conditions its slope is below chance's on the same displays
    (``conditions_faster_than_chance`` of ``conditions_with_chance``) and the median ratio of its slope to
    chance's (``slope_ratio_to_chance``; 1: as slow as a random order over the items). An asymmetry index read
    off two searches at chance's pace is noise, whatever its sign. ``chance_slopes`` defaults to the rows of
    model ``chance`` in ``slopes``; a model without chance's conditions gets 0 of 0 and NaN."""
    keys = (["seed"] if "seed" in slopes else []) + ["model"]
    if chance_slopes is None:
        chance_slopes = slopes[slopes["model"] == "chance"]
    on = (["seed"] if "seed" in slopes and "seed" in chance_slopes else []) + ["experiment", "condition"]
    reference = chance_slopes[on + ["slope_ms_per_item"]].rename(columns={"slope_ms_per_item": "chance_slope"})
    rows = []
    for key, g in slopes.groupby(keys, sort=False):
        head = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        both = g.merge(reference, on=on)
        both = both[np.isfinite(both["slope_ms_per_item"]) & (both["chance_slope"] > 0)]
        ratio = both["slope_ms_per_item"] / both["chance_slope"]
        rows.append(
            {
                **head,
                "conditions_faster_than_chance": int((ratio < 1).sum()),
                "conditions_with_chance": int(len(both)),
                "slope_ratio_to_chance": float(ratio.median()) if len(both) else float("nan"),
            }
        )
    return pd.DataFrame(
        rows, columns=[*keys, "conditions_faster_than_chance", "conditions_with_chance", "slope_ratio_to_chance"]
    )
