"""Robustness of classifiers: clean accuracy, accuracy under an L-inf PGD attack, under the four rotations, and
under corruptions (Gaussian noise, Gaussian blur, contrast reduction) at a few severities, as one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError

__all__ = [
    "accuracy",
    "input_gradient_sign",
    "pgd_attack",
    "pgd_accuracy",
    "gaussian_noise",
    "gaussian_blur",
    "reduce_contrast",
    "robustness_table",
    "GRADIENT_SIGN_SCALE",
    "CORRUPTIONS",
]


def _batched(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 128, transform=None) -> float:
    """Top-1 accuracy on float images ``(n, 3, H, W)`` in [0, 1] (already on the model's device), with an
    optional ``transform(batch) -> batch`` applied first."""
    model.eval()
    correct = 0
    for s in _batched(len(labels), batch_size):
        x = images[s] if transform is None else transform(images[s])
        correct += int((model(x).argmax(1) == labels[s]).sum())
    return correct / max(len(labels), 1)


# The attacks use only the sign of the input gradient. Under fp16 autocast small gradients underflow to zero
# and the step would do nothing, so the loss is scaled first (as a gradient scaler does); the sign is unchanged.
GRADIENT_SIGN_SCALE = 2.0**12


def input_gradient_sign(loss: Tensor, delta: Tensor) -> Tensor:
    """Sign of d loss / d delta, safe from fp16 underflow (non-finite entries count as 0)."""
    (grad,) = torch.autograd.grad(loss * GRADIENT_SIGN_SCALE, delta)
    return grad.nan_to_num(0.0, posinf=1.0, neginf=-1.0).sign()


def pgd_attack(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    eps: float,
    step: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """L-inf projected gradient ascent on the cross-entropy (Madry et al. 2018) from a uniform random start.

    ``eps`` and ``step`` are in [0, 1] pixel units; the result stays within ``eps`` of ``images`` and in [0, 1].
    """
    was_training = model.training
    model.eval()
    delta = (torch.rand(images.shape, generator=generator, device=images.device) * 2 - 1) * eps
    delta = (images + delta).clamp(0, 1) - images
    with torch.enable_grad():
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(images + delta).float(), labels)
            delta = (delta.detach() + step * input_gradient_sign(loss, delta)).clamp(-eps, eps)
            delta = (images + delta).clamp(0, 1) - images
    model.train(was_training)
    return (images + delta).detach()


def pgd_accuracy(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    eps: float,
    step: float,
    steps: int,
    batch_size: int = 128,
    seed: int = 0,
) -> float:
    """Accuracy on PGD adversarial examples (see :func:`pgd_attack`)."""
    generator = torch.Generator(device=images.device)
    generator.manual_seed(seed)
    correct = 0
    for s in _batched(len(labels), batch_size):
        x = pgd_attack(model, images[s], labels[s], eps, step, steps, generator)
        with torch.no_grad():
            correct += int((model(x).argmax(1) == labels[s]).sum())
    return correct / max(len(labels), 1)


def gaussian_noise(images: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """Add N(0, sigma^2) noise per pixel (sigma in [0, 1] units), clip to [0, 1]."""
    noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    return (images + sigma * noise).clamp(0, 1)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with standard deviation ``sigma`` pixels (kernel 2 * ceil(3 sigma) + 1)."""
    radius = max(int(np.ceil(3 * sigma)), 1)
    t = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def reduce_contrast(images: Tensor, factor: float) -> Tensor:
    """Scale each image's deviations from its mean by ``factor`` (1 = unchanged, 0 = uniform grey)."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (mean + factor * (images - mean)).clamp(0, 1)


CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.04, 0.08, 0.16),  # sigma, [0, 1] units
    "blur": (0.5, 1.0, 1.5),  # sigma, pixels at the model's input size
    "contrast": (0.5, 0.3, 0.15),  # factor
}


def robustness_table(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float,
    step: float,
    steps: int,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    seed: int = 0,
    corruptions: Mapping[str, Sequence[float]] = CORRUPTIONS,
) -> pd.DataFrame:
    """Accuracy of ``model`` on clean, rotated, PGD-attacked and corrupted test images.

    Parameters
    ----------
    images : uint8 ``(n, 3, H, W)``; labels : int ``(n,)``.
    eps, step : PGD budget and step in [0, 1] units; steps : PGD iterations.

    Returns
    -------
    DataFrame with ``condition`` (clean, rotation, pgd, noise, blur, contrast), ``severity`` (PGD: eps x 255;
    noise: sigma; blur: sigma px; contrast: factor; rotation: mean over 90/180/270) and ``accuracy``.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.as_tensor(images, device=device).float() / 255.0
    y = torch.as_tensor(labels, device=device).long()
    rows = [{"condition": "clean", "severity": 0.0, "accuracy": accuracy(model, x, y, batch_size)}]
    rotated = [accuracy(model, x, y, batch_size, lambda b, k=k: torch.rot90(b, k, dims=(2, 3))) for k in (1, 2, 3)]
    rows.append({"condition": "rotation", "severity": 90.0, "accuracy": float(np.mean(rotated))})
    rows.append(
        {
            "condition": "pgd",
            "severity": eps * 255,
            "accuracy": pgd_accuracy(model, x, y, eps, step, steps, batch_size, seed),
        }
    )
    generator = torch.Generator(device=device)
    for name, severities in corruptions.items():
        for severity in severities:
            if name == "noise":
                generator.manual_seed(seed)
                fn = lambda b, s=severity: gaussian_noise(b, s, generator)  # noqa: E731
            elif name == "blur":
                fn = lambda b, s=severity: gaussian_blur(b, s)  # noqa: E731
            elif name == "contrast":
                fn = lambda b, s=severity: reduce_contrast(b, s)  # noqa: E731
            else:
                raise ConfigError("corruptions", f"unknown corruption {name!r} (noise, blur, contrast)")
            rows.append(
                {"condition": name, "severity": float(severity), "accuracy": accuracy(model, x, y, batch_size, fn)}
            )
    return pd.DataFrame(rows)
