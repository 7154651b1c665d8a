"""Benchmark utilities: timing with warm-up and repeats, honest peak memory, and the environment record.

Every benchmark of the package times our code against a baseline in the same process, on the same inputs,
and writes one JSON file (atomically, through :func:`neuromodels.core.io.write_json`) that carries the
numbers *and* what they were measured on: torch version, device, thread count.

Peak memory
-----------
* CUDA: :func:`peak_cuda_memory` reads the caching allocator's high-water mark
  (``torch.cuda.max_memory_allocated``) after resetting it, minus what was allocated before the call.
* CPU: torch's CPU allocator hands memory straight back to the C library, so the honest measure is the
  operating system's: :func:`peak_rss_increase` resets the kernel's peak-RSS counter of the process
  (Linux: writing ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM``), runs the call once and reads how far
  the peak rose above the resident size just before. Freed heap pages are returned first (``malloc_trim``)
  so memory left over from earlier work cannot be silently reused. Where the counter cannot be reset the
  lifetime peak (``getrusage``) is used instead, an upper bound. Because one process's history still
  shapes its heap, :func:`run_in_subprocess` runs each measurement in a fresh interpreter.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .io import PathLike

__all__ = [
    "Timing",
    "time_call",
    "time_interleaved",
    "peak_cuda_memory",
    "peak_rss_increase",
    "run_in_subprocess",
    "environment_info",
    "gpu_dense_bf16_peak_tflops",
    "sdpa_kernel_name",
    "parse_dtype",
    "write_result",
]

_MARKER = "NEUROMODELS_BENCH_RESULT "


# ---------------------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Wall-clock times of repeated calls, in seconds (warm-up calls excluded), and the process CPU time
    of each call (all threads; seconds), which other jobs on a shared machine disturb less."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int
    warmup: int
    times_s: list[float] = field(default_factory=list)
    cpu_times_s: list[float] = field(default_factory=list)

    @property
    def median_cpu_s(self) -> float:
        return statistics.median(self.cpu_times_s) if self.cpu_times_s else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _synchronize(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, device: torch.device | str | None = None
) -> Timing:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls; report the median.

    On CUDA the device is synchronised before and after each call, so the time covers the kernels and not
    only their launch. Results of ``fn`` are dropped before the next call so the peak of one call does not
    add to the next.
    """
    return time_interleaved({"call": fn}, repeats=repeats, warmup=warmup, device=device)["call"]


def time_interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int = 5, warmup: int = 1, device: torch.device | str | None = None
) -> dict[str, Timing]:
    """Time several calls in turns (a, b, a, b, ...), so a change of machine load during the run hits
    every variant alike; each gets ``warmup`` untimed calls first. Returns one :class:`Timing` per name."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    device = torch.device(device) if isinstance(device, str) else device
    for fn in fns.values():
        for _ in range(max(warmup, 0)):
            fn()
    _synchronize(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu_times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _synchronize(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            result = fn()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - start_cpu)
            del result
    return {
        name: Timing(
            median_s=statistics.median(t),
            min_s=min(t),
            max_s=max(t),
            repeats=repeats,
            warmup=max(warmup, 0),
            times_s=t,
            cpu_times_s=cpu_times[name],
        )
        for name, t in times.items()
    }


# ---------------------------------------------------------------------------------------------- memory
def peak_cuda_memory(fn: Callable[[], Any], device: torch.device | str) -> int:
    """Bytes by which ``fn()`` raises the CUDA caching allocator's peak above what was allocated before it."""
    device = torch.device(device)
    torch.cuda.synchronize(device)
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    result = fn()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    del result
    return int(peak - before)


