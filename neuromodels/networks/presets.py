"""Sizes of the trainable encoders: ``tiny`` (CI, seconds), ``default`` (a laptop CPU, a minute or two per
objective) and ``full`` (a GPU; closer to the small ViTs of the papers, still far below ViT-B/16)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from neuromodels.core.config import override_settings
from neuromodels.core.errors import ConfigError

__all__ = ["NetworkPreset", "PRESETS", "get_preset", "CAPTION_DIETS", "STEMS"]

CAPTION_DIETS = ("full", "category")
# the image towers' patch embeddings (see neuromodels.networks.vit)
STEMS = ("patch", "conv")


@dataclass(frozen=True)
class NetworkPreset:
    """Architecture and training settings of one preset.

    ``image_size`` and ``patch_size`` are in pixels; ``lr`` is AdamW's peak learning rate (one-cycle
    schedule); ``temperature`` is CLIP's, ``ssl_temperature`` SimCLR's; ``val_fraction`` of the stimuli is held
    out for the retrieval metrics. ``stem`` is the image tower's patch embedding (``patch``: ViT's strided
    convolution; ``conv``: a convolutional stem, :func:`~neuromodels.networks.vit.conv_stem`). ``captions`` is
    the training diet's words: ``full``, the stimulus set's captions as written (every attribute named);
    ``category``, only each object's category (:func:`~neuromodels.stimuli.captions.category_caption`).
    """

    image_size: int = 32
    patch_size: int = 8
    dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    embed_dim: int = 128
    text_dim: int = 128
    text_depth: int = 2
    text_heads: int = 4
    ssl_dim: int = 128
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.05
    temperature: float = 0.1
    ssl_temperature: float = 0.1
    ssl_weight: float = 1.0
    val_fraction: float = 0.1
    checkpoint_every: int = 50
    stem: str = "patch"
    captions: str = "full"

    def __post_init__(self) -> None:
        if self.stem not in STEMS:
            raise ConfigError("networks.stem", f"must be one of {list(STEMS)}; got {self.stem!r}")
        if self.captions not in CAPTION_DIETS:
            raise ConfigError("networks.captions", f"must be one of {list(CAPTION_DIETS)}; got {self.captions!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> NetworkPreset:
        """A copy with some settings replaced (``None`` ignored); unknown names raise :class:`ConfigError`."""
        return override_settings(self, dict(overrides or {}), "networks")


PRESETS: dict[str, NetworkPreset] = {
    "tiny": NetworkPreset(
        image_size=32,
        patch_size=8,
        dim=64,
        depth=2,
        num_heads=4,
        embed_dim=64,
        text_dim=64,
        text_depth=1,
        text_heads=4,
        ssl_dim=64,
        epochs=8,
        batch_size=64,
        lr=1e-3,
        checkpoint_every=10,
    ),
    "default": NetworkPreset(
        image_size=32,
        patch_size=8,
        dim=128,
        depth=4,
        num_heads=4,
        embed_dim=128,
        text_dim=128,
        text_depth=2,
        text_heads=4,
        ssl_dim=128,
        epochs=24,
        batch_size=128,
        lr=1e-3,
        checkpoint_every=50,
    ),
    "full": NetworkPreset(
        image_size=64,
        patch_size=8,
        dim=384,
        depth=6,
        num_heads=6,
        embed_dim=256,
        text_dim=256,
        text_depth=4,
        text_heads=4,
        ssl_dim=256,
        epochs=100,
        batch_size=256,
        lr=5e-4,
        checkpoint_every=500,
    ),
}


def get_preset(name: str) -> NetworkPreset:
    if name not in PRESETS:
        raise ConfigError("preset", f"must be one of {sorted(PRESETS)}; got {name!r}")
    return PRESETS[name]
