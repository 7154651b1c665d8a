"""Losses shared by several families (contrastive objectives)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def cosine_similarity_logits(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """``(a_hat @ b_hat^T) / temperature`` with L2-normalised rows: the logits of contrastive losses."""
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = torch.nn.functional.normalize(b.float(), dim=-1)
    return a @ b.t() / temperature


def clip_loss(a: Tensor, b: Tensor, temperature: float = 0.07) -> Tensor:
    """Symmetric InfoNCE (CLIP) between paired rows of ``a`` and ``b``."""
    logits = cosine_similarity_logits(a, b, temperature)
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.t(), target))


def soft_clip_loss(a: Tensor, b: Tensor, temperature: float = 0.005) -> Tensor:
    """SoftCLIP: contrastive loss whose targets are the softmax of the *target* similarities ``b b^T``,
    so near-duplicate targets are not pushed apart (MindEye / MindBridge)."""
    logits = cosine_similarity_logits(a, b, temperature)
    target_logits = cosine_similarity_logits(b, b, temperature)
    soft = torch.softmax(target_logits, dim=-1)
    return 0.5 * (
        torch.sum(-soft * torch.log_softmax(logits, dim=-1), dim=-1).mean()
        + torch.sum(-soft.t() * torch.log_softmax(logits.t(), dim=-1), dim=-1).mean()
    )
