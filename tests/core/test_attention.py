"""The shared attention library agrees with its plain-softmax reference, in values and gradients.

Every comparison runs the SDPA path and the reference on the same inputs (same weights for modules) in fp32
and asserts agreement to 1e-5, over random shapes and every mask form the library accepts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

import neuromodels.core.attention as attn_lib
from neuromodels.core.attention import (
    ClsCrossAttention,
    MultiHeadAttention,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    attention,
    causal_mask,
    combine_masks,
    get_default_backend,
    reference_attention,
    set_default_backend,
)

TOL = {"atol": 1e-5, "rtol": 1e-5}
MASK_KINDS = ("none", "key", "attn2", "attn3", "attn4", "causal", "causal_key", "all")


@pytest.fixture(autouse=True)
def _restore_default_backend() -> Iterator[None]:
    before = get_default_backend()
    yield
    set_default_backend(before)


@pytest.fixture
def reference_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Record the query shape of every call that reaches the reference implementation."""
    calls: list[tuple[int, ...]] = []
    original = attn_lib.reference_attention

    def spy(q: Tensor, *args, **kwargs) -> Tensor:
        calls.append(tuple(q.shape))
        return original(q, *args, **kwargs)

    monkeypatch.setattr(attn_lib, "reference_attention", spy)
    return calls


# ----------------------------------------------------------------------------------------------- helpers
def _random_shape(seed: int) -> dict[str, int]:
    r = np.random.default_rng(seed)
    lq = int(r.integers(1, 20))
    lk = int(r.integers(1, 24))
    if lk == lq:  # keep Lq != Lk: the cases where causal alignment and masks are easiest to get wrong
        lk += 3
    return {
        "b": int(r.integers(1, 4)),
        "h": int(r.integers(1, 5)),
        "lq": lq,
        "lk": lk,
        "e": int(r.choice([4, 8, 16, 32, 64])),
        "ev": int(r.choice([4, 8, 16, 32])),
    }


def _key_mask(b: int, lk: int, gen: torch.Generator) -> Tensor:
    """Random padding: each sample keeps a random prefix length >= 1 (like right-padded sequences), then a
    few random holes so the mask is not only a prefix."""
    lengths = torch.randint(1, lk + 1, (b,), generator=gen)
    mask = torch.arange(lk)[None] < lengths[:, None]
    holes = torch.rand(b, lk, generator=gen) < 0.2
    mask = mask & ~holes
    mask[:, 0] = True  # at least one real key per sample (fully masked samples are tested on their own)
    return mask


def _attn_mask(kind: str, b: int, h: int, lq: int, lk: int, gen: torch.Generator) -> Tensor:
    shape = {"attn2": (lq, lk), "attn3": (b, lq, lk), "attn4": (b, h, lq, lk)}[kind]
    return torch.rand(shape, generator=gen) < 0.7


def _grads(out: Tensor, inputs: list[Tensor], grad_out: Tensor) -> list[Tensor]:
    return list(torch.autograd.grad(out, inputs, grad_out, allow_unused=False))


def _leaves(*shapes: tuple[int, ...], gen: torch.Generator) -> list[Tensor]:
    return [torch.randn(s, generator=gen).requires_grad_(True) for s in shapes]


def _compare_modules(
    module: nn.Module, inputs: list[Tensor], call: Callable[[nn.Module], Tensor], gen: torch.Generator
) -> Tensor:
    """Run ``module`` (SDPA) and a copy on the reference backend; compare outputs, input and weight grads."""
    reference = copy.deepcopy(module)
    for sub in reference.modules():
        if isinstance(sub, MultiHeadAttention):
            sub.backend = "reference"
    out, out_ref = call(module), call(reference)
    torch.testing.assert_close(out, out_ref, **TOL)
    grad_out = torch.randn(out.shape, generator=gen)
    params, params_ref = list(module.parameters()), list(reference.parameters())
    grads = _grads(out, inputs + params, grad_out)
    grads_ref = _grads(out_ref, inputs + params_ref, grad_out)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, **TOL)
    return out


