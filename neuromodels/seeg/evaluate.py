"""The evaluate step: the test ladder on both alignments, per-electrode tables, region counts, the compared
models with their random-init seeds, figures and, for simulated data, detection scores against the planted classes
and the headline findings (:mod:`neuromodels.core.findings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.findings import Summary, read_summary, write_summary
from ..core.io import write_json, write_table
from ..core.runtime import get_logger
from .figures import glass_brain, r_by_bin_figure
from .ladder import detection_scores, ladder, winning_class
from .presets import get_preset
from .stats import default_block
from .targets import load_targets

log = get_logger(__name__)
# The planted classes whose drive a model of each modality sees (a dual encoder sees images and words).
DRIVEN_FOR = {"vision": ("vision",), "language": ("language",), "multimodal": ("vision", "language", "multimodal")}
# Headline thresholds (the issue's): detection of planted multimodal electrodes, and the share of driven
# electrodes on which a trained model beats its random-init copy.
DETECTION_THRESHOLD = 0.8
TRAINED_BEATS_RANDOM_THRESHOLD = 0.5


def _load_encoded(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    with np.load(path) as z:
        preds = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("pred/")}
        modalities = dict(s.split("=", 1) for s in z["modalities"].tolist())
        seeds = dict(s.split("=", 1) for s in z["random_init_seeds"].tolist()) if "random_init_seeds" in z.files \
            else {}
    return preds, modalities, seeds


def evaluate_all(targets: Sequence[str], encoded: Sequence[str], truth_path: str | None, out_dir: str | Path,
                 preset_name: str, params: dict[str, Any], seed: int = 0) -> Summary:
    """Write ``electrodes.csv``, ``regions.csv``, ``models.csv``, ``references.csv`` (what each contact of each
    trial was referenced to), ``details.json``, ``summary.json`` (the findings), ``glass_brain.png``,
    ``r_by_bin.png`` under ``out_dir``; return the findings."""
    out = Path(out_dir)
    preset = get_preset(preset_name)
    n_boot = params.get("n_boot") or preset.n_boot
    min_bins = params.get("min_bins") or preset.min_bins
    mm = params.get("multimodal_model", "clip")
    tables, curves, electrodes, edges, modalities, seeds, counts = {}, {}, None, None, {}, {}, {}
    references = pd.DataFrame()
    blocks = {}
    for alignment, tpath, epath in zip(("language", "vision"), targets, encoded):
        t = load_targets(tpath)
        preds, modalities, seeds = _load_encoded(epath)
        Y = t.Y.reshape(len(t.Y), -1)
        n_el = t.Y.shape[1]
        blocks[alignment] = params.get("bootstrap_block") or default_block(len(Y))
        vis = [m for m, mod in modalities.items() if mod == "vision" and not m.endswith("-random")]
        lang = [m for m, mod in modalities.items() if mod == "language" and not m.endswith("-random")]
        pair = f"{vis[0]}+{lang[0]}" if vis and lang and f"{vis[0]}+{lang[0]}" in preds else None
        table, curve = ladder(Y, preds, n_el, modalities, mm, n_boot, min_bins, params.get("q", 0.05), seed,
                              block=blocks[alignment], pair=pair)
        tables[alignment], curves[alignment] = table, curve
        electrodes, edges, counts[alignment], references = t.electrodes, t.edges, t.counts, t.references
        log.info("%s alignment: %d events, %d electrodes, %d bins, %d block-bootstrap resamples of %d-event blocks",
                 alignment, len(Y), n_el, t.Y.shape[2], n_boot, blocks[alignment])
    el = electrodes[["subject", "Electrode", "Region", "MNI_x", "MNI_y", "MNI_z"]].copy()
    for alignment, table in tables.items():
        for col in table:
            el[f"{alignment}:{col}"] = table[col].to_numpy()
    tests = sorted({c.split(":", 1)[1] for c in el if ":" in c and el[c].dtype == bool})
    for test in tests:
        cols = [f"{a}:{test}" for a in tables if f"{a}:{test}" in el]
        el[f"{test}_any"] = el[cols].any(axis=1)
        el[f"{test}_both"] = el[cols].all(axis=1)
    compared = sorted({c.split(":r_", 1)[1] for c in el if ":r_" in c})
    for m in compared:
        cols = [f"{a}:r_{m}" for a in tables if f"{a}:r_{m}" in el]
        el[f"r_{m}_best"] = el[cols].max(axis=1)
    el["winner"] = [winning_class(row, modalities) for _, row in el.iterrows()]
    candidates = [m for m in compared if (m in modalities or "+" in m) and not m.endswith("-random")
                  and "-random+" not in m]
    el["best_model"] = el[[f"r_{m}_best" for m in candidates]].idxmax(axis=1).str.removeprefix("r_") \
        .str.removesuffix("_best")
    not_analysed: dict[str, int] = {}
    if truth_path:
        truth = pd.read_csv(truth_path)
        # planted electrodes the targets leave out (no neighbour on each side, bad): neither found nor missed
        analysed = set(zip(el["subject"], el["Electrode"].astype(str)))
        left = [k not in analysed for k in zip(truth["subject"], truth["Electrode"].astype(str))]
        not_analysed = {str(k): int(v) for k, v in truth.loc[left, "class"].value_counts().items()}
        el = el.merge(truth[["subject", "Electrode", "class"]].rename(columns={"class": "truth"}),
                      on=["subject", "Electrode"], how="left")
    write_table(out / "electrodes.csv", el)

    agg = {"electrodes": ("Electrode", "size"), "with_signal": ("signal_any", "sum"),
           "multimodal_weak": ("multimodal_site_any", "sum"), "multimodal_strict": ("multimodal_site_both", "sum")}
    if "controlled_any" in el:
        agg["controlled"] = ("controlled_any", "sum")
    regions = el.groupby("Region").agg(**agg).reset_index()
    write_table(out / "regions.csv", regions.sort_values("multimodal_weak", ascending=False))
    models = pd.DataFrame([{"model": m, "modality": mod, "trained": not m.endswith("-random"),
                            "random_init_seed": seeds.get(m, "")} for m, mod in modalities.items()])
    write_table(out / "models.csv", models)
    write_table(out / "references.csv", references)

    details: dict[str, Any] = {
        "electrodes": len(el), "n_boot": n_boot, "bootstrap_block_events": blocks, "min_bins": min_bins,
        "fdr": "Benjamini-Hochberg (scipy.stats.false_discovery_control) over all electrode x time-bin tests of one "
               "comparison in one alignment", "q": params.get("q", 0.05), "multimodal_model": mm,
        "with_signal": int(el["signal_any"].sum()),
        "multimodal_weak": int(el["multimodal_site_any"].sum()),
        "multimodal_strict": int(el["multimodal_site_both"].sum()),
        "integration_sites_of_the_unimodal_pair": int(el["integration_site_any"].sum())
        if "integration_site_any" in el else None,
        "controlled_slip_vs_simclr": int(el["controlled_any"].sum()) if "controlled_any" in el else None,
        "random_init_seeds": seeds, "targets": counts,
    }
    summary = Summary("seeg", preset=preset_name, seed=seed)
    unplaced = int((~np.isfinite(el[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float)).all(axis=1)).sum())
    summary.notes.update({"targets": counts, "random_init_seeds": seeds, "multimodal_model": mm,
                          "electrodes_with_signal": int(el["signal_any"].sum()) if "signal_any" in el else 0,
                          "electrodes_without_coordinates_not_drawn": unplaced})
    if "signal_any" in el and not el["signal_any"].any():
        log.warning("no electrode with signal (0 of %d); tables and figures written, the figures say so", len(el))
    if truth_path:
        details["detection"] = _detection(el, modalities)
        details["detection"]["planted_not_analysed"] = not_analysed
        _findings(summary, details["detection"], el, mm)
    write_json(out / "details.json", details)
    write_summary(out / "summary.json", summary)

    glass_brain(out / "glass_brain.png", el, f"winning model class ({mm} as the multimodal model)")
    picks = []
    for klass in ("multimodal", "vision", "language", "noise"):
        col = "truth" if "truth" in el else "winner"
        idx = np.flatnonzero(el[col].to_numpy() == klass)
        if idx.size:
            best = idx[np.argmax(el.loc[idx, f"r_{mm}_best"].to_numpy() if f"r_{mm}_best" in el
                                 else np.zeros(idx.size))]
            picks.append(int(best))
    n_signal = int(el["signal_any"].sum()) if "signal_any" in el else 0
    note = "" if n_signal else (f"no electrode with signal (0 of {len(el)}): no model predicts any electrode "
                                f"above chance in {min_bins}+ bins")
    if not picks and len(el):  # nothing of any class: show the electrode the multimodal model predicts best
        best = el[f"r_{mm}_best"].to_numpy(float) if f"r_{mm}_best" in el else np.zeros(len(el))
        picks = [int(np.nanargmax(best)) if np.isfinite(best).any() else 0]
    shown = [m for m in (mm, f"{mm}-random", f"{mm}-towers", "simclr+minilm", "simclr", "minilm", "concat",
                         "lincomb") if m in curves["language"]]
    r_by_bin_figure(out / "r_by_bin.png", curves, edges, el, picks, shown, note)
    log.info("details: %s", details)
    return summary


def _detection(el: pd.DataFrame, modalities: dict[str, str]) -> dict[str, Any]:
    truth = el["truth"].fillna("noise").to_numpy()
    planted_mm = truth == "multimodal"
    out: dict[str, Any] = {
        "multimodal_weak": detection_scores(el["multimodal_site_any"].to_numpy(bool), planted_mm),
        "multimodal_strict": detection_scores(el["multimodal_site_both"].to_numpy(bool), planted_mm),
        "unimodal_called_multimodal": int((el["multimodal_site_any"] & np.isin(truth, ["vision", "language"])).sum()),
    }
    if "integration_site_any" in el:
        out["integration_by_unimodal_pair"] = detection_scores(el["integration_site_any"].to_numpy(bool), planted_mm)
    if "mm_vs_pair_any" in el:
        out["multimodal_model_beats_unimodal_pair_on_planted_multimodal"] = int(el.loc[planted_mm,
                                                                                      "mm_vs_pair_any"].sum())
    if "controlled_any" in el:
        out["controlled"] = detection_scores(el["controlled_any"].to_numpy(bool), planted_mm)
    per_model = {}
    tested = [c.removesuffix("_vs_random_any") for c in el if c.endswith("_vs_random_any")]
    for m in tested:
        sel = np.isin(truth, DRIVEN_FOR["multimodal" if "+" in m else modalities.get(m, "multimodal")])
        control = "+".join(f"{p}-random" for p in m.split("+"))
        per_model[m] = {"driven_electrodes": int(sel.sum()),
                        "trained_beats_random": int(el.loc[sel, f"{m}_vs_random_any"].sum()),
                        "fraction": float(el.loc[sel, f"{m}_vs_random_any"].mean()) if sel.any() else float("nan"),
                        "mean_delta_r": float((el.loc[sel, f"r_{m}_best"] - el.loc[sel, f"r_{control}_best"]).mean())
                        if sel.any() else float("nan"),
                        "classes": sorted({str(x) for x in truth[sel]})}
    out["trained_vs_random_on_driven"] = per_model
    wins = {}
    for klass in ("vision", "language", "multimodal", "noise"):
        sel = truth == klass
        if sel.any():
            wins[klass] = el.loc[sel, "best_model"].value_counts().to_dict()
    out["best_model_by_planted_class"] = wins
    out["signal_recall"] = float(el.loc[truth != "noise", "signal_any"].mean())
    out["signal_on_noise"] = int(el.loc[truth == "noise", "signal_any"].sum())
    return out


# What the runs measured about trained vs random-init copies (tiny preset and default-size recordings): the dual
# encoders predict the driven electrodes better than their random copies on average, on a minority of them
# significantly; SimCLR never beats its random copy on the planted vision electrodes (a random ViT carries the
# low-level attributes of the vision mixture as well); MiniLM and its random copy are level on the language
# electrodes (the random copy's token embeddings already carry word identity, all the language drive uses).
# Each is a finding with the value it measured, so a change in either direction shows.
TRAINED_VS_RANDOM_CLAIMS = {
    "clip": ("mean_delta_r", "above", 0.0, "trained CLIP predicts the driven electrodes better than its random-init "
             "copy: mean delta r"),
    "slip": ("mean_delta_r", "above", 0.0, "trained SLIP predicts the driven electrodes better than its random-init "
             "copy: mean delta r"),
    "simclr": ("fraction", "below", TRAINED_BEATS_RANDOM_THRESHOLD, "trained SimCLR does not beat its random-init "
               "copy on most planted vision electrodes: fraction where it does"),
    "minilm": ("abs_mean_delta_r", "below", 0.1, "trained MiniLM and its random-init copy are level on the planted "
               "language electrodes: |mean delta r|"),
}


def _findings(summary: Summary, det: dict[str, Any], el: pd.DataFrame, mm: str) -> None:
    weak = det["multimodal_weak"]
    summary.add(f"planted multimodal electrodes found ({mm} beats unimodal models, concatenation, linear "
                "combination and its own towers): precision", weak["precision"], DETECTION_THRESHOLD - 1e-9,
                detail=f"{weak['true_positives']} of {weak['called']} called electrodes are planted multimodal; "
                       f"needs >= {DETECTION_THRESHOLD}")
    left = det.get("planted_not_analysed", {}).get("multimodal", 0)
    summary.add("planted multimodal electrodes found: recall", weak["recall"], DETECTION_THRESHOLD - 1e-9,
                detail=f"{weak['true_positives']} of {weak['planted']} planted multimodal electrodes called; "
                       f"needs >= {DETECTION_THRESHOLD}" + (f"; {left} more planted at contacts without a neighbour on "
                                                           f"each side are not analysed (seeg.edge_contacts)"
                                                           if left else ""))
    for m, row in det["trained_vs_random_on_driven"].items():
        if m not in TRAINED_VS_RANDOM_CLAIMS:
            continue
        key, direction, threshold, text = TRAINED_VS_RANDOM_CLAIMS[m]
        value = abs(row["mean_delta_r"]) if key == "abs_mean_delta_r" else row[key]
        summary.add(text, value, threshold, direction,
                    detail=f"trained beats random significantly on {row['trained_beats_random']} of "
                           f"{row['driven_electrodes']} driven electrodes ({', '.join(row['classes'])}; fraction "
                           f"{row['fraction']:.2f}, the issue's bar {TRAINED_BEATS_RANDOM_THRESHOLD}); mean delta r "
                           f"{row['mean_delta_r']:.3f}")
    summary.notes["detection"] = det


def combine_summaries(paths: Sequence[str | Path], out: str | Path) -> Summary:
    """The family's ``summary.json``: the findings of every seed's evaluation (prefixed by the seed when there
    are several)."""
    combined = Summary("seeg")
    for path in paths:
        part = read_summary(path)
        combined.preset = part.get("preset")
        prefix = f"seed {part.get('seed')}: " if len(paths) > 1 else ""
        combined.seed = part.get("seed") if len(paths) == 1 else None
        for f in part["findings"]:
            combined.add(prefix + f["finding"], f["value"], f["threshold"], f.get("direction", "above"),
                         f.get("detail", ""))
        combined.notes[f"seed{part.get('seed')}"] = part.get("notes", {})
    write_summary(out, combined)
    return combined
