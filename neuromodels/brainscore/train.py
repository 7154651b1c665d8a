"""Training CrossViT variants: plain, rotation-invariant, adversarial (fast FGSM) and both.

Everything random in a step (crops, flips, rotations, the FGSM start) is drawn from a generator seeded per
batch, on the device, inside the loss function the core :class:`~neuromodels.core.training.Trainer` calls;
the batch carries its seed. So a killed run resumes to the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.io import PathLike, torch_load, torch_save
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings
from ..networks.augment import random_resized_crop
from .data import ImageDataset
from .models import CrossViT, CrossViTConfig, build_crossvit, crossvit_config
from .presets import BrainScorePreset, get_preset, variant_flags
from .robustness import input_gradient_sign

__all__ = [
    "random_rotation",
    "augment",
    "fgsm_example",
    "classification_loss",
    "train_variant",
    "TrainedModel",
    "save_model",
    "load_model",
    "batch_seed",
    "init_crossvit",
    "untrained_model",
    "UNTRAINED",
]

# The control of the neural claims: the same CrossViT, initialised with the run's seed and never trained.
UNTRAINED = "untrained_crossvit"

log = get_logger(__name__)


def random_rotation(images: Tensor, generator: torch.Generator) -> Tensor:
    """Rotate each square image by 0, 90, 180 or 270 degrees, each with probability 1/4."""
    k = torch.randint(0, 4, (images.shape[0],), generator=generator, device=images.device)
    out = images.clone()
    for quarter in range(1, 4):
        pick = k == quarter
        if pick.any():
            out[pick] = torch.rot90(images[pick], quarter, dims=(2, 3))
    return out


def augment(
    images: Tensor, generator: torch.Generator, rotation: bool, crop_scale: tuple[float, float] = (0.5, 1.0)
) -> Tensor:
    """Random resized crop with a horizontal flip (p = 0.5), then the rotation scheme when asked.

    ``images`` float ``(B, 3, H, W)`` in [0, 1]; returns the same shape.
    """
    x = random_resized_crop(images, generator, scale=crop_scale, flip_p=0.5)
    return random_rotation(x, generator) if rotation else x


def fgsm_example(
    model: nn.Module, images: Tensor, labels: Tensor, eps: float, step: float, generator: torch.Generator
) -> Tensor:
    """Fast FGSM with a random start (Wong, Rice & Kolter 2020), L-inf.

    Start from uniform noise in ``[-eps, eps]``, take one signed-gradient step of size ``step`` on the
    cross-entropy, project back to the ``eps`` ball and to valid pixels [0, 1]. Only the perturbation gets a
    gradient here; the model's parameters are untouched.
    """
    delta = (torch.rand(images.shape, generator=generator, device=images.device, dtype=images.dtype) * 2 - 1) * eps
    delta.requires_grad_(True)
    loss = F.cross_entropy(model((images + delta).clamp(0, 1)).float(), labels)
    delta = (delta.detach() + step * input_gradient_sign(loss, delta)).clamp(-eps, eps)
    return (images + delta).clamp(0, 1).detach()


def batch_seed(seed: int, epoch: int, index: int) -> int:
    """One seed per (run, epoch, batch), independent of how many batches ran before (exact resume)."""
    return int(np.random.SeedSequence([seed, 7, epoch, index]).generate_state(1)[0])


def classification_loss(
    rotation: bool,
    adversarial: bool,
    eps: float = 2 / 255,
    step: float = 2.5 / 255,
    crop_scale: tuple[float, float] = (0.5, 1.0),
) -> Callable[[nn.Module, Any], Any]:
    """The Trainer's ``loss_fn(model, (uint8 images, labels, seed))`` for one variant.

    Returns cross-entropy on the (augmented, and for adversarial variants perturbed) batch, with the batch
    accuracy as a metric. Budgets ``eps`` and ``step`` are in [0, 1] pixel units.
    """

    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor, int]) -> tuple[Tensor, dict[str, float]]:
        images, labels, seed = batch
        generator = torch.Generator(device=images.device)
        generator.manual_seed(int(seed))
        x = augment(images.float() / 255.0, generator, rotation, crop_scale)
        if adversarial:
            x = fgsm_example(model, x, labels, eps, step, generator)
        logits = model(x).float()
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"accuracy": float(accuracy)}

    return loss_fn


@dataclass
class TrainedModel:
    """A trained CrossViT with what is needed to use it again."""

    model: CrossViT
    variant: str
    label_names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def save_model(path: PathLike, trained: TrainedModel) -> Path:
    """One file: configuration, weights, variant, class names and training metadata."""
    return torch_save(
        path,
        {
            "config": trained.model.config.to_dict(),
            "state_dict": trained.model.state_dict(),
            "variant": trained.variant,
            "label_names": trained.label_names,
            "meta": trained.meta,
        },
    )


def load_model(path: PathLike, device: torch.device | str = "cpu") -> TrainedModel:
    """Read what :func:`save_model` wrote; the model is in eval mode on ``device``."""
    from ..core.errors import DataError

    state = torch_load(path, map_location=device)
    if not isinstance(state, dict) or "config" not in state or "state_dict" not in state:
        raise DataError(path, "not a brainscore model file (needs config and state_dict)")
    model = CrossViT(CrossViTConfig.from_dict(state["config"]))
    model.load_state_dict(state["state_dict"])
    return TrainedModel(
        model.to(device).eval(), state["variant"], list(state["label_names"]), dict(state.get("meta", {}))
    )


def _batches(
    images: Tensor, labels: Tensor, batch_size: int, seed: int, epoch: int
) -> Iterator[tuple[Tensor, Tensor, int]]:
    order = torch.from_numpy(np.random.default_rng([seed, 3, epoch]).permutation(len(labels)))
    for i in range(len(labels) // batch_size):  # whole batches only: every step sees batch_size images
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield images[idx], labels[idx], batch_seed(seed, epoch, i)


@torch.no_grad()
def _accuracy(model: nn.Module, images: Tensor, labels: Tensor, device: torch.device, batch_size: int) -> float:
    correct = 0
    for start in range(0, len(labels), batch_size):
        x = images[start : start + batch_size].to(device).float() / 255.0
        correct += int((model(x).argmax(1).cpu() == labels[start : start + batch_size]).sum())
    return correct / max(len(labels), 1)


def init_crossvit(p: BrainScorePreset, n_classes: int, seed: int) -> CrossViT:
    """The preset's CrossViT for ``n_classes``, initialised from ``seed`` (every variant's starting point)."""
    seed_everything(seed)
    return build_crossvit(crossvit_config(p.model), n_classes=n_classes)


def untrained_model(data: ImageDataset, preset: str | BrainScorePreset = "tiny", seed: int = 0) -> TrainedModel:
    """The ``untrained_crossvit`` control: the architecture every variant trains, with the same initialisation
    that the variants of ``seed`` start from (:func:`init_crossvit`), and no optimizer step."""
    p = get_preset(preset)
    model = init_crossvit(p, data.n_classes, seed)
    meta = {
        "preset": p.to_dict(),
        "seed": seed,
        "variant": UNTRAINED,
        "rotation": False,
        "adversarial": False,
        "trained": False,
        "history": [],
        "steps": 0,
    }
    return TrainedModel(model.eval(), UNTRAINED, list(data.label_names), meta)


def train_variant(
    data: ImageDataset,
    variant: str,
    preset: str | BrainScorePreset = "tiny",
    seed: int = 0,
    device: torch.device | str = "cpu",
    checkpoint_path: PathLike | None = None,
    precision: str = "auto",
    progress: bool = True,
    max_steps: int | None = None,
    on_step_end: Callable[[int, Mapping[str, float]], None] | None = None,
) -> TrainedModel:
    """Train a CrossViT of the preset's configuration on ``data`` in one of the four variants.

    Parameters
    ----------
    data : the classification set (its train part is used; its test part is scored after each epoch).
    variant : ``base``, ``rotation``, ``adversarial`` or ``rotation_adversarial``.
    checkpoint_path : where the Trainer keeps its checkpoint; an existing one is resumed.
    precision : autocast (auto: bf16 on GPU, fp32 on CPU).
    max_steps : stop after this many optimizer steps (benchmarks).
    on_step_end : passed to the Trainer, ``f(step, metrics)`` after every step (and its checkpoint).

    Returns
    -------
    TrainedModel in eval mode, with ``meta`` holding the settings, history and training samples/s.
    """
    p = get_preset(preset)
    rotation, adversarial = variant_flags(variant)
    device = torch.device(device)
    model = init_crossvit(p, data.n_classes, seed)
    train_x, train_y = (torch.from_numpy(a) for a in data.part("train"))
    test_x, test_y = (torch.from_numpy(a) for a in data.part("test"))
    steps_per_epoch = len(train_y) // p.batch_size
    if steps_per_epoch < 1:
        from ..core.errors import ConfigError

        raise ConfigError("batch_size", f"{p.batch_size} is larger than the {len(train_y)} training images")
    settings = TrainSettings(
        epochs=p.epochs,
        max_steps=max_steps,
        lr=p.lr,
        weight_decay=p.weight_decay,
        grad_clip=1.0,
        betas=(0.9, p.adam_beta2),
        precision=precision,
        scheduler="onecycle",
        warmup_fraction=p.warmup_fraction,
        checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
        checkpoint_every=p.checkpoint_every,
        progress=progress,
        desc=f"crossvit {variant}",
    )
    loss_fn = classification_loss(rotation, adversarial, p.train_eps_255 / 255, p.train_step_255 / 255, p.crop_scale)

    def on_epoch_end(model: nn.Module, epoch: int) -> dict[str, float]:
        return {"test_accuracy": _accuracy(model, test_x, test_y, device, p.eval_batch_size)}

    log.info(
        "training CrossViT %s (%s, %d parameters) as variant %s on %d images, %d classes, device %s",
        p.model,
        "conv embedding" if model.config.conv_embed else "linear embedding",
        sum(q.numel() for q in model.parameters()),
        variant,
        len(train_y),
        data.n_classes,
        device,
    )
    # a checkpoint left by another preset, variant, seed or data set is not resumed (core fingerprint)
    trainer = Trainer(
        model,
        loss_fn,
        settings,
        device=device,
        on_epoch_end=on_epoch_end,
        on_step_end=on_step_end,
        run_identity={
            "preset": p.to_dict(),
            "variant": variant,
            "seed": seed,
            "n_classes": data.n_classes,
            "n_train": int(len(train_y)),
        },
    )
    result = trainer.fit(
        lambda epoch: _batches(train_x, train_y, p.batch_size, seed, epoch), steps_per_epoch=steps_per_epoch
    )
    meta = {
        "preset": p.to_dict(),
        "seed": seed,
        "variant": variant,
        "rotation": rotation,
        "adversarial": adversarial,
        "history": result.history,
        "steps": result.steps,
        "samples_per_second": result.samples_per_second,
        "device": str(device),
        "resumed_from_step": result.resumed_from_step,
    }
    return TrainedModel(trainer.model.eval(), variant, list(data.label_names), meta)


def train_settings_summary(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Final-epoch numbers of a training history, for tables."""
    last = meta.get("history", [{}])[-1] if meta.get("history") else {}
    return {
        "train_loss": last.get("loss"),
        "train_accuracy": last.get("accuracy"),
        "test_accuracy_last_epoch": last.get("test_accuracy"),
        "train_samples_per_second": meta.get("samples_per_second"),
    }
