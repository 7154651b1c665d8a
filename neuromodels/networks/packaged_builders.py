"""Builders of the project's own encoders, as their ``models.yaml`` declarations name them: a networks bundle
(:func:`bundle_module`, and :func:`bundle_declaration` for a user's own bundle path) and the packaged MiniLM
(:func:`minilm`), each behind the text-model interface of a declared model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .declarations import Declaration

__all__ = ["bundle_module", "bundle_declaration", "minilm"]


def bundle_module(path: str, random_init: bool = False, seed: int = 0) -> Any:
    """Builder of the project's own encoders: a networks bundle as a vision module (and its caption encoder as
    the text side when it has one). ``random_init`` gives the same architecture with weights drawn from
    ``seed``."""
    from .encoders import as_bundle, random_init_copy

    bundle = random_init_copy(path, seed) if random_init else as_bundle(path)
    return _Towers(bundle.vision, _CaptionText(bundle.text) if bundle.text is not None else None)


def bundle_declaration(path: str | Path) -> Declaration:
    """The declaration of an encoder bundle file written by the networks family (a user's own bundle path)."""
    return Declaration(
        name=Path(path).stem,
        kind="vision_text",
        builder="neuromodels.networks.declared:bundle_module",
        options={"path": str(path)},
        untrained_options={"path": str(path), "random_init": True},
        builtin=True,  # a SimCLR bundle has no caption encoder: its text side is absent, not an error
    )


@dataclass
class _Towers:
    vision: Any
    text: Any


class _CaptionText:
    """The text-model interface over a caption encoder (mean over real tokens per layer)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    @property
    def layer_names(self) -> list[str]:
        return list(self.encoder.layer_names)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts)).numpy().astype(np.float32)

    def layer_features(self, texts: Sequence[str], layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        from .features import text_layer_features

        return text_layer_features(list(texts), self.encoder, layers=layers)


class _MiniLMText:
    """The text-model interface over the packaged MiniLM, through the networks family's own functions (same
    batches, same numbers as :func:`~neuromodels.networks.features.embed_texts` with ``"minilm"``)."""

    def __init__(self, pretrained: bool, seed: int, device: str) -> None:
        self.name = "minilm" if pretrained else "minilm-random"
        self.pretrained, self.seed, self.device = pretrained, (0 if pretrained else seed), device

    @property
    def layer_names(self) -> list[str]:
        """The encoder's layers; reading them loads it (a family that uses only the vision side of a model whose
        text side is MiniLM never does: sentence-transformers alone takes ~10 s to import on a small CPU)."""
        from .features import minilm_encoder

        return list(minilm_encoder(self.pretrained, self.seed, self.device).layer_names)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from .features import embed_texts

        return embed_texts(list(texts), self.name, device=self.device, seed=self.seed)

    def layer_features(self, texts: Sequence[str], layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        from .features import text_layer_features

        return text_layer_features(list(texts), self.name, layers=layers, device=self.device, seed=self.seed)


def minilm(pretrained: bool = True, seed: int = 0, device: str = "cpu") -> Any:
    """Builder of the packaged MiniLM sentence encoder (``pretrained=False``: its re-initialised copy drawn from
    ``seed``)."""
    return _MiniLMText(pretrained, seed, str(device))