# ------------------------------------------------------------------------------ attention() vs reference
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", MASK_KINDS)
def test_attention_matches_reference_values_and_grads(kind: str, seed: int) -> None:
    s = _random_shape(seed)
    b, h, lq, lk, e, ev = s["b"], s["h"], s["lq"], s["lk"], s["e"], s["ev"]
    gen = torch.Generator().manual_seed(100 + seed)
    q, k, v = _leaves((b, h, lq, e), (b, h, lk, e), (b, h, lk, ev), gen=gen)
    key_mask = _key_mask(b, lk, gen) if kind in ("key", "causal_key", "all") else None
    attn_mask = (
        _attn_mask(kind if kind.startswith("attn") else "attn3", b, h, lq, lk, gen)
        if kind.startswith("attn") or kind == "all"
        else None
    )
    is_causal = kind in ("causal", "causal_key", "all")
    if key_mask is None and attn_mask is None:
        mask, causal_flag = None, is_causal  # the unmasked causal path (Lq != Lk here)
    elif kind == "causal_key":
        mask, causal_flag = combine_masks(b, lq, lk, key_mask), True  # attention() adds causality itself
    else:
        mask, causal_flag = combine_masks(b, lq, lk, key_mask, attn_mask, is_causal), False

    out = attention(q, k, v, mask=mask, is_causal=causal_flag, backend="sdpa")
    ref = reference_attention(q, k, v, mask=mask, is_causal=causal_flag)
    assert out.shape == (b, h, lq, ev)
    torch.testing.assert_close(out, ref, **TOL)
    grad_out = torch.randn(out.shape, generator=gen)
    for g, g_ref in zip(_grads(out, [q, k, v], grad_out), _grads(ref, [q, k, v], grad_out)):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, g_ref, **TOL)


def test_reference_is_plain_softmax_attention() -> None:
    """The reference itself is checked against the formula written out in float64."""
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    mask = torch.rand(2, 1, 5, 5, generator=gen) < 0.6
    mask[..., 0] = True
    scores = (q @ k.transpose(-2, -1)) / np.sqrt(8)
    weights = torch.exp(scores.masked_fill(~mask, -np.inf) - scores.amax(-1, keepdim=True))
    expected = (weights / weights.sum(-1, keepdim=True)) @ v
    torch.testing.assert_close(reference_attention(q, k, v, mask=mask), expected)


@pytest.mark.parametrize("lq,lk", [(4, 9), (9, 4), (6, 6)])
def test_causal_aligns_queries_with_last_keys(lq: int, lk: int) -> None:
    """Query i sees keys j <= i + (Lk - Lq): perturbing any later key leaves row i unchanged, and
    perturbing a visible key changes it. Rows with no visible key (Lq > Lk) are zeros."""
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, n, 8, generator=gen) for n in (lq, lk, lk))
    out = attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, reference_attention(q, k, v, is_causal=True), **TOL)
    offset = lk - lq
    for j in range(lk):
        k2, v2 = k.clone(), v.clone()
        k2[..., j, :] += 3.0
        v2[..., j, :] -= 3.0
        out2 = attention(q, k2, v2, is_causal=True)
        for i in range(lq):
            changed = not torch.allclose(out[..., i, :], out2[..., i, :], atol=1e-6)
            assert changed == (j <= i + offset), (i, j)
    empty_rows = [i for i in range(lq) if i + offset < 0]
    if empty_rows:
        assert torch.all(out[..., empty_rows, :] == 0)
    expected = torch.tensor([[j <= i + offset for j in range(lk)] for i in range(lq)])
    assert torch.equal(causal_mask(lq, lk), expected)


# ------------------------------------------------------------------------ MultiHeadAttention vs reference
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_multihead_attention_matches_reference(kind: str, cross: bool, seed: int) -> None:
    r = np.random.default_rng(seed + (50 if cross else 0))
    heads = int(r.choice([1, 2, 3, 4]))
    head_dim = int(r.choice([4, 8, 16]))
    dim = heads * head_dim if r.random() < 0.5 else 24  # 24: head_dim given explicitly, inner != dim
    kv_dim = int(r.choice([12, 20, 40])) if cross else None
    b, lq = int(r.integers(1, 4)), int(r.integers(2, 12))
    lk = int(r.integers(2, 15)) if cross else lq
    if cross and lk == lq:
        lk += 2
    torch.manual_seed(seed)
    mha = MultiHeadAttention(dim, heads, kv_dim=kv_dim, head_dim=head_dim, backend="sdpa")
    gen = torch.Generator().manual_seed(200 + seed)
    inputs = _leaves((b, lq, dim), gen=gen)
    if cross:
        inputs += _leaves((b, lk, kv_dim), gen=gen)
    key_mask = _key_mask(b, lk, gen) if kind in ("key", "causal_key", "all") else None
    attn_mask = (
        _attn_mask(kind if kind.startswith("attn") else "attn4", b, heads, lq, lk, gen)
        if kind.startswith("attn") or kind == "all"
        else None
    )
    is_causal = kind in ("causal", "causal_key", "all")

    def call(module: nn.Module) -> Tensor:
        return module(
            inputs[0], inputs[1] if cross else None, key_mask=key_mask, attn_mask=attn_mask, is_causal=is_causal
        )

    out = _compare_modules(mha, inputs, call, gen)
    assert out.shape == (b, lq, dim)


