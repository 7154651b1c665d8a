"""The evaluate step: the test ladder on both alignments, per-electrode tables, region counts, figures and,
for simulated data, detection scores against the planted classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.io import write_json, write_table
from ..core.runtime import get_logger
from .evaluate import detection_scores, glass_brain, ladder, r_by_bin_figure, winning_class
from .presets import get_preset
from .train import load_targets

log = get_logger(__name__)


def _load_encoded(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    with np.load(path) as z:
        preds = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("pred/")}
        modalities = dict(s.split("=", 1) for s in z["modalities"].tolist())
    return preds, modalities


def evaluate_all(targets: Sequence[str], encoded: Sequence[str], truth_path: str | None, out_dir: str | Path,
                 preset_name: str, params: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Write ``electrodes.csv``, ``regions.csv``, ``summary.json``, ``glass_brain.png``, ``r_by_bin.png`` under
    ``out_dir``; return the summary."""
    out = Path(out_dir)
    preset = get_preset(preset_name)
    n_boot = params.get("n_boot") or preset.n_boot
    min_bins = params.get("min_bins") or preset.min_bins
    mm = params.get("multimodal_model", "clip")
    tables, curves, electrodes, edges, modalities = {}, {}, None, None, {}
    for alignment, tpath, epath in zip(("language", "vision"), targets, encoded):
        t = load_targets(tpath)
        preds, modalities = _load_encoded(epath)
        Y = t.Y.reshape(len(t.Y), -1)
        n_el = t.Y.shape[1]
        table, curve = ladder(Y, preds, n_el, modalities, mm, n_boot, min_bins, params.get("q", 0.05), seed)
        tables[alignment], curves[alignment] = table, curve
        electrodes, edges = t.electrodes, t.edges
        log.info("%s alignment: %d events, %d electrodes, %d bins, %d bootstrap resamples", alignment, len(Y),
                 n_el, t.Y.shape[2], n_boot)
    el = electrodes[["subject", "Electrode", "Region", "MNI_x", "MNI_y", "MNI_z"]].copy()
    for alignment, table in tables.items():
        for col in table:
            el[f"{alignment}:{col}"] = table[col].to_numpy()
    tests = [c.split(":", 1)[1] for c in el if c.startswith("language:") and el[c].dtype == bool]
    for test in tests:
        cols = [f"{a}:{test}" for a in tables if f"{a}:{test}" in el]
        el[f"{test}_any"] = el[cols].any(axis=1)
        el[f"{test}_both"] = el[cols].all(axis=1)
    for m in modalities:
        cols = [f"{a}:r_{m}" for a in tables if f"{a}:r_{m}" in el]
        el[f"r_{m}_best"] = el[cols].max(axis=1)
    el["winner"] = [winning_class(row, modalities) for _, row in el.iterrows()]
    if truth_path:
        truth = pd.read_csv(truth_path)
        el = el.merge(truth[["subject", "Electrode", "class"]].rename(columns={"class": "truth"}),
                      on=["subject", "Electrode"], how="left")
    write_table(out / "electrodes.csv", el)

    regions = el.groupby("Region").agg(electrodes=("Electrode", "size"),
                                       with_signal=("signal_any", "sum"),
                                       multimodal_weak=("multimodal_site_any", "sum"),
                                       multimodal_strict=("multimodal_site_both", "sum"),
                                       **({"controlled": ("controlled_any", "sum")} if "controlled_any" in el
                                          else {})).reset_index()
    write_table(out / "regions.csv", regions.sort_values("multimodal_weak", ascending=False))

    summary: dict[str, Any] = {
        "electrodes": len(el), "n_boot": n_boot, "min_bins": min_bins, "multimodal_model": mm,
        "with_signal": int(el["signal_any"].sum()),
        "multimodal_weak": int(el["multimodal_site_any"].sum()),
        "multimodal_strict": int(el["multimodal_site_both"].sum()),
        "controlled_slip_vs_simclr": int(el["controlled_any"].sum()) if "controlled_any" in el else None,
        "controlled_and_multimodal_site": (int((el["controlled_any"] & el["multimodal_site_any"]).sum())
                                           if "controlled_any" in el else None),
    }
    trained_vs_random = {}
    for m in modalities:
        if f"{m}_vs_random_any" in el:
            sig = el["signal_any"]
            dr = el[f"r_{m}_best"] - el.get(f"r_{m}-random_best", np.nan)
            trained_vs_random[m] = {"electrodes_with_signal": int(sig.sum()),
                                    "trained_beats_random": int((el[f"{m}_vs_random_any"] & sig).sum()),
                                    "mean_delta_r_on_signal": float(dr[sig].mean()) if sig.any() else None}
    summary["trained_vs_random"] = trained_vs_random
    if truth_path:
        summary["detection"] = _detection(el, modalities)
    write_json(out / "summary.json", summary)

    glass_brain(out / "glass_brain.png", el, f"winning model class ({mm} as the multimodal model)")
    picks = []
    for klass in ("multimodal", "vision", "language", "noise"):
        col = "truth" if "truth" in el else "winner"
        idx = np.flatnonzero(el[col].to_numpy() == klass)
        if idx.size:
            best = idx[np.argmax(el.loc[idx, "r_" + mm + "_best"].to_numpy() if f"r_{mm}_best" in el
                                 else np.zeros(idx.size))]
            picks.append(int(best))
    shown = [m for m in (mm, f"{mm}-random", f"{mm}-towers", "simclr", "minilm", "concat", "lincomb")
             if m in curves["language"]]
    r_by_bin_figure(out / "r_by_bin.png", curves, edges, el, picks, shown)
    log.info("summary: %s", summary)
    return summary


def _detection(el: pd.DataFrame, modalities: dict[str, str]) -> dict[str, Any]:
    truth = el["truth"].fillna("noise").to_numpy()
    planted_mm = truth == "multimodal"
    out: dict[str, Any] = {
        "multimodal_weak": detection_scores(el["multimodal_site_any"].to_numpy(bool), planted_mm),
        "multimodal_strict": detection_scores(el["multimodal_site_both"].to_numpy(bool), planted_mm),
        "unimodal_called_multimodal": int((el["multimodal_site_any"] & np.isin(truth, ["vision", "language"])).sum()),
    }
    if "controlled_any" in el:
        out["controlled"] = detection_scores(el["controlled_any"].to_numpy(bool), planted_mm)
    driven = {"vision": "vision", "language": "language", "multimodal": "multimodal"}
    per_class = {}
    for klass, modality in driven.items():
        sel = truth == klass
        models = [m for m, mod in modalities.items() if mod == modality and f"{m}_vs_random_any" in el]
        per_class[klass] = {m: {"electrodes": int(sel.sum()),
                                "trained_beats_random": int(el.loc[sel, f"{m}_vs_random_any"].sum()),
                                "mean_delta_r": float((el.loc[sel, f"r_{m}_best"]
                                                       - el.loc[sel, f"r_{m}-random_best"]).mean())
                                if sel.any() else None} for m in models}
    out["trained_vs_random_on_driven"] = per_class
    out["signal_recall"] = float(el.loc[truth != "noise", "signal_any"].mean())
    out["signal_on_noise"] = int(el.loc[truth == "noise", "signal_any"].sum())
    return out
