"""Data-parallel training across processes (``torchrun``), as DistributedDataParallel does it.

A ``torchrun --nproc-per-node N neuromodels <family> train ...`` launch starts N copies of the same command.
:func:`init_from_env` joins them into one process group (gloo on CPU, NCCL on CUDA; each rank takes GPU
``LOCAL_RANK``). The :class:`~.training.Trainer` then

- draws the same global batch on every rank (data is a deterministic function of the epoch) and keeps only the
  rank's contiguous share of it (:func:`shard`), so the sequence of global batches does not depend on the world
  size and a checkpoint resumes on any number of processes;
- averages the gradients across ranks after backward, weighted by each rank's share, so one step equals a
  single-process step on the global batch for losses that are means over samples (contrastive losses over the
  batch see only the rank's share, as in DistributedDataParallel without gathering);
- lets rank 0 alone write: checkpoints and every output go through :func:`~.io.atomic_path`, which on other
  ranks writes nothing.

The gradients are averaged explicitly (an all-reduce per parameter after backward) rather than through the
``DistributedDataParallel`` wrapper, because the family loss functions call the model's parts directly (an FGSM
step inside the loss, subject-specific embedders) and the wrapper only synchronises gradients of its own
``forward``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

from .runtime import get_logger, launched_by_torchrun


def world_size() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


def rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def is_main() -> bool:
    """True on rank 0 and in a plain (single-process) run."""
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` set up (env:// rendezvous). Returns whether there is one.
    ``backend``: gloo on CPU, nccl when CUDA is visible (default)."""
    if not launched_by_torchrun() or not torch.distributed.is_available():
        return False
    if torch.distributed.is_initialized():
        return True
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    torch.distributed.init_process_group(backend=backend)
    get_logger(__name__).info("data-parallel: rank %d of %d (%s backend)", rank(), world_size(), backend)
    return True


def shard_range(n: int, parts: int | None = None, index: int | None = None) -> tuple[int, int]:
    """The contiguous [start, stop) of ``n`` samples that rank ``index`` of ``parts`` takes (the first
    ``n % parts`` ranks take one more)."""
    parts = world_size() if parts is None else parts
    index = rank() if index is None else index
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (index < extra)


def shard(batch: Any, n: int, parts: int | None = None, index: int | None = None) -> Any:
    """The rank's share of a (nested) batch: every tensor whose first dimension is ``n`` is cut to the rank's
    range; other leaves (seeds, names, tensors of other lengths) are kept whole."""
    start, stop = shard_range(n, parts, index)

    def cut(item: Any) -> Any:
        if isinstance(item, Tensor):
            return item[start:stop] if item.dim() and item.shape[0] == n else item
        if isinstance(item, Mapping):
            return {k: cut(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            moved = [cut(v) for v in item]
            return type(item)(*moved) if hasattr(item, "_fields") else type(item)(moved)
        return item

    return cut(batch)


def average_gradients(parameters: Iterable[torch.nn.Parameter], local_n: int, global_n: int) -> None:
    """All-reduce the gradients so each rank holds the global-batch mean: each rank's gradient (a mean over its
    ``local_n`` samples) is weighted by ``local_n / global_n`` and summed over ranks."""
    parameters = list(parameters)
    weight = local_n / max(global_n, 1)
    # which parameters got a gradient on any rank: one that none used keeps no gradient (as in a single
    # process, where the optimizer then skips it); one used elsewhere takes part with zeros here
    used = torch.tensor([p.grad is not None for p in parameters], dtype=torch.int32)
    torch.distributed.all_reduce(used, op=torch.distributed.ReduceOp.MAX)
    for p, any_rank in zip(parameters, used.tolist()):
        if not any_rank:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        p.grad.mul_(weight)
        torch.distributed.all_reduce(p.grad, op=torch.distributed.ReduceOp.SUM)


def mean_across_ranks(values: Mapping[str, float], weight: float = 1.0) -> dict[str, float]:
    """Weighted mean of scalar metrics over ranks (weights: each rank's share of the batch)."""
    if world_size() == 1 or not values:
        return dict(values)
    keys = sorted(values)
    t = torch.tensor([float(values[k]) * weight for k in keys] + [weight], dtype=torch.float64)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return {k: float(t[i] / t[-1]) for i, k in enumerate(keys)}


def barrier() -> None:
    if world_size() > 1:
        torch.distributed.barrier()


def destroy() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