def test_attention_masks_of_2_3_4_dims_mean_the_same() -> None:
    """One pattern given as (Lq, Lk), (B, Lq, Lk) and (B, H, Lq, Lk) gives the same output."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(3, 7, 16)
    pattern = torch.rand(7, 7) < 0.6
    pattern[:, 0] = True
    outs = [mha(x, attn_mask=m) for m in (pattern, pattern.expand(3, 7, 7), pattern.expand(3, 4, 7, 7))]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], **TOL)
    assert not torch.allclose(outs[0], mha(x), atol=1e-4)  # the mask did something


# ---------------------------------------------------------------------------- fully masked rows, padding
@pytest.mark.parametrize("backend", ["sdpa", "reference"])
def test_fully_masked_rows_give_zeros_and_finite_grads(backend: str) -> None:
    gen = torch.Generator().manual_seed(3)
    q, k, v = _leaves((2, 2, 5, 8), (2, 2, 6, 8), (2, 2, 6, 8), gen=gen)
    key_mask = torch.ones(2, 6, dtype=torch.bool)
    key_mask[1] = False  # sample 1: every key is padding
    attn_mask = torch.ones(5, 6, dtype=torch.bool)
    attn_mask[2] = False  # query 2 attends to nothing in any sample
    mask = combine_masks(2, 5, 6, key_mask, attn_mask)
    out = attention(q, k, v, mask=mask, backend=backend)
    assert torch.isfinite(out).all()
    assert torch.all(out[1] == 0) and torch.all(out[:, :, 2] == 0)
    assert out[0, :, [0, 1, 3, 4]].abs().sum() > 0
    gq, gk, gv = _grads(out, [q, k, v], torch.randn(out.shape, generator=gen))
    for g in (gq, gk, gv):
        assert torch.isfinite(g).all()
    # nothing flows from the empty rows: their queries get no gradient, sample 1 gets none at all
    assert torch.all(gq[:, :, 2] == 0) and torch.all(gq[1] == 0)
    assert torch.all(gk[1] == 0) and torch.all(gv[1] == 0)


def test_fully_masked_module_rows_are_finite_and_match_reference() -> None:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(16, 2)
    gen = torch.Generator().manual_seed(4)
    x = _leaves((2, 5, 16), gen=gen)
    key_mask = torch.tensor([[True] * 5, [False] * 5])
    out = _compare_modules(layer, x, lambda m: m(x[0], key_mask=key_mask), gen)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("backend", ["sdpa", "reference"])
def test_padded_keys_never_change_real_outputs(backend: str) -> None:
    """Replace every padded token by large garbage: the outputs at real positions do not move."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(5)
    b, n, dim = 3, 9, 24
    key_mask = torch.arange(n)[None] < torch.tensor([[9], [5], [2]])
    x = torch.randn(b, n, dim, generator=gen)
    garbage = torch.where(key_mask[..., None], x, 1e3 * torch.randn(b, n, dim, generator=gen))

    enc = TransformerEncoderLayer(dim, 4, backend=backend).eval()
    out, out_g = enc(x, key_mask=key_mask), enc(garbage, key_mask=key_mask)
    real = key_mask[..., None].expand_as(out)
    torch.testing.assert_close(out[real], out_g[real], atol=1e-6, rtol=0)

    memory_dim, n_mem = 20, 7
    memory_mask = torch.arange(n_mem)[None] < torch.tensor([[7], [3], [1]])
    memory = torch.randn(b, n_mem, memory_dim, generator=gen)
    memory_g = torch.where(memory_mask[..., None], memory, -1e3 * torch.randn(b, n_mem, memory_dim, generator=gen))
    cross = MultiHeadAttention(dim, 4, kv_dim=memory_dim, backend=backend).eval()
    torch.testing.assert_close(
        cross(x, memory, key_mask=memory_mask), cross(x, memory_g, key_mask=memory_mask), atol=1e-6, rtol=0
    )
    dec = TransformerDecoderLayer(dim, 4, memory_dim=memory_dim, backend=backend).eval()
    out = dec(x, memory, key_mask=key_mask, memory_key_mask=memory_mask)
    out_g = dec(garbage, memory_g, key_mask=key_mask, memory_key_mask=memory_mask)
    torch.testing.assert_close(out[real], out_g[real], atol=1e-6, rtol=0)
    # and the garbage is not ignored when the mask says it is real
    assert not torch.allclose(cross(x, memory), cross(x, memory_g), atol=1e-3)


