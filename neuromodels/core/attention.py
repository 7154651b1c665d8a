"""The one attention library of neuromodels.

Every transformer in the package (CrossViT branches and fusion, the OAT encoder-decoder, attention in
decoders) is built from the modules here. They run over
:func:`torch.nn.functional.scaled_dot_product_attention` (SDPA), which picks fused flash / memory-efficient
kernels on CUDA under bf16/fp16 autocast and a fused kernel on CPU. :func:`reference_attention` is a plain
softmax implementation kept for tests and for the benchmark baseline.

Conventions
-----------
* Tensors are batch-first: tokens are ``(batch, length, dim)``; heads are ``(batch, heads, length, head_dim)``.
* Boolean masks mean **True = attend**. A key mask is ``(batch, n_keys)`` (False marks padding). An attention
  mask is ``(n_queries, n_keys)``, ``(batch, n_queries, n_keys)`` or ``(batch, heads, n_queries, n_keys)``.
* A query row whose keys are all masked returns zeros (never NaN), with zero gradient to the keys.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Backend",
    "reference_attention",
    "attention",
    "combine_masks",
    "causal_mask",
    "MultiHeadAttention",
    "Mlp",
    "DropPath",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "ClsCrossAttention",
    "set_default_backend",
    "init_transformer_weights",
    "get_default_backend",
]

Backend = Literal["sdpa", "reference"]
_DEFAULT_BACKEND: Backend = "sdpa"


def set_default_backend(backend: Backend) -> None:
    """Switch every module built afterwards *and* every module left on ``backend=None`` to ``backend``."""
    global _DEFAULT_BACKEND
    if backend not in ("sdpa", "reference"):
        raise ValueError(f"attention backend must be 'sdpa' or 'reference', got {backend!r}")
    _DEFAULT_BACKEND = backend


def get_default_backend() -> Backend:
    return _DEFAULT_BACKEND


def causal_mask(n_queries: int, n_keys: int | None = None, device: torch.device | None = None) -> Tensor:
    """Lower-triangular boolean mask ``(n_queries, n_keys)``: query i attends to keys ``<= i``.

    When ``n_keys > n_queries`` the queries are aligned with the *last* keys (as with a cached prefix).
    """
    n_keys = n_queries if n_keys is None else n_keys
    offset = n_keys - n_queries
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril(diagonal=offset)


def _check_mask(mask: Tensor, q: Tensor, k: Tensor) -> None:
    """Fail clearly on a mask SDPA would misread: a float mask is *added* to the scores, and a mask of the
    wrong shape either fails deep inside the kernel or broadcasts silently over the wrong axis."""
    if mask.dtype != torch.bool:
        raise TypeError(f"attention mask must be boolean (True = attend), got dtype {mask.dtype}")
    target = (*q.shape[:-1], k.shape[-2])
    try:
        ok = mask.dim() >= 2 and torch.broadcast_shapes(mask.shape, target) == target
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"attention mask of shape {tuple(mask.shape)} does not broadcast to (..., n_queries, n_keys) = {target}"
        )


def combine_masks(
    batch: int,
    n_queries: int,
    n_keys: int,
    key_mask: Tensor | None = None,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    device: torch.device | None = None,
    num_heads: int | None = None,
) -> Tensor | None:
    """Merge a key mask, an attention mask and causality into one boolean mask broadcastable to
    ``(batch, heads, n_queries, n_keys)``, or ``None`` when nothing is masked.

    ``attn_mask`` is ``(n_queries, n_keys)``, ``(batch, n_queries, n_keys)`` or
    ``(batch, heads, n_queries, n_keys)`` (a leading batch or heads axis may be 1 to broadcast);
    ``key_mask`` is ``(batch, n_keys)``. ``num_heads``, when given, is checked against a 4-d mask.
    Raises ``TypeError`` for a non-boolean mask and ``ValueError`` for a wrong shape.
    """
    mask: Tensor | None = None
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool:
            raise TypeError(f"attn_mask must be boolean (True = attend), got dtype {attn_mask.dtype}")
        shape = tuple(attn_mask.shape)
        if attn_mask.dim() not in (2, 3, 4):
            raise ValueError(f"attn_mask must have 2, 3 or 4 dims, got shape {shape}")
        expected = {2: "(n_queries, n_keys)", 3: "(batch, n_queries, n_keys)", 4: "(batch, heads, n_queries, n_keys)"}[
            attn_mask.dim()
        ]
        bad = shape[-2:] != (n_queries, n_keys)
        if attn_mask.dim() >= 3:
            bad = bad or shape[0] not in (1, batch)
        if attn_mask.dim() == 4 and num_heads is not None:
            bad = bad or shape[1] not in (1, num_heads)
        if bad:
            raise ValueError(
                f"attn_mask must be {expected} with batch={batch}, n_queries={n_queries}, "
                f"n_keys={n_keys}, got shape {shape}"
            )
        if attn_mask.dim() == 2:
            mask = attn_mask[None, None]
        elif attn_mask.dim() == 3:
            mask = attn_mask[:, None]
        else:
            mask = attn_mask
    if key_mask is not None:
        if key_mask.dtype != torch.bool:
            raise TypeError(
                f"key_mask must be boolean (True = real token, False = padding), got dtype {key_mask.dtype}"
            )
        if tuple(key_mask.shape) != (batch, n_keys):
            raise ValueError(f"key_mask must be (batch, n_keys) = {(batch, n_keys)}, got {tuple(key_mask.shape)}")
        km = key_mask[:, None, None, :]
        mask = km if mask is None else mask & km
    if is_causal:
        cm = causal_mask(n_queries, n_keys, device=device)[None, None]
        mask = cm if mask is None else mask & cm
    return mask


def reference_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> Tensor:
    """Plain softmax attention, ``softmax(q k^T * scale + mask) v``, materialising the full score matrix.

    Shapes: ``q`` (..., Lq, E), ``k`` (..., Lk, E), ``v`` (..., Lk, Ev); ``mask`` boolean, broadcastable to
    (..., Lq, Lk), True = attend. Fully masked rows give zeros.
    """
    if mask is not None:
        _check_mask(mask, q, k)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if is_causal:
        cm = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
        mask = cm if mask is None else mask & cm
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
        any_key = mask.any(dim=-1, keepdim=True)
        # a row with no key would be softmax over -inf only (NaN): give it finite scores, zero it after
        scores = scores.masked_fill(~any_key, 0.0)
    weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    out = torch.matmul(weights, v)
    if mask is not None:
        out = out.masked_fill(~any_key, 0.0)
    return out


def attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    backend: Backend | None = None,
) -> Tensor:
    """Attention over ``(batch, heads, length, head_dim)`` tensors through SDPA (or the reference).

    Fully masked query rows return zeros. ``is_causal`` without a mask goes straight to SDPA's causal path
    so the fused kernels stay eligible. ``mask`` must be boolean (True = attend) and broadcast to
    ``(batch, heads, n_queries, n_keys)``; anything else raises ``TypeError`` / ``ValueError``.
    """
    backend = backend or _DEFAULT_BACKEND
    if mask is not None:
        _check_mask(mask, q, k)
    if backend == "reference":
        return reference_attention(q, k, v, mask=mask, is_causal=is_causal, dropout_p=dropout_p, scale=scale)
    if mask is None:
        if is_causal and q.shape[-2] != k.shape[-2]:
            mask = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
            is_causal = False
        else:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=is_causal, scale=scale)
    if is_causal:
        mask = mask & causal_mask(q.shape[-2], k.shape[-2], device=q.device)
    any_key = mask.any(dim=-1, keepdim=True)
    safe_mask = mask | ~any_key
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe_mask, dropout_p=dropout_p, scale=scale)
    return out.masked_fill(~any_key, 0.0)


def init_transformer_weights(model: nn.Module, std: float = 0.02) -> None:
    """The usual transformer initialisation: truncated-normal linear weights (``std``), zero biases,
    LayerNorm as the identity. Other modules are left as they are."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention.

    Parameters
    ----------
    dim:
        Width of the queries (and of the output unless ``out_dim`` is set).
    num_heads:
        Number of heads; ``dim`` must be divisible by it unless ``head_dim`` is given.
    kv_dim:
        Width of keys/values when they come from another stream (cross-attention); defaults to ``dim``.
    out_dim:
        Width of the output; defaults to ``dim``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kv_dim: int | None = None,
        out_dim: int | None = None,
        head_dim: int | None = None,
        qkv_bias: bool = True,
        attn_dropout: float = 0.0,
        proj_dropout: float = 0.0,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        if head_dim is None:
            if dim % num_heads:
                raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
            head_dim = dim // num_heads
        kv_dim = dim if kv_dim is None else kv_dim
        out_dim = dim if out_dim is None else out_dim
        inner = num_heads * head_dim
        self.num_heads, self.head_dim = num_heads, head_dim
        self.is_self = kv_dim == dim
        self.q_proj = nn.Linear(dim, inner, bias=qkv_bias)
        self.k_proj = nn.Linear(kv_dim, inner, bias=qkv_bias)
        self.v_proj = nn.Linear(kv_dim, inner, bias=qkv_bias)
        self.out_proj = nn.Linear(inner, out_dim)
        self.attn_dropout = attn_dropout
        self.proj_dropout = nn.Dropout(proj_dropout)
        self.backend = backend

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        query: Tensor,
        key_value: Tensor | None = None,
        key_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """``query`` (B, Lq, dim); ``key_value`` (B, Lk, kv_dim) or None for self-attention.
        Returns (B, Lq, out_dim)."""
        kv = query if key_value is None else key_value
        b, lq, _ = query.shape
        lk = kv.shape[1]
        q = self._split(self.q_proj(query))
        k = self._split(self.k_proj(kv))
        v = self._split(self.v_proj(kv))
        if key_mask is None and attn_mask is None:
            mask = None
        else:
            mask = combine_masks(
                b, lq, lk, key_mask, attn_mask, is_causal, device=query.device, num_heads=self.num_heads
            )
            is_causal = False
        out = attention(
            q,
            k,
            v,
            mask=mask,
            is_causal=is_causal,
            dropout_p=self.attn_dropout if self.training else 0.0,
            backend=self.backend,
        )
        out = out.transpose(1, 2).reshape(b, lq, self.num_heads * self.head_dim)
        return self.proj_dropout(self.out_proj(out))


