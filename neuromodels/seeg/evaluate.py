"""The evaluate step: the test ladder on both alignments, per-electrode tables, region counts, the compared
models with their random-init seeds, figures, detection scores against the planted classes (simulated data) and
the seed's statistics (:mod:`neuromodels.core.findings`) that the family's claims registry (``claims.yaml``) is
evaluated on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
DRIVEN_FOR = {
    "vision": ("vision", "semantic_vision"),
    "language": ("language", "semantic_language"),
    "multimodal": ("vision", "language", "semantic_vision", "semantic_language", "multimodal"),
}
# The same split by level (simulated recordings): the semantic classes (category, word meaning: what training
# gives) and the low-level ones (attributes and word identities a random network carries too).
SPLITS = {
    "semantic": {
        "vision": ("semantic_vision",),
        "language": ("semantic_language",),
        "multimodal": ("semantic_vision", "semantic_language"),
    },
    "low_level": {"vision": ("vision",), "language": ("language",), "multimodal": ("vision", "language")},
}
PLANTED_CLASSES = ("vision", "language", "semantic_vision", "semantic_language", "multimodal", "noise")


def _load_encoded(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    with np.load(path) as z:
        preds = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith("pred/")}
        modalities = dict(s.split("=", 1) for s in z["modalities"].tolist())
        seeds = dict(s.split("=", 1) for s in z["random_init_seeds"].tolist()) if "random_init_seeds" in z.files else {}
    return preds, modalities, seeds


def evaluate_all(
    targets: Sequence[str],
    encoded: Sequence[str],
    truth_path: str | None,
    out_dir: str | Path,
    preset_name: str,
    params: dict[str, Any],
    seed: int = 0,
) -> Summary:
    """Write ``electrodes.csv``, ``regions.csv``, ``models.csv``, ``references.csv`` (what each contact of each
    trial was referenced to), ``details.json``, ``summary.json`` (the seed's statistics), ``glass_brain.png``,
    ``r_by_bin.png`` under ``out_dir``; return the seed's statistics."""
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
        table, curve = ladder(
            Y,
            preds,
            n_el,
            modalities,
            mm,
            n_boot,
            min_bins,
            params.get("q", 0.05),
            seed,
            block=blocks[alignment],
            pair=pair,
        )
        tables[alignment], curves[alignment] = table, curve
        electrodes, edges, counts[alignment], references = t.electrodes, t.edges, t.counts, t.references
        log.info(
            "%s alignment: %d events, %d electrodes, %d bins, %d block-bootstrap resamples of %d-event blocks",
            alignment,
            len(Y),
            n_el,
            t.Y.shape[2],
            n_boot,
            blocks[alignment],
        )
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
    candidates = [
        m for m in compared if (m in modalities or "+" in m) and not m.endswith("-random") and "-random+" not in m
    ]
    el["best_model"] = (
        el[[f"r_{m}_best" for m in candidates]].idxmax(axis=1).str.removeprefix("r_").str.removesuffix("_best")
    )
    not_analysed: dict[str, int] = {}
    if truth_path:
        truth = pd.read_csv(truth_path)
        # planted electrodes the targets leave out (no neighbour on each side, bad): neither found nor missed
        analysed = set(zip(el["subject"], el["Electrode"].astype(str)))
        left = [k not in analysed for k in zip(truth["subject"], truth["Electrode"].astype(str))]
        not_analysed = {str(k): int(v) for k, v in truth.loc[left, "class"].value_counts().items()}
        el = el.merge(
            truth[["subject", "Electrode", "class"]].rename(columns={"class": "truth"}),
            on=["subject", "Electrode"],
            how="left",
        )
    write_table(out / "electrodes.csv", el)

    agg = {
        "electrodes": ("Electrode", "size"),
        "with_signal": ("signal_any", "sum"),
        "multimodal_weak": ("multimodal_site_any", "sum"),
        "multimodal_strict": ("multimodal_site_both", "sum"),
    }
    if "controlled_any" in el:
        agg["controlled"] = ("controlled_any", "sum")
    regions = el.groupby("Region").agg(**agg).reset_index()
    write_table(out / "regions.csv", regions.sort_values("multimodal_weak", ascending=False))
    models = pd.DataFrame(
        [
            {"model": m, "modality": mod, "trained": not m.endswith("-random"), "random_init_seed": seeds.get(m, "")}
            for m, mod in modalities.items()
        ]
    )
    write_table(out / "models.csv", models)
    write_table(out / "references.csv", references)

    details: dict[str, Any] = {
        "electrodes": len(el),
        "n_boot": n_boot,
        "bootstrap_block_events": blocks,
        "min_bins": min_bins,
        "fdr": "Benjamini-Hochberg (scipy.stats.false_discovery_control) over all electrode x time-bin tests of one "
        "comparison in one alignment",
        "q": params.get("q", 0.05),
        "multimodal_model": mm,
        "with_signal": int(el["signal_any"].sum()),
        "multimodal_weak": int(el["multimodal_site_any"].sum()),
        "multimodal_strict": int(el["multimodal_site_both"].sum()),
        "integration_sites_of_the_unimodal_pair": int(el["integration_site_any"].sum())
        if "integration_site_any" in el
        else None,
        "controlled_slip_vs_simclr": int(el["controlled_any"].sum()) if "controlled_any" in el else None,
        "random_init_seeds": seeds,
        "targets": counts,
    }
    summary = Summary("seeg", preset=preset_name, seed=seed)
    unplaced = int((~np.isfinite(el[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float)).all(axis=1)).sum())
    summary.notes.update(
        {
            "targets": counts,
            "random_init_seeds": seeds,
            "multimodal_model": mm,
            "electrodes_with_signal": int(el["signal_any"].sum()) if "signal_any" in el else 0,
            "electrodes_without_coordinates_not_drawn": unplaced,
        }
    )
    if "signal_any" in el and not el["signal_any"].any():
        log.warning("no electrode with signal (0 of %d); tables and figures written, the figures say so", len(el))
    if truth_path:
        details["detection"] = _detection(el, modalities)
        details["detection"]["planted_not_analysed"] = not_analysed
    measure_statistics(summary, seed, el, modalities, details.get("detection"))
    write_json(out / "details.json", details)
    write_summary(out / "summary.json", summary)

    glass_brain(out / "glass_brain.png", el, f"winning model class ({mm} as the multimodal model)")
    picks = []
    for klass in ("multimodal", "vision", "language", "noise"):
        col = "truth" if "truth" in el else "winner"
        idx = np.flatnonzero(el[col].to_numpy() == klass)
        if idx.size:
            best = idx[
                np.argmax(el.loc[idx, f"r_{mm}_best"].to_numpy() if f"r_{mm}_best" in el else np.zeros(idx.size))
            ]
            picks.append(int(best))
    n_signal = int(el["signal_any"].sum()) if "signal_any" in el else 0
    note = (
        ""
        if n_signal
        else (
            f"no electrode with signal (0 of {len(el)}): no model predicts any electrode "
            f"above chance in {min_bins}+ bins"
        )
    )
    if not picks and len(el):  # nothing of any class: show the electrode the multimodal model predicts best
        best = el[f"r_{mm}_best"].to_numpy(float) if f"r_{mm}_best" in el else np.zeros(len(el))
        picks = [int(np.nanargmax(best)) if np.isfinite(best).any() else 0]
    shown = [
        m
        for m in (mm, f"{mm}-random", f"{mm}-towers", "simclr+minilm", "simclr", "minilm", "concat", "lincomb")
        if m in curves["language"]
    ]
    r_by_bin_figure(out / "r_by_bin.png", curves, edges, el, picks, shown, note)
    log.info("details: %s", details)
    return summary


def _detection(el: pd.DataFrame, modalities: dict[str, str]) -> dict[str, Any]:
    truth = el["truth"].fillna("noise").to_numpy()
    planted_mm = truth == "multimodal"
    out: dict[str, Any] = {
        "multimodal_weak": detection_scores(el["multimodal_site_any"].to_numpy(bool), planted_mm),
        "multimodal_strict": detection_scores(el["multimodal_site_both"].to_numpy(bool), planted_mm),
        "unimodal_called_multimodal": int(
            (
                el["multimodal_site_any"]
                & np.isin(truth, ["vision", "language", "semantic_vision", "semantic_language"])
            ).sum()
        ),
    }
    if "integration_site_any" in el:
        out["integration_by_unimodal_pair"] = detection_scores(el["integration_site_any"].to_numpy(bool), planted_mm)
    if "mm_vs_pair_any" in el:
        out["multimodal_model_beats_unimodal_pair_on_planted_multimodal"] = int(
            el.loc[planted_mm, "mm_vs_pair_any"].sum()
        )
    if "controlled_any" in el:
        out["controlled"] = detection_scores(el["controlled_any"].to_numpy(bool), planted_mm)
    per_model = {}
    tested = [c.removesuffix("_vs_random_any") for c in el if c.endswith("_vs_random_any")]
    for m in tested:
        sel = np.isin(truth, DRIVEN_FOR["multimodal" if "+" in m else modalities.get(m, "multimodal")])
        control = "+".join(f"{p}-random" for p in m.split("+"))
        per_model[m] = {
            "driven_electrodes": int(sel.sum()),
            "trained_beats_random": int(el.loc[sel, f"{m}_vs_random_any"].sum()),
            "fraction": float(el.loc[sel, f"{m}_vs_random_any"].mean()) if sel.any() else None,
            "mean_delta_r": float((el.loc[sel, f"r_{m}_best"] - el.loc[sel, f"r_{control}_best"]).mean())
            if sel.any()
            else None,
            "classes": sorted({str(x) for x in truth[sel]}),
        }
        if f"{m}_vs_shuffled_any" in el:
            per_model[m]["trained_beats_shuffled_time"] = int(el.loc[sel, f"{m}_vs_shuffled_any"].sum())
    out["trained_vs_random_on_driven"] = per_model
    wins = {}
    for klass in PLANTED_CLASSES:
        sel = truth == klass
        if sel.any():
            wins[klass] = el.loc[sel, "best_model"].value_counts().to_dict()
    out["best_model_by_planted_class"] = wins
    out["signal_recall"] = float(el.loc[truth != "noise", "signal_any"].mean())
    out["signal_on_noise"] = int(el.loc[truth == "noise", "signal_any"].sum())
    return out


# The controls of every trained model: the statistic's prefix and the suffix of its predictions.
CONTROLS = {"random_init": ("-random", "random"), "shuffled_time": ("-shuffled", "shuffled")}


def driven_electrodes(el: pd.DataFrame, modality: str) -> tuple[np.ndarray, str]:
    """The electrodes a model of ``modality`` is scored on, and what they are: the planted classes its inputs
    drive (simulated recordings), else the electrodes with signal (the paper's set)."""
    if "truth" in el:
        classes = DRIVEN_FOR.get(modality, DRIVEN_FOR["multimodal"])
        return np.isin(el["truth"].fillna("noise").to_numpy(), classes), f"planted {'/'.join(classes)} electrodes"
    signal = el["signal_any"].to_numpy(bool) if "signal_any" in el else np.zeros(len(el), bool)
    return signal, "electrodes with signal"


def measure_statistics(
    summary: Summary, seed: int, el: pd.DataFrame, modalities: dict[str, str], det: dict[str, Any] | None
) -> None:
    """The seed's statistics (see ``claims.yaml``): per trained model ``m`` and its controls, the mean peak r over
    the driven electrodes (``m.mean_r.driven``, ``m_random_init.mean_r.driven``,
    ``m_shuffled_time.mean_r.driven``) and the fraction of them where the model beats the control significantly
    (``m.beats_random_init.driven``, ``m.beats_shuffled_time.driven``); the same split by level (simulated
    recordings, :data:`SPLITS`): ``.semantic`` and ``.low_level`` in place of ``.driven``, plus the absolute
    difference of the mean peak r of the model and its random-init copy on each (``m.abs_diff_random_init.semantic``
    / ``.low_level``); the precision and recall of the planted multimodal electrodes' detection
    (``multimodal_detection.precision`` / ``.recall``). A statistic over no electrode, or a precision of no call, is
    undefined with its reason (the split ones on real recordings, which have no planted classes)."""
    driven = {}
    for m, modality in modalities.items():
        if m.endswith("-random"):
            continue
        sel, what = driven_electrodes(el, modality)
        driven[m] = {"electrodes": int(sel.sum()), "of": what}
        runs = {m: f"r_{m}_best", **{f"{m}_{c}": f"r_{m}{suffix}_best" for c, (suffix, _) in CONTROLS.items()}}
        for stat, col in runs.items():
            if col not in el:
                continue
            value = float(el.loc[sel, col].mean()) if sel.any() else float("nan")
            why = (
                None
                if np.isfinite(value)
                else (f"no {what} analysed" if not sel.any() else f"peak r not finite on the {what}")
            )
            summary.measure(seed, f"{stat}.mean_r.driven", value if why is None else None, undefined=why)
        for control, (_, test) in CONTROLS.items():
            col = f"{m}_vs_{test}_any"
            if col not in el:
                continue
            if sel.any():
                summary.measure(seed, f"{m}.beats_{control}.driven", float(el.loc[sel, col].mean()))
            else:
                summary.measure(seed, f"{m}.beats_{control}.driven", None, undefined=f"no {what} analysed")
        for split, classes in SPLITS.items():
            _measure_split(summary, seed, el, m, split, classes.get(modality, classes["multimodal"]), driven[m])
    summary.notes["driven_electrodes"] = driven
    if det is None:
        return
    weak = det["multimodal_weak"]
    if weak["called"]:
        summary.measure(seed, "multimodal_detection.precision", weak["precision"])
    else:
        summary.measure(
            seed,
            "multimodal_detection.precision",
            None,
            undefined="no electrode called multimodal: the precision of no call is undefined",
        )
    if weak["planted"]:
        summary.measure(seed, "multimodal_detection.recall", weak["recall"])
    else:
        summary.measure(
            seed, "multimodal_detection.recall", None, undefined="no planted multimodal electrode is analysed"
        )
    summary.notes["detection"] = det


def _measure_split(
    summary: Summary, seed: int, el: pd.DataFrame, m: str, split: str, classes: tuple[str, ...], notes: dict[str, Any]
) -> None:
    """Model ``m``'s and its controls' statistics on the planted ``classes`` (one split, see
    :func:`measure_statistics`)."""
    what = f"planted {'/'.join(classes)} electrodes"
    if "truth" in el:
        sel = np.isin(el["truth"].fillna("noise").to_numpy(), classes)
        why = None if sel.any() else f"no {what} analysed"
        notes[split] = int(sel.sum())
    else:
        sel = np.zeros(len(el), bool)
        why = f"real recordings: no planted {split.replace('_', '-')} electrodes to score"
    means: dict[str, float | None] = {}
    runs = {m: f"r_{m}_best", **{f"{m}_{c}": f"r_{m}{suffix}_best" for c, (suffix, _) in CONTROLS.items()}}
    for stat, col in runs.items():
        if col not in el:
            continue
        value = float(el.loc[sel, col].mean()) if why is None else float("nan")
        reason = why or (None if np.isfinite(value) else f"peak r not finite on the {what}")
        means[stat] = None if reason else value
        summary.measure(seed, f"{stat}.mean_r.{split}", means[stat], undefined=reason)
    for control, (_, test) in CONTROLS.items():
        col = f"{m}_vs_{test}_any"
        if col in el:
            summary.measure(
                seed,
                f"{m}.beats_{control}.{split}",
                float(el.loc[sel, col].mean()) if why is None else None,
                undefined=why,
            )
    if m in means and f"{m}_random_init" in means:
        a, b = means[m], means[f"{m}_random_init"]
        both = a is not None and b is not None
        summary.measure(
            seed,
            f"{m}.abs_diff_random_init.{split}",
            abs(a - b) if both else None,
            undefined=None if both else (why or f"a mean peak r on the {what} is undefined"),
        )


def combine_summaries(paths: Sequence[str | Path], out: str | Path) -> Summary:
    """The family's ``summary.json``: every seed's statistics (and undefined statistics with their reasons), and
    each seed's notes under ``seed{seed}``. Two inputs of one seed are refused."""
    from ..core.errors import DataError

    combined = Summary("seeg")
    for path in paths:
        part = read_summary(path)
        combined.preset = part.get("preset")
        seed = part.get("seed")
        if f"seed{seed}" in combined.notes:
            raise DataError(path, f"a second summary of seed {seed}")
        combined.seed = seed if len(paths) == 1 else None
        undefined = part.get("undefined", {})
        for key, stats in part["statistics"].items():
            for name, value in stats.items():
                why = undefined.get(key, {}).get(name, "undefined") if value is None else None
                combined.measure(int(key), name, value, undefined=why)
        combined.notes[f"seed{seed}"] = part.get("notes", {})
    write_summary(out, combined)
    return combined
