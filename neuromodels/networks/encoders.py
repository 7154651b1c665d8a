"""Trained encoder bundles: save, load, and random-init copies (same architecture, fresh weights).

A bundle file (``encoder.pt``, written atomically) holds the image encoder's constructor settings and
weights, the caption encoder's (CLIP and SLIP) with its vocabulary, and metadata (objective, preset, seed,
training history and metrics).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuromodels.core.errors import DataError
from neuromodels.core.io import torch_load, torch_save

from .text import CaptionEncoder
from .vit import VisionTransformer

__all__ = ["ImageEncoder", "save_encoder", "load_encoder", "random_init_copy", "as_bundle", "ENCODER_FORMAT"]

ENCODER_FORMAT = "neuromodels-encoder"
ENCODER_VERSION = 1
PathLike = str | os.PathLike


@dataclass
class ImageEncoder:
    """A trained image encoder, its caption encoder (None after SimCLR) and metadata."""

    vision: VisionTransformer
    text: CaptionEncoder | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: PathLike) -> Path:
        return save_encoder(path, self.vision, self.text, self.meta)

    def to(self, device: torch.device | str) -> ImageEncoder:
        self.vision.to(device)
        if self.text is not None:
            self.text.to(device)
        return self

    def eval(self) -> ImageEncoder:
        self.vision.eval()
        if self.text is not None:
            self.text.eval()
        return self


def _module_state(module: nn.Module) -> dict[str, Any]:
    return {"config": dict(module.config), "state": {k: v.detach().cpu() for k, v in module.state_dict().items()}}


def save_encoder(
    path: PathLike, vision: VisionTransformer, text: CaptionEncoder | None = None, meta: dict[str, Any] | None = None
) -> Path:
    """Write an encoder bundle to ``path`` atomically."""
    bundle = {
        "format": ENCODER_FORMAT,
        "version": ENCODER_VERSION,
        "vision": _module_state(vision),
        "text": _module_state(text) if text is not None else None,
        "meta": dict(meta or {}),
    }
    return torch_save(path, bundle)


def _build(cls: type[nn.Module], entry: dict[str, Any], path: PathLike) -> nn.Module:
    try:
        module = cls(**entry["config"])
        module.load_state_dict(entry["state"])
    except (KeyError, TypeError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(path, f"encoder bundle does not rebuild a {cls.__name__}: {first}") from None
    return module.eval()


def load_encoder(
    path: PathLike, device: torch.device | str = "cpu"
) -> tuple[VisionTransformer, CaptionEncoder | None, dict[str, Any]]:
    """Read a bundle written by :func:`save_encoder`: ``(vision_model, text_model_or_None, meta)``, in eval
    mode on ``device``."""
    bundle = torch_load(path)
    if not isinstance(bundle, dict) or bundle.get("format") != ENCODER_FORMAT:
        raise DataError(path, "not a neuromodels encoder bundle (write one with `neuromodels networks train`)")
    if bundle.get("version") != ENCODER_VERSION:
        raise DataError(path, f"encoder bundle version {bundle.get('version')}; this code reads {ENCODER_VERSION}")
    vision = _build(VisionTransformer, bundle["vision"], path).to(device)
    text = _build(CaptionEncoder, bundle["text"], path).to(device) if bundle.get("text") else None
    return vision, text, dict(bundle.get("meta") or {})


def as_bundle(encoder: PathLike | ImageEncoder | VisionTransformer, device: torch.device | str = "cpu") -> ImageEncoder:
    """An :class:`ImageEncoder` from a bundle path, a bundle, or a bare image encoder."""
    if isinstance(encoder, ImageEncoder):
        return encoder.to(device)
    if isinstance(encoder, VisionTransformer):
        return ImageEncoder(encoder.to(device), None, {})
    if isinstance(encoder, (str, os.PathLike)):
        vision, text, meta = load_encoder(encoder, device)
        return ImageEncoder(vision, text, meta)
    raise TypeError(f"expected an encoder path, ImageEncoder or VisionTransformer, got {type(encoder).__name__}")


def _fresh(module: nn.Module, seed: int) -> nn.Module:
    """A new module of the same class and settings, initialised from ``seed`` (the global RNG is left as
    it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        copy = type(module)(**module.config)
    device = next(module.parameters()).device
    return copy.to(device).eval()


def random_init_copy(
    path_or_model: PathLike | ImageEncoder | VisionTransformer | CaptionEncoder, seed: int = 0
) -> ImageEncoder | VisionTransformer | CaptionEncoder:
    """The random-init control: the same architecture with fresh weights drawn from ``seed``.

    A path or an :class:`ImageEncoder` gives an :class:`ImageEncoder` (image and caption encoders both
    re-initialised; ``meta["random_init"]`` is True); a bare model gives a model of the same class.
    """
    if isinstance(path_or_model, (VisionTransformer, CaptionEncoder)):
        return _fresh(path_or_model, seed)
    bundle = as_bundle(path_or_model)  # type: ignore[arg-type]
    vision = _fresh(bundle.vision, seed)
    text = _fresh(bundle.text, seed + 1) if bundle.text is not None else None
    meta = {
        **{k: v for k, v in bundle.meta.items() if k not in ("history", "metrics")},
        "random_init": True,
        "random_init_seed": seed,
    }
    return ImageEncoder(vision, text, meta)
