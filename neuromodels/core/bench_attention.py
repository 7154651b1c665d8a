"""Benchmark of the shared attention (SDPA path) against the plain-softmax reference.

For each sequence length ``L`` both variants run forward + backward on the same ``(batch, heads, L,
head_dim)`` queries, keys, values and output gradient, in the same process. Reported per ``L``: the median
time of ``repeats`` calls after a warm-up, the peak memory of one call, the ratios (reference / ours for
time, ours / reference for memory) and the achieved TFLOP/s. Peak memory on CPU is the rise of the peak
resident set size of a fresh interpreter during one call (see :mod:`neuromodels.core.benchmark`); on CUDA it
is the caching allocator's peak above the inputs.

The issue's goal (on CPU, at ``L = 2048``, ViT-like heads): at least 3x faster and at most 1/4 of the
reference's peak memory. The result says whether it is met.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from .attention import attention, reference_attention
from .benchmark import (
    environment_info,
    gpu_dense_bf16_peak_tflops,
    parse_dtype,
    peak_cuda_memory,
    peak_rss_increase,
    run_in_subprocess,
    sdpa_kernel_name,
    time_interleaved,
    write_result,
)
from .runtime import get_logger

if TYPE_CHECKING:
    from .io import PathLike

__all__ = [
    "run",
    "make_inputs",
    "fwd_bwd_step",
    "forward_step",
    "fwd_bwd_flops",
    "forward_flops",
    "memory_probe",
    "GOAL",
]

Variant = Literal["ours", "reference"]
DEFAULT_LENGTHS = (256, 512, 1024, 2048, 4096)
# the acceptance goal, on CPU
GOAL = {"length": 2048, "min_speedup": 3.0, "max_memory_ratio": 0.25, "device": "cpu"}
FLOP_COUNT = (
    "forward 4*B*H*L*L*D (Q K^T and P V, 2 FLOPs per multiply-add; the forward-only rows run it under "
    "torch.no_grad); backward 2.5x forward "
    "(FlashAttention convention: dQ, dK, dV, dP and the recomputed Q K^T); fwd+bwd = 3.5 x forward "
    "= 14*B*H*L*L*D. The same nominal count is used for both variants, so the TFLOP/s ratio "
    "equals the time ratio."
)

log = get_logger(__name__)


def make_inputs(
    batch: int,
    heads: int,
    length: int,
    head_dim: int,
    dtype: torch.dtype,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> tuple[torch.Tensor, ...]:
    """``q, k, v`` (requiring grad) and an output gradient, each ``(batch, heads, length, head_dim)``.

    Drawn on the CPU from ``seed`` then moved, so every process and device gets the same numbers.
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, heads, length, head_dim)
    q, k, v, grad_out = (torch.randn(shape, generator=gen).to(device=device, dtype=dtype) for _ in range(4))
    return q.requires_grad_(), k.requires_grad_(), v.requires_grad_(), grad_out


