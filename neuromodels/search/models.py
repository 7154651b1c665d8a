"""eccNET (Gupta, Zhang & Kreiman, NeurIPS 2021) and its baselines: a VGG-like backbone whose pooling becomes
eccentricity-dependent around the current fixation, a top-down map from the target's features at three depths,
winner-take-all fixations with inhibition of return.

The model kinds the family runs (:data:`MODEL_KINDS`) are held here; the models are re-exported from the modules
that hold them:

* :mod:`.backbone`: the VGG-like backbone (:class:`VGGBackbone`, :data:`N_BLOCKS` blocks).
* :mod:`.eccentricity`: eccentricity pooling (described there): :class:`EccentricitySettings`,
  :func:`pool_sizes`, :class:`EccentricityPool`, :func:`naive_eccentricity_pool`.
* :mod:`.gaussians`: :func:`gaussian_blur` and eccNET's :func:`difference_of_gaussians`.
* :mod:`.eccnet`: the top-down model (:class:`EccNet`) and the interface of a backbone of one's own (described
  there).
* :mod:`.winner_take_all`: the search (:func:`run_search`, :class:`SearchResult`, :func:`grid_cells`,
  :func:`eccnet_fixation_count`, :func:`border_colour`).
* :mod:`.baselines`: pixel matching (:func:`pixel_priority`) and chance (:func:`chance_fixations`).
"""

from __future__ import annotations

from .backbone import N_BLOCKS, VGGBackbone
from .baselines import IMAGENET_MEAN, chance_fixations, pixel_priority
from .eccentricity import EccentricityPool, EccentricitySettings, naive_eccentricity_pool, pool_sizes
from .eccnet import EccNet
from .gaussians import PUBLISHED_MAP_DEG, DogKernels, difference_of_gaussians, gaussian_blur
from .winner_take_all import (
    PriorityFn,
    SearchResult,
    border_colour,
    eccnet_fixation_count,
    grid_cells,
    owner_maps,
    run_search,
)

__all__ = [
    "VGGBackbone",
    "EccentricitySettings",
    "EccentricityPool",
    "naive_eccentricity_pool",
    "EccNet",
    "pool_sizes",
    "SearchResult",
    "run_search",
    "pixel_priority",
    "chance_fixations",
    "MODEL_KINDS",
    "grid_cells",
    "eccnet_fixation_count",
    "difference_of_gaussians",
    "gaussian_blur",
    # also public here before the split
    "N_BLOCKS",
    "DogKernels",
    "PUBLISHED_MAP_DEG",
    "PriorityFn",
    "owner_maps",
    "border_colour",
    "IMAGENET_MEAN",
]

# the published ablations and baselines; which layers and whether pooling follows eccentricity
MODEL_KINDS: dict[str, dict] = {
    "eccnet": {"layers": (2, 3, 4), "eccentricity": True},
    "eccnet_no_ecc": {"layers": (2, 3, 4), "eccentricity": False},
    "eccnet_top_layer": {"layers": (4,), "eccentricity": True},
    # the control of a trained backbone: eccNET on the same architecture, randomly initialised, never trained
    "untrained_backbone": {"layers": (2, 3, 4), "eccentricity": True},
    "ivsn": {"layers": (4,), "eccentricity": False},
    "pixel": {},
    "chance": {},
}
