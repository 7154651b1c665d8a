"""``neuromodels bench decoding``: training samples/s of MindBridge and the linear-adapter model.

Sizes: ``default`` (the default preset: ~1000 voxels per subject pooled to 512, hidden 256) and ``paper``
(NSD's voxel counts 15724/14278/13039/12682, 8192 pooled, 2048 hidden, rank-128 adapters, 768-d image and
text embeddings). One training step = the shared trainer's step (forward, loss: SoftCLIP + MSE + reconstruction +
cycle, backward, clipping, AdamW update) over a batch of every subject. Both models are timed in turns in the same process; the ratio is
MindBridge's samples/s over the linear-adapter model's. On CUDA each is timed in fp32 and with bf16 autocast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from neuromodels.core.benchmark import environment_info, time_interleaved, write_result
from neuromodels.core.runtime import get_logger, seed_everything, select_device
from neuromodels.core.training import Trainer, TrainSettings, to_device

from .models import LossWeights, ModelConfig, build_model, decoder_loss

log = get_logger(__name__)

SIZES: dict[str, dict[str, Any]] = {
    "tiny": {
        "voxels": [300, 280, 320, 310],
        "model": ModelConfig(pooled=256, hidden=64, rank=8, n_blocks=2, image_dim=64, text_dim=64),
        "batch": 16,
    },
    "default": {
        "voxels": [1060, 950, 1150, 1160],
        "model": ModelConfig(pooled=512, hidden=256, rank=32, image_dim=64, text_dim=384),
        "batch": 32,
    },
    "paper": {
        "voxels": [15724, 14278, 13039, 12682],
        "model": ModelConfig(pooled=8192, hidden=2048, rank=128, image_dim=768, text_dim=768),
        "batch": 32,
    },
}


def _step_fn(kind: str, size: dict[str, Any], device: torch.device, precision: str) -> Callable[[], Any]:
    """One training step of the shared trainer (AdamW, clipping, autocast) on a fixed batch of every subject."""
    subjects = {f"subj{i + 1:02d}": v for i, v in enumerate(size["voxels"])}
    model = build_model(replace(size["model"], kind=kind, subjects=subjects)).train()
    b, c = size["batch"], size["model"]
    gen = torch.Generator().manual_seed(0)
    batch = {
        s: {
            "voxels": torch.randn(b, v, generator=gen),
            "image": torch.randn(b, c.image_dim, generator=gen),
            "text": torch.randn(b, c.text_dim, generator=gen),
        }
        for s, v in subjects.items()
    }
    weights = LossWeights()
    trainer = Trainer(
        model,
        lambda m, batch: decoder_loss(m, batch, weights),
        TrainSettings(lr=1e-4, weight_decay=1e-2, grad_clip=1.0, precision=precision, progress=False),
        device=device,
    )
    batch = to_device(batch, device)
    return lambda: trainer.step(batch)


def training_step(
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    seed: int = 0,
    kind: str = "mindbridge",
) -> tuple[Callable[[], Any], int]:
    """One training step of ``kind`` at the preset's size (``SIZES``) and the samples it sees (all subjects)."""
    size = SIZES[preset]
    seed_everything(seed)
    return _step_fn(kind, size, torch.device(device), precision), size["batch"] * len(size["voxels"])


def run_benchmark(
    out: str | Path, sizes: list[str], steps: int = 10, device: str = "auto", precision: str = "auto", seed: int = 0
) -> dict[str, Any]:
    """Time both models at each size; write and return the JSON record."""
    seed_everything(seed)
    dev = select_device(device)
    precisions = ["fp32", "bf16"] if dev.type == "cuda" else ["fp32"]
    if precision not in ("auto",):
        precisions = [precision]
    results = []
    for name in sizes:
        size = SIZES[name]
        n_samples = size["batch"] * len(size["voxels"])
        for prec in precisions:
            fns = {kind: _step_fn(kind, size, dev, prec) for kind in ("mindbridge", "linear")}
            reps = max(2, steps if name != "paper" or dev.type == "cuda" else min(steps, 3))
            timings = time_interleaved(fns, repeats=reps, warmup=1, device=dev)
            row = {
                "size": name,
                "precision": prec,
                "batch_per_subject": size["batch"],
                "subjects": len(size["voxels"]),
                "voxels": size["voxels"],
                "pooled": size["model"].pooled,
                "hidden": size["model"].hidden,
            }
            for kind, t in timings.items():
                row[f"{kind}_step_s"] = t.median_s
                row[f"{kind}_samples_per_s"] = n_samples / t.median_s
                row[f"{kind}_timing"] = t.as_dict()
            row["ratio_mindbridge_over_linear"] = row["mindbridge_samples_per_s"] / row["linear_samples_per_s"]
            log.info(
                "%s %s: MindBridge %.0f samples/s, linear %.0f samples/s",
                name,
                prec,
                row["mindbridge_samples_per_s"],
                row["linear_samples_per_s"],
            )
            results.append(row)
            del fns
    if dev.type == "cuda":
        for name in sizes:
            fp32 = next(r for r in results if r["size"] == name and r["precision"] == "fp32")
            bf16 = next((r for r in results if r["size"] == name and r["precision"] == "bf16"), None)
            if bf16:
                bf16["speedup_over_fp32"] = {
                    k: bf16[f"{k}_samples_per_s"] / fp32[f"{k}_samples_per_s"] for k in ("mindbridge", "linear")
                }
    record = {
        "benchmark": "decoding",
        "what": "training samples/s (all subjects' samples per step)",
        "results": results,
        "environment": environment_info(dev),
    }
    write_result(out, record)
    return record
