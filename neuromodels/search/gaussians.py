"""Gaussian maps of the search models: a normalised separable Gaussian blur (:func:`gaussian_blur`) and
eccNET's difference-of-Gaussians sharpening of the top-down map (:func:`difference_of_gaussians`), with its
kernels given in the published model's map pixels (:data:`PUBLISHED_MAP_DEG`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DogKernels", "PUBLISHED_MAP_DEG", "gaussian_blur", "difference_of_gaussians"]

# ((size, sigma) of the narrow Gaussian, (size, sigma) of the wide one) in the published model's map pixels
DogKernels = tuple[tuple[int, float], tuple[int, float]]
# The published model's map: VGG16's pool5 grid at 30 px/deg, 32 image pixels (1.07 deg) per map pixel.
PUBLISHED_MAP_DEG = 32 / 30.0


def _cv2_sigma(size: int, sigma: float) -> float:
    """A Gaussian's sigma as OpenCV's GaussianBlur takes it: 0 means the one that fits the window size."""
    return float(sigma) if sigma > 0 else 0.3 * ((size - 1) * 0.5 - 1) + 0.8


def gaussian_blur(maps: Tensor, size: float, sigma: float) -> Tensor:
    """``(B, H, W)`` maps blurred by a separable Gaussian of ``sigma`` pixels truncated to a ``size`` pixel window
    (odd, at least 1), normalised where the window leaves the map (so a uniform map stays uniform)."""
    half = max(int(round((size - 1) / 2)), 0)
    if half == 0 or sigma <= 0:
        return maps
    x = torch.arange(-half, half + 1, dtype=maps.dtype, device=maps.device)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()

    def sep(t: Tensor) -> Tensor:
        t = F.conv2d(t, k.view(1, 1, 1, -1), padding=(0, half))
        return F.conv2d(t, k.view(1, 1, -1, 1), padding=(half, 0))

    m = maps.unsqueeze(1)
    return (sep(m) / sep(torch.ones_like(m[:1])).clamp_min(1e-12)).squeeze(1)


def difference_of_gaussians(maps: Tensor, kernels: DogKernels, px_per_deg: float, iterations: int = 3) -> Tensor:
    """eccNET's sharpening of the top-down map: ``iterations`` times ``map += G_narrow(map) - G_wide(map)``.

    ``kernels`` are the published model's per-experiment windows and sigmas (OpenCV's convention: sigma 0 is the
    window's own), in its map pixels (:data:`PUBLISHED_MAP_DEG` degrees each); here they are scaled to the same
    degrees at this map's ``px_per_deg`` (the map is at image resolution), so the stage acts on the same visual
    angle at any display resolution."""
    scale = PUBLISHED_MAP_DEG * float(px_per_deg)
    (size_n, sigma_n), (size_w, sigma_w) = kernels
    narrow = (size_n * scale, _cv2_sigma(size_n, sigma_n) * scale)
    wide = (size_w * scale, _cv2_sigma(size_w, sigma_w) * scale)
    out = maps
    for _ in range(iterations):
        out = out + (gaussian_blur(out, *narrow) - gaussian_blur(out, *wide))
    return out
