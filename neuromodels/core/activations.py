"""Activations of any torch model by layer name (forward hooks), for encoding models and neural benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from .errors import ConfigError

Pooling = Literal["flatten", "mean", "cls", "none"]


def layer_names(model: nn.Module, leaf_only: bool = False) -> list[str]:
    """Names addressable by :func:`extract_activations` (``model.named_modules()`` order, root excluded)."""
    names = []
    for name, module in model.named_modules():
        if not name:
            continue
        if leaf_only and any(True for _ in module.children()):
            continue
        names.append(name)
    return names


def _pool(x: Tensor, pooling: Pooling) -> Tensor:
    if isinstance(x, (tuple, list)):
        x = x[0]
    if pooling == "none":
        return x
    if pooling == "flatten":
        return x.reshape(x.shape[0], -1)
    if x.dim() == 2:
        return x
    if pooling == "cls":  # token sequences (B, L, D): the first (CLS) token
        return x[:, 0]
    if x.dim() == 3:  # (B, L, D) tokens: mean over tokens
        return x.mean(dim=1)
    return x.flatten(2).mean(dim=-1)  # (B, C, H, W) maps: mean over space


@torch.no_grad()
def extract_activations(
    model: nn.Module,
    batches: Iterable[Tensor],
    layers: Sequence[str],
    pooling: Pooling | Callable[[Tensor], Tensor] = "flatten",
    device: torch.device | str = "cpu",
    forward: Callable[[nn.Module, Tensor], object] | None = None,
) -> dict[str, np.ndarray]:
    """Run ``model`` over ``batches`` and return each named layer's output as ``(n_samples, n_features)``.

    Parameters
    ----------
    layers:
        Module names from ``model.named_modules()`` (see :func:`layer_names`).
    pooling:
        ``flatten`` keeps every unit; ``mean`` averages tokens or space; ``cls`` takes the first token; or a
        callable applied to the layer's output.
    forward:
        How to call the model on a batch (default ``model(batch)``), e.g. for models with several inputs.
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise ConfigError("layers", f"unknown layer(s) {unknown}; the model has e.g. {layer_names(model)[:8]}")
    device = torch.device(device)
    captured: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    pool = pooling if callable(pooling) else (lambda t: _pool(t, pooling))  # type: ignore[arg-type]

    def hook_for(name: str):
        def hook(_module: nn.Module, _inputs: object, output: Tensor) -> None:
            captured[name].append(pool(output).detach().float().cpu().numpy())

        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in layers]
    was_training = model.training
    model.eval()
    try:
        for batch in batches:
            batch = batch.to(device)
            forward(model, batch) if forward is not None else model(batch)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: np.concatenate(chunks, axis=0) for name, chunks in captured.items() if chunks}