# --------------------------------------------------------------------------- layers vs reference copies
def test_encoder_layer_matches_reference_copy() -> None:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(32, 4, mlp_ratio=2.0)
    gen = torch.Generator().manual_seed(6)
    x = _leaves((2, 11, 32), gen=gen)
    key_mask = _key_mask(2, 11, gen)
    _compare_modules(layer, x, lambda m: m(x[0], key_mask=key_mask), gen)
    _compare_modules(layer, x, lambda m: m(x[0], is_causal=True), gen)


@pytest.mark.parametrize("memory_dim", [None, 20])
def test_decoder_layer_matches_reference_copy(memory_dim: int | None) -> None:
    torch.manual_seed(0)
    layer = TransformerDecoderLayer(24, 3, memory_dim=memory_dim)
    gen = torch.Generator().manual_seed(7)
    x, memory = _leaves((2, 6, 24), (2, 10, memory_dim or 24), gen=gen)
    key_mask, memory_mask = _key_mask(2, 6, gen), _key_mask(2, 10, gen)
    _compare_modules(layer, [x, memory], lambda m: m(x, memory, key_mask=key_mask, memory_key_mask=memory_mask), gen)


def test_cls_cross_attention_matches_reference_copy() -> None:
    torch.manual_seed(0)
    fusion = ClsCrossAttention(dim=16, other_dim=24, num_heads=4)
    gen = torch.Generator().manual_seed(8)
    x, other = _leaves((3, 1 + 9, 16), (3, 1 + 5, 24), gen=gen)
    _compare_modules(fusion, [x, other], lambda m: m(x, other), gen)


def test_default_backend_switch_reaches_modules_built_with_none(reference_calls: list) -> None:
    torch.manual_seed(0)
    layer = TransformerDecoderLayer(16, 2, memory_dim=12).eval()  # backend=None everywhere
    gen = torch.Generator().manual_seed(9)
    x, memory = torch.randn(2, 5, 16, generator=gen), torch.randn(2, 7, 12, generator=gen)
    out_sdpa = layer(x, memory)
    assert reference_calls == []
    set_default_backend("reference")
    out_ref = layer(x, memory)
    assert len(reference_calls) == 2  # self- and cross-attention both went to the reference
    torch.testing.assert_close(out_sdpa, out_ref, **TOL)
    layer.self_attn.backend = "sdpa"  # an explicit module backend wins over the default
    layer(x, memory)
    assert len(reference_calls) == 3
    with pytest.raises(ValueError, match="sdpa"):
        set_default_backend("flash")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ ClsCrossAttention
def test_cls_cross_attention_updates_only_cls() -> None:
    torch.manual_seed(0)
    fusion = ClsCrossAttention(dim=16, other_dim=24, num_heads=4).eval()
    gen = torch.Generator().manual_seed(10)
    x, other = torch.randn(2, 1 + 8, 16, generator=gen), torch.randn(2, 1 + 6, 24, generator=gen)
    out = fusion(x, other)
    assert out.shape == x.shape
    assert torch.equal(out[:, 1:], x[:, 1:])
    assert not torch.allclose(out[:, 0], x[:, 0], atol=1e-4)
    # the query branch's CLS stands in for the other branch's CLS, which is therefore never read
    other2 = other.clone()
    other2[:, 0] = 100.0
    assert torch.equal(fusion(x, other2), out)
    # and the other branch's patches are read
    other3 = other.clone()
    other3[:, 1:] += torch.randn(other3[:, 1:].shape, generator=gen)  # not a constant: LayerNorm removes those
    assert not torch.allclose(fusion(x, other3)[:, 0], out[:, 0], atol=1e-4)


def test_cls_cross_attention_cost_is_linear_in_tokens(reference_calls: list) -> None:
    """CLS is the only query, so FLOPs grow linearly with the number of tokens (equal second differences)."""
    torch.manual_seed(0)
    fusion = ClsCrossAttention(dim=16, other_dim=32, num_heads=4, backend="reference").eval()

    def flops(n_tokens: int) -> int:
        x, other = torch.randn(2, 1 + n_tokens, 16), torch.randn(2, 1 + n_tokens, 32)
        with FlopCounterMode(display=False) as counter:
            fusion(x, other)
        return counter.get_total_flops()

    f1, f2, f4 = flops(32), flops(64), flops(128)
    assert f1 > 0
    assert f4 - f2 == 2 * (f2 - f1)
    assert all(shape[-2] == 1 for shape in reference_calls)  # one query per head
    assert [shape[-2] for shape in reference_calls] == [1, 1, 1]


