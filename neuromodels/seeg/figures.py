"""Figures of the evaluate step: electrodes on a glass brain, held-out r by time bin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CLASS_COLOURS = {"multimodal": "#d62728", "vision": "#1f77b4", "language": "#2ca02c", "none": "#bbbbbb"}


def glass_brain(path: str | Path, table: pd.DataFrame, title: str) -> None:
    """Electrodes on a glass brain (nilearn ``plot_markers``), coloured by winning model class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    from ..core.io import save_figure

    placed = np.isfinite(table[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float)).all(axis=1)
    if not placed.all():
        title = f"{title}; {int((~placed).sum())} of {len(table)} electrodes without MNI coordinates not drawn"
    table = table[placed]
    fig = plt.figure(figsize=(10, 4))
    if table.empty:
        fig.text(0.5, 0.5, f"{title}\nno electrode with MNI coordinates to draw", ha="center", va="center")
        save_figure(path, fig)
        return
    order = ["none", "vision", "language", "multimodal"]
    codes = table["winner"].map({c: i for i, c in enumerate(order)}).to_numpy(float)
    draw = np.argsort(codes, kind="stable")  # multimodal sites drawn last, on top
    codes = codes[draw]
    cmap = matplotlib.colors.ListedColormap([CLASS_COLOURS[c] for c in order])
    coords = table[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float)[draw]
    display = plotting.plot_markers(
        codes,
        coords,
        node_cmap=cmap,
        node_vmin=-0.5,
        node_vmax=3.5,
        node_size=np.where(codes == 3, 40, 15),
        display_mode="lzr",
        figure=fig,
        title=title,
        colorbar=False,
        alpha=0.9,
    )
    handles = [matplotlib.lines.Line2D([], [], marker="o", ls="", color=CLASS_COLOURS[c], label=c) for c in order]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    del display
    save_figure(path, fig)


def r_by_bin_figure(
    path: str | Path,
    curves: dict[str, dict[str, np.ndarray]],
    edges: np.ndarray,
    electrodes: pd.DataFrame,
    picks: list[int],
    models: list[str],
    note: str = "",
) -> None:
    """Held-out r (95% bootstrap CI) by time bin for a few electrodes, both alignments; ``note`` is shown above
    (e.g. that no electrode has signal), or alone when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.io import save_figure

    alignments = list(curves)
    picks = [e for e in picks if 0 <= e < len(electrodes)]
    if not picks or not models:
        fig = plt.figure(figsize=(6, 2.5))
        fig.text(
            0.5,
            0.5,
            note or f"nothing to show: {len(electrodes)} electrodes, models {models}",
            ha="center",
            va="center",
            wrap=True,
        )
        save_figure(path, fig)
        return
    fig, axes = plt.subplots(
        len(picks), len(alignments), figsize=(4.5 * len(alignments), 2.2 * len(picks)), squeeze=False, sharex=True
    )
    centres = edges.mean(1)
    for i, e in enumerate(picks):
        for j, al in enumerate(alignments):
            ax = axes[i, j]
            for m in models:
                if m not in curves[al]:
                    continue
                (line,) = ax.plot(centres, curves[al][m][e], label=m)
                ax.fill_between(
                    centres, curves[al][f"{m}_lo"][e], curves[al][f"{m}_hi"][e], color=line.get_color(), alpha=0.15
                )
            ax.axhline(0, color="k", lw=0.5)
            row = electrodes.iloc[e]
            ax.set_title(f"sub {row['subject']} {row['Electrode']} ({row.get('truth', '?')}), {al}", fontsize=8)
            if j == 0:
                ax.set_ylabel("held-out r")
    for ax in axes[-1]:
        ax.set_xlabel("time from event (s, bin centre)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    if note:
        fig.suptitle(note, fontsize=9)
    save_figure(path, fig)
