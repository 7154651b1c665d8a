"""The test ladder per electrode, tables and figures.

Tests (each per electrode and alignment: a model comparison is significant in a time bin when the paired
bootstrap difference of held-out Pearson r is above zero after FDR across the electrode's bins; the electrode
passes when it has at least ``min_bins`` such bins):

1. ``signal``: the best trained model's r > 0;
2. ``trained_vs_random``: each trained model beats its random-init copy (on electrodes with signal);
3. ``mm_vs_unimodal``: the multimodal model beats the better unimodal model in that bin (vision or language);
4. ``mm_vs_concat`` and ``mm_vs_lincomb``: it beats the concatenated unimodal features and the linear combination
   of unimodal predictions; ``mm_vs_own_towers``: it beats its own image and text towers side by side without
   their product (so a better image or text tower alone does not make a site multimodal);
5. ``controlled``: SLIP (image-text + image-image objective) beats SimCLR (image-image only), same ViT and data.

An electrode is a multimodal site (weak) when 3 and 4 pass in at least one alignment, strict when in both.
``controlled`` counts SLIP > SimCLR as in the paper; it is not specific to integration (SLIP also has a text tower).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.runtime import get_logger
from . import stats
from .ridge import pearson_r

log = get_logger(__name__)
CLASS_COLOURS = {"multimodal": "#d62728", "vision": "#1f77b4", "language": "#2ca02c", "none": "#bbbbbb"}


def ladder(Y: np.ndarray, preds: dict[str, np.ndarray], n_electrodes: int, modalities: dict[str, str],
           multimodal: str, n_boot: int = 1000, min_bins: int = 4, q: float = 0.05, seed: int = 0,
           controlled: tuple[str, str] = ("slip", "simclr")) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Run the test ladder for one alignment.

    Parameters
    ----------
    Y : (events, electrodes * bins) targets, electrode-major
    preds : model or baseline name -> held-out predictions, same shape
    multimodal : the multimodal model tested against the unimodal ones and the baselines

    Returns
    -------
    table : one row per electrode: pass/fail of each test, number of significant bins, peak r per model
    curves : name -> (electrodes, bins) r; ``{name}_lo`` / ``{name}_hi`` 95% bootstrap CIs
    """
    weights = stats.bootstrap_weights(len(Y), n_boot, seed)
    boot = {m: stats.bootstrap_r(Y, p, weights) for m, p in preds.items()}
    r = {m: pearson_r(Y, p) for m, p in preds.items()}
    table = pd.DataFrame(index=range(n_electrodes))
    curves: dict[str, np.ndarray] = {}
    for m in preds:
        curves[m] = r[m].reshape(n_electrodes, -1)
        lo, hi = stats.confidence_interval(boot[m])
        curves[f"{m}_lo"], curves[f"{m}_hi"] = lo.reshape(n_electrodes, -1), hi.reshape(n_electrodes, -1)
        table[f"r_{m}"] = curves[m].max(1)

    def test(name: str, diff: np.ndarray) -> None:
        sig = stats.significant_bins(diff, n_electrodes, q)
        table[f"bins_{name}"] = sig.sum(1)
        table[name] = sig.sum(1) >= min_bins

    trained = [m for m in preds if m in modalities and not m.endswith("-random")]
    best_trained = np.stack([r[m] for m in trained]).argmax(0)
    best_boot = np.take_along_axis(np.stack([boot[m] for m in trained]), best_trained[None, None], 0)[0]
    test("signal", best_boot)
    for m in trained:
        if f"{m}-random" in preds:
            test(f"{m}_vs_random", boot[m] - boot[f"{m}-random"])
    uni = [m for m in trained if modalities[m] in ("vision", "language")]
    if multimodal in preds and uni:
        best_uni = np.stack([r[m] for m in uni]).argmax(0)
        uni_boot = np.take_along_axis(np.stack([boot[m] for m in uni]), best_uni[None, None], 0)[0]
        test("mm_vs_unimodal", boot[multimodal] - uni_boot)
        for base in ("concat", "lincomb"):
            if base in preds:
                test(f"mm_vs_{base}", boot[multimodal] - boot[base])
        if f"{multimodal}-towers" in preds:
            test("mm_vs_own_towers", boot[multimodal] - boot[f"{multimodal}-towers"])
        needed = [c for c in ("mm_vs_unimodal", "mm_vs_concat", "mm_vs_lincomb", "mm_vs_own_towers") if c in table]
        table["multimodal_site"] = table[needed].all(axis=1)
    a, b = controlled
    if a in preds and b in preds:
        test("controlled", boot[a] - boot[b])
    return table, curves


