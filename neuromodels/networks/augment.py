"""Image augmentations in torch, batched and on any device (no torchvision).

Every function takes float images ``(B, 3, H, W)`` in [0, 1] and a :class:`torch.Generator` on the images'
device, draws one set of parameters per image, and returns a new batch. Given the same generator state the
output is the same, which is what makes training resume to the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "random_resized_crop",
    "color_jitter",
    "random_grayscale",
    "Augmentation",
    "simclr_augmentation",
    "caption_safe_augmentation",
]

# Rec. 601 luma weights: the grey level of an RGB pixel
_LUMA = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, generator: torch.Generator, device: torch.device) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def _grey(images: Tensor) -> Tensor:
    w = torch.tensor(_LUMA, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
    return (images * w).sum(dim=1, keepdim=True)


def random_resized_crop(
    images: Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.3, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip_p: float = 0.5,
    size: int | None = None,
) -> Tensor:
    """Crop a random box of each image and resize it back (bilinear), optionally flipping left-right.

    Parameters
    ----------
    scale:
        Range of the box's area as a fraction of the image.
    ratio:
        Range of the box's aspect ratio (width / height), drawn log-uniformly.
    flip_p:
        Probability of a horizontal flip.
    size:
        Output side in pixels (default: the input's height).
    """
    b, _, h, _ = images.shape
    device = images.device
    area = _uniform(b, scale[0], scale[1], generator, device)
    log_ratio = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator, device)
    aspect = torch.exp(log_ratio)
    # box sides as fractions of the image side; a box wider than the image is clipped to it
    width = torch.sqrt(area * aspect).clamp(max=1.0)
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    # centre in normalised coordinates [-1, 1] such that the box stays inside the image
    cx = (2 * torch.rand(b, generator=generator, device=device) - 1) * (1 - width)
    cy = (2 * torch.rand(b, generator=generator, device=device) - 1) * (1 - height)
    flip = torch.where(torch.rand(b, generator=generator, device=device) < flip_p, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=device, dtype=images.dtype)
    theta[:, 0, 0] = width * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = height
    theta[:, 1, 2] = cy
    out_size = size or h
    grid = F.affine_grid(theta, [b, 3, out_size, out_size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _hue_rotation(angle: Tensor) -> Tensor:
    """3x3 matrices ``(B, 3, 3)`` rotating RGB about the grey axis by ``angle`` (radians): a hue shift that
    keeps grey pixels grey (Rodrigues' formula)."""
    axis = torch.full((3,), 1 / math.sqrt(3), device=angle.device, dtype=angle.dtype)
    k = torch.zeros(3, 3, device=angle.device, dtype=angle.dtype)
    k[0, 1], k[0, 2], k[1, 0], k[1, 2], k[2, 0], k[2, 1] = -axis[2], axis[1], axis[2], -axis[0], -axis[1], axis[0]
    eye = torch.eye(3, device=angle.device, dtype=angle.dtype)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * k + (1 - c) * (k @ k)


def color_jitter(
    images: Tensor,
    generator: torch.Generator,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
) -> Tensor:
    """Random brightness, contrast, saturation (factors in ``[1 - s, 1 + s]``) and hue (a rotation of up to
    ``hue`` of a full turn about the grey axis), applied to each image with probability ``p``."""
    b = images.shape[0]
    device = images.device
    apply = (torch.rand(b, generator=generator, device=device) < p).view(b, 1, 1, 1)
    f_b = _uniform(b, 1 - brightness, 1 + brightness, generator, device).view(b, 1, 1, 1)
    f_c = _uniform(b, 1 - contrast, 1 + contrast, generator, device).view(b, 1, 1, 1)
    f_s = _uniform(b, 1 - saturation, 1 + saturation, generator, device).view(b, 1, 1, 1)
    angle = _uniform(b, -hue, hue, generator, device) * 2 * math.pi
    x = (images * f_b).clamp(0, 1)
    mean = _grey(x).mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * f_c + mean).clamp(0, 1)
    grey = _grey(x)
    x = ((x - grey) * f_s + grey).clamp(0, 1)
    rot = _hue_rotation(angle.to(images.dtype))
    x = torch.einsum("bij,bjhw->bihw", rot, x).clamp(0, 1)
    return torch.where(apply, x, images)


def random_grayscale(images: Tensor, generator: torch.Generator, p: float = 0.2) -> Tensor:
    """Replace each image by its grey level (in all three channels) with probability ``p``."""
    b = images.shape[0]
    apply = (torch.rand(b, generator=generator, device=images.device) < p).view(b, 1, 1, 1)
    return torch.where(apply, _grey(images).expand_as(images), images)


@dataclass(frozen=True)
class Augmentation:
    """A crop-flip-colour pipeline with its settings (stored with a trained encoder's metadata)."""

    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    jitter_p: float = 0.8
    grayscale_p: float = 0.2

    def __call__(self, images: Tensor, generator: torch.Generator) -> Tensor:
        x = random_resized_crop(images, generator, self.scale, self.ratio, self.flip_p)
        if self.jitter_p > 0:
            x = color_jitter(x, generator, self.brightness, self.contrast, self.saturation, self.hue, self.jitter_p)
        if self.grayscale_p > 0:
            x = random_grayscale(x, generator, self.grayscale_p)
        return x

    def to_dict(self) -> dict:
        return asdict(self)


def simclr_augmentation() -> Augmentation:
    """SimCLR's strong views: crops of 30-100 % of the area, flips, colour jitter, grey images."""
    return Augmentation()


def caption_safe_augmentation() -> Augmentation:
    """Mild views for the image side of CLIP: large crops only, no flips (captions may say left/right) and
    no colour changes (captions name colours), so the caption stays true of the view."""
    return Augmentation(scale=(0.7, 1.0), flip_p=0.0, jitter_p=0.0, grayscale_p=0.0)
