"""Steps of the family: event-locked targets from recordings, features per model, encoding models per alignment.

Targets: for every trial of a movie, the preprocessed activity in sliding bins around each event; electrodes of
all subjects that watched the same movie are stacked, so a target is one electrode in one time bin. Alignments:
``language`` (word onsets) and ``vision`` (scene cuts). Samples are events in movie order; the grouped folds cut
the movie into contiguous blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.runtime import get_logger
from .data import list_trials, read_trial
from .preprocess import PreprocessSettings, event_bins, preprocess
from .features import JOINT_LAYER, TEXT_LAYER
from .ridge import DEFAULT_ALPHAS, contiguous_groups, encode_layers, linear_combination
from .simulate import shown_image

log = get_logger(__name__)
ALIGNMENTS = ("language", "vision")


@dataclass
class Targets:
    """Binned activity of one alignment: ``Y`` (events, electrodes, bins), the events and the electrodes."""

    Y: np.ndarray
    events: pd.DataFrame  # time (movie s), stimulus_id (shown), text (utterance)
    electrodes: pd.DataFrame  # subject, Electrode, Region, MNI_x, MNI_y, MNI_z
    edges: np.ndarray  # (bins, 2) s relative to the event


def movie_events(trial, alignment: str) -> pd.DataFrame:
    """Events of one alignment with the image on screen and the utterance of each."""
    words, cuts = trial.words, trial.scene_cuts
    if alignment == "language":
        ev = pd.DataFrame({"time": words["start"].to_numpy(float), "onset": words["onset"].to_numpy(float),
                           "text": words["text"].astype(str).to_numpy()})
    else:
        first = words.groupby("sentence").agg(start=("start", "first"), text=("text", "first")).sort_values("start")
        # The utterance of a scene is the first one that starts after its cut (and before the next cut).
        pos = np.searchsorted(first["start"].to_numpy(float), cuts["time"].to_numpy(float))
        texts = first["text"].to_numpy()[np.clip(pos, 0, len(first) - 1)]
        ev = pd.DataFrame({"time": cuts["time"].to_numpy(float), "onset": cuts["onset"].to_numpy(float),
                           "text": texts})
    ev["stimulus_id"] = shown_image(ev["time"].to_numpy(float), cuts)
    return ev


def build_targets(root: str | Path, alignment: str, settings: PreprocessSettings, window: tuple[float, float],
                  width: float, step: float) -> Targets:
    """Preprocess every trial of the dataset's first movie and bin the activity around its events."""
    require(alignment in ALIGNMENTS, None, f"alignment must be one of {ALIGNMENTS}")
    trials = list_trials(root)
    require(bool(trials), Path(root) / "trials.json", "lists no trials")
    blocks, kept_sets, electrodes, events, movie, edges = [], [], [], None, None, None
    for subject, trial_id in trials:
        trial = read_trial(root, subject, trial_id)
        if movie is None:
            movie = trial.movie
        if trial.movie != movie:
            log.warning("skipping %s: movie %s differs from %s", trial_id, trial.movie, movie)
            continue
        ev = movie_events(trial, alignment)
        events = ev if events is None else events
        raw = preprocess(trial.raw, settings)
        bins, kept, edges = event_bins(raw, ev["onset"].to_numpy(), window, width, step)
        full = np.full((len(ev), bins.shape[1], bins.shape[2]), np.nan, np.float32)
        full[kept] = bins
        blocks.append(full)
        electrodes.append(trial.localization.assign(subject=subject))
    Y = np.concatenate(blocks, axis=1)
    ok = np.isfinite(Y).all(axis=(1, 2))  # events whose epoch fits in every recording
    log.info("%s alignment: %d events (%d dropped at recording edges), %d electrodes, %d bins", alignment,
             ok.sum(), (~ok).sum(), Y.shape[1], Y.shape[2])
    return Targets(Y[ok], events[ok].reset_index(drop=True), pd.concat(electrodes, ignore_index=True), edges)


def save_targets(path: str | Path, t: Targets) -> None:
    from ..core.io import write_npz

    write_npz(path, Y=t.Y, edges=t.edges, events=t.events.to_json(orient="split"),
              electrodes=t.electrodes.to_json(orient="split"))


def load_targets(path: str | Path) -> Targets:
    import io

    require(Path(path).exists(), path, "file not found")
    with np.load(path) as z:
        return Targets(z["Y"], pd.read_json(io.StringIO(str(z["events"])), orient="split"),
                       pd.read_json(io.StringIO(str(z["electrodes"])), orient="split"), z["edges"])