def fwd_bwd_step(
    variant: Variant, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grad_out: torch.Tensor
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """A call that runs one variant forward and backward and returns the gradients of ``q, k, v``."""
    if variant == "ours":

        def forward() -> torch.Tensor:
            return attention(q, k, v, backend="sdpa")
    elif variant == "reference":

        def forward() -> torch.Tensor:
            return reference_attention(q, k, v)
    else:
        raise ValueError(f"variant must be 'ours' or 'reference', got {variant!r}")

    def step() -> tuple[torch.Tensor, ...]:
        return torch.autograd.grad(forward(), (q, k, v), grad_out)

    return step


def forward_step(variant: Variant, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A call that runs one variant forward only, without building an autograd graph (inference)."""
    if variant not in ("ours", "reference"):
        raise ValueError(f"variant must be 'ours' or 'reference', got {variant!r}")

    def step() -> torch.Tensor:
        with torch.no_grad():
            return attention(q, k, v, backend="sdpa") if variant == "ours" else reference_attention(q, k, v)

    return step


def forward_flops(batch: int, heads: int, length: int, head_dim: int) -> float:
    """Nominal FLOPs of one forward (``Q K^T`` and ``P V``)."""
    return 4.0 * batch * heads * length * length * head_dim


def fwd_bwd_flops(batch: int, heads: int, length: int, head_dim: int) -> float:
    """Nominal FLOPs of one forward + backward (see ``FLOP_COUNT``)."""
    return 3.5 * 4.0 * batch * heads * length * length * head_dim


def memory_probe(
    variant: Variant, length: int, batch: int, heads: int, head_dim: int, dtype: str, seed: int = 0
) -> dict[str, Any]:
    """Peak resident memory added by one CPU forward + backward (meant to run in a fresh interpreter).

    A small warm-up call first starts thread pools and lazy kernel state, whose one-off cost is not the
    variant's; it is small, so it cannot hide the large buffers it does not allocate.
    """
    torch_dtype = parse_dtype(dtype)
    small = make_inputs(batch, heads, min(length, 64), head_dim, torch_dtype, seed=seed)
    fwd_bwd_step(variant, *small)()
    del small
    inputs = make_inputs(batch, heads, length, head_dim, torch_dtype, seed=seed)
    return peak_rss_increase(fwd_bwd_step(variant, *inputs))


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _resolve_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    from .runtime import select_device

    return select_device(device, logger=log)


def _measure_memory(
    variant: Variant,
    length: int,
    batch: int,
    heads: int,
    head_dim: int,
    dtype: torch.dtype,
    device: torch.device,
    threads: int | None,
    seed: int,
) -> dict[str, Any]:
    if device.type == "cuda":
        inputs = make_inputs(batch, heads, length, head_dim, dtype, device, seed)
        peak = peak_cuda_memory(fwd_bwd_step(variant, *inputs), device)
        del inputs
        return {"peak_bytes": peak, "method": "cuda max_memory_allocated"}
    return run_in_subprocess(
        "neuromodels.core.bench_attention:memory_probe",
        {
            "variant": variant,
            "length": length,
            "batch": batch,
            "heads": heads,
            "head_dim": head_dim,
            "dtype": _dtype_name(dtype),
            "seed": seed,
        },
        threads=threads,
    )


def _goal_block(rows: list[dict[str, Any]], device: torch.device) -> dict[str, Any]:
    goal: dict[str, Any] = dict(GOAL)
    row = next((r for r in rows if r["length"] == GOAL["length"]), None)
    if row is None or row["reference"] is None:
        goal.update(met=None, reason=f"L={GOAL['length']} was not run for both variants")
        return goal
    if row["memory_ratio"] is None:
        goal.update(met=None, reason="the reference's peak memory measured as zero")
        return goal
    speedup, memory_ratio = row["time_ratio"], row["memory_ratio"]
    goal.update(
        speedup=speedup,
        memory_ratio=memory_ratio,
        speedup_met=bool(speedup >= GOAL["min_speedup"]),
        memory_met=bool(memory_ratio <= GOAL["max_memory_ratio"]),
    )
    goal["met"] = goal["speedup_met"] and goal["memory_met"]
    if device.type != GOAL["device"]:
        goal["note"] = f"the goal is stated for {GOAL['device']}; this run is on {device.type}"
    return goal


def run(
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    batch: int = 1,
    heads: int = 8,
    head_dim: int = 64,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    repeats: int = 5,
    out_path: PathLike | None = None,
    warmup: int = 1,
    max_reference_length: int | None = None,
    threads: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Time and measure forward + backward of the shared attention against the reference, per length.

    Parameters
    ----------
    lengths:
        Sequence lengths ``L`` (tokens; self-attention, so ``Lq = Lk = L``).
    batch, heads, head_dim:
        Shape of ``q, k, v``: ``(batch, heads, L, head_dim)``. The defaults (1, 8, 64) are one image of a
        ViT-sized model (ViT-S/B use head_dim 64 with 6-12 heads).
    device:
        ``"cpu"``, ``"cuda"``, ``"auto"`` or a torch device.
    dtype:
        Dtype of ``q, k, v`` (``"fp32"``, ``"bf16"``, ``"fp16"``); default bf16 on CUDA, fp32 on CPU.
    repeats, warmup:
        Timed calls (the median is reported) and untimed calls before them.
    out_path:
        Where to write the JSON result (atomically); nothing is written when None.
    max_reference_length:
        Skip the reference above this length (its time and memory grow as ``L**2``); None runs it everywhere.
    threads:
        Torch CPU threads for this process and the memory subprocesses; None keeps the current setting.
    seed:
        Seed of the inputs.

    Returns
    -------
    dict
        ``settings``, ``environment``, ``method``, ``sdpa_kernel``, one ``results`` row per length (seconds,
        bytes, ratios, TFLOP/s) and the ``goal`` block.
    """
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return _run(
            lengths, batch, heads, head_dim, device, dtype, repeats, out_path, warmup, max_reference_length, seed
        )
    finally:
        torch.set_num_threads(previous_threads)  # the caller's setting, whatever the benchmark used


def _run(
    lengths: Sequence[int],
    batch: int,
    heads: int,
    head_dim: int,
    device: str | torch.device,
    dtype: str | torch.dtype | None,
    repeats: int,
    out_path: PathLike | None,
    warmup: int,
    max_reference_length: int | None,
    seed: int,
) -> dict[str, Any]:
    device = _resolve_device(device)
    torch_dtype = (
        parse_dtype(dtype) if dtype is not None else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    )
    lengths = [int(n) for n in lengths]
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be positive, got {lengths}")
    threads_used = torch.get_num_threads()

    probe = make_inputs(batch, heads, min(lengths), head_dim, torch_dtype, device, seed)
    key_mask = torch.ones(batch, 1, 1, min(lengths), dtype=torch.bool, device=device)
    kernels = {
        "no_mask": sdpa_kernel_name(*probe[:3]),
        "key_mask": sdpa_kernel_name(*probe[:3], mask=key_mask),
        "causal": sdpa_kernel_name(*probe[:3], is_causal=True),
    }
    del probe
    log.info(
        "attention benchmark on %s, %s, B=%d H=%d D=%d, %d threads; SDPA kernel: %s",
        device,
        _dtype_name(torch_dtype),
        batch,
        heads,
        head_dim,
        threads_used,
        kernels["no_mask"],
    )

    rows: list[dict[str, Any]] = []
    memory_method = None
    environment = environment_info(device)
    # the GPU's dense bf16 tensor-core peak: the ceiling the bf16 rows are read against
    peak_tflops = (
        gpu_dense_bf16_peak_tflops(environment["device_name"])
        if device.type == "cuda" and torch_dtype == torch.bfloat16
        else None
    )
    for length in lengths:
        flops = fwd_bwd_flops(batch, heads, length, head_dim)
        row: dict[str, Any] = {"length": length}
        run_reference = max_reference_length is None or length <= max_reference_length
        variants: tuple[Variant, ...] = ("ours", "reference") if run_reference else ("ours",)
        inputs = make_inputs(batch, heads, length, head_dim, torch_dtype, device, seed)
        calls = {variant: fwd_bwd_step(variant, *inputs) for variant in variants}
        calls.update({f"{variant}/forward": forward_step(variant, *inputs[:3]) for variant in variants})
        timings = time_interleaved(calls, repeats=repeats, warmup=warmup, device=device)
        del inputs
        gc.collect()
        row.update(ours=None, reference=None)
        for variant in variants:
            memory = _measure_memory(variant, length, batch, heads, head_dim, torch_dtype, device, threads_used, seed)
            memory_method = memory["method"]
            timing = timings[variant]
            row[variant] = {
                "time_s": timing.median_s,
                "min_time_s": timing.min_s,
                "times_s": timing.times_s,
                "cpu_time_s": timing.median_cpu_s,
                "peak_memory_bytes": memory["peak_bytes"],
                "peak_memory_mib": memory["peak_bytes"] / 2**20,
                "tflops": flops / timing.median_s / 1e12,
                "forward_time_s": timings[f"{variant}/forward"].median_s,
                "forward_tflops": forward_flops(batch, heads, length, head_dim)
                / timings[f"{variant}/forward"].median_s
                / 1e12,
            }
            if peak_tflops:
                row[variant]["fraction_of_peak"] = row[variant]["tflops"] / peak_tflops
                row[variant]["forward_fraction_of_peak"] = row[variant]["forward_tflops"] / peak_tflops
        ours, ref = row["ours"], row["reference"]
        row["time_ratio"] = ref["time_s"] / ours["time_s"] if ref else None
        row["memory_ratio"] = (
            ours["peak_memory_bytes"] / ref["peak_memory_bytes"] if ref and ref["peak_memory_bytes"] > 0 else None
        )
        row["score_matrix_bytes"] = batch * heads * length * length * torch_dtype.itemsize
        rows.append(row)
        if ref is None:
            versus = "skipped"
        else:
            memory_ratio = "n/a" if row["memory_ratio"] is None else f"{row['memory_ratio']:.3f}"
            versus = (
                f"{ref['time_s']:.4f} s {ref['peak_memory_mib']:.1f} MiB; speedup {row['time_ratio']:.2f}x, "
                f"memory ratio {memory_ratio}"
            )
        log.info(
            "L=%d: ours %.4f s (%.1f TFLOP/s; forward %.1f) %.1f MiB | reference %s",
            length,
            ours["time_s"],
            ours["tflops"],
            ours["forward_tflops"],
            ours["peak_memory_mib"],
            versus,
        )

    if device.type == "cuda":
        memory_text = (
            "torch.cuda.max_memory_allocated after reset_peak_memory_stats, minus the bytes allocated "
            "before the call (inputs and output gradient excluded; outputs and grads included)"
        )
    else:
        peak = (
            "the peak resident set size (VmHWM, reset via /proc/self/clear_refs just before the call)"
            if memory_method == "VmHWM reset"
            else "the lifetime peak resident set size (getrusage ru_maxrss; an upper bound)"
        )
        memory_text = (
            f"{memory_method}: each variant and length runs once in a fresh Python interpreter (same "
            f"inputs, same thread count) after a small warm-up call and malloc_trim; {peak} minus "
            "the resident size just before the call. Inputs and output gradient are allocated before "
            "and excluded; the forward output and the gradients of q, k, v are included for both "
            "variants."
        )
    result = {
        "benchmark": "attention",
        "settings": {
            "lengths": lengths,
            "batch": batch,
            "heads": heads,
            "head_dim": head_dim,
            "dtype": _dtype_name(torch_dtype),
            "device": str(device),
            "repeats": repeats,
            "warmup": warmup,
            "max_reference_length": max_reference_length,
            "threads": threads_used,
            "seed": seed,
        },
        "environment": environment,
        "peak": (
            {
                "dense_bf16_tflops": peak_tflops,
                "source": "the vendor's datasheet, dense (no sparsity); fraction_of_peak = achieved TFLOP/s / this",
            }
            if peak_tflops
            else None
        ),
        "method": {
            "ours": "neuromodels.core.attention.attention(q, k, v, backend='sdpa'), no mask "
            "(torch scaled_dot_product_attention)",
            "reference": "neuromodels.core.attention.reference_attention: softmax(q k^T / sqrt(D)) v with the "
            "full (B, H, L, L) score matrix",
            "forward": "forward_time_s / forward_tflops: the forward alone under torch.no_grad (inference)",
            "step": "forward, then torch.autograd.grad of the output against q, k, v with a fixed random "
            "output gradient",
            "timing": f"median of {repeats} timed calls after {warmup} warm-up call(s) each, in this process, "
            "on identical inputs, the two variants called in turns (ours, reference, ours, ...) so "
            "load changes hit both alike" + ("; CUDA synchronised around each call" if device.type == "cuda" else ""),
            "cpu_time": "cpu_time_s: median process CPU time per call (all threads), a check on wall times "
            "taken on a busy machine",
            "memory": memory_text,
            "flops": FLOP_COUNT,
            "ratios": "time_ratio = reference time / our time; memory_ratio = our peak / reference peak",
        },
        "sdpa_kernel": kernels,
        "results": rows,
    }
    result["goal"] = _goal_block(rows, device)
    if out_path is not None:
        write_result(Path(out_path), result)
        log.info("wrote %s", out_path)
    return result
