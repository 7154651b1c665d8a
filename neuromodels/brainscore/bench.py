"""Training throughput of the four CrossViT variants, measured in one process on the same batch.

An adversarial step costs an extra forward and backward pass (the FGSM perturbation) before the training
pass, so its images/s should be roughly half of the base's; the JSON reports each variant's ratio to base.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..core.benchmark import environment_info, time_call, write_result
from ..core.io import PathLike
from ..core.runtime import get_logger, resolve_precision, seed_everything
from ..core.training import Trainer, TrainSettings
from .models import build_crossvit, crossvit_config
from .presets import VARIANTS, get_preset, variant_flags
from .train import classification_loss

log = get_logger(__name__)


def training_step(
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "auto",
    seed: int = 0,
    variant: str = "base",
) -> tuple[Callable[[], dict[str, float]], int]:
    """The shared trainer's step of one variant (the settings training uses: AdamW, clipping, autocast) on a
    fixed batch drawn on the CPU from ``seed`` (the same numbers on every device), and the batch size."""
    p = get_preset(preset)
    device = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (p.batch_size, 3, p.image_size, p.image_size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (p.batch_size,), generator=gen)
    rotation, adversarial = variant_flags(variant)
    seed_everything(seed)
    model = build_crossvit(crossvit_config(p.model), n_classes=10).train()
    loss_fn = classification_loss(rotation, adversarial, p.train_eps_255 / 255, p.train_step_255 / 255, p.crop_scale)
    trainer = Trainer(
        model,
        loss_fn,
        TrainSettings(lr=p.lr, weight_decay=p.weight_decay, grad_clip=1.0, precision=precision, progress=False),
        device=device,
    )
    batch = (images.to(device), labels.to(device), seed)
    return (lambda: trainer.step(batch)), p.batch_size


def run_benchmark(
    out: PathLike,
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "auto",
    steps: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Time ``steps`` optimizer steps (after two warm-up steps) of each variant; write and return the result.

    Images/s = batch size / median step time. On a GPU ``precision=auto`` means bf16 autocast.
    """
    p = get_preset(preset)
    device = torch.device(device)
    steps = steps or p.bench_steps
    amp = resolve_precision(precision, device)
    variants: dict[str, Any] = {}
    for variant in VARIANTS:
        step, batch_size = training_step(preset, device, precision, seed, variant)
        timing = time_call(step, repeats=steps, warmup=2, device=device)
        variants[variant] = {"images_per_second": batch_size / timing.median_s, "timing": timing.as_dict()}
        log.info("%s: %.1f images/s", variant, variants[variant]["images_per_second"])
        del step
    base = variants["base"]["images_per_second"]
    for entry in variants.values():
        entry["ratio_to_base"] = entry["images_per_second"] / base
    result = {
        "benchmark": "brainscore_training_throughput",
        "preset": preset,
        "model": p.model,
        "image_size": p.image_size,
        "batch_size": p.batch_size,
        "steps": steps,
        "precision": str(amp) if amp is not None else "fp32",
        "variants": variants,
        "adversarial_cost": base / variants["adversarial"]["images_per_second"],
        "environment": environment_info(device),
    }
    write_result(out, result)
    return result