def encode_alignment(
    Y: np.ndarray,
    features: dict[str, dict[str, np.ndarray]],
    modalities: dict[str, str],
    n_blocks: int = 10,
    n_outer: int = 5,
    n_inner: int = 5,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    backend: str = "numpy",
    concat_depth: int = 3,
) -> dict[str, np.ndarray]:
    """Held-out predictions of every model and of the two linear-integration baselines.

    Parameters
    ----------
    Y : (events, targets)
    features : model name -> layer -> (events, features)
    modalities : model name -> modality
    concat_depth : the concatenation baseline pairs each of the ``concat_depth`` layers the trained vision model
        chose most often with each of the ``concat_depth`` most chosen layers of the trained language model

    Returns
    -------
    dict with ``pred/{model}`` (events, targets), ``layer_r/{model}`` (layers, targets), ``pred/concat``,
    ``pred/lincomb``, ``pred/{multimodal model}-towers`` (its image layers beside its text embedding, without the
    product), ``groups`` (events,)
    """
    groups = contiguous_groups(len(Y), n_blocks)
    out: dict[str, np.ndarray] = {"groups": groups}
    for name, feats in features.items():
        enc = encode_layers(feats, Y, groups, alphas, n_outer, n_inner, backend)
        out[f"pred/{name}"] = enc.predictions
        out[f"layer_r/{name}"] = enc.layer_r
        out[f"layers/{name}"] = np.array(enc.layers)
        out[f"chosen/{name}"] = enc.chosen
        log.info("encoded %s (%d layers, %d targets)", name, len(enc.layers), Y.shape[1])
    vis = [m for m, mod in modalities.items() if mod == "vision" and not m.endswith("-random") and m in features]
    lang = [m for m, mod in modalities.items() if mod == "language" and not m.endswith("-random") and m in features]
    if vis and lang:
        # Unimodal concatenation over the layers each unimodal model chose most often (on training folds).
        v, l_ = features[vis[0]], features[lang[0]]
        top_v, top_l = _top_layers(out, vis[0], concat_depth), _top_layers(out, lang[0], concat_depth)
        # Each half alone is a candidate too, so the baseline is never worse than its parts for lack of a
        # second penalty (one alpha serves a concatenation).
        pairs = {**{f"{vis[0]}:{a}": v[a] for a in top_v}, **{f"{lang[0]}:{b}": l_[b] for b in top_l},
                 **{f"{a}+{b}": np.concatenate([_z(v[a]), _z(l_[b])], axis=1) for a in top_v for b in top_l}}
        enc = encode_layers(pairs, Y, groups, alphas, n_outer, n_inner, backend)
        out["pred/concat"] = enc.predictions
        out["pred/lincomb"] = linear_combination(out[f"pred/{vis[0]}"], out[f"pred/{lang[0]}"], Y, groups, n_outer)
    for name, feats in features.items():
        if modalities.get(name) != "multimodal" or name.endswith("-random") or TEXT_LAYER not in feats:
            continue
        # The network's own towers side by side, without the image-text product.
        text = feats[TEXT_LAYER]
        towers = {k: x for k, x in feats.items() if k != JOINT_LAYER}  # each tower's layers alone
        towers.update({f"{k}+{TEXT_LAYER}": np.concatenate([_z(x), _z(text)], axis=1)
                       for k, x in feats.items() if k not in (TEXT_LAYER, JOINT_LAYER)})
        if JOINT_LAYER in feats:  # the joint layer without its product third: unit image and text embeddings
            towers["joint-without-product"] = feats[JOINT_LAYER][:, :2 * text.shape[1]]
        enc = encode_layers(towers, Y, groups, alphas, n_outer, n_inner, backend)
        out[f"pred/{name}-towers"] = enc.predictions
        log.info("encoded %s-towers (%d layers)", name, len(towers))
    return out


def _top_layers(out: dict[str, np.ndarray], name: str, k: int) -> list[str]:
    """The ``k`` layers of a model chosen most often across targets and outer folds (choices made on training
    folds only)."""
    layers = list(out[f"layers/{name}"])
    counts = np.bincount(out[f"chosen/{name}"].ravel(), minlength=len(layers))
    return [layers[i] for i in np.argsort(-counts, kind="stable")[:k]]


def _z(x: np.ndarray) -> np.ndarray:
    """Standardise features so the two halves of a concatenation share one ridge penalty fairly."""
    return ((x - x.mean(0)) / np.maximum(x.std(0), 1e-6) / np.sqrt(x.shape[1])).astype(np.float32)


def check_features(features: dict[str, np.ndarray], n_events: int, path: str | Path) -> None:
    """Every layer has one row per event and finite values."""
    for layer, x in features.items():
        if x.shape[0] != n_events:
            raise DataError(path, f"layer {layer} has {x.shape[0]} rows for {n_events} events")
        if not np.isfinite(x).all():
            raise DataError(path, f"layer {layer} has non-finite features")
