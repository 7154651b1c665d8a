"""The check of a declared model: :func:`check_model` builds it, runs images (and texts) through it twice, and
reports its layers with their output shapes, determinism and device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from neuromodels.core.errors import ConfigError

from .building import build_model, spatial_pyramid
from .declarations import Declaration

__all__ = ["check_model"]


def check_model(
    decl: Declaration,
    images: np.ndarray,
    texts: Sequence[str],
    *,
    seed: int = 0,
    device: str = "cpu",
    user: dict[str, Any] | None = None,
    require_spatial: bool = False,
) -> dict[str, Any]:
    """Build ``decl``, run ``images`` (and ``texts``) through it twice, and report its layers with their output
    shapes, determinism and device; a NaN output, a missing layer or (with ``require_spatial``) no spatial map is
    one :class:`ConfigError` line."""
    model = build_model(decl, seed=seed, device=device, user=user)
    report: dict[str, Any] = {"name": decl.name, "kind": decl.kind, "device": str(device), "layers": []}
    if model.vision is not None:
        raw = model.image_layer_features(images, pooling="none")
        again = model.image_layer_features(images, pooling="none")
        for name in model.layers:
            x = raw[name]
            if not np.isfinite(x).all():
                raise ConfigError(f"{decl.key}.layers", f"layer {name!r} gives NaN or infinite outputs")
            report["layers"].append(
                {"tower": "image", "layer": name, "shape": list(x.shape[1:]), "spatial": x.ndim == 4}
            )
        report["deterministic"] = all(np.array_equal(raw[n], again[n]) for n in model.layers)
        report["image_size"] = model.image_size
        report["n_parameters"] = int(sum(p.numel() for p in model.vision.parameters()))
        if require_spatial:
            report["search_layers"] = spatial_pyramid(model, images)
        embedding = model.embed_images(images)
        if not np.isfinite(embedding).all():
            raise ConfigError(decl.key, "the model's output holds NaN or infinite values")
        report["embedding_dim"] = int(embedding.shape[1])
    if model.text is not None:
        feats = model.text_layer_features(texts)
        again = model.text_layer_features(texts)
        for name, x in feats.items():
            if not np.isfinite(x).all():
                raise ConfigError(f"{decl.key}", f"text layer {name!r} gives NaN or infinite outputs")
            report["layers"].append({"tower": "text", "layer": name, "shape": list(x.shape[1:]), "spatial": False})
        same = all(np.allclose(feats[n], again[n], atol=1e-6) for n in feats)
        report["deterministic"] = bool(report.get("deterministic", True) and same)
        report["text_embedding_dim"] = int(model.embed_texts(list(texts)[:2]).shape[1])
    report["random_init_copy"] = decl.can_randomise
    report["finite"] = True
    if not report["deterministic"]:
        report["note"] = "two passes over the same batch differ (dropout or other randomness left on in eval mode)"
    return report
