"""Benchmark: training throughput of an encoder with SDPA attention against the plain softmax reference
(and, on a GPU, bf16 autocast against fp32), each run in the same process through the one training loop."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from neuromodels.core.attention import get_default_backend, set_default_backend
from neuromodels.core.io import write_json
from neuromodels.core.runtime import get_logger, select_device
from neuromodels.core.training import Trainer, TrainSettings

from .objectives import ContrastiveModel, contrastive_step
from .presets import get_preset
from .text import CaptionEncoder, build_vocab
from .vit import VisionTransformer

log = get_logger(__name__)
_WORDS = ("red", "green", "blue", "disc", "square", "star", "left", "right", "small", "large")


def _throughput(objective: str, preset: str, backend: str, precision: str, steps: int, device: torch.device,
                seed: int) -> dict[str, Any]:
    s = get_preset(preset)
    previous = get_default_backend()
    set_default_backend(backend)  # type: ignore[arg-type]
    try:
        torch.manual_seed(seed)
        vision = VisionTransformer(s.image_size, s.patch_size, s.dim, s.depth, s.num_heads, s.mlp_ratio,
                                   s.embed_dim)
        text = CaptionEncoder(build_vocab(_WORDS), s.text_dim, s.text_depth, s.text_heads, embed_dim=s.embed_dim)
        model = ContrastiveModel(vision, text, objective, ssl_dim=s.ssl_dim)
        g = torch.Generator().manual_seed(seed)
        b = s.batch_size
        images = torch.randint(0, 256, (b, 3, s.image_size, s.image_size), dtype=torch.uint8, generator=g)
        words = torch.randint(0, len(_WORDS), (b, 6), generator=g)
        tokens, _ = text.tokenize([" ".join(_WORDS[int(i)] for i in row) for row in words])
        batch = {"images": images, "tokens": tokens, "seed": torch.tensor([seed])}
        warmup = 2
        trainer = Trainer(model, contrastive_step,
                          TrainSettings(epochs=1, lr=1e-4, precision=precision, progress=False,
                                        desc=f"bench {backend}/{precision}"), device=device)
        trainer.fit(lambda epoch: [batch] * warmup, steps_per_epoch=warmup)
        timed = Trainer(model, contrastive_step,
                        TrainSettings(epochs=1, lr=1e-4, precision=precision, progress=False,
                                      desc=f"bench {backend}/{precision}"), device=device)
        result = timed.fit(lambda epoch: [batch] * steps, steps_per_epoch=steps)
    finally:
        set_default_backend(previous)
    return {"backend": backend, "precision": precision, "batch_size": b, "steps": result.steps,
            "seconds": result.seconds, "samples_per_second": result.samples_per_second,
            "seconds_per_step": result.seconds / max(result.steps, 1)}


def run_benchmark(out: str | os.PathLike, preset: str = "default", objective: str = "simclr", steps: int = 10,
                  device_preference: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Time ``steps`` training steps per configuration and write a JSON with the runs and the speed-ups of
    SDPA over the reference (and bf16 over fp32 on a GPU)."""
    device = select_device(device_preference)
    precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    runs = [_throughput(objective, preset, backend, precision, steps, device, seed)
            for precision in precisions for backend in ("reference", "sdpa")]
    by_key = {(r["backend"], r["precision"]): r["samples_per_second"] for r in runs}
    ratios = {f"sdpa_over_reference_{p}": by_key[("sdpa", p)] / by_key[("reference", p)] for p in precisions}
    if "bf16" in precisions:
        ratios["bf16_over_fp32_sdpa"] = by_key[("sdpa", "bf16")] / by_key[("sdpa", "fp32")]
    report = {
        "benchmark": "networks_training",
        "what": f"{objective} training steps of the {preset} preset encoder (samples/s, higher is better)",
        "baseline": "reference (plain softmax) attention, fp32",
        "runs": runs,
        "ratios": ratios,
        "environment": {
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    write_json(Path(out), report)
    log.info("networks benchmark: %s", {k: round(v, 2) for k, v in ratios.items()})
    return report
