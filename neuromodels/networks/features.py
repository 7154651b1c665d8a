"""Embeddings and per-layer features of the encoders, for encoding models (SEEG) and decoding targets.

Image encoders are given as a bundle path, an :class:`~neuromodels.networks.encoders.ImageEncoder` or a bare
:class:`~neuromodels.networks.vit.VisionTransformer`; ``random_init=True`` swaps in the random-init control
(same architecture, fresh weights drawn from ``seed``). Text encoders are ``"minilm"`` (the packaged trained
sentence encoder), ``"minilm-random"`` (its re-initialised copy), or a CLIP/SLIP bundle (its caption encoder).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from neuromodels.core.activations import Pooling, extract_activations
from neuromodels.core.errors import ConfigError

from .encoders import ImageEncoder, as_bundle, random_init_copy
from .text import CaptionEncoder
from .vit import VisionTransformer, prepare_images

__all__ = [
    "embed_images",
    "embed_texts",
    "image_layer_features",
    "text_layer_features",
    "minilm_encoder",
    "TEXT_ENCODERS",
]

PathLike = str | os.PathLike
ImageEncoderLike = PathLike | ImageEncoder | VisionTransformer
TEXT_ENCODERS = ("minilm", "minilm-random")


def _bundle(encoder: ImageEncoderLike, device: torch.device | str, random_init: bool, seed: int) -> ImageEncoder:
    bundle = as_bundle(encoder, device)
    if random_init:
        bundle = random_init_copy(bundle, seed)  # type: ignore[assignment]
        bundle.to(device)
    return bundle.eval()


def _image_batches(images: Any, image_size: int, batch_size: int):
    x = torch.as_tensor(np.asarray(images))
    if x.dim() != 4:
        raise ConfigError("images", f"expected (n, H, W, 3) images, got shape {tuple(x.shape)}")
    for start in range(0, x.shape[0], batch_size):
        yield prepare_images(x[start : start + batch_size], image_size)


@torch.no_grad()
def embed_images(
    encoder_path: ImageEncoderLike,
    images: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    *,
    random_init: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Image embeddings ``(n, embed_dim)`` float32 of uint8 images ``(n, H, W, 3)`` (resized to the encoder's
    input size)."""
    bundle = _bundle(encoder_path, device, random_init, seed)
    vision = bundle.vision
    out = [
        vision(batch.to(device)).float().cpu().numpy()
        for batch in _image_batches(images, vision.image_size, batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, vision.embed_dim), np.float32)


@torch.no_grad()
def image_layer_features(
    encoder_path_or_model: ImageEncoderLike,
    images: np.ndarray,
    layers: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    pooling: Pooling = "mean",
    *,
    random_init: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Each layer's output for uint8 images ``(n, H, W, 3)``: ``{layer: (n, features)}`` float32.

    ``layers`` defaults to every named layer (``patch_embed``, ``blocks.i``, ``norm``, ``head``). With the
    default ``mean`` pooling, token layers are averaged over tokens (CLS included) and the patch embedding over
    space, so each layer gives ``dim`` features (``head`` gives ``embed_dim``); ``cls`` takes the CLS token;
    ``flatten`` keeps every unit.
    """
    bundle = _bundle(encoder_path_or_model, device, random_init, seed)
    vision = bundle.vision
    names = list(vision.layer_names if layers is None else layers)
    feats = extract_activations(
        vision, _image_batches(images, vision.image_size, batch_size), names, pooling=pooling, device=device
    )
    return {name: feats[name].astype(np.float32, copy=False) for name in names}


@functools.lru_cache(maxsize=4)
def minilm_encoder(pretrained: bool = True, seed: int = 0, device: str = "cpu"):
    """The MiniLM sentence encoder (trained, or re-initialised from ``seed``), loaded once per process."""
    from .minilm import MiniLMEncoder

    return MiniLMEncoder(pretrained=pretrained, seed=seed, device=device)


def _caption_encoder(
    encoder: ImageEncoderLike | CaptionEncoder, device: torch.device | str, random_init: bool, seed: int
) -> CaptionEncoder:
    if isinstance(encoder, CaptionEncoder):
        text = random_init_copy(encoder, seed) if random_init else encoder
        return text.to(device).eval()  # type: ignore[union-attr]
    bundle = _bundle(encoder, device, random_init, seed)
    if bundle.text is None:
        objective = bundle.meta.get("objective", "this")
        raise ConfigError(
            "encoder",
            f"the {objective} encoder has no caption encoder (train with clip or slip, "
            f"or use {' / '.join(TEXT_ENCODERS)})",
        )
    return bundle.text


def embed_texts(
    texts: Sequence[str],
    encoder: str | ImageEncoderLike | CaptionEncoder = "minilm",
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    *,
    random_init: bool = False,
    seed: int = 0,
) -> np.ndarray:
    """Text embeddings ``(n, d)`` float32.

    ``encoder``: ``"minilm"`` (d = 384, unit length), ``"minilm-random"`` (its random-init copy, drawn from
    ``seed``), or a CLIP/SLIP bundle path / :class:`ImageEncoder` / :class:`CaptionEncoder` (d = embed_dim).
    """
    texts = [str(t) for t in texts]
    if isinstance(encoder, str) and encoder in TEXT_ENCODERS:
        pretrained = encoder == "minilm" and not random_init
        model = minilm_encoder(pretrained, seed if not pretrained else 0, str(torch.device(device)))
        return model.encode(texts, batch_size=min(batch_size, 128))
    text = _caption_encoder(encoder, device, random_init, seed)
    return text.encode(texts, batch_size=batch_size).numpy().astype(np.float32)


@torch.no_grad()
def text_layer_features(
    texts: Sequence[str],
    encoder: str | ImageEncoderLike | CaptionEncoder = "minilm",
    layers: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    *,
    random_init: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Each text-encoder layer's output averaged over the real tokens: ``{layer: (n, features)}`` float32.

    MiniLM layers are ``embeddings``, ``encoder.layer.0`` ... ``encoder.layer.5``; a caption encoder's are
    ``token_embed``, ``blocks.i``, ``norm``, ``head`` (``head`` is the CLS projection).
    """
    texts = [str(t) for t in texts]
    if isinstance(encoder, str) and encoder in TEXT_ENCODERS:
        pretrained = encoder == "minilm" and not random_init
        model = minilm_encoder(pretrained, seed if not pretrained else 0, str(torch.device(device)))
        return model.layer_features(texts, batch_size=min(batch_size, 128), layers=layers)
    text = _caption_encoder(encoder, device, random_init, seed)
    names = list(text.layer_names if layers is None else layers)
    tokens, mask = text.tokenize(texts)
    weights = mask.float()

    batches = [tokens[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    masks = [weights[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    pooled: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for batch, w in zip(batches, masks):
        raw = extract_activations(text, [batch], names, pooling="none", device=device, forward=lambda m, b: m(b))
        w = w.numpy()[:, :, None]
        for name in names:
            x = raw[name]
            pooled[name].append(x if x.ndim == 2 else (x * w).sum(1) / np.maximum(w.sum(1), 1.0))
    return {name: np.concatenate(parts).astype(np.float32) for name, parts in pooled.items()}
