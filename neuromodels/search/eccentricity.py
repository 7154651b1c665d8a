"""eccNET's eccentricity-dependent pooling around the current fixation: its settings
(:class:`EccentricitySettings`), the window size of each ring (:func:`pool_sizes`), the vectorised pool
(:class:`EccentricityPool`) and the straightforward one it is checked and benchmarked against
(:func:`naive_eccentricity_pool`).

Eccentricity pooling
--------------------
At pool ``i`` (input resolution ``px_per_deg / 2**i``), the output pixel at eccentricity ``r`` degrees from the
fixation (rings of ``ring_step_deg``, each taken at its outer radius) averages a window of
``rf_min + max(0, round(slope_i * (2 r - fovea_deg) * px_per_deg_i)))`` input pixels, stride 2; inside the
fovea (``2 r <= fovea_deg``) this is plain 2x2 average pooling. The window size of every offset from the
fixation is computed once per layer (a map twice the layer's size); a fixation crops it. Each distinct window
size is pooled once over the whole map and the map picks, per pixel, the pooling of its ring: no loop over
pixels or rings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError

__all__ = ["EccentricitySettings", "pool_sizes", "EccentricityPool", "naive_eccentricity_pool"]


@dataclass(frozen=True)
class EccentricitySettings:
    """The paper's defaults: ``rf_min`` 2, stride 2, per-pool ``slopes``, ``fovea_deg`` 4 (diameter), rings of
    ``ring_step_deg``. ``px_per_deg`` of pool ``i`` is the image's ``px_per_deg / 2**i``."""

    rf_min: int = 2
    slopes: tuple[float, ...] = (0.0, 0.0, 0.07, 0.16, 0.32)
    fovea_deg: float = 4.0
    ring_step_deg: float = 0.5


def pool_sizes(ecc_deg: np.ndarray | float, slope: float, px_per_deg: float, s: EccentricitySettings) -> np.ndarray:
    """Window size (input pixels) of the ring holding eccentricity ``ecc_deg`` at a pool with ``slope``."""
    ring_outer = (np.floor(np.asarray(ecc_deg, dtype=np.float64) / s.ring_step_deg) + 1) * s.ring_step_deg
    grow = np.rint(slope * (2 * ring_outer - s.fovea_deg) * px_per_deg)
    return (s.rf_min + np.maximum(grow, 0)).astype(np.int64)


def _pool(x: Tensor, k: int) -> Tensor:
    """Average over a ``k x k`` window, stride 2, windows centred on plain 2x2 pooling's (even H, W)."""
    if k == 2:
        return F.avg_pool2d(x, 2)
    return F.avg_pool2d(x, k, stride=2, padding=(k - 1) // 2, count_include_pad=False)


class EccentricityPool(nn.Module):
    """Stride-2 eccentricity pooling of a ``(B, C, H, W)`` map (H, W even) around per-sample fixations.

    ``forward(x, fixations)`` with fixations ``(B, 2)`` as ``(x, y)`` in this layer's input pixels.
    """

    def __init__(
        self,
        height: int,
        width: int,
        slope: float,
        px_per_deg: float,
        settings: EccentricitySettings = EccentricitySettings(),
    ) -> None:
        super().__init__()
        if height % 2 or width % 2:
            raise ConfigError("image_size", f"eccentricity pooling needs even map sizes, got {height}x{width}")
        self.out_h, self.out_w = height // 2, width // 2
        # offsets (in output pixels) from the fixation's output pixel, every one a map can hold
        dy = np.arange(-(self.out_h - 1), self.out_h)[:, None]
        dx = np.arange(-(self.out_w - 1), self.out_w)[None, :]
        ecc = 2.0 * np.hypot(dy, dx) / px_per_deg  # output pixels are 2 input pixels apart
        sizes = pool_sizes(ecc, slope, px_per_deg, settings)
        self.sizes = tuple(int(k) for k in np.unique(sizes))
        index = np.searchsorted(np.asarray(self.sizes), sizes)
        self.register_buffer("size_index", torch.as_tensor(index, dtype=torch.long), persistent=False)

    def index_map(self, fixations: Tensor) -> Tensor:
        """``(B, out_h, out_w)`` index into :attr:`sizes` of each output pixel's window, for each fixation."""
        fi = (fixations[:, 1] / 2).floor().long().clamp(0, self.out_h - 1)
        fj = (fixations[:, 0] / 2).floor().long().clamp(0, self.out_w - 1)
        rows = (self.out_h - 1 - fi)[:, None] + torch.arange(self.out_h, device=fixations.device)[None, :]
        cols = (self.out_w - 1 - fj)[:, None] + torch.arange(self.out_w, device=fixations.device)[None, :]
        return self.size_index[rows[:, :, None], cols[:, None, :]]

    def forward(self, x: Tensor, fixations: Tensor) -> Tensor:
        index = self.index_map(fixations)  # (B, h, w)
        used = torch.unique(index).tolist()
        if len(used) == 1:
            return _pool(x, self.sizes[used[0]])
        out = torch.zeros(x.shape[0], x.shape[1], self.out_h, self.out_w, dtype=x.dtype, device=x.device)
        for i in used:  # one pooling per distinct window size, not per ring or pixel
            out = out + _pool(x, self.sizes[i]) * (index == i).unsqueeze(1).to(x.dtype)
        return out


def naive_eccentricity_pool(
    x: Tensor,
    fixations: Tensor,
    slope: float,
    px_per_deg: float,
    settings: EccentricitySettings = EccentricitySettings(),
) -> Tensor:
    """The straightforward version (the benchmark's baseline): for every sample and every ring, pool the map
    with that ring's window, build the ring's mask from distances and add its pixels."""
    out_h, out_w = x.shape[2] // 2, x.shape[3] // 2
    yy, xx = torch.meshgrid(
        torch.arange(out_h, dtype=torch.float64), torch.arange(out_w, dtype=torch.float64), indexing="ij"
    )
    outs = []
    for b in range(x.shape[0]):
        fi = min(max(math.floor(float(fixations[b, 1]) / 2), 0), out_h - 1)
        fj = min(max(math.floor(float(fixations[b, 0]) / 2), 0), out_w - 1)
        ecc = 2.0 * torch.hypot(yy - fi, xx - fj) / px_per_deg
        ring = torch.floor(ecc / settings.ring_step_deg)
        out = torch.zeros(1, x.shape[1], out_h, out_w, dtype=x.dtype)
        for j in range(int(ring.max()) + 1):
            k = int(pool_sizes((j + 0.5) * settings.ring_step_deg, slope, px_per_deg, settings))
            mask = (ring == j).to(x.dtype)
            out = out + _pool(x[b : b + 1], k) * mask
        outs.append(out)
    return torch.cat(outs)