def _status_kib(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{key}:\s+(\d+)\s+kB", text, flags=re.MULTILINE)
    return int(match.group(1)) if match else None


def _release_free_heap() -> None:
    """Give freed heap pages back to the OS (glibc), so the next call must fault its own pages in."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def _current_rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib * 1024
    import psutil

    return int(psutil.Process().memory_info().rss)


def _lifetime_peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


def peak_rss_increase(fn: Callable[[], Any]) -> dict[str, Any]:
    """Run ``fn()`` once and measure how far the process's peak resident memory rose above its level before.

    Returns ``{"peak_bytes", "rss_before_bytes", "method"}``. ``method`` is ``"VmHWM reset"`` when the
    kernel's peak counter could be reset just before the call (exact for this call), else
    ``"getrusage lifetime peak"`` (an upper bound: it includes any earlier peak of the process).
    """
    _release_free_heap()
    before = _current_rss_bytes()
    exact = _reset_peak_rss() and _status_kib("VmHWM") is not None
    result = fn()
    peak = (_status_kib("VmHWM") or 0) * 1024 if exact else _lifetime_peak_rss_bytes()
    del result
    return {
        "peak_bytes": max(int(peak - before), 0),
        "rss_before_bytes": int(before),
        "method": "VmHWM reset" if exact else "getrusage lifetime peak",
    }


def run_in_subprocess(target: str, kwargs: dict[str, Any], threads: int | None = None, timeout_s: float = 600.0) -> Any:
    """Call ``target`` (``"package.module:function"``) with ``kwargs`` in a fresh Python interpreter.

    The function must return a JSON-serialisable value (a dict of measurements, typically), returned here. ``threads`` sets torch's
    thread count (and ``OMP_NUM_THREADS``) in the child, so it computes like the parent. A failing child
    raises ``RuntimeError`` with the end of its stderr.
    """
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"target must be 'package.module:function', got {target!r}")
    code = (
        "import json, sys, importlib\n"
        + (f"import torch\ntorch.set_num_threads({int(threads)})\n" if threads else "")
        + f"fn = getattr(importlib.import_module({module!r}), {function!r})\n"
        "result = fn(**json.loads(sys.argv[1]))\n"
        f"print({_MARKER!r} + json.dumps(result), flush=True)\n"
    )
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    # the child must import this very package, wherever it is checked out
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True, env=env, timeout=timeout_s
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{target} failed in a subprocess (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(lines[-1][len(_MARKER) :])


# ----------------------------------------------------------------------------------------- environment
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_info(device: torch.device | str | None = None) -> dict[str, Any]:
    """What a benchmark ran on: versions, CPU, threads and (on CUDA) the GPU."""
    device = torch.device(device) if isinstance(device, str) else (device or torch.device("cpu"))
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "device": str(device),
        "device_name": _cpu_model(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(
            {
                "device_name": props.name,
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(),
                "gpu_memory_bytes": int(props.total_memory),
                "compute_capability": f"{props.major}.{props.minor}",
            }
        )
    return info


# Dense (no structured sparsity) bf16 tensor-core peaks from the vendors' datasheets, TFLOP/s, matched against
# torch.cuda.get_device_name in order (the more specific names first). A GPU not listed gets no peak.
GPU_DENSE_BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),  # SXM5 (e.g. "NVIDIA H100 80GB HBM3")
    ("H200", 989.4),
    ("GH200", 989.4),
    ("B200", 2250.0),
    ("A100", 312.0),
    ("A10G", 70.0),
    ("A10", 125.0),
    ("L40S", 362.1),
    ("L40", 181.0),
    ("L4", 121.0),
    ("RTX 4090", 165.2),
    ("RTX 3090", 71.0),
)


def gpu_dense_bf16_peak_tflops(device_name: str) -> float | None:
    """The datasheet's dense bf16 peak (TFLOP/s) of a GPU named like ``torch.cuda.get_device_name``, or None."""
    for key, peak in GPU_DENSE_BF16_PEAK_TFLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def sdpa_kernel_name(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None, is_causal: bool = False
) -> str:
    """Name of the kernel ``scaled_dot_product_attention`` picks for these inputs ("flash_attention",
    "efficient_attention", "math", ...), or "unknown" where torch does not tell."""
    try:
        from torch.nn.attention import SDPBackend

        choice = torch._fused_sdp_choice(q, k, v, attn_mask=mask, is_causal=is_causal)
        return SDPBackend(choice).name.lower()
    except Exception:  # private API: its absence must not break a benchmark
        return "unknown"


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    """``"fp32"``/``"float32"``, ``"bf16"``/``"bfloat16"``, ``"fp16"``/``"float16"`` (or a dtype) to a dtype."""
    if isinstance(name, torch.dtype):
        return name
    table = {
        "fp32": torch.float32,
        "float32": torch.float32,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
    }
    if name not in table:
        from .errors import ConfigError

        raise ConfigError("dtype", f"must be one of {sorted(table)}, got {name!r}")
    return table[name]


def write_result(path: PathLike, result: dict[str, Any]) -> Path:
    """Write a benchmark result as JSON, atomically."""
    from .io import write_json  # imported here: the memory subprocesses need not load pandas

    return write_json(path, result)