def winning_class(row: pd.Series, modalities: dict[str, str]) -> str:
    """Class of the electrode's best model: ``multimodal`` if it is a multimodal site, else the modality of its
    best trained unimodal model, ``none`` without signal."""
    if not row.get("signal_any", False):
        return "none"
    if row.get("multimodal_site_any", False):
        return "multimodal"
    uni = {m: row.get(f"r_{m}_best", -1) for m, mod in modalities.items()
           if mod in ("vision", "language") and not m.endswith("-random")}
    return modalities[max(uni, key=uni.get)] if uni else "none"


def detection_scores(called: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of calls (bool) against planted truth (bool)."""
    tp = int((called & truth).sum())
    return {"precision": tp / max(int(called.sum()), 1), "recall": tp / max(int(truth.sum()), 1),
            "called": int(called.sum()), "planted": int(truth.sum()), "true_positives": tp}


def glass_brain(path: str | Path, table: pd.DataFrame, title: str) -> None:
    """Electrodes on a glass brain (nilearn ``plot_markers``), coloured by winning model class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    from ..core.io import save_figure

    fig = plt.figure(figsize=(10, 4))
    order = ["none", "vision", "language", "multimodal"]
    codes = table["winner"].map({c: i for i, c in enumerate(order)}).to_numpy(float)
    draw = np.argsort(codes, kind="stable")  # multimodal sites drawn last, on top
    codes = codes[draw]
    cmap = matplotlib.colors.ListedColormap([CLASS_COLOURS[c] for c in order])
    coords = table[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float)[draw]
    display = plotting.plot_markers(codes, coords, node_cmap=cmap, node_vmin=-0.5, node_vmax=3.5,
                                    node_size=np.where(codes == 3, 40, 15), display_mode="lzr", figure=fig,
                                    title=title, colorbar=False, alpha=0.9)
    handles = [matplotlib.lines.Line2D([], [], marker="o", ls="", color=CLASS_COLOURS[c], label=c) for c in order]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    del display
    save_figure(path, fig)


def r_by_bin_figure(path: str | Path, curves: dict[str, dict[str, np.ndarray]], edges: np.ndarray,
                    electrodes: pd.DataFrame, picks: list[int], models: list[str]) -> None:
    """Held-out r (95% bootstrap CI) by time bin for a few electrodes, both alignments."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.io import save_figure

    alignments = list(curves)
    fig, axes = plt.subplots(len(picks), len(alignments), figsize=(4.5 * len(alignments), 2.2 * len(picks)),
                             squeeze=False, sharex=True)
    centres = edges.mean(1)
    for i, e in enumerate(picks):
        for j, al in enumerate(alignments):
            ax = axes[i, j]
            for m in models:
                if m not in curves[al]:
                    continue
                line, = ax.plot(centres, curves[al][m][e], label=m)
                ax.fill_between(centres, curves[al][f"{m}_lo"][e], curves[al][f"{m}_hi"][e],
                                color=line.get_color(), alpha=0.15)
            ax.axhline(0, color="k", lw=0.5)
            row = electrodes.iloc[e]
            ax.set_title(f"sub {row['subject']} {row['Electrode']} ({row.get('truth', '?')}), {al}", fontsize=8)
            if j == 0:
                ax.set_ylabel("held-out r")
    for ax in axes[-1]:
        ax.set_xlabel("time from event (s, bin centre)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    save_figure(path, fig)
