"""eccNET on a declared model (:mod:`neuromodels.networks.declared`): a user's vision model named in
``search.models`` like any other model, and the family's own VGG backbone declared the same way.

The five pools' equivalent
--------------------------
eccNET reads VGG16's five conv blocks, each followed by a stride-2 pooling that becomes eccentricity-dependent.
A declared model has no such blocks, so its **pyramid** is chosen by
:func:`~neuromodels.networks.declared.spatial_pyramid`: among its layers (declared, or the default rule's) those
whose output is a spatial map ``(n, C, H, W)``, the last layer at each spatial size, the deepest five kept
(shallow to deep), found on a probe at the declaration's ``image_size``. Each pyramid layer's stride is the
probe's side over its map's. The search then runs eccNET on the display itself (the module is run on the padded
display at its own size, up to the deepest pyramid layer, so its head never runs and any size that its
convolutions take is fine), normalised with the declaration's mean, std and colour order:

- **top-down map**: the target's features at the deepest three pyramid layers (eccNET's conv3_3, conv4_3 and
  conv5_3 of five), convolved over the display's, as :class:`~.models.EccNet` does (min-max per layer, weighted by
  each layer's peak, the difference-of-Gaussians stage, relative to the empty display's features);
- **eccentricity pooling**: the model's own layers do the downsampling, so after every pyramid layer but the
  deepest its output map is replaced by an eccentricity-dependent average at the same resolution (stride 1,
  :class:`EccentricityBlur`): at eccentricity ``r`` the window is the smallest odd side of at least
  ``1 + max(0, round(slope * (2 r - fovea_deg) * px_per_deg_layer))`` map pixels (eccNET's growth at that
  layer's pixels per degree; one pixel, the map unchanged, in the fovea), with eccNET's slopes aligned at the
  deep end (a five-layer pyramid pools with the slopes of eccNET's four pools; a three-layer one with the last
  two).

The layers used are written in each run table (columns ``search_layers`` and ``top_down_layers``), logged, and
stated in the summary's notes (``declared_models``).

The family's own backbone
-------------------------
``search_vgg`` (``neuromodels/search/models.yaml``) declares the VGG trained on the upright diet of the run's
seed; :func:`declared_backbone` builds any of the family's backbone files through that declaration, so eccNET
and its ablations get their backbones by the same path as every declared model (the numbers are unchanged by
it: tested). Named in ``search.models``, ``search_vgg`` runs through the pyramid above (its five blocks), which
compares the general adaptation with eccNET's own pools on the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError, DataError
from .eccnet import _pad_multiple
from .models import (
    MODEL_KINDS,
    N_BLOCKS,
    DogKernels,
    EccentricitySettings,
    EccNet,
    pool_sizes,
)

__all__ = [
    "BUILTIN",
    "TOP_DOWN",
    "SearchLayers",
    "search_vgg",
    "declared_backbone",
    "is_declared",
    "check_name",
    "build_declared",
    "search_layers",
    "EccentricityBlur",
    "DeclaredEccNet",
]

# the declaration of the family's own backbone (neuromodels/search/models.yaml)
BUILTIN = "search_vgg"
# the top-down map reads the deepest three pyramid layers, as eccNET reads three of its five blocks
TOP_DOWN = 3
# the probe's side when a declaration leaves image_size empty (any size: a fully convolutional model)
PROBE_SIDE = 64


# ----------------------------------------------------------------------------------- the family's backbone
def search_vgg(path: str, random_init: bool = False, seed: int = 0, allow_pickle: bool = False) -> nn.Module:
    """Builder of ``search_vgg``: the backbone file at ``path`` (:func:`~.train.load_backbone`: one written by
    ``search train``, VGG16 weights in torchvision's layout, or with ``allow_pickle`` a module pickled whole);
    ``random_init`` gives the untrained-backbone control, the same architecture re-initialised with ``seed``
    (:func:`~.train.untrained_copy`)."""
    from .train import load_backbone, untrained_copy

    backbone = load_backbone(path, allow_pickle=allow_pickle)
    return untrained_copy(backbone, seed) if random_init else backbone


def declared_backbone(path: str, seed: int = 0, untrained: bool = False, allow_pickle: bool = False) -> nn.Module:
    """A backbone file built through the ``search_vgg`` declaration with its path (and pickle opt-in) replaced:
    the module eccNET and its ablations search with; ``untrained`` gives its random-init copy drawn from
    ``seed``."""
    from ..networks.declared import build_model, lookup

    if not Path(path).is_file():
        raise DataError(path, "backbone file not found")
    decl = lookup(BUILTIN, where="search.models")
    options = {"path": str(path), "allow_pickle": bool(allow_pickle)}
    decl = replace(decl, options=options, untrained_options={**options, "random_init": True})
    return build_model(decl, seed=seed, untrained=untrained).vision


# --------------------------------------------------------------------------------------- declared models
def is_declared(name: str) -> bool:
    """Whether a ``search.models`` entry names a declared model rather than one of the family's own kinds."""
    return name not in MODEL_KINDS


def check_name(name: str) -> None:
    """A declared model's name must leave the summary's statistics readable: no dot (``<name>.<metric>``), and
    not ``eccnet_<...>`` (eccNET's statistics per diet); one :class:`ConfigError` line otherwise."""
    if "." in name or name.startswith("eccnet_"):
        raise ConfigError(
            "search.models", f"{name!r}: a declared model's name may hold no dot nor start with 'eccnet_'"
        )


def build_declared(name: str, user: Mapping[str, Any] | None = None, seed: int = 0, device: str = "cpu"):
    """The declared vision model ``name`` (:func:`~neuromodels.networks.declared.build_model`); a text model, or
    an unknown name, is one :class:`ConfigError` line naming ``search.models``."""
    from ..networks.declared import build_model, lookup

    check_name(name)
    decl = lookup(name, dict(user or {}), where="search.models")
    if not decl.has_vision:
        raise ConfigError("search.models", f"{name} is a {decl.kind} model; search needs a vision model")
    if decl.image_size is None:
        # any size: the pyramid is found on a probe of PROBE_SIDE pixels (the search runs on the display itself)
        decl = replace(decl, image_size=PROBE_SIDE)
    return build_model(decl, seed=seed, device=device, user=dict(user or {}))


@dataclass(frozen=True)
class SearchLayers:
    """The pyramid (eccNET's five pools' equivalent, shallow to deep), each layer's stride in input pixels, and
    the layers the top-down map reads (the deepest :data:`TOP_DOWN`)."""

    pyramid: tuple[str, ...]
    strides: tuple[int, ...]

    @property
    def top_down(self) -> tuple[str, ...]:
        return self.pyramid[-TOP_DOWN:]

    @property
    def top_down_strides(self) -> tuple[int, ...]:
        return self.strides[-TOP_DOWN:]

    def slope_index(self, j: int) -> int:
        """eccNET's pool whose slope the pool after pyramid layer ``j`` takes (aligned at the deep end)."""
        return max(N_BLOCKS - len(self.pyramid) + j, 0)

    def describe(self) -> str:
        return (
            f"pyramid {', '.join(f'{n} (stride {s})' for n, s in zip(self.pyramid, self.strides))}; "
            f"top-down from {', '.join(self.top_down)}"
        )


def search_layers(model) -> SearchLayers:
    """The pyramid of a built declared model (:func:`~neuromodels.networks.declared.spatial_pyramid` on a probe
    at its ``image_size``) and each layer's stride (the probe's side over the layer's map side)."""
    from ..networks.declared import spatial_pyramid

    side = int(model.image_size)
    probe = np.random.default_rng(0).integers(0, 256, size=(2, side, side, 3), dtype=np.uint8)
    pyramid = spatial_pyramid(model, probe, most=N_BLOCKS)
    maps = model.image_layer_features(probe[:1], layers=pyramid, pooling="none")
    strides = []
    for name in pyramid:
        h, w = maps[name].shape[-2:]
        stride = side / max(h, w)
        if stride < 1 or abs(stride - round(stride)) > 0.25 * stride:
            raise ConfigError(
                f"{model.declaration.key}.layers",
                f"layer {name!r} gives a {h}x{w} map from a {side}x{side} image: search needs a whole stride",
            )
        strides.append(int(round(stride)))
    return SearchLayers(tuple(pyramid), tuple(strides))


# ------------------------------------------------------------------------------------ eccentricity pooling
class EccentricityBlur(nn.Module):
    """Stride-1 eccentricity pooling of a ``(B, C, H, W)`` map around per-sample fixations (``(B, 2)`` as
    ``(x, y)`` in this map's pixels): each pixel averages the smallest odd window of at least ``1 + growth``
    pixels, the growth being eccNET's at ``slope`` and this map's ``px_per_deg`` (rings of ``ring_step_deg``
    taken at their outer radius; no growth in the fovea). Vectorised as :class:`~.models.EccentricityPool`: each
    distinct window is pooled once over the whole map and the map picks, per pixel, its ring's."""

    def __init__(
        self,
        height: int,
        width: int,
        slope: float,
        px_per_deg: float,
        settings: EccentricitySettings = EccentricitySettings(),
    ) -> None:
        super().__init__()
        self.height, self.width = int(height), int(width)
        dy = np.arange(-(self.height - 1), self.height)[:, None]
        dx = np.arange(-(self.width - 1), self.width)[None, :]
        ecc = np.hypot(dy, dx) / px_per_deg
        grow = pool_sizes(ecc, slope, px_per_deg, settings) - settings.rf_min
        sizes = 1 + 2 * ((grow + 1) // 2)  # the smallest odd window of at least 1 + grow pixels
        self.sizes = tuple(int(k) for k in np.unique(sizes))
        index = np.searchsorted(np.asarray(self.sizes), sizes)
        self.register_buffer("size_index", torch.as_tensor(index, dtype=torch.long), persistent=False)

    def forward(self, x: Tensor, fixations: Tensor) -> Tensor:
        if len(self.sizes) == 1 and self.sizes[0] == 1:
            return x
        fi = fixations[:, 1].floor().long().clamp(0, self.height - 1)
        fj = fixations[:, 0].floor().long().clamp(0, self.width - 1)
        rows = (self.height - 1 - fi)[:, None] + torch.arange(self.height, device=x.device)[None, :]
        cols = (self.width - 1 - fj)[:, None] + torch.arange(self.width, device=x.device)[None, :]
        index = self.size_index.to(x.device)[rows[:, :, None], cols[:, None, :]]
        out = torch.zeros_like(x)
        for i in torch.unique(index).tolist():
            k = self.sizes[i]
            pooled = x if k == 1 else F.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False)
            out = out + pooled * (index == i).unsqueeze(1).to(x.dtype)
        return out


class _Stop(Exception):
    """Raised by the deepest pyramid layer's hook: the rest of the model (its head) is not needed."""


class DeclaredEccNet(EccNet):
    """eccNET on a declared model's pyramid (see the module docstring): the same top-down map, search and
    re-cropping as :class:`~.models.EccNet`, with the model's layers in place of VGG's blocks.

    Parameters
    ----------
    model : a built declared vision model (:func:`build_declared`).
    image_size, px_per_deg, settings, relative_to_background, recrop, dog : as for :class:`~.models.EccNet`.
    layers : its pyramid (:func:`search_layers`; found when None).
    """

    def __init__(
        self,
        model,
        image_size: tuple[int, int],
        px_per_deg: float,
        layers: SearchLayers | None = None,
        settings: EccentricitySettings = EccentricitySettings(),
        relative_to_background: bool = True,
        recrop: bool = False,
        dog: DogKernels | None = None,
    ) -> None:
        nn.Module.__init__(self)
        self.declared = model
        self.search = layers if layers is not None else search_layers(model)
        self.dog = dog
        self.backbone = model.vision.eval()
        self.layers = self.search.top_down
        self.strides = self.search.top_down_strides
        self.eccentricity, self.naive, self.settings = True, False, settings
        self.px_per_deg = float(px_per_deg)
        self.relative_to_background = relative_to_background
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.multiple = math.lcm(*self.search.strides)
        self.height, self.width = _pad_multiple(*image_size, self.multiple)
        self.recrop = bool(recrop)
        self.in_h, self.in_w = (2 * self.height, 2 * self.width) if self.recrop else (self.height, self.width)
        decl = model.declaration
        self.register_buffer("mean", torch.tensor(decl.mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(decl.std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.bgr = decl.colour == "bgr"
        modules = dict(self.backbone.named_modules())
        self._modules_at = [modules[n] for n in self.search.pyramid]
        self._blurs: dict[tuple[int, int, int], EccentricityBlur] = {}

    def _normalise(self, images: Tensor) -> Tensor:
        """Images in [0, 1] as the declaration's input (colour order, mean and std), at their own size."""
        x = images.flip(1) if self.bgr else images
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def _blur(self, j: int, x: Tensor) -> EccentricityBlur:
        key = (j, x.shape[2], x.shape[3])
        if key not in self._blurs:
            stride = self.search.strides[j]
            slope = self.settings.slopes[self.search.slope_index(j)]
            self._blurs[key] = EccentricityBlur(x.shape[2], x.shape[3], slope, self.px_per_deg / stride, self.settings)
        return self._blurs[key]

    def features(self, images: Tensor, fixations: Tensor) -> list[Tensor]:
        """Outputs of the top-down layers for images ``(B, 3, H, W)`` (padded sizes) fixated at ``(B, 2)``
        ``(x, y)`` image pixels, every shallower pyramid layer's map pooled by eccentricity on the way."""
        pyramid, last = self.search.pyramid, len(self.search.pyramid) - 1
        found: dict[str, Tensor] = {}

        def hook(j: int, _module: nn.Module, _inputs: Any, output: Any) -> Any:
            name = pyramid[j]
            if not isinstance(output, Tensor) or output.dim() != 4:
                raise ConfigError(
                    f"{self.declared.declaration.key}.layers", f"layer {name!r} gave no spatial map on a display"
                )
            if name in self.layers:
                found[name] = output if j == last else output.clone()
            if j == last:
                raise _Stop
            return self._blur(j, output)(output, fixations / self.search.strides[j])

        handles = [
            m.register_forward_hook(lambda mod, i, o, j=j: hook(j, mod, i, o)) for j, m in enumerate(self._modules_at)
        ]
        try:
            self.backbone(self._normalise(images))
        except _Stop:
            pass
        except ConfigError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise ConfigError(
                self.declared.declaration.key,
                f"the model failed on a {images.shape[2]}x{images.shape[3]} display: {type(exc).__name__}: {first}",
            ) from None
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in self.layers if n not in found]
        if missing:
            raise ConfigError(f"{self.declared.declaration.key}.layers", f"layer {missing[0]!r} did not run")
        return [found[n] for n in self.layers]
