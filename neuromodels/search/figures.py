"""The search family's figures: RT against set size, asymmetry indices per experiment (by model or by
diet, with each one's agreement with humans in the legend) and example fixation sequences."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .asymmetry import RT_MS_PER_FIXATION, RT_OFFSET_MS
from .data import TrialSet

__all__ = ["plot_rt", "plot_indices", "plot_fixations", "plot_diets"]


def plot_rt(slopes: pd.DataFrame, human: pd.DataFrame, models: Sequence[str]):
    """RT vs set size per experiment: each model's two conditions, and the human slopes as lines through the
    model's mean RT at the smallest set size (the human intercepts are not part of the reference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(slopes["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(3.2 * len(exps), 3.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, exp in zip(axes[0], exps):
        for ci, model in enumerate(models):
            for li, (_, row) in enumerate(slopes[(slopes.model == model) & (slopes.experiment == exp)].iterrows()):
                ax.plot(
                    json.loads(row.set_sizes),
                    json.loads(row.mean_rt_ms),
                    marker="o",
                    color=colours[ci % 10],
                    linestyle="-" if li == 0 else "--",
                    label=f"{model}: {row.condition}",
                )
        for li, (_, row) in enumerate(human[human.experiment == exp].iterrows()):
            ref = slopes[(slopes.experiment == exp)].iloc[0]
            xs = np.asarray(json.loads(ref.set_sizes), dtype=float)
            ax.plot(
                xs,
                RT_OFFSET_MS + RT_MS_PER_FIXATION + row.slope_ms_per_item * (xs - xs[0]),
                color="k",
                linestyle="-" if li == 0 else "--",
                label=f"human: {row.condition}",
            )
        ax.set_title(exp, fontsize=9)
        ax.set_xlabel("set size")
        ax.legend(fontsize=5)
    axes[0][0].set_ylabel("RT (ms)")
    fig.tight_layout()
    return fig


def _agreement_label(name: str, agreement: pd.DataFrame | None, by: str) -> str:
    """``name: human sign 4/6, 3/5; r 0.31 [-0.30, 0.75], ...`` per seed, from :func:`agreement_table`."""
    if agreement is None or not len(agreement) or by not in agreement:
        return name
    g = agreement[agreement[by] == name]
    if not len(g):
        return name
    signs = ", ".join(f"{int(a)}/{int(d)}" for a, d in zip(g["experiments_with_human_sign"], g["experiments_defined"]))
    rs = ", ".join(
        "undefined" if not np.isfinite(r) else f"{r:.2f} [{lo:.2f}, {hi:.2f}]"
        for r, lo, hi in zip(g["slope_correlation"], g["slope_correlation_low"], g["slope_correlation_high"])
    )
    return f"{name}: human sign {signs}; r {rs}"


def plot_indices(
    indices: pd.DataFrame,
    models: Sequence[str],
    title: str = "asymmetry index",
    by: str = "model",
    agreement: pd.DataFrame | None = None,
):
    """Grouped bars: index per experiment for each model (or diet), mean over seeds of the defined ones; the
    human index in black. With ``agreement`` (:func:`agreement_table`), each legend entry says per seed how many
    experiments have the human sign (of the defined ones) and the model-human slope correlation with its 95%
    interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(indices["experiment"]))
    groups = [*models, "human"]
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(1.3 * len(exps) + 2, 3.4))
    x = np.arange(len(exps) + 1)
    for gi, name in enumerate(groups):
        if name == "human":
            sub = indices.drop_duplicates("experiment").set_index("experiment")["human_index"]
        else:
            # the mean over seeds of the defined indices (an undefined index is left out, not drawn as 0)
            sub = indices[indices[by] == name].groupby("experiment")["index"].mean()
        vals = [sub.get(e, np.nan) for e in exps]
        vals.append(np.nanmean(vals) if np.isfinite(vals).any() else np.nan)
        ax.bar(
            x + (gi - (len(groups) - 1) / 2) * width,
            vals,
            width,
            label=name if name == "human" else _agreement_label(name, agreement, by),
            color="k" if name == "human" else None,
        )
    ax.set_xticks(x, [*exps, "mean"], rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(title)
    if agreement is not None:
        ax.legend(fontsize=5, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.set_size_inches(1.3 * len(exps) + 6.5, 3.4)
    else:
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def plot_fixations(trials: TrialSet, fixations: pd.DataFrame, per_experiment: int = 1):
    """Example fixation sequences (numbered) over search images, one row per experiment; the target's box
    in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(fixations["experiment"]))
    fig, axes = plt.subplots(per_experiment, len(exps), figsize=(2.6 * len(exps), 2.8 * per_experiment), squeeze=False)
    for ci, exp in enumerate(exps):
        sub = fixations[fixations.experiment == exp]
        # the largest set size of the harder-looking condition shows the most fixations
        sub = sub.sort_values(["set_size", "fixations"], ascending=False).head(per_experiment)
        for ri, (_, row) in enumerate(sub.iterrows()):
            ax = axes[ri][ci]
            r = int(trials.table.index[trials.table.trial_id == row.trial_id][0])
            ax.imshow(trials.image(r))
            t = trials.table.iloc[r]
            ax.add_patch(
                plt.Rectangle(
                    (t.target_x0, t.target_y0),
                    t.target_x1 - t.target_x0,
                    t.target_y1 - t.target_y0,
                    fill=False,
                    color="red",
                    lw=1,
                )
            )
            seq = np.asarray(json.loads(row.sequence) if row.sequence else [], dtype=float).reshape(-1, 2)
            h, w = trials.image(r).shape[:2]
            path = np.vstack([[w / 2, h / 2], seq]) if len(seq) else np.array([[w / 2, h / 2]])
            ax.plot(path[:, 0], path[:, 1], "-o", color="yellow", ms=3, lw=1)
            for k, (fx, fy) in enumerate(seq, start=1):
                ax.text(fx, fy, str(k), color="magenta", fontsize=6)
            ax.set_title(f"{exp}\n{row.condition}, n={row.set_size}: {int(row.fixations)} fix.", fontsize=6)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_diets(indices: pd.DataFrame, diets: Sequence[str], agreement: pd.DataFrame | None = None):
    return plot_indices(indices, diets, title="asymmetry index (eccNET)", by="diet", agreement=agreement)
