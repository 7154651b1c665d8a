"""A small Vision Transformer built on the package's one attention library.

Layer names are stable so :func:`neuromodels.core.activations.extract_activations` can address them:
``patch_embed`` (a strided convolution, output ``(B, dim, H/p, W/p)``), ``blocks.0`` ... ``blocks.{depth-1}``
(tokens ``(B, 1 + n_patches, dim)``, CLS first), ``norm`` (the final LayerNorm over tokens) and ``head`` (the
linear projection of the CLS token to the embedding, ``(B, embed_dim)``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromodels.core.attention import Backend, TransformerEncoderLayer, init_transformer_weights

from .presets import STEMS

__all__ = ["VisionTransformer", "prepare_images", "conv_stem", "STEMS"]

# Per-channel statistics used to centre images in [0, 1] before the patch projection; fixed rather than
# measured so that every encoder sees the same input scale.
_MEAN = (0.5, 0.5, 0.5)
_STD = (0.25, 0.25, 0.25)


def prepare_images(images: Tensor | Any, image_size: int | None = None) -> Tensor:
    """Turn a batch of images into float ``(B, 3, H, W)`` in [0, 1].

    Parameters
    ----------
    images:
        uint8 ``(B, H, W, 3)`` (as stimuli are stored), uint8 ``(B, 3, H, W)`` or float ``(B, 3, H, W)`` in
        [0, 1]; a numpy array or a tensor.
    image_size:
        When given, resize (bilinear, anti-aliased) to ``image_size x image_size`` pixels.
    """
    x = torch.as_tensor(images)
    if x.dim() != 4:
        raise ValueError(f"images must be 4-d (B, H, W, 3) or (B, 3, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != 3 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] != 3:
        raise ValueError(f"images must have 3 colour channels, got shape {tuple(x.shape)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if image_size is not None and (x.shape[-2] != image_size or x.shape[-1] != image_size):
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        ).clamp_(0.0, 1.0)
    return x.contiguous()


def conv_stem(dim: int, patch_size: int) -> nn.Sequential:
    """A convolutional patch embedding: ``(B, 3, H, W) -> (B, dim, H / patch_size, W / patch_size)`` by
    log2(``patch_size``) stride-2 3x3 convolutions (group norm, ReLU), the last at ``dim / 2`` channels and each
    earlier one half the next, then a 1x1 convolution to ``dim``."""
    steps = int(patch_size).bit_length() - 1
    if patch_size < 2 or 2**steps != patch_size:
        raise ValueError(f"a convolutional stem needs a patch_size that is a power of two, got {patch_size}")
    widths = [max(dim >> (steps - i), 8) for i in range(steps)]  # ..., dim / 4, dim / 2
    layers: list[nn.Module] = []
    c_in = 3
    for width in widths:
        layers += [nn.Conv2d(c_in, width, 3, stride=2, padding=1), nn.GroupNorm(1, width), nn.ReLU()]
        c_in = width
    layers.append(nn.Conv2d(c_in, dim, 1))
    return nn.Sequential(*layers)


class VisionTransformer(nn.Module):
    """ViT: conv patch embedding, CLS token, learned positions, pre-norm encoder layers, projection head.

    Parameters
    ----------
    image_size:
        Side of the (square) input in pixels; other sizes are resized in :meth:`forward`.
    patch_size:
        Side of a patch in pixels; must divide ``image_size``.
    dim:
        Token width.
    depth:
        Number of :class:`~neuromodels.core.attention.TransformerEncoderLayer` blocks.
    num_heads:
        Attention heads per block.
    mlp_ratio:
        Hidden width of each block's MLP relative to ``dim``.
    embed_dim:
        Width of the output embedding (the ``head`` projection of the CLS token); defaults to ``dim``.
    drop_path:
        Stochastic depth rate of the last block (linearly increasing from 0 over the blocks).
    stem:
        ``"patch"``: one strided convolution per patch (ViT's patch embedding); ``"conv"``: a convolutional stem
        (Xiao et al., "Early convolutions help transformers see better", NeurIPS 2021): log2(patch_size) 3x3
        convolutions of stride 2, each with group norm and ReLU, widths doubling up to ``dim / 2``, then a 1x1
        projection to ``dim``. The same token grid either way; ``patch_size`` must then be a power of two.
    backend:
        Attention backend (None: the library default, SDPA).
    """

    def __init__(
        self,
        image_size: int = 64,
        patch_size: int = 8,
        dim: int = 128,
        depth: int = 4,
        num_heads: int = 4,
        mlp_ratio: float = 4.0,
        embed_dim: int | None = None,
        drop_path: float = 0.0,
        stem: str = "patch",
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"patch_size {patch_size} must divide image_size {image_size}")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        embed_dim = dim if embed_dim is None else embed_dim
        # constructor arguments, kept so an encoder can be saved, rebuilt and re-initialised
        self.config: dict[str, Any] = dict(
            image_size=image_size,
            patch_size=patch_size,
            dim=dim,
            depth=depth,
            num_heads=num_heads,
            mlp_ratio=mlp_ratio,
            embed_dim=embed_dim,
            drop_path=drop_path,
            stem=stem,
        )
        self.image_size, self.patch_size, self.dim, self.embed_dim = image_size, patch_size, dim, embed_dim
        self.n_patches = (image_size // patch_size) ** 2
        self.patch_embed = (
            conv_stem(dim, patch_size)
            if stem == "conv"
            else nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.n_patches, dim))
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            TransformerEncoderLayer(dim, num_heads, mlp_ratio=mlp_ratio, drop_path=rate, backend=backend)
            for rate in rates
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, embed_dim)
        self.register_buffer("pixel_mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal weights (std 0.02) for positions, CLS and linear layers; LayerNorm to identity."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():  # the patch embedding comes first: keep its draws first
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        init_transformer_weights(self)

    def forward_tokens(self, images: Tensor) -> Tensor:
        """Images float ``(B, 3, H, W)`` in [0, 1] -> normalised tokens ``(B, 1 + n_patches, dim)``."""
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = prepare_images(images, self.image_size)
        x = (images - self.pixel_mean) / self.pixel_std
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, n_patches, dim)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, images: Tensor) -> Tensor:
        """Images float ``(B, 3, H, W)`` in [0, 1] -> embedding ``(B, embed_dim)`` (projected CLS token)."""
        return self.head(self.forward_tokens(images)[:, 0])

    @property
    def layer_names(self) -> list[str]:
        """The layers offered for features, input to output."""
        return ["patch_embed", *[f"blocks.{i}" for i in range(len(self.blocks))], "norm", "head"]
