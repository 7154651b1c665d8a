"""``neuromodels bench attention``: the shared attention (SDPA) against the plain-softmax reference.

Heavy imports stay inside the command function so ``--help`` is fast.
"""

from __future__ import annotations

import argparse


def _lengths(text: str) -> list[int]:
    """``"256,512"`` or ``"256"`` (the option also takes several words) to positive ints."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"lengths must be integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"lengths must be positive integers, got {text!r}")
    return values


def _bench_attention(args: argparse.Namespace) -> None:
    from .bench_attention import run

    lengths = [n for group in args.lengths for n in group]
    result = run(lengths=lengths, batch=args.batch, heads=args.heads, head_dim=args.head_dim, device=args.device,
                 dtype=None if args.dtype == "auto" else args.dtype, repeats=args.repeats, warmup=args.warmup,
                 out_path=args.out, max_reference_length=args.max_reference_length, threads=args.threads,
                 seed=args.seed)
    goal = result["goal"]
    if goal.get("met") is None:
        print(f"goal at L={goal['length']}: not evaluated ({goal.get('reason')})")
    else:
        print(f"goal at L={goal['length']} ({goal['device']}): speedup {goal['speedup']:.2f}x "
              f"(>= {goal['min_speedup']:g}x: {'yes' if goal['speedup_met'] else 'no'}), memory ratio "
              f"{goal['memory_ratio']:.3f} (<= {goal['max_memory_ratio']:g}: "
              f"{'yes' if goal['memory_met'] else 'no'}) -> {'met' if goal['met'] else 'not met'}")


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``neuromodels bench attention``."""
    p = bench_subparsers.add_parser(
        "attention",
        help="shared attention (SDPA) vs the naive reference: forward+backward time and peak memory per length",
        description="Times forward+backward of neuromodels' attention (scaled_dot_product_attention) and of "
                    "the plain-softmax reference on the same (batch, heads, L, head_dim) inputs, in the same "
                    "process, and measures each one's peak memory (CPU: peak RSS of a fresh subprocess; CUDA: "
                    "max_memory_allocated). Writes the numbers, ratios and the goal check as JSON.",
    )
    p.add_argument("--lengths", type=_lengths, nargs="+", default=[[256, 512, 1024, 2048, 4096]],
                   help="sequence lengths, space- or comma-separated (default 256 512 1024 2048 4096)")
    p.add_argument("--batch", type=int, default=1, help="batch size B (default 1)")
    p.add_argument("--heads", type=int, default=8, help="attention heads H (default 8)")
    p.add_argument("--head-dim", type=int, default=64, help="width per head D (default 64)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to run (default auto: CUDA when available)")
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="dtype of q, k, v (default auto: bf16 on CUDA, fp32 on CPU)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per variant; the median is reported "
                                                          "(default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls per variant first (default 1)")
    p.add_argument("--max-reference-length", type=int, default=None,
                   help="skip the reference above this length (its cost grows as L^2; default: run it at all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch, recorded in the JSON (default: torch's own choice)")
    p.add_argument("--out", default="results/benchmarks/attention.json", help="JSON file to write "
                                                                             "(default results/benchmarks/attention.json)")
    p.set_defaults(func=_bench_attention)
