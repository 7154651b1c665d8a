"""Benchmark: training steps of an encoder with SDPA attention against the plain softmax reference (and, on a
GPU, bf16 autocast against fp32), timed in turns in the same process on the same batch."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from neuromodels.core.benchmark import environment_info, time_interleaved, write_result
from neuromodels.core.runtime import get_logger, select_device
from neuromodels.core.training import Trainer, TrainSettings, to_device

from .objectives import ContrastiveModel, contrastive_step
from .presets import get_preset
from .text import CaptionEncoder, build_vocab
from .vit import VisionTransformer

log = get_logger(__name__)
_WORDS = ("red", "green", "blue", "disc", "square", "star", "left", "right", "small", "large")


def _train_step(
    objective: str, preset: str, backend: str, precision: str, device: torch.device, seed: int
) -> tuple[Callable[[], Any], int]:
    """One optimizer step of the preset's encoder (attention ``backend``, autocast ``precision``) on a fixed
    batch, as a callable; returns it and the batch size."""
    s = get_preset(preset)
    torch.manual_seed(seed)
    vision = VisionTransformer(
        s.image_size, s.patch_size, s.dim, s.depth, s.num_heads, s.mlp_ratio, s.embed_dim, backend=backend
    )  # type: ignore[arg-type]
    text = CaptionEncoder(
        build_vocab(_WORDS), s.text_dim, s.text_depth, s.text_heads, embed_dim=s.embed_dim, backend=backend
    )  # type: ignore[arg-type]
    model = ContrastiveModel(vision, text, objective, ssl_dim=s.ssl_dim).train()
    # the shared trainer's step, as training runs it (AdamW, clipping, autocast)
    trainer = Trainer(
        model,
        contrastive_step,
        TrainSettings(lr=1e-4, weight_decay=s.weight_decay, precision=precision, progress=False),
        device=device,
    )
    g = torch.Generator().manual_seed(seed)
    b = s.batch_size
    images = torch.randint(0, 256, (b, 3, s.image_size, s.image_size), dtype=torch.uint8, generator=g)
    words = torch.randint(0, len(_WORDS), (b, 6), generator=g)
    tokens, _ = text.tokenize([" ".join(_WORDS[int(i)] for i in row) for row in words])
    batch = to_device({"images": images, "tokens": tokens, "seed": torch.tensor([seed])}, device)
    return (lambda: trainer.step(batch)), b


def training_step(
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    seed: int = 0,
    objective: str = "clip",
) -> tuple[Callable[[], dict[str, float]], int]:
    """The shared trainer's step of the preset's encoder (SDPA attention) on a fixed batch, and its batch size
    (for comparing devices: ``neuromodels bench trainers``)."""
    return _train_step(objective, preset, "sdpa", precision, torch.device(device), seed)


def run_benchmark(
    out: str | os.PathLike,
    preset: str = "default",
    objective: str = "simclr",
    steps: int = 10,
    device_preference: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """Time training steps of every configuration in turns (so changes of machine load hit all alike) and
    write a JSON with the per-configuration timings and the speed-ups of SDPA over the reference attention
    (and of bf16 over fp32 on a GPU), by median wall time and by median process CPU time."""
    device = select_device(device_preference)
    precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    configs = [(backend, precision) for precision in precisions for backend in ("reference", "sdpa")]
    fns, batch = {}, 0
    for backend, precision in configs:
        fns[f"{backend}/{precision}"], batch = _train_step(objective, preset, backend, precision, device, seed)
    timings = time_interleaved(fns, repeats=steps, warmup=2, device=device)
    runs = []
    for (backend, precision), t in zip(configs, timings.values()):
        runs.append(
            {
                "backend": backend,
                "precision": precision,
                "batch_size": batch,
                "median_s_per_step": t.median_s,
                "median_cpu_s_per_step": t.median_cpu_s,
                "samples_per_second": batch / t.median_s,
                "timing": t.as_dict(),
            }
        )
    by = {(r["backend"], r["precision"]): r for r in runs}
    ratios: dict[str, float] = {}
    for p in precisions:
        ratios[f"sdpa_over_reference_{p}"] = (
            by[("reference", p)]["median_s_per_step"] / by[("sdpa", p)]["median_s_per_step"]
        )
        ratios[f"sdpa_over_reference_{p}_cpu_time"] = (
            by[("reference", p)]["median_cpu_s_per_step"] / by[("sdpa", p)]["median_cpu_s_per_step"]
        )
    if "bf16" in precisions:
        ratios["bf16_over_fp32_sdpa"] = (
            by[("sdpa", "fp32")]["median_s_per_step"] / by[("sdpa", "bf16")]["median_s_per_step"]
        )
    report = {
        "benchmark": "networks_training",
        "what": f"{objective} training steps (the shared trainer's step: forward, backward, clipping, AdamW) of the {preset} preset encoder; ratios are "
        "speed-ups (baseline time / our time, higher is better)",
        "baseline": "reference (plain softmax) attention, fp32",
        "runs": runs,
        "ratios": ratios,
        "environment": environment_info(device),
    }
    write_result(Path(out), report)
    log.info("networks benchmark: %s", {k: round(v, 2) for k, v in ratios.items()})
    return report
