"""eccNET (Gupta, Zhang & Kreiman, NeurIPS 2021) and its baselines: a VGG-like backbone whose pooling becomes
eccentricity-dependent around the current fixation, a top-down map from the target's features at three depths,
winner-take-all fixations with inhibition of return.

Bring your own backbone
-----------------------
Any ``torch.nn.Module`` with an attribute ``blocks``: a sequence of 5 modules, each mapping
``(B, C_in, H, W) -> (B, C_out, H, W)`` at unchanged resolution (convolutions and non-linearities only; the
search model puts a stride-2 pooling after each block, as VGG16 does after its 5 conv blocks), and taking
images ``(B, 3, H, W)`` float in [0, 1] into the first block. :class:`VGGBackbone` is one; a pretrained
VGG16 fits once split at its pools. Pass it to :class:`EccNet` (or save it with ``torch.save`` and give the
path to ``neuromodels search evaluate --backbone``).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError

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
]

N_BLOCKS = 5
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


# ---------------------------------------------------------------------------------------------- backbone
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


# ------------------------------------------------------------------------------------ eccentricity pooling
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


# ------------------------------------------------------------------------------ difference of Gaussians
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


# ---------------------------------------------------------------------------------------------- eccNET
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


def border_colour(images: Tensor) -> Tensor:
    """``(B, 3)`` median colour of each image's outermost rows and columns (the display's background)."""
    border = torch.cat([images[:, :, 0, :], images[:, :, -1, :], images[:, :, :, 0], images[:, :, :, -1]], dim=2)
    return border.median(dim=2).values


# ------------------------------------------------------------------------------------------ the search
# (images (n, 3, H, W), fixations (n, 2), trials (n,) indices into the batch) -> map (n, H, W)
PriorityFn = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass
class SearchResult:
    """Per trial: fixations made until the target was found (``found``) or the search stopped; the fixation
    sequence as ``(x, y)`` image pixels (the start at the display's centre not included)."""

    fixations: np.ndarray
    found: np.ndarray
    sequences: list[np.ndarray] = field(default_factory=list)


def owner_maps(boxes: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """``(B, height, width)`` index of the item whose box centre is nearest each pixel (the item a fixation
    there lands on); pixels outside the ``image_sizes`` are set by the caller."""
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((len(boxes), height, width), dtype=np.int64)
    for b, box in enumerate(boxes):
        cx = (box[:, 0] + box[:, 2]) / 2.0
        cy = (box[:, 1] + box[:, 3]) / 2.0
        d = (xx[None] + 0.5 - cx[:, None, None]) ** 2 + (yy[None] + 0.5 - cy[:, None, None]) ** 2
        out[b] = d.argmin(axis=0)
    return out


def grid_cells(image_size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """``(rows * cols, 4)`` boxes ``x0, y0, x1, y1`` of a display's grid cells, row-major (the display's pixels
    split as evenly as whole pixels allow)."""
    h, w = image_size
    rows, cols = grid
    ys = np.rint(np.linspace(0, h, rows + 1)).astype(np.int64)
    xs = np.rint(np.linspace(0, w, cols + 1)).astype(np.int64)
    return np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(rows) for c in range(cols)], dtype=np.int64)


def _cell_owners(cells: np.ndarray, boxes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixel -> cell index map ``(height, width)``, -1 outside every cell; cell -> item index, -1 empty)."""
    owners = np.full((height, width), -1, dtype=np.int64)
    for c, (x0, y0, x1, y1) in enumerate(cells):
        owners[y0:y1, x0:x1] = c
    items = np.full(len(cells), -1, dtype=np.int64)
    cx = ((boxes[:, 0] + boxes[:, 2]) / 2.0).astype(np.int64)
    cy = ((boxes[:, 1] + boxes[:, 3]) / 2.0).astype(np.int64)
    for i, (x, y) in enumerate(zip(cx, cy)):
        c = owners[min(max(y, 0), height - 1), min(max(x, 0), width - 1)]
        if c >= 0:
            items[c] = i
    return owners, items


@torch.no_grad()
def run_search(
    priority_fn: PriorityFn,
    images: Tensor,
    boxes: Sequence[np.ndarray],
    target_index: np.ndarray,
    image_size: tuple[int, int],
    max_fixations: Sequence[int] | None = None,
    cells: Sequence[np.ndarray | None] | None = None,
) -> SearchResult:
    """Winner-take-all search with inhibition of return, for a batch of trials of one image size.

    Parameters
    ----------
    priority_fn : the model's map over the (padded) images given the current fixations.
    images : ``(B, 3, H, W)`` float in [0, 1], padded to the model's size (the display at the top left).
    boxes : per trial ``(n, 4)`` item boxes ``x0, y0, x1, y1`` in pixels.
    target_index : per trial, the target's row in ``boxes``.
    image_size : ``(h, w)`` of the displays before padding (fixations stay inside).
    max_fixations : per trial the stopping limit (default: set size + 1, or cells + 1 with ``cells``: the paper's).
    cells : per trial the grid cells' boxes (:func:`grid_cells`), or None for that trial: eccNET's search over
        the grid, where a fixation lands on the cell it falls in, empty or not.

    Each fixation goes to the maximum of the map over pixels not yet inhibited. Without cells it lands on the
    item whose centre is nearest; with cells, on the cell holding it. The target ends the search (the paper's
    oracle recognition); any other item is blanked (its box filled with the background) and its region (the
    item's nearest-pixels, or its cell, empty cells included) inhibited for the rest of the trial.
    """
    b, _, H, W = images.shape
    h, w = image_size
    images = images.clone()
    item_owners = owner_maps(boxes, H, W)
    owners = np.empty((b, H, W), dtype=np.int64)
    unit_items: list[np.ndarray] = []
    use_cells = [cells is not None and cells[i] is not None for i in range(b)]
    for i in range(b):
        if use_cells[i]:
            owners[i], items = _cell_owners(np.asarray(cells[i]), np.asarray(boxes[i]), H, W)
            unit_items.append(items)
        else:
            owners[i] = item_owners[i]
            unit_items.append(np.arange(len(boxes[i])))
    owners_t = torch.as_tensor(owners)
    allowed = torch.zeros(b, H, W, dtype=torch.bool)
    allowed[:, :h, :w] = True
    allowed &= owners_t >= 0
    background = border_colour(images[:, :, :h, :w])
    if max_fixations is None:
        limits = np.array([len(unit_items[i]) + 1 if use_cells[i] else len(boxes[i]) + 1 for i in range(b)])
    else:
        limits = np.asarray(max_fixations)
    fix = torch.tensor([[w / 2, h / 2]], dtype=images.dtype).repeat(b, 1)
    counts = np.zeros(b, dtype=np.int64)
    found = np.zeros(b, dtype=bool)
    sequences: list[list[tuple[float, float]]] = [[] for _ in range(b)]
    while True:
        active = np.flatnonzero(~found & (counts < limits) & allowed.flatten(1).any(1).numpy())
        if len(active) == 0:
            break
        idx = torch.as_tensor(active)
        prio = priority_fn(images[idx], fix[idx], idx)
        prio = prio.masked_fill(~allowed[idx], float("-inf"))
        flat = prio.reshape(len(active), -1).argmax(dim=1)
        ys, xs = (flat // W), (flat % W)
        for row, trial in enumerate(active):
            y, x = int(ys[row]), int(xs[row])
            unit = int(owners[trial, y, x])
            item = int(unit_items[trial][unit])
            counts[trial] += 1
            sequences[trial].append((x + 0.5, y + 0.5))
            fix[trial] = torch.tensor([x + 0.5, y + 0.5], dtype=fix.dtype)
            if item == int(target_index[trial]):
                found[trial] = True
                continue
            if item >= 0:
                x0, y0, x1, y1 = (int(v) for v in boxes[trial][item])
                images[trial, :, y0:y1, x0:x1] = background[trial].view(3, 1, 1)
            allowed[trial] &= owners_t[trial] != unit
    return SearchResult(fixations=counts, found=found, sequences=[np.asarray(s) for s in sequences])


def eccnet_fixation_count(result: SearchResult, set_sizes: np.ndarray, n_cells: np.ndarray) -> np.ndarray:
    """Fixations as eccNET's analysis counts them on its grid: the fixation that found the target when it came
    within the cells' count, else (never found, or found only at fixation cells + 1) the set size."""
    counts = np.asarray(result.fixations, dtype=np.float64).copy()
    late = ~np.asarray(result.found) | (counts > np.asarray(n_cells))
    counts[late] = np.asarray(set_sizes, dtype=np.float64)[late]
    return counts


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
