"""The test ladder per electrode and alignment.

A model comparison is significant in a time bin when the paired block-bootstrap difference of held-out Pearson r
is above zero after FDR over all electrode x bin tests of that comparison in the alignment; an electrode passes
when it has at least ``min_bins`` such bins. Tests:

1. ``signal``: the best trained model's r > 0;
2. ``{model}_vs_random``: each trained model (and the trained unimodal pair) beats its random-init copy;
   ``{model}_vs_shuffled``: each trained model beats its own features shifted in time against the events (the
   shuffled_time control, ``{model}-shuffled``), where encoded;
3. ``mm_vs_unimodal``: the multimodal model beats the better unimodal model in that bin (vision or language);
4. ``mm_vs_concat`` and ``mm_vs_lincomb``: it beats the concatenated unimodal features and the linear combination
   of unimodal predictions; ``mm_vs_own_towers``: it beats its own image and text towers side by side without
   their interaction (so a better image or text tower alone does not make a site multimodal);
5. ``mm_vs_pair``: it beats the unimodal pair given the same interaction feature (is the integration specific to
   the multimodal network, or does any pair of good unimodal towers carry it?);
6. ``controlled``: SLIP (image-text + image-image objective) beats SimCLR (image-image only), same ViT and data.

An electrode is a multimodal site (weak) when 3 and 4 pass in at least one alignment, strict when in both.
``integration_site``: the unimodal pair (with its interaction) passes the same tests 3-4 in place of the
multimodal model. ``controlled`` counts SLIP > SimCLR as in the paper; it is not specific to integration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.runtime import get_logger
from . import stats
from .ridge import pearson_r

log = get_logger(__name__)


def ladder(
    Y: np.ndarray,
    preds: dict[str, np.ndarray],
    n_electrodes: int,
    modalities: dict[str, str],
    multimodal: str,
    n_boot: int = 1000,
    min_bins: int = 4,
    q: float = 0.05,
    seed: int = 0,
    controlled: tuple[str, str] = ("slip", "simclr"),
    block: int | None = None,
    pair: str | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Run the test ladder for one alignment.

    Parameters
    ----------
    Y : (events, electrodes * bins) targets, electrode-major, events in movie order
    preds : model or baseline name -> held-out predictions, same shape
    modalities : the compared models (not the baselines) and their modality
    multimodal : the multimodal model tested against the unimodal ones and the baselines
    block : events per block of the block bootstrap (None: about sqrt(events))
    pair : the trained unimodal pair baseline (``{vision}+{language}``), when encoded

    Returns
    -------
    table : one row per electrode: pass/fail of each test, number of significant bins, peak r per model
    curves : name -> (electrodes, bins) r; ``{name}_lo`` / ``{name}_hi`` 95% bootstrap CIs
    """
    weights = stats.bootstrap_weights(len(Y), n_boot, seed, block)
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
    for m in trained + ([pair] if pair else []):
        control = "+".join(f"{part}-random" for part in m.split("+"))
        if m in preds and control in preds:
            test(f"{m}_vs_random", boot[m] - boot[control])
        if m in preds and f"{m}-shuffled" in preds:
            test(f"{m}_vs_shuffled", boot[m] - boot[f"{m}-shuffled"])
    uni = [m for m in trained if modalities[m] in ("vision", "language")]
    if uni:
        best_uni = np.stack([r[m] for m in uni]).argmax(0)
        uni_boot = np.take_along_axis(np.stack([boot[m] for m in uni]), best_uni[None, None], 0)[0]
        for who, prefix in ((multimodal, "mm"), (pair, "pair")):
            if not who or who not in preds:
                continue
            test(f"{prefix}_vs_unimodal", boot[who] - uni_boot)
            for base in ("concat", "lincomb"):
                if base in preds:
                    test(f"{prefix}_vs_{base}", boot[who] - boot[base])
        if multimodal in preds and f"{multimodal}-towers" in preds:
            test("mm_vs_own_towers", boot[multimodal] - boot[f"{multimodal}-towers"])
        if multimodal in preds and pair and pair in preds:
            test("mm_vs_pair", boot[multimodal] - boot[pair])
        for prefix, site in (("mm", "multimodal_site"), ("pair", "integration_site")):
            needed = [c for c in (f"{prefix}_vs_unimodal", f"{prefix}_vs_concat", f"{prefix}_vs_lincomb") if c in table]
            if prefix == "mm" and "mm_vs_own_towers" in table:
                needed.append("mm_vs_own_towers")
            if needed:
                table[site] = table[needed].all(axis=1)
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
    uni = {
        m: row.get(f"r_{m}_best", -1)
        for m, mod in modalities.items()
        if mod in ("vision", "language") and not m.endswith("-random")
    }
    return modalities[max(uni, key=uni.get)] if uni else "none"


def detection_scores(called: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of calls (bool) against planted truth (bool)."""
    tp = int((called & truth).sum())
    return {
        "precision": tp / max(int(called.sum()), 1),
        "recall": tp / max(int(truth.sum()), 1),
        "called": int(called.sum()),
        "planted": int(truth.sum()),
        "true_positives": tp,
    }
