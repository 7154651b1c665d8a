"""How many NVIDIA GPUs this machine shows, found without importing torch (the workflow asks it while it
builds the DAG, where importing torch would cost every Snakemake start a second or two)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")


def visible_gpus(driver_dir: str | os.PathLike = DRIVER_GPUS, environ: Mapping[str, str] | None = None) -> int:
    """GPUs the NVIDIA driver lists (one folder per device under ``driver_dir``), limited by
    ``CUDA_VISIBLE_DEVICES`` where it is set (empty or ``-1`` hides them all). 0 where there is no driver."""
    environ = os.environ if environ is None else environ
    try:
        found = sum(1 for entry in Path(driver_dir).iterdir() if entry.is_dir())
    except OSError:
        return 0
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return found
    chosen = [item.strip() for item in visible.split(",") if item.strip()]
    # CUDA stops at the first invalid entry ("-1" is the usual way to hide every device)
    count = 0
    for item in chosen:
        if item.startswith("-"):
            break
        count += 1
    return min(found, count)