class Mlp(nn.Module):
    """Two-layer feed-forward block (Linear, GELU, Dropout, Linear, Dropout)."""

    def __init__(self, dim: int, hidden_dim: int, out_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim if out_dim is None else out_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample with probability ``p`` while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep) / keep


class TransformerEncoderLayer(nn.Module):
    """Pre-norm encoder layer: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.0,
        qkv_bias: bool = True,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(
            dim, num_heads, qkv_bias=qkv_bias, attn_dropout=attn_dropout, proj_dropout=dropout, backend=backend
        )
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout=dropout)

    def forward(
        self, x: Tensor, key_mask: Tensor | None = None, attn_mask: Tensor | None = None, is_causal: bool = False
    ) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), key_mask=key_mask, attn_mask=attn_mask, is_causal=is_causal))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class TransformerDecoderLayer(nn.Module):
    """Pre-norm decoder layer: causal self-attention, cross-attention to ``memory``, feed-forward."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        memory_dim: int | None = None,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.0,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(
            dim, num_heads, attn_dropout=attn_dropout, proj_dropout=dropout, backend=backend
        )
        self.norm2 = nn.LayerNorm(dim)
        self.norm_memory = nn.LayerNorm(memory_dim or dim)
        self.cross_attn = MultiHeadAttention(
            dim, num_heads, kv_dim=memory_dim, attn_dropout=attn_dropout, proj_dropout=dropout, backend=backend
        )
        self.norm3 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dropout=dropout)
        self.drop_path = DropPath(drop_path)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        key_mask: Tensor | None = None,
        memory_key_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = True,
    ) -> Tensor:
        """``x`` (B, Lt, dim) target tokens, ``memory`` (B, Ls, memory_dim) encoder output;
        ``key_mask`` pads targets, ``memory_key_mask`` pads memory."""
        x = x + self.drop_path(
            self.self_attn(self.norm1(x), key_mask=key_mask, attn_mask=attn_mask, is_causal=is_causal)
        )
        x = x + self.drop_path(self.cross_attn(self.norm2(x), self.norm_memory(memory), key_mask=memory_key_mask))
        return x + self.drop_path(self.mlp(self.norm3(x)))


