"""Training reports of an encoder: the metrics JSON and the training-curve figure."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuromodels.core.io import save_figure, write_json

from .encoders import ImageEncoder

__all__ = ["training_metrics", "write_training_metrics", "plot_training_curve", "latent_probe"]

PathLike = str | os.PathLike
_RETRIEVAL = ("val_caption_to_image", "val_image_to_caption", "val_view_retrieval")


def training_metrics(bundle: ImageEncoder) -> dict[str, Any]:
    """The numbers worth keeping from a training run: final held-out retrieval (with chance), final loss
    terms, steps, samples/s, and the settings."""
    meta = bundle.meta
    return {
        "objective": meta.get("objective"),
        "preset": meta.get("preset"),
        "seed": meta.get("seed"),
        "n_train": meta.get("n_train"),
        "n_val": meta.get("n_val"),
        "steps": meta.get("steps"),
        "samples_per_second": meta.get("samples_per_second"),
        "device": meta.get("device"),
        "resumed_from_step": meta.get("resumed_from_step"),
        "final": meta.get("metrics", {}),
        "history": meta.get("history", []),
        "settings": meta.get("settings", {}),
    }


def write_training_metrics(path: PathLike, bundle: ImageEncoder, extra: dict[str, Any] | None = None) -> Path:
    return write_json(path, {**training_metrics(bundle), **(extra or {})})


def _latent_group(name: str) -> str:
    """``colour=red`` -> ``colour``; ``rotation_sin`` -> ``rotation``; ``x``/``y`` -> ``position``."""
    base = name.split("=")[0]
    base = base.removesuffix("_sin").removesuffix("_cos")
    return "position" if base in ("x", "y") else base


def latent_probe(
    features: np.ndarray, latents: np.ndarray, names: Sequence[str], n_splits: int = 5, seed: int = 0
) -> dict[str, float]:
    """How much of each latent attribute a linear read-out recovers from ``features`` ``(n, d)``.

    Ridge regression (alpha chosen by inner cross-validation) from the features to every column of
    ``latents`` ``(n, k)``, predicted out of fold (``n_splits``-fold); the cross-validated R^2 of each column
    is averaged within its attribute (category, colour, texture, position, size, rotation, light, ...).
    Columns without variance are skipped. Returns ``{attribute: mean R^2}`` and ``mean`` over attributes.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    keep = latents.std(axis=0) > 1e-9
    y = latents[:, keep]
    kept = [n for n, k in zip(names, keep) if k]
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
    folds = KFold(n_splits=min(n_splits, len(features)), shuffle=True, random_state=seed)
    pred = cross_val_predict(model, features, y, cv=folds)
    r2 = 1.0 - ((y - pred) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    groups: dict[str, list[float]] = {}
    for name, value in zip(kept, r2):
        groups.setdefault(_latent_group(name), []).append(float(value))
    out = {g: float(np.mean(v)) for g, v in groups.items()}
    out["mean"] = float(np.mean(list(out.values()))) if out else float("nan")
    return out


def plot_training_curve(path: PathLike, bundle: ImageEncoder) -> Path:
    """Loss terms per epoch (left) and held-out top-1 retrieval accuracy against chance (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = bundle.meta.get("history", [])
    epochs = [h["epoch"] + 1 for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 3.2))
    for key in ("loss", "clip", "simclr"):
        if history and key in history[0]:
            ax_loss.plot(epochs, [h[key] for h in history], marker="o", ms=3, label="total" if key == "loss" else key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (mean over the epoch)")
    ax_loss.legend(frameon=False)
    for key in _RETRIEVAL:
        if history and key in history[0]:
            ax_acc.plot(
                epochs, [h[key] for h in history], marker="o", ms=3, label=key.removeprefix("val_").replace("_", " ")
            )
    if history and "val_chance" in history[0]:
        ax_acc.axhline(history[0]["val_chance"], color="grey", ls="--", lw=1, label="chance")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("held-out top-1 retrieval")
    ax_acc.legend(frameon=False, fontsize=8)
    objective = bundle.meta.get("objective", "")
    fig.suptitle(
        f"{objective.upper()} encoder, seed {bundle.meta.get('seed')} ({bundle.meta.get('n_train')} training images)"
    )
    fig.tight_layout()
    return save_figure(path, fig)
