"""OAT's speed: training scanpaths/s and decoding latency per scanpath (greedy and sampled), with the shared
attention (SDPA) and with the plain softmax reference as the in-process baseline, on the same model and data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..core.attention import get_default_backend, set_default_backend
from ..core.benchmark import environment_info, time_interleaved, write_result
from ..core.io import PathLike
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings
from .models import OAT, TARGET_ALONE, TARGET_OBJECT, oat_config
from .presets import get_preset
from .train import pointer_loss

log = get_logger(__name__)


def synthetic_batch(
    n_trials: int, n_objects: int, viewers: int, length: int, crop_hw: tuple[int, int], generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """A training batch of the shapes a run sees: ``n_trials`` shelves of ``n_objects`` (3 rows), ``viewers``
    scanpaths of ``length`` fixations on each."""
    n_tok = n_objects + 1
    cols = (n_objects + 2) // 3
    idx = torch.arange(n_objects)
    is_target = torch.zeros(n_trials, n_tok, dtype=torch.long)
    is_target[:, 0], is_target[:, -1] = TARGET_OBJECT, TARGET_ALONE
    s = n_trials * viewers
    prefix = torch.randint(0, n_objects, (s, length), generator=generator)
    target = torch.cat([prefix, torch.full((s, 1), n_objects)], dim=1)
    return {
        "crops": torch.randint(0, 256, (n_trials, n_tok, 3, *crop_hw), dtype=torch.uint8, generator=generator),
        "rows": torch.cat([idx // cols, torch.zeros(1, dtype=torch.long)]).expand(n_trials, -1).clone(),
        "cols": torch.cat([idx % cols, torch.zeros(1, dtype=torch.long)]).expand(n_trials, -1).clone(),
        "is_target": is_target,
        "token_mask": torch.ones(n_trials, n_tok, dtype=torch.bool),
        "centre": torch.tensor([[1, cols // 2]]).expand(n_trials, -1).clone(),
        "sequence_trial": torch.arange(n_trials).repeat_interleave(viewers),
        "prefix": prefix,
        "target": target,
    }


def _trainer(
    p: Any, device: torch.device, precision: str, seed: int, n_objects: int, length: int
) -> tuple[OAT, Trainer, dict[str, torch.Tensor]]:
    """OAT at the preset's size, the shared trainer as training builds it (Adam, clipping, autocast) and a
    synthetic batch drawn from ``seed``."""
    batch = synthetic_batch(p.batch_size, n_objects, p.viewers, length, p.crop_hw, torch.Generator().manual_seed(seed))
    seed_everything(seed)
    model = OAT(oat_config(p)).to(device)
    trainer = Trainer(
        model,
        pointer_loss,
        TrainSettings(lr=p.lr, grad_clip=1.0, precision=precision, progress=False),
        device=device,
        optimizer=torch.optim.Adam(model.parameters(), lr=p.lr),
    )
    return model, trainer, batch


def training_step(
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "auto",
    seed: int = 0,
    n_objects: int = 27,
    length: int = 8,
) -> tuple[Callable[[], dict[str, float]], int]:
    """The shared trainer's step of OAT on a synthetic batch, and the scanpaths in it."""
    _, trainer, batch = _trainer(get_preset(preset), torch.device(device), precision, seed, n_objects, length)
    return (lambda: trainer.step(batch)), len(batch["prefix"])


def run_benchmark(
    out: PathLike,
    preset: str = "default",
    device: torch.device | str = "cpu",
    precision: str = "auto",
    steps: int | None = None,
    seed: int = 0,
    n_objects: int = 27,
    length: int = 8,
) -> dict[str, Any]:
    """Time the trainer's step and decoding with each attention backend; write and return the result."""
    p = get_preset(preset)
    device = torch.device(device)
    repeats = steps or p.bench_steps
    model, trainer, batch = _trainer(p, device, precision, seed, n_objects, length)
    decode_batch = {k: v[:1].to(device) for k, v in batch.items() if k not in ("sequence_trial", "prefix", "target")}
    previous = get_default_backend()

    def on(backend, fn):
        def call():
            set_default_backend(backend)
            try:
                return fn()
            finally:
                set_default_backend(previous)

        return call

    def train_step():
        return trainer.step(batch)

    def greedy():
        model.eval()
        return model.generate(decode_batch, 0, length)

    def sampled():
        model.eval()
        return model.generate(decode_batch, p.n_samples, length, generator=torch.Generator().manual_seed(seed))

    results: dict[str, Any] = {}
    for name, fn, per in (
        ("train_step", train_step, len(batch["prefix"])),
        ("decode_greedy", greedy, 1),
        ("decode_sampled", sampled, p.n_samples),
    ):
        timings = time_interleaved(
            {"sdpa": on("sdpa", fn), "reference": on("reference", fn)}, repeats=repeats, warmup=1, device=device
        )
        entry = {b: {"timing": t.as_dict(), "per_scanpath_s": t.median_s / per} for b, t in timings.items()}
        if name == "train_step":
            for b in entry:
                entry[b]["scanpaths_per_second"] = per / timings[b].median_s
        entry["speedup_vs_reference"] = timings["reference"].median_s / timings["sdpa"].median_s
        results[name] = entry
        log.info(
            "%s: sdpa %.2f ms, reference %.2f ms (x%.2f)",
            name,
            1e3 * timings["sdpa"].median_s,
            1e3 * timings["reference"].median_s,
            entry["speedup_vs_reference"],
        )
    result = {
        "benchmark": "gaze_oat",
        "preset": preset,
        "d_model": p.d_feature + p.d_position,
        "objects": n_objects,
        "fixations": length,
        "trials_per_batch": p.batch_size,
        "scanpaths_per_batch": len(batch["prefix"]),
        "n_samples": p.n_samples,
        "repeats": repeats,
        "baseline": "reference attention backend (plain softmax), same model and data",
        **results,
        "environment": environment_info(device),
    }
    write_result(out, result)
    return result