class ClsCrossAttention(nn.Module):
    """CrossViT fusion: one branch's CLS token is the only query over the other branch's tokens.

    The CLS token of the *query branch* (width ``dim``) is projected to the *other branch's* width
    (``other_dim``), attends over ``[projected CLS; other branch's patch tokens]``, and is projected back and
    added residually. Cost is linear in the number of tokens.

    ``forward(x, other)``: ``x`` (B, 1 + Nx, dim) query branch with CLS first; ``other`` (B, 1 + No, other_dim).
    Returns ``x`` with its CLS token updated; patch tokens pass through unchanged.
    """

    def __init__(
        self,
        dim: int,
        other_dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.0,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.project_in = nn.Sequential(nn.LayerNorm(dim), nn.GELU(), nn.Linear(dim, other_dim))
        self.norm = nn.LayerNorm(other_dim)
        self.attn = MultiHeadAttention(
            other_dim, num_heads, qkv_bias=qkv_bias, attn_dropout=attn_dropout, proj_dropout=dropout, backend=backend
        )
        self.drop_path = DropPath(drop_path)
        self.project_out = nn.Sequential(nn.LayerNorm(other_dim), nn.GELU(), nn.Linear(other_dim, dim))

    def forward(self, x: Tensor, other: Tensor) -> Tensor:
        cls = self.project_in(x[:, :1])  # (B, 1, other_dim)
        tokens = torch.cat([cls, other[:, 1:]], dim=1)  # the CLS itself plus the other branch's patches
        tokens = self.norm(tokens)
        cls = cls + self.drop_path(self.attn(tokens[:, :1], tokens))
        return torch.cat([x[:, :1] + self.project_out(cls), x[:, 1:]], dim=1)
