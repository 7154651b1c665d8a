"""CrossViT: built from the core attention library, addressable layers, fusion touches only CLS tokens,
SDPA and reference attention agree, the paper's CrossViT-18-dagger size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuromodels.brainscore.models import (
    CROSSVIT_CONFIGS,
    ConvPatchEmbed,
    CrossViT,
    block_output_layers,
    build_crossvit,
    crossvit_config,
)
from neuromodels.core import attention as core_attention
from neuromodels.core.activations import extract_activations
from neuromodels.core.errors import ConfigError


@pytest.mark.parametrize("name", ["crossvit_micro", "crossvit_tiny"])
def test_forward_shapes_and_finite(name: str) -> None:
    torch.manual_seed(0)
    model = build_crossvit(name, n_classes=7).eval()
    logits = model(torch.rand(3, 3, 32, 32))
    assert logits.shape == (3, 7)
    assert torch.isfinite(logits).all()


def test_logits_average_both_cls_heads() -> None:
    torch.manual_seed(0)
    model = build_crossvit("crossvit_micro", n_classes=5).eval()
    x = torch.rand(2, 3, 32, 32)
    outs = extract_activations(model, [x], ["head_small", "head_large", "logits"], pooling="none")
    np.testing.assert_allclose(outs["logits"], (outs["head_small"] + outs["head_large"]) / 2, atol=1e-6)


def test_built_only_from_core_attention_modules() -> None:
    model = build_crossvit("crossvit_tiny")
    kinds = {type(m) for m in model.modules()}
    assert core_attention.TransformerEncoderLayer in kinds and core_attention.ClsCrossAttention in kinds
    assert core_attention.Mlp in kinds
    assert nn.MultiheadAttention not in kinds and nn.TransformerEncoderLayer not in kinds
    # every attention in the model is the core's
    for m in model.modules():
        if "attention" in type(m).__name__.lower():
            assert type(m).__module__ == core_attention.__name__


def test_layers_addressable_by_name() -> None:
    torch.manual_seed(0)
    model = build_crossvit("crossvit_tiny", n_classes=10)
    layers = block_output_layers(model) + ["embed_small", "blocks.0.large.1"]
    acts = extract_activations(model, [torch.rand(4, 3, 32, 32)], layers, pooling="flatten")
    # tokens: 1 + (32 / 4)^2 = 65 small tokens of width 48; 1 + (32 / 8)^2 = 17 large tokens of width 96
    assert acts["blocks.0.out_small"].shape == (4, 65 * 48)
    assert acts["blocks.1.out_large"].shape == (4, 17 * 96)
    assert acts["embed_small"].shape == (4, 65 * 48)
    assert acts["blocks.0.large.1"].shape == (4, 17 * 96)


def test_fusion_changes_only_cls_tokens() -> None:
    torch.manual_seed(0)
    model = build_crossvit("crossvit_micro").eval()
    block = model.blocks[0]
    xs, xl = torch.randn(2, 65, 32), torch.randn(2, 17, 64)
    fused_s, fused_l = block.fuse_small(xs, xl), block.fuse_large(xl, xs)
    assert torch.equal(fused_s[:, 1:], xs[:, 1:]) and torch.equal(fused_l[:, 1:], xl[:, 1:])
    assert not torch.allclose(fused_s[:, 0], xs[:, 0]) and not torch.allclose(fused_l[:, 0], xl[:, 0])
    # the small CLS token reads the large branch: changing large patches changes it
    xl2 = xl.clone()
    xl2[:, 5:] += torch.randn_like(xl2[:, 5:])  # (a constant shift would vanish in the layer norm)
    assert not torch.allclose(block.fuse_small(xs, xl2)[:, 0], fused_s[:, 0])


def test_sdpa_and_reference_attention_agree() -> None:
    torch.manual_seed(0)
    model = build_crossvit("crossvit_micro").eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        fast = model(x)
        for m in model.modules():
            if isinstance(m, core_attention.MultiHeadAttention):
                m.backend = "reference"
        slow = model(x)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_paper_crossvit_18_dagger_dimensions() -> None:
    cfg = crossvit_config("crossvit_18_dagger")
    assert cfg.dims == (224, 448) and cfg.patch_sizes == (12, 16) and cfg.num_heads == (7, 7)
    assert cfg.depths == ((1, 6), (1, 6), (1, 6)) and cfg.conv_embed and cfg.image_sizes == (240, 224)
    n_params = sum(p.numel() for p in CrossViT(cfg).parameters())
    assert abs(n_params / 44.3e6 - 1) < 0.01  # 44.3 M in Chen et al. (2021), table 2


@pytest.mark.parametrize("patch,size", [(12, 240), (16, 224), (4, 32), (8, 32)])
def test_conv_patch_embedding_strides(patch: int, size: int) -> None:
    embed = ConvPatchEmbed(patch, 16)
    tokens = embed(torch.rand(1, 3, size, size))
    assert tokens.shape == (1, (size // patch) ** 2, 16)


def test_unknown_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="crossvit_99"):
        crossvit_config("crossvit_99")
    assert set(CROSSVIT_CONFIGS) >= {"crossvit_micro", "crossvit_18_dagger"}
