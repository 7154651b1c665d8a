"""The search family's backbone: :class:`VGGBackbone`, VGG16's shape at a chosen width, in :data:`N_BLOCKS`
blocks (the interface any backbone of :class:`~neuromodels.search.eccnet.EccNet` has is described in
:mod:`.eccnet`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError

__all__ = ["VGGBackbone", "N_BLOCKS"]

N_BLOCKS = 5


class VGGBackbone(nn.Module):
    """VGG16's shape at a chosen width: 5 blocks of 3x3 convolutions (``convs`` per block, ``widths``
    channels) with batch norm and ReLU; a stride-2 average pool after each block; a linear classifier on the
    global average of the last block (used only for training)."""

    def __init__(
        self,
        widths: Sequence[int] = (8, 16, 32, 32, 32),
        convs: Sequence[int] = (2, 2, 3, 3, 3),
        n_classes: int = 10,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) != N_BLOCKS or len(convs) != N_BLOCKS:
            raise ConfigError("widths", f"the backbone has {N_BLOCKS} blocks: give 5 widths and 5 conv counts")
        self.widths, self.convs = tuple(int(w) for w in widths), tuple(int(c) for c in convs)
        self.batch_norm = bool(batch_norm)
        blocks, c_in = [], 3
        for width, n in zip(self.widths, self.convs):
            layers: list[nn.Module] = []
            for _ in range(n):
                if self.batch_norm:
                    layers += [
                        nn.Conv2d(c_in, width, 3, padding=1, bias=False),
                        nn.BatchNorm2d(width),
                        nn.ReLU(inplace=True),
                    ]
                else:  # VGG16's own layout (convolution with bias, ReLU): pretrained weights map onto it
                    layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = width
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c_in, n_classes)
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))

    def normalise(self, images: Tensor) -> Tensor:
        return (images - self.mean) / self.std

    def forward(self, images: Tensor) -> Tensor:
        """Class logits of images ``(B, 3, H, W)`` in [0, 1], H and W multiples of 32."""
        x = self.normalise(images)
        for block in self.blocks:
            x = F.avg_pool2d(block(x), 2)
        return self.head(x.mean(dim=(2, 3)))
