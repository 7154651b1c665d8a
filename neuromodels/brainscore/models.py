"""CrossViT (Chen et al., ICCV 2021) built from the shared attention library.

Two ViT branches see the same image cut into small and large patches, with different widths. A multi-scale
block runs each branch's transformer layers, then fuses them: each branch's CLS token is the only query over
the other branch's patch tokens (:class:`~neuromodels.core.attention.ClsCrossAttention`, linear cost). Both
CLS tokens are classified and the logits averaged. The "dagger" variant embeds patches with a small stack of
strided convolutions instead of one linear projection.

Layer names, for :func:`neuromodels.core.activations.extract_activations`::

    embed_small / embed_large          patch tokens + CLS + position, (B, 1 + N, dim)
    blocks.{i}.small.{j} / .large.{j}  one transformer layer of a branch, (B, 1 + N, dim)
    blocks.{i}.out_small / .out_large  a branch after block i's fusion, (B, 1 + N, dim)
    norm_small / norm_large            final layer norm, (B, 1 + N, dim)
    head_small / head_large            each branch's logits, (B, n_classes)
    logits                             the averaged logits, (B, n_classes)

The model takes images in [0, 1] ``(B, 3, H, W)`` and normalises them itself, so adversarial budgets are in
pixel units (2/255 means two grey levels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.attention import ClsCrossAttention, TransformerEncoderLayer
from ..core.errors import ConfigError

__all__ = [
    "CrossViTConfig",
    "CROSSVIT_CONFIGS",
    "crossvit_config",
    "CrossViT",
    "ConvPatchEmbed",
    "LinearPatchEmbed",
    "MultiScaleBlock",
    "build_crossvit",
    "block_output_layers",
    "declared_crossvit",
    "checkpoint_declaration",
    "candidate_layers",
]


@dataclass(frozen=True)
class CrossViTConfig:
    """Architecture of a CrossViT.

    ``patch_sizes`` and ``image_sizes`` are in pixels, (small branch, large branch); an input of another size
    is resized per branch (bilinear), as the paper feeds 240 px to the 12 px branch and 224 px to the 16 px
    one. ``depths`` holds one ``(small_layers, large_layers)`` pair per multi-scale block; each block ends
    with one CLS cross-attention per direction. ``conv_embed`` selects the dagger variant.
    """

    image_sizes: tuple[int, int] = (32, 32)
    patch_sizes: tuple[int, int] = (4, 8)
    dims: tuple[int, int] = (32, 64)
    depths: tuple[tuple[int, int], ...] = ((1, 2),)
    num_heads: tuple[int, int] = (2, 2)
    mlp_ratios: tuple[float, float] = (3.0, 3.0)
    conv_embed: bool = True
    n_classes: int = 10
    drop_path: float = 0.0
    mean: tuple[float, float, float] = field(default=(0.5, 0.5, 0.5))
    std: tuple[float, float, float] = field(default=(0.5, 0.5, 0.5))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CrossViTConfig:
        """Inverse of :meth:`to_dict` (lists from JSON become tuples)."""

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, (list, tuple)) else v

        known = {k: tup(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def with_classes(self, n_classes: int) -> CrossViTConfig:
        return replace(self, n_classes=int(n_classes))


# Named configurations, from a CPU-sized toy to the paper's CrossViT-18-dagger (Chen et al. 2021, table 1:
# dims 224/448, heads 7, three blocks of depths [1, 6] with one fusion, mlp ratio 3, conv embedding, 240/224).
CROSSVIT_CONFIGS: dict[str, CrossViTConfig] = {
    "crossvit_micro": CrossViTConfig(
        image_sizes=(32, 32), patch_sizes=(4, 8), dims=(32, 64), depths=((1, 1),), num_heads=(2, 2)
    ),
    "crossvit_tiny": CrossViTConfig(
        image_sizes=(32, 32), patch_sizes=(4, 8), dims=(48, 96), depths=((1, 2), (1, 2)), num_heads=(3, 3)
    ),
    "crossvit_small": CrossViTConfig(
        image_sizes=(64, 64), patch_sizes=(8, 16), dims=(96, 192), depths=((1, 3), (1, 3), (1, 3)), num_heads=(3, 3)
    ),
    "crossvit_9_dagger": CrossViTConfig(
        image_sizes=(240, 224),
        patch_sizes=(12, 16),
        dims=(128, 256),
        depths=((1, 3), (1, 3), (1, 3)),
        num_heads=(4, 4),
        mlp_ratios=(3, 3),
        n_classes=1000,
        drop_path=0.1,
    ),
    "crossvit_18_dagger": CrossViTConfig(
        image_sizes=(240, 224),
        patch_sizes=(12, 16),
        dims=(224, 448),
        depths=((1, 6), (1, 6), (1, 6)),
        num_heads=(7, 7),
        mlp_ratios=(3, 3),
        n_classes=1000,
        drop_path=0.1,
    ),
}


def crossvit_config(name: str, **overrides: Any) -> CrossViTConfig:
    """A named configuration, optionally with some fields replaced (e.g. ``n_classes``)."""
    if name not in CROSSVIT_CONFIGS:
        raise ConfigError("model", f"unknown CrossViT configuration {name!r}; known: {sorted(CROSSVIT_CONFIGS)}")
    return replace(CROSSVIT_CONFIGS[name], **overrides)


def _conv_strides(patch: int) -> tuple[int, int, int]:
    """Three strides whose product is ``patch``: (4, 2, 2) for 16 and (4, 3, 1) for 12, as in the dagger stem."""
    first = 4 if patch % 4 == 0 and patch >= 12 else 2
    if patch % first:
        raise ConfigError("patch_sizes", f"a conv patch embedding needs an even patch size, got {patch}")
    rest = patch // first
    if rest % 2 == 0:
        return first, 2, rest // 2
    return first, rest, 1


class ConvPatchEmbed(nn.Module):
    """The dagger embedding: three strided convolutions (ReLU between) with total stride ``patch``.

    Output: tokens ``(B, (H / patch) * (W / patch), dim)``.
    """

    # kernel and padding per stride, so each convolution divides the side exactly by its stride
    _KERNEL = {1: (3, 1), 2: (3, 1), 3: (3, 0), 4: (7, 3)}

    def __init__(self, patch: int, dim: int, in_channels: int = 3) -> None:
        super().__init__()
        strides = _conv_strides(patch)
        widths = (max(dim // 4, 8), max(dim // 2, 8), dim)
        layers: list[nn.Module] = []
        c = in_channels
        for i, (s, w) in enumerate(zip(strides, widths)):
            k, p = self._KERNEL[s]
            layers.append(nn.Conv2d(c, w, kernel_size=k, stride=s, padding=p))
            if i < 2:
                layers.append(nn.ReLU())
            c = w
        self.proj = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class LinearPatchEmbed(nn.Module):
    """Non-overlapping patches projected linearly (a convolution with kernel = stride = ``patch``)."""

    def __init__(self, patch: int, dim: int, in_channels: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class BranchEmbedding(nn.Module):
    """Patch embedding, a learned CLS token and learned positions for one branch: ``(B, 1 + N, dim)``."""

    def __init__(self, image_size: int, patch: int, dim: int, conv: bool) -> None:
        super().__init__()
        if image_size % patch:
            raise ConfigError("image_sizes", f"image side {image_size} is not a multiple of the patch {patch}")
        self.image_size = image_size
        self.patches = (ConvPatchEmbed if conv else LinearPatchEmbed)(patch, dim)
        n = (image_size // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + n, dim))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        tokens = self.patches(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embed


class MultiScaleBlock(nn.Module):
    """Transformer layers per branch, then CLS cross-attention fusion in both directions.

    Both fusions read the branches as they were before fusing (as in CrossViT), so the order does not matter.
    """

    def __init__(
        self,
        dims: tuple[int, int],
        depths: tuple[int, int],
        num_heads: tuple[int, int],
        mlp_ratios: tuple[float, float],
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.small = nn.ModuleList(
            [
                TransformerEncoderLayer(dims[0], num_heads[0], mlp_ratios[0], drop_path=drop_path)
                for _ in range(depths[0])
            ]
        )
        self.large = nn.ModuleList(
            [
                TransformerEncoderLayer(dims[1], num_heads[1], mlp_ratios[1], drop_path=drop_path)
                for _ in range(depths[1])
            ]
        )
        # each CLS attends in the *other* branch's width, with that branch's number of heads
        self.fuse_small = ClsCrossAttention(dims[0], dims[1], num_heads[1], drop_path=drop_path)
        self.fuse_large = ClsCrossAttention(dims[1], dims[0], num_heads[0], drop_path=drop_path)
        self.out_small = nn.Identity()
        self.out_large = nn.Identity()

    def forward(self, xs: Tensor, xl: Tensor) -> tuple[Tensor, Tensor]:
        for layer in self.small:
            xs = layer(xs)
        for layer in self.large:
            xl = layer(xl)
        xs, xl = self.fuse_small(xs, xl), self.fuse_large(xl, xs)
        return self.out_small(xs), self.out_large(xl)


class CrossViT(nn.Module):
    """Dual-branch vision transformer with CLS cross-attention fusion.

    ``forward(images)``: ``images`` float ``(B, 3, H, W)`` in [0, 1]; returns logits ``(B, n_classes)``, the
    mean of both branches' heads.
    """

    def __init__(self, config: CrossViTConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.register_buffer("mean", torch.tensor(c.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(c.std).view(1, 3, 1, 1), persistent=False)
        self.embed_small = BranchEmbedding(c.image_sizes[0], c.patch_sizes[0], c.dims[0], c.conv_embed)
        self.embed_large = BranchEmbedding(c.image_sizes[1], c.patch_sizes[1], c.dims[1], c.conv_embed)
        n_blocks = len(c.depths)
        self.blocks = nn.ModuleList(
            [
                MultiScaleBlock(
                    c.dims,
                    tuple(d),
                    c.num_heads,
                    c.mlp_ratios,  # type: ignore[arg-type]
                    drop_path=c.drop_path * i / max(n_blocks - 1, 1),
                )
                for i, d in enumerate(c.depths)
            ]
        )
        self.norm_small = nn.LayerNorm(c.dims[0])
        self.norm_large = nn.LayerNorm(c.dims[1])
        self.head_small = nn.Linear(c.dims[0], c.n_classes)
        self.head_large = nn.Linear(c.dims[1], c.n_classes)
        self.logits = nn.Identity()
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, images: Tensor) -> Tensor:
        x = (images - self.mean) / self.std
        xs, xl = self.embed_small(x), self.embed_large(x)
        for block in self.blocks:
            xs, xl = block(xs, xl)
        xs, xl = self.norm_small(xs), self.norm_large(xl)
        return self.logits((self.head_small(xs[:, 0]) + self.head_large(xl[:, 0])) / 2)


def build_crossvit(config: CrossViTConfig | str, n_classes: int | None = None) -> CrossViT:
    """A CrossViT from a configuration or its name, optionally with another number of classes."""
    cfg = crossvit_config(config) if isinstance(config, str) else config
    if n_classes is not None:
        cfg = cfg.with_classes(n_classes)
    return CrossViT(cfg)


def block_output_layers(model: CrossViT) -> list[str]:
    """The layers a neural benchmark commits from: each block's branch outputs, then the final norms."""
    names = []
    for i in range(len(model.blocks)):
        names += [f"blocks.{i}.out_small", f"blocks.{i}.out_large"]
    return names + ["norm_small", "norm_large"]


