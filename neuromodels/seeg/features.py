"""Per-layer features of networks for image-text events, and the extractor interface for your own networks.

An event is an image-text pair: the frame on screen and the utterance being spoken. An **extractor** is any
callable with the signature::

    extractor(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]

taking uint8 images ``(n, H, W, 3)`` and ``n`` texts (one pair per row) and returning ``{layer_name: (n,
features)}`` float arrays. A vision extractor may ignore the texts and a language extractor the images. Wrap it in
a :class:`Model` with its modality (``vision``, ``language`` or ``multimodal``) and, for the trained-vs-random test,
the name of its random-init control. Real CLIP, for example, plugs in as a multimodal extractor that returns its
image layers and a joint layer.

Built-in models (:func:`builtin_models`): ``simclr`` (vision), ``minilm`` (language), ``clip`` and ``slip``
(multimodal), each with a ``-random`` control. A dual encoder (CLIP, SLIP) has one place where image and text
meet: its joint embedding space. Its event representation is therefore its image layers, its text embedding and a
``joint`` layer: the unit-length image and text embeddings and their element-wise product (whose sum is the
image-text cosine similarity, so image-text agreement is linear in it). A model without a joint space (SimCLR,
MiniLM) has no such layer. The same network's towers without the product (each image layer concatenated with the
text embedding) are the "own towers" baseline: a multimodal site must beat it, so a better image (or text) tower
alone never makes a site multimodal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core.runtime import get_logger

log = get_logger(__name__)

Extractor = Callable[[np.ndarray, list[str]], dict[str, np.ndarray]]
MODALITIES = ("vision", "language", "multimodal")
TEXT_LAYER = "text"  # a dual encoder's text-tower embedding (unit length)
JOINT_LAYER = "joint"  # image and text embeddings with their element-wise product


@dataclass
class Model:
    """A network for the encoding comparison.

    Attributes
    ----------
    name : str
    modality : ``vision``, ``language`` or ``multimodal``
    extractor : see the module docstring
    control : name of its random-init copy (None for a control or a model without one)
    trained : False for a random-init control
    """

    name: str
    modality: str
    extractor: Extractor
    control: str | None = None
    trained: bool = True


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def joint_layer(image_embedding: np.ndarray, text_embedding: np.ndarray) -> np.ndarray:
    """(n, 3 d) joint-space features: unit image and text embeddings and their element-wise product (x sqrt d)."""
    i, t = _unit(image_embedding), _unit(text_embedding)
    return np.concatenate([i, t, i * t * np.sqrt(i.shape[1])], axis=1).astype(np.float32)


def vision_extractor(encoder_path: str | Path, random_init: bool = False, seed: int = 0,
                     device: str = "cpu") -> Extractor:
    """Image layers (mean over tokens) of a trained image encoder bundle, or of its random-init copy."""
    def extract(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        from ..networks import image_layer_features

        return image_layer_features(encoder_path, images, device=device, random_init=random_init, seed=seed)

    return extract


def language_extractor(name: str = "minilm", seed: int = 0, device: str = "cpu") -> Extractor:
    """MiniLM (``minilm``) or its random-init copy (``minilm-random``): transformer layers, mean over tokens."""
    def extract(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        from ..networks import text_layer_features

        return text_layer_features(texts, name, device=device, seed=seed)

    return extract


def dual_encoder_extractor(encoder_path: str | Path, random_init: bool = False, seed: int = 0,
                           device: str = "cpu") -> Extractor:
    """Image layers of a CLIP/SLIP bundle (``image.*``), its text-tower embedding (``text``) and its ``joint``
    layer (see :func:`joint_layer`)."""
    def extract(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        from ..networks import embed_images, embed_texts, image_layer_features

        out = {f"image.{k}": v for k, v in image_layer_features(encoder_path, images, device=device,
                                                                  random_init=random_init, seed=seed).items()}
        img = embed_images(encoder_path, images, device=device, random_init=random_init, seed=seed)
        txt = embed_texts(texts, encoder_path, device=device, random_init=random_init, seed=seed)
        out[TEXT_LAYER] = _unit(txt).astype(np.float32)
        out[JOINT_LAYER] = joint_layer(img, txt)
        return out

    return extract


def builtin_models(encoders: dict[str, str | Path], seed: int = 0, device: str = "cpu") -> list[Model]:
    """The built-in model set from trained bundles ``{"simclr": path, "clip": path, "slip": path}``.

    Missing objectives are left out; MiniLM is always included.
    """
    models = []
    if "simclr" in encoders:
        models += [Model("simclr", "vision", vision_extractor(encoders["simclr"], device=device), "simclr-random"),
                   Model("simclr-random", "vision", vision_extractor(encoders["simclr"], True, seed, device),
                         trained=False)]
    models += [Model("minilm", "language", language_extractor("minilm", device=device), "minilm-random"),
               Model("minilm-random", "language", language_extractor("minilm-random", seed, device),
                     trained=False)]
    for objective in ("clip", "slip"):
        if objective in encoders:
            path = encoders[objective]
            models += [Model(objective, "multimodal", dual_encoder_extractor(path, device=device),
                             f"{objective}-random"),
                       Model(f"{objective}-random", "multimodal", dual_encoder_extractor(path, True, seed, device),
                             trained=False)]
    return models


def event_features(model: Model, images: dict[str, np.ndarray], shown: Sequence[str], texts: Sequence[str]
                   ) -> dict[str, np.ndarray]:
    """Per-layer features of every event, computed once per distinct (image, text) pair.

    Parameters
    ----------
    images : stimulus_id -> uint8 (H, W, 3)
    shown : (events,) stimulus_id on screen at each event
    texts : (events,) utterance at each event
    """
    pairs = list(dict.fromkeys(zip(shown, texts)))
    index = {p: i for i, p in enumerate(pairs)}
    batch = np.stack([images[s] for s, _ in pairs])
    feats = model.extractor(batch, [t for _, t in pairs])
    rows = np.array([index[p] for p in zip(shown, texts)])
    out = {}
    for layer, value in feats.items():
        value = np.asarray(value, dtype=np.float32).reshape(len(pairs), -1)
        out[layer] = value[rows]
    log.info("%s: %d layers for %d events (%d distinct image-text pairs)", model.name, len(out), len(rows),
             len(pairs))
    return out