# ------------------------------------------------------------------------------------------- dropout
def test_dropout_is_off_in_eval_and_on_in_train() -> None:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(16, 2, dropout=0.5, attn_dropout=0.5, drop_path=0.5)
    x = torch.randn(4, 6, 16)
    key_mask = torch.ones(4, 6, dtype=torch.bool)
    key_mask[0, 4:] = False
    layer.eval()
    out1, out2 = layer(x, key_mask=key_mask), layer(x, key_mask=key_mask)
    assert torch.equal(out1, out2)
    reference = copy.deepcopy(layer)
    reference.attn.backend = "reference"
    torch.testing.assert_close(out1, reference(x, key_mask=key_mask), **TOL)
    layer.train()
    assert not torch.allclose(layer(x, key_mask=key_mask), layer(x, key_mask=key_mask))
    # attention-weight dropout alone is active in training too
    mha = MultiHeadAttention(16, 2, attn_dropout=0.5).train()
    assert not torch.allclose(mha(x), mha(x))
    mha.eval()
    assert torch.equal(mha(x), mha(x))


# ------------------------------------------------------------------------------------------ bad masks
def test_bad_masks_raise_clear_errors() -> None:
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    memory = torch.randn(2, 7, 16)
    with pytest.raises(TypeError, match="key_mask must be boolean"):
        mha(x, key_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"key_mask must be \(batch, n_keys\)"):
        mha(x, memory, key_mask=torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean"):
        mha(x, attn_mask=torch.zeros(5, 5))
    with pytest.raises(ValueError, match="2, 3 or 4 dims"):
        mha(x, attn_mask=torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must be \(n_queries, n_keys\)"):
        mha(x, memory, attn_mask=torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must be \(batch, n_queries, n_keys\)"):
        mha(x, attn_mask=torch.ones(3, 5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must be \(batch, heads, n_queries, n_keys\)"):
        mha(x, attn_mask=torch.ones(2, 3, 5, 5, dtype=torch.bool))
    q = k = v = torch.randn(2, 4, 5, 4)
    for backend in ("sdpa", "reference"):
        with pytest.raises(TypeError, match="must be boolean"):
            attention(q, k, v, mask=torch.zeros(2, 1, 5, 5), backend=backend)
        with pytest.raises(ValueError, match="does not broadcast"):
            attention(q, k, v, mask=torch.ones(2, 1, 5, 6, dtype=torch.bool), backend=backend)


# ------------------------------------------------------------------------------------ bf16 autocast
def _bf16_autocast_matches_fp32_reference(device: torch.device) -> None:
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(128, 4).to(device)
    reference = copy.deepcopy(layer)
    reference.attn.backend = "reference"
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(2, 100, 128, device=device, generator=gen, requires_grad=True)
    key_mask = torch.ones(2, 100, dtype=torch.bool, device=device)
    key_mask[1, 60:] = False
    with torch.autocast(device.type, dtype=torch.bfloat16):
        out = layer(x, key_mask=key_mask)
        causal = layer(x, is_causal=True)
    expected = reference(x, key_mask=key_mask)  # fp32 reference
    assert out.dtype == torch.float32 and torch.isfinite(out).all() and torch.isfinite(causal).all()
    torch.testing.assert_close(out, expected, atol=5e-2, rtol=5e-2)
    (grad,) = torch.autograd.grad(out.sum(), x)
    (grad_ref,) = torch.autograd.grad(expected.sum(), x)
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(grad, grad_ref, atol=1e-1, rtol=1e-1)
    # a fully padded sample stays finite (and its attention output is zero) under bf16 too
    q = torch.randn(2, 4, 16, 64, device=device, dtype=torch.bfloat16)
    empty = torch.zeros(2, 1, 1, 16, dtype=torch.bool, device=device)
    empty[0] = True
    out = attention(q, q, q, mask=empty)
    assert torch.isfinite(out).all() and torch.all(out[1] == 0)


def test_cpu_bf16_autocast_matches_fp32_reference() -> None:
    """The autocast path (bf16 projections and SDPA, masks, fully padded rows) on CPU, where CI can run it."""
    _bf16_autocast_matches_fp32_reference(torch.device("cpu"))


@pytest.mark.gpu
def test_cuda_bf16_autocast_matches_fp32_reference(cuda_device: torch.device) -> None:
    _bf16_autocast_matches_fp32_reference(cuda_device)