# ------------------------------------------------------------------------------------------ declared
BUILDER = "neuromodels.brainscore.models:declared_crossvit"


def declared_crossvit(path: str, random_init: bool = False, seed: int = 0) -> CrossViT:
    """Builder of the declared CrossViTs (``crossvit_base`` ... in the family's ``models.yaml``, or any model file
    ``brainscore train`` / ``init`` wrote): the trained CrossViT of ``path``, or (``random_init``) the same
    architecture with weights drawn from the global RNG as the declaration seeds it (``seed``: the
    ``untrained_crossvit`` control's initialisation when it is the run's seed).

    The model takes images in [0, 1] and normalises them itself (its declaration keeps mean 0, std 1); its
    ``image_size`` is the side it was trained at (the preset's ``image_size`` in the file's metadata).
    """
    from ..core.errors import DataError
    from ..core.io import torch_load

    state = torch_load(path, map_location="cpu")
    if not isinstance(state, dict) or "config" not in state or "state_dict" not in state:
        raise DataError(path, "not a brainscore model file (needs config and state_dict)")
    config = CrossViTConfig.from_dict(state["config"])
    if random_init:
        # the global RNG is seeded with ``seed`` by the declaration's build; seeded here too when called alone
        torch.manual_seed(int(seed))
    model = CrossViT(config)
    if not random_init:
        model.load_state_dict(state["state_dict"])
    preset = (state.get("meta") or {}).get("preset") or {}
    model.image_size = int(preset.get("image_size") or max(config.image_sizes))
    return model


def checkpoint_declaration(path: Any, name: str = "crossvit"):
    """The declaration of one CrossViT model file (as ``models.yaml`` declares the variants' files): what
    ``brainscore score --model`` scores through, so the project's CrossViT and a user's model take one path."""
    from ..networks.declared import parse_declaration

    options = {"path": str(path)}
    entry = {
        "kind": "vision",
        "builder": BUILDER,
        "options": options,
        "untrained_options": {**options, "random_init": True},
        "description": f"CrossViT of {path}",
    }
    return parse_declaration(name, entry, builtin=True)


def candidate_layers(model: Any) -> list[str]:
    """The candidate layers of layer commitment for a declared model: its declared layers (or the default rule's);
    a CrossViT declared without layers commits from its block outputs and final norms
    (:func:`block_output_layers`), as the family always scored it."""
    if not model.declaration.layers and isinstance(model.vision, CrossViT):
        return block_output_layers(model.vision)
    return list(model.layers)
