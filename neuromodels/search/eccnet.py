"""eccNET's top-down model (:class:`EccNet`): a backbone whose pooling becomes eccentricity-dependent around the
current fixation, and a top-down map from the target's features at three depths.

Bring your own backbone
-----------------------
Any ``torch.nn.Module`` with an attribute ``blocks``: a sequence of 5 modules, each mapping
``(B, C_in, H, W) -> (B, C_out, H, W)`` at unchanged resolution (convolutions and non-linearities only; the
search model puts a stride-2 pooling after each block, as VGG16 does after its 5 conv blocks), and taking
images ``(B, 3, H, W)`` float in [0, 1] into the first block. :class:`~neuromodels.search.backbone.VGGBackbone`
is one; a pretrained VGG16 fits once split at its pools. Pass it to :class:`EccNet` (or save it with
``torch.save`` and give the path to ``neuromodels search evaluate --backbone``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError
from .backbone import N_BLOCKS
from .eccentricity import EccentricityPool, EccentricitySettings, naive_eccentricity_pool
from .gaussians import DogKernels, difference_of_gaussians
from .winner_take_all import PriorityFn, border_colour

__all__ = ["EccNet"]


def _pad_multiple(height: int, width: int, multiple: int = 32) -> tuple[int, int]:
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


class EccNet(nn.Module):
    """Top-down search over a backbone (see the module docstring for the backbone's interface).

    Parameters
    ----------
    backbone : module with ``blocks`` (5) and optionally ``normalise(images)``.
    image_size : ``(H, W)`` of the search images (padded to multiples of 32 inside).
    px_per_deg : pixels per degree of the search images.
    layers : blocks whose outputs make the top-down map (0-based: (2, 3, 4) = conv3_3, conv4_3, conv5_3).
    eccentricity : eccentricity pooling (True) or plain 2x2 average pooling everywhere (False).
    naive : use :func:`naive_eccentricity_pool` (the benchmark's baseline) instead of the vectorised pools.
    relative_to_background : take every feature map relative to the empty display's (the same background
        colour, no items), for the search image and the target alike. A small backbone trained briefly
        responds strongly to uniform background and to the image border at its deep layers, which would
        otherwise swamp the items' features; VGG16 on ImageNet does not need it (set False for the paper's
        raw maps).
    recrop : the paper's re-cropping: at each fixation the display is placed on a background canvas twice its
        size (padded) so that the fixation falls at the canvas's centre (to the deepest layer's stride), and
        the features are read back over the display; the network's borders then sit as far from the fixation
        in every direction, never on the display. The target is seen the same way (centred on the canvas).
    dog : eccNET's difference-of-Gaussians stage on the combined map, ``((size_1, sigma_1), (size_2, sigma_2))``
        in the published model's map pixels (see :func:`difference_of_gaussians`); None leaves it out.
    """

    def __init__(
        self,
        backbone: nn.Module,
        image_size: tuple[int, int],
        px_per_deg: float,
        layers: Sequence[int] = (2, 3, 4),
        eccentricity: bool = True,
        settings: EccentricitySettings = EccentricitySettings(),
        naive: bool = False,
        relative_to_background: bool = True,
        recrop: bool = False,
        dog: DogKernels | None = None,
    ) -> None:
        super().__init__()
        self.dog = dog
        blocks = getattr(backbone, "blocks", None)
        if blocks is None or len(blocks) != N_BLOCKS:
            raise ConfigError("backbone", f"needs an attribute 'blocks' with {N_BLOCKS} modules")
        if not layers or any(not 0 <= int(i) < N_BLOCKS for i in layers):
            raise ConfigError("layers", f"block indices must be in 0..{N_BLOCKS - 1}, got {list(layers)}")
        self.backbone = backbone.eval()
        self.layers = tuple(sorted(int(i) for i in layers))
        # each chosen layer's stride in input pixels (a pool halves the map after every block before it)
        self.strides = tuple(2**i for i in self.layers)
        self.eccentricity, self.naive, self.settings = eccentricity, naive, settings
        self.px_per_deg = float(px_per_deg)
        self.relative_to_background = relative_to_background
        self.image_size = (int(image_size[0]), int(image_size[1]))
        # every pool before the deepest layer halves the map: sizes padded to a multiple of 2 ** that depth
        self.multiple = 2 ** max(self.layers[-1], 1)
        self.height, self.width = _pad_multiple(*image_size, self.multiple)
        self.recrop = bool(recrop)
        # the network's input: the padded display, or the canvas twice its size that re-cropping centres
        self.in_h, self.in_w = (2 * self.height, 2 * self.width) if self.recrop else (self.height, self.width)
        self.pools = (
            nn.ModuleList(
                EccentricityPool(self.in_h >> i, self.in_w >> i, settings.slopes[i], self.px_per_deg / 2**i, settings)
                for i in range(self.layers[-1])
            )
            if eccentricity
            else None
        )

    def _normalise(self, images: Tensor) -> Tensor:
        fn = getattr(self.backbone, "normalise", None)
        return fn(images) if fn is not None else images

    def features(self, images: Tensor, fixations: Tensor) -> list[Tensor]:
        """Outputs of the chosen blocks for images ``(B, 3, H, W)`` (padded sizes) fixated at ``(B, 2)``
        ``(x, y)`` image pixels."""
        x = self._normalise(images)
        out = []
        for i in range(self.layers[-1] + 1):
            x = self.backbone.blocks[i](x)
            if i in self.layers:
                out.append(x)
            if i == self.layers[-1]:
                break
            if not self.eccentricity:
                x = F.avg_pool2d(x, 2)
            elif self.naive:
                x = naive_eccentricity_pool(
                    x, fixations / 2**i, self.settings.slopes[i], self.px_per_deg / 2**i, self.settings
                )
            else:
                x = self.pools[i](x, fixations / 2**i)
        return out

    def target_kernels(self, targets: Tensor, extent_px: float) -> list[Tensor]:
        """The target's features at each layer, cropped to its extent: ``(B, C, k, k)`` per layer.

        ``targets``: ``(B, 3, h, w)`` target images (the target centred), fixated at their centre.
        """
        b, _, h, w = targets.shape
        if h > self.in_h or w > self.in_w:
            raise ConfigError("target_image", f"target images ({h}x{w}) must be smaller than the search images")
        colours = border_colour(targets)
        background = self.background_features(colours) if self.relative_to_background else None
        kernels = []
        for n, stride in enumerate(self.strides):
            # place the target so that its centre falls on the centre of one of this layer's pixels
            j_y, j_x = (self.in_h // 2) // stride, (self.in_w // 2) // stride
            top = int(round(stride * (j_y + 0.5) - h / 2))
            left = int(round(stride * (j_x + 0.5) - w / 2))
            top, left = min(max(top, 0), self.in_h - h), min(max(left, 0), self.in_w - w)
            canvas = _pad_to(targets, self.in_h, self.in_w, top, left, colours)
            centre = torch.tensor([[left + w / 2, top + h / 2]], dtype=targets.dtype).expand(b, 2)
            feat = self.features(canvas, centre)[n]
            if background is not None:
                feat = feat - background[n]
            k = max(1, int(math.ceil(extent_px / stride))) | 1  # odd, so 'same' padding is symmetric
            y0, x0 = max(j_y - k // 2, 0), max(j_x - k // 2, 0)
            kernels.append(feat[:, :, y0 : y0 + k, x0 : x0 + k])
        return kernels

    def background_features(self, colours: Tensor) -> list[Tensor]:
        """Features of empty displays of the given ``(B, 3)`` colours, fixated at the centre."""
        b = colours.shape[0]
        blank = colours.view(b, 3, 1, 1).expand(b, 3, self.in_h, self.in_w).contiguous()
        centre = torch.tensor([[self.in_w / 2, self.in_h / 2]], dtype=colours.dtype).expand(b, 2)
        return self.features(blank, centre)

    def centred(self, images: Tensor, fixations: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Re-cropping: ``(canvas (B, 3, in_h, in_w), fixations on it, offsets (B, 2) (top, left))``, each
        display placed so that its fixation falls at the canvas's centre, offsets multiples of the deepest
        layer's stride (so every layer's features of the display are whole pixels of the canvas's)."""
        b = images.shape[0]
        m = self.multiple
        colours = border_colour(images[:, :, : self.image_size[0], : self.image_size[1]])
        canvas = colours.view(b, 3, 1, 1).expand(b, 3, self.in_h, self.in_w).clone()
        tops = ((self.in_h / 2 - fixations[:, 1]) / m).round().long().clamp(0, (self.in_h - self.height) // m) * m
        lefts = ((self.in_w / 2 - fixations[:, 0]) / m).round().long().clamp(0, (self.in_w - self.width) // m) * m
        for i in range(b):
            t, l = int(tops[i]), int(lefts[i])
            canvas[i, :, t : t + self.height, l : l + self.width] = images[i]
        moved = fixations + torch.stack([lefts, tops], dim=1).to(fixations.dtype)
        return canvas, moved, torch.stack([tops, lefts], dim=1)

    def display_features(
        self, images: Tensor, fixations: Tensor, background: list[Tensor] | None = None
    ) -> list[Tensor]:
        """Features of the displays (padded size) at the chosen layers, minus ``background``'s (features of the
        empty input, the network's input size) when given; with re-cropping, read back over the display."""
        if not self.recrop:
            feats = self.features(images, fixations)
            return feats if background is None else [f - g for f, g in zip(feats, background)]
        canvas, moved, offsets = self.centred(images, fixations)
        feats = self.features(canvas, moved)
        out = []
        for n, (s, feat) in enumerate(zip(self.strides, feats)):
            h, w = self.height // s, self.width // s
            rows = [feat[i, :, t // s : t // s + h, l // s : l // s + w] for i, (t, l) in enumerate(offsets.tolist())]
            f = torch.stack(rows)
            if background is not None:
                g = background[n]
                f = f - torch.stack(
                    [g[i, :, t // s : t // s + h, l // s : l // s + w] for i, (t, l) in enumerate(offsets.tolist())]
                )
            out.append(f)
        return out

    def priority(
        self, images: Tensor, fixations: Tensor, kernels: list[Tensor], background: list[Tensor] | None = None
    ) -> Tensor:
        """Top-down map ``(B, H, W)``: per layer the target kernel convolved over the search features (minus
        ``background``'s, when given), min-max normalised to [0, 1] over the display and weighted by the
        layer's maximal raw response (weights summing to 1)."""
        b = images.shape[0]
        feats = self.display_features(images, fixations, background)
        maps, peaks = [], []
        for s, feat, kernel in zip(self.strides, feats, kernels):
            _, c, h, w = feat.shape
            # one kernel per sample: grouped convolution over the batch folded into channels
            raw = F.conv2d(feat.reshape(1, b * c, h, w), kernel, padding="same", groups=b).reshape(b, 1, h, w)
            inside = raw[:, :, : -(-self.image_size[0] // s), : -(-self.image_size[1] // s)]
            lo = inside.amin(dim=(2, 3), keepdim=True)
            hi = inside.amax(dim=(2, 3), keepdim=True)
            maps.append(
                F.interpolate(
                    (raw - lo) / (hi - lo).clamp_min(1e-12),
                    size=(self.height, self.width),
                    mode="bilinear",
                    align_corners=False,
                )
            )
            peaks.append(hi.clamp_min(0))
        peaks_t = torch.cat(peaks, dim=1)
        weights = peaks_t / peaks_t.sum(dim=1, keepdim=True).clamp_min(1e-12)
        out = (torch.cat(maps, dim=1) * weights).sum(dim=1)
        if self.dog is not None:
            out = difference_of_gaussians(out, self.dog, self.px_per_deg)
        return out

    def priority_fn(self, targets: Tensor, extent_px: float) -> PriorityFn:
        """The map function :func:`run_search` calls, with the targets' kernels computed once."""
        with torch.no_grad():
            kernels = self.target_kernels(targets, extent_px)
        backgrounds: dict[int, list[Tensor]] = {}

        def priority(images: Tensor, fixations: Tensor, trials: Tensor) -> Tensor:
            background = None
            if self.relative_to_background:
                # once per trial: the display's background colour never changes (blanking paints it)
                todo = [i for i, t in enumerate(trials.tolist()) if t not in backgrounds]
                if todo:
                    sel = torch.as_tensor(todo)
                    h, w = self.image_size
                    feats = self.background_features(border_colour(images[sel][:, :, :h, :w]))
                    for j, i in enumerate(todo):
                        backgrounds[int(trials[i])] = [f[j] for f in feats]
                background = [
                    torch.stack([backgrounds[int(t)][k] for t in trials.tolist()]) for k in range(len(self.layers))
                ]
            return self.priority(images, fixations, [k[trials] for k in kernels], background)

        return priority


def _pad_to(
    images: Tensor, height: int, width: int, top: int = 0, left: int = 0, value: Tensor | None = None
) -> Tensor:
    """Place ``images`` (B, 3, h, w) at (top, left) on a canvas of the images' border colour (or ``value``)."""
    b, c, h, w = images.shape
    if value is None:
        value = border_colour(images)
    canvas = value.view(b, c, 1, 1).expand(b, c, height, width).clone()
    canvas[:, :, top : top + h, left : left + w] = images
    return canvas
