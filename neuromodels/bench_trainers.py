"""``neuromodels bench trainers``: every gradient trainer's step on the CPU and on a GPU, in one process.

Each family's ``bench.training_step`` builds the step its training runs (the shared ``Trainer``: forward and
loss under autocast, backward, clipping, optimizer) at a preset's size, on a fixed batch drawn on the CPU from
the seed, so every device sees the same weights and numbers. This module times that step on each device and
precision asked for (CPU in fp32; CUDA in fp32 and in bf16 autocast) and writes samples/s, the speed-up of
each configuration over the CPU, and the first step's loss on each (how far CUDA and bf16 move the numbers).

Like the command line, this module assembles families (each imported only when its trainer is timed); no
family imports it.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .core.errors import ConfigError
from .core.runtime import get_logger

log = get_logger(__name__)

# name -> (module with training_step, its keyword arguments, what one sample is)
TRAINERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "networks.clip": ("neuromodels.networks.bench", {"objective": "clip"}, "image-caption pairs"),
    "networks.simclr": ("neuromodels.networks.bench", {"objective": "simclr"}, "images"),
    "decoding.mindbridge": ("neuromodels.decoding.bench", {"kind": "mindbridge"}, "trials (all subjects)"),
    "decoding.linear": ("neuromodels.decoding.bench", {"kind": "linear"}, "trials (all subjects)"),
    "brainscore.base": ("neuromodels.brainscore.bench", {"variant": "base"}, "images"),
    "brainscore.adversarial": ("neuromodels.brainscore.bench", {"variant": "adversarial"}, "images"),
    "gaze.oat": ("neuromodels.gaze.bench", {}, "scanpaths"),
    "search.vgg": ("neuromodels.search.bench", {}, "images"),
}


def configurations(devices: Sequence[str]) -> list[tuple[str, str]]:
    """(device, precision) pairs to time: the CPU in fp32, CUDA in fp32 and bf16 autocast."""
    out: list[tuple[str, str]] = []
    for device in devices:
        if device == "cpu":
            out.append(("cpu", "fp32"))
        elif device == "cuda":
            out.extend([("cuda", "fp32"), ("cuda", "bf16")])
        else:
            raise ConfigError("--devices", f"must be cpu or cuda, got {device!r}")
    return out


def run(
    out: str | Path | None,
    devices: Sequence[str] = ("cpu", "cuda"),
    preset: str = "default",
    steps: int = 5,
    warmup: int = 2,
    seed: int = 0,
    trainers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Time each trainer's step per device and precision; write (when ``out``) and return the JSON record.

    ``cuda`` is dropped, with a warning and a note in the record, where no GPU is visible.
    """
    # torch here, not at the top: the command line imports this module to build its parser for every step
    import torch

    from .core.benchmark import environment_info, time_call, write_result

    devices = list(devices)
    notes: list[str] = []
    if "cuda" in devices and not torch.cuda.is_available():
        devices.remove("cuda")
        notes.append("cuda asked for but not available: timed on the CPU only")
        log.warning(notes[-1])
    names = list(trainers or TRAINERS)
    unknown = sorted(set(names) - set(TRAINERS))
    if unknown:
        raise ConfigError("--trainers", f"unknown {unknown}; known: {sorted(TRAINERS)}")
    configs = configurations(devices)
    log.info("timing %d trainers at the %s preset on %s", len(names), preset, ", ".join(f"{d}/{p}" for d, p in configs))
    rows: dict[str, Any] = {}
    for name in names:
        module_name, kwargs, unit = TRAINERS[name]
        module = importlib.import_module(module_name)
        entry: dict[str, Any] = {"sample": unit, "configs": {}}
        for device, precision in configs:
            step, n = module.training_step(preset=preset, device=device, precision=precision, seed=seed, **kwargs)
            first_loss = float(step()["loss"])  # the first step from the shared initial weights
            timing = time_call(step, repeats=steps, warmup=max(warmup - 1, 0), device=torch.device(device))
            entry["configs"][f"{device}/{precision}"] = {
                "samples_per_step": n,
                "samples_per_second": n / timing.median_s,
                "first_loss": first_loss,
                "timing": timing.as_dict(),
            }
            log.info(
                "%s %s/%s: %.1f %s/s (first loss %.4f)", name, device, precision, n / timing.median_s, unit, first_loss
            )
            del step
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
        cpu = entry["configs"].get("cpu/fp32")
        if cpu is not None:
            for key, cfg in entry["configs"].items():
                if key != "cpu/fp32":
                    cfg["speedup_over_cpu"] = cfg["samples_per_second"] / cpu["samples_per_second"]
                    cfg["first_loss_relative_difference_to_cpu"] = abs(cfg["first_loss"] - cpu["first_loss"]) / max(
                        abs(cpu["first_loss"]), 1e-12
                    )
        rows[name] = entry
    environment = {"cpu": environment_info("cpu")}
    if "cuda" in devices:
        environment["cuda"] = environment_info("cuda")
    record = {
        "benchmark": "trainers",
        "what": "samples/s of each family's training step (the shared Trainer's step as training runs it) at the "
        f"{preset} preset, per device and precision; speedup_over_cpu = samples/s / the CPU's (fp32), "
        "in the same process; first_loss: the loss of the first step from the same initial weights and "
        "batch on each configuration",
        "preset": preset,
        "steps": steps,
        "warmup": warmup,
        "seed": seed,
        "gpu": environment.get("cuda", {}).get("device_name"),
        "trainers": rows,
        "environment": environment,
        "notes": notes,
    }
    if out is not None:
        write_result(Path(out), record)
        log.info("wrote %s", out)
    return record


def _bench_trainers(args: Any) -> None:
    record = run(
        args.out, devices=args.devices, preset=args.preset, steps=args.steps, seed=args.seed, trainers=args.trainers
    )
    for name, entry in record["trainers"].items():
        parts = [
            f"{key} {cfg['samples_per_second']:.1f}/s"
            + (f" (x{cfg['speedup_over_cpu']:.1f})" if "speedup_over_cpu" in cfg else "")
            for key, cfg in entry["configs"].items()
        ]
        print(f"{name}: " + ", ".join(parts))


def register_bench(bench_subparsers: Any) -> None:
    """Add ``neuromodels bench trainers``."""
    p = bench_subparsers.add_parser(
        "trainers",
        help="every trainer's step on the CPU and on a GPU: samples/s and speed-up over the CPU",
        description="Times each family's training step (the shared Trainer's step) on the CPU (fp32) and on "
        "CUDA (fp32 and bf16 autocast) in one process, from the same weights and batch; writes "
        "samples/s, the speed-up over the CPU and each configuration's first loss as JSON.",
    )
    p.add_argument("--out", required=True, help="JSON to write")
    p.add_argument(
        "--devices",
        nargs="+",
        default=["cpu", "cuda"],
        choices=["cpu", "cuda"],
        help="devices to time (default: cpu cuda; cuda is skipped with a note where there is none)",
    )
    p.add_argument("--preset", default="default", choices=["tiny", "default"], help="sizes (default: default)")
    p.add_argument("--trainers", nargs="+", default=None, help=f"which (default all): {' '.join(TRAINERS)}")
    p.add_argument("--steps", type=int, default=5, help="timed steps per configuration (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and batch (default 0)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.set_defaults(func=_bench_trainers)
