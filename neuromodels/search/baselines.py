"""The search models' baselines: pixel matching as published (:func:`pixel_priority`) and a random fixation
order over the items (:func:`chance_fixations`)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .gaussians import gaussian_blur
from .winner_take_all import PriorityFn

__all__ = ["pixel_priority", "chance_fixations", "IMAGENET_MEAN"]

# ImageNet's channel means (RGB in [0, 1]): the published pixel matching subtracts them (VGG's preprocessing)
IMAGENET_MEAN = (0.485, 0.456, 0.406)


def pixel_priority(targets: Tensor, px_per_deg: float = 30.0) -> PriorityFn:
    """Pixel matching as published: the whole target image (ImageNet's channel means removed, as VGG's
    preprocessing does) correlated over the search image (the same), summed over colour channels, then
    blurred by a Gaussian of 7 x 7 px and sigma 3 px at 30 px/deg (scaled to ``px_per_deg``). A raw,
    unnormalised correlation: it favours items whose pixels carry more of the target's energy, not the exact
    match (a normalised matched filter finds a noise-free target at the first fixation, which the published
    baseline does not)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=targets.dtype).view(1, 3, 1, 1)
    h, w = targets.shape[2:]
    kernels = (targets - mean)[:, :, : h - (1 - h % 2), : w - (1 - w % 2)]  # odd sides: 'same' is symmetric
    scale = float(px_per_deg) / 30.0
    cache: dict[int, Tensor] = {}

    def priority(images: Tensor, fixations: Tensor, trials: Tensor) -> Tensor:
        # the map does not depend on the fixation, and the published baseline never blanks: computed once per
        # trial, on the display as first shown
        todo = [i for i, t in enumerate(trials.tolist()) if t not in cache]
        if todo:
            sel = torch.as_tensor(todo)
            n, c, H, W = images[sel].shape
            x = (images[sel] - mean).reshape(1, n * c, H, W)
            raw = F.conv2d(x, kernels[trials[sel]], padding="same", groups=n)[0]
            raw = gaussian_blur(raw, 7 * scale, 3 * scale)
            for j, i in enumerate(todo):
                cache[int(trials[i])] = raw[j]
        return torch.stack([cache[int(t)] for t in trials.tolist()])

    return priority


def chance_fixations(set_sizes: np.ndarray, target_index: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """Mean fixations of a random fixation order over the items (each item once), ``draws`` orders per trial."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(set_sizes), dtype=np.float64)
    for i, (n, t) in enumerate(zip(set_sizes, target_index)):
        orders = rng.random((draws, int(n))).argsort(axis=1)
        out[i] = (np.argmax(orders == t, axis=1) + 1).mean()
    return out
