"""Fixations per second of eccNET's search loop: the vectorised eccentricity pooling (one pooling per distinct
window size, ring maps computed once per layer) against the same loop with a naive pooling that loops over
samples and rings and builds each ring's mask from distances. Same process, same displays, same weights;
the two must make the very same fixations, which the result records.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..core.benchmark import environment_info, time_interleaved, write_result
from ..core.io import PathLike
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings
from .data import read_trials, write_trials
from .evaluate import run_model
from .experiments import make_trials
from .models import VGGBackbone
from .presets import SearchPreset, get_preset
from .train import classification_loss

log = get_logger(__name__)
# one small and one large display: the per-ring baseline is slow, and the ratio is what counts
BENCH_EXPERIMENTS = ("orientation_homogeneous", "intersection")


def training_step(
    preset: str | SearchPreset = "default", device: torch.device | str = "cpu", precision: str = "auto", seed: int = 0
) -> tuple[Callable[[], dict[str, float]], int]:
    """The shared trainer's step of the backbone (the preset's VGG, training's settings) on a random batch of
    the preset's training size, and the batch size."""
    p = get_preset(preset)
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (p.batch_size, 3, p.train_size, p.train_size), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (p.batch_size,), generator=gen)
    flips = torch.rand(p.batch_size, generator=gen) < 0.5
    seed_everything(seed)
    model = VGGBackbone(p.widths, p.convs, n_classes=10)
    trainer = Trainer(
        model,
        classification_loss,
        TrainSettings(lr=p.lr, weight_decay=p.weight_decay, grad_clip=1.0, precision=precision, progress=False),
        device=device,
    )
    batch = (images, labels, flips)
    return (lambda: trainer.step(batch)), p.batch_size


def run_benchmark(
    out: PathLike,
    preset: str | SearchPreset = "default",
    device: torch.device | str = "cpu",
    seed: int = 0,
    experiments: tuple[str, ...] = BENCH_EXPERIMENTS,
) -> dict[str, Any]:
    """Time eccNET over ``bench_trials`` displays per condition and set size of ``experiments`` (an untrained
    backbone of the preset's shape: timings do not depend on the weights), both poolings interleaved; write
    and return the JSON result. The search loop runs on the CPU (its winner-take-all bookkeeping is per
    trial); ``device`` is recorded."""
    p = get_preset(preset)
    seed_everything(seed)
    backbone = VGGBackbone(p.widths, p.convs).eval()
    with tempfile.TemporaryDirectory() as tmp:
        write_trials(tmp, make_trials(list(experiments), p.bench_trials, seed=seed, px_per_deg=p.px_per_deg))
        trials = read_trials(tmp)
        results: dict[str, Any] = {}

        def runner(naive: bool):
            def run():
                results[naive] = run_model("eccnet", trials, backbone, batch_size=p.batch_trials, naive=naive)

            return run

        timings = time_interleaved(
            {"vectorised": runner(False), "per_ring": runner(True)}, repeats=p.bench_repeats, warmup=1
        )
    fixations = float(results[False]["fixations"].sum())
    same = bool(np.array_equal(results[False]["fixations"].to_numpy(), results[True]["fixations"].to_numpy()))
    entries = {
        name: {"fixations_per_second": fixations / t.median_s, "timing": t.as_dict()} for name, t in timings.items()
    }
    ratio = entries["vectorised"]["fixations_per_second"] / entries["per_ring"]["fixations_per_second"]
    result = {
        "benchmark": "search_fixations_per_second",
        "experiments": list(experiments),
        "preset": preset if isinstance(preset, str) else "custom",
        "px_per_deg": p.px_per_deg,
        "trials": len(trials),
        "fixations": fixations,
        "same_fixations": same,
        "variants": entries,
        "speedup_vectorised_over_per_ring": ratio,
        "environment": environment_info(device),
    }
    write_result(out, result)
    log.info(
        "eccNET search: %.1f fixations/s vectorised, %.1f per ring (x%.2f); same fixations: %s",
        entries["vectorised"]["fixations_per_second"],
        entries["per_ring"]["fixations_per_second"],
        ratio,
        same,
    )
    return result
