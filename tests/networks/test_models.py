"""Encoders, objectives, augmentations and embedding files, checked without training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuromodels.core.activations import extract_activations
from neuromodels.core.errors import ConfigError, DataError
from neuromodels.networks import (
    Augmentation,
    CaptionEncoder,
    VisionTransformer,
    build_vocab,
    color_jitter,
    prepare_images,
    random_grayscale,
    random_resized_crop,
    read_embeddings,
    simclr_loss,
    write_embeddings,
)


def test_vit_output_shape_and_named_layers():
    vit = VisionTransformer(image_size=32, patch_size=8, dim=48, depth=3, num_heads=4, embed_dim=24).eval()
    images = torch.rand(5, 3, 32, 32)
    assert vit(images).shape == (5, 24)
    assert vit.layer_names == ["patch_embed", "blocks.0", "blocks.1", "blocks.2", "norm", "head"]
    feats = extract_activations(vit, [images[:3], images[3:]], vit.layer_names, pooling="none")
    assert feats["patch_embed"].shape == (5, 48, 4, 4)
    for i in range(3):
        assert feats[f"blocks.{i}"].shape == (5, 1 + 16, 48)
    assert feats["norm"].shape == (5, 17, 48)
    # the head's output is the forward output
    np.testing.assert_allclose(feats["head"], vit(images).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_vit_resizes_other_image_sizes_and_uint8():
    vit = VisionTransformer(image_size=32, patch_size=8, dim=32, depth=1, num_heads=2).eval()
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    x = prepare_images(pixels)
    assert x.shape == (2, 3, 64, 64) and float(x.max()) <= 1.0
    out = vit(x)
    assert out.shape == (2, 32)
    torch.testing.assert_close(out, vit(prepare_images(pixels, 32)))


def test_caption_encoder_padding_does_not_change_the_embedding():
    captions = ["a red disc on the left", "a large blue striped star at the top right, lit from above"]
    text = CaptionEncoder(build_vocab(captions), dim=32, depth=2, num_heads=4, embed_dim=16).eval()
    tokens, mask = text.tokenize(captions)
    assert tokens.shape[0] == 2 and mask.dtype == torch.bool
    assert tokens[0, 0] == 2 and bool(mask[:, 0].all())  # <cls> first
    assert int(mask[0].sum()) == 1 + 6 and int(mask[1].sum()) == 1 + 12
    together = text(tokens, mask)
    alone = text(*text.tokenize(captions[:1]))  # no padding at all
    torch.testing.assert_close(together[:1], alone, rtol=1e-5, atol=1e-5)
    # word order matters (learned positions), unknown words map to <unk>
    swapped = text(*text.tokenize(["left the on disc red a"]))
    assert not torch.allclose(swapped, alone)
    unk, _ = text.tokenize(["a purple disc"])
    assert unk[0, 2] == 1


def _simclr_reference(z1: torch.Tensor, z2: torch.Tensor, t: float) -> torch.Tensor:
    """NT-Xent written out view by view."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n = z.shape[0]
    b = n // 2
    total = 0.0
    for i in range(n):
        partner = (i + b) % n
        sims = [(z[i] @ z[k]) / t for k in range(n) if k != i]
        total = total - (z[i] @ z[partner] / t - torch.logsumexp(torch.stack(sims), 0))
    return total / n


def test_simclr_loss_matches_reference_and_chance():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    torch.testing.assert_close(simclr_loss(z1, z2, 0.2), _simclr_reference(z1, z2, 0.2), rtol=1e-5, atol=1e-5)
    # identical embeddings for every view: every candidate equally likely
    same = torch.ones(4, 3)
    assert math.isclose(float(simclr_loss(same, same, 0.5)), math.log(7), rel_tol=1e-5)
    # matched views far apart from the rest: loss near zero
    eye = torch.eye(5) * 10
    assert float(simclr_loss(eye, eye, 0.05)) < 1e-3


def test_augmentations_are_deterministic_and_keep_their_promises():
    images = torch.rand(4, 3, 16, 16)
    aug = Augmentation()
    a = aug(images, torch.Generator().manual_seed(3))
    b = aug(images, torch.Generator().manual_seed(3))
    c = aug(images, torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == images.shape and float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # a full-area, square crop without flips is the identity
    same = random_resized_crop(images, torch.Generator().manual_seed(0), scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=0.0)
    torch.testing.assert_close(same, images, rtol=1e-5, atol=1e-5)
    # a flip of the full image mirrors it
    flipped = random_resized_crop(
        images, torch.Generator().manual_seed(0), scale=(1.0, 1.0), ratio=(1.0, 1.0), flip_p=1.0
    )
    torch.testing.assert_close(flipped, images.flip(-1), rtol=1e-5, atol=1e-5)
    # grey images: equal channels; colour jitter keeps grey pixels grey (hue turns about the grey axis)
    grey = random_grayscale(images, torch.Generator().manual_seed(0), p=1.0)
    torch.testing.assert_close(grey[:, 0], grey[:, 1])
    jittered = color_jitter(grey, torch.Generator().manual_seed(1), p=1.0)
    torch.testing.assert_close(jittered[:, 0], jittered[:, 2], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(jittered, grey)


@pytest.mark.parametrize("suffix", [".h5", ".npz", ".npy"])
def test_embedding_files_round_trip(tmp_path, suffix):
    ids = ["7", "3", "11"]
    emb = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    path = write_embeddings(tmp_path / f"emb{suffix}", ids, emb, attrs={"encoder": "x"})
    got_ids, got = read_embeddings(path)
    assert got_ids == ids
    np.testing.assert_array_equal(got, emb)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic: no temporary left


def test_bad_embedding_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, embeddings=np.zeros((3, 2)), stimulus_id=np.array(["a", "b"]))
    with pytest.raises(DataError, match="bad.npz: 3 embedding rows but 2 stimulus ids"):
        read_embeddings(bad)
    lonely = tmp_path / "lonely.npy"
    np.save(lonely, np.zeros((2, 2)))
    with pytest.raises(DataError, match="lonely.npy: no stimulus ids beside it"):
        read_embeddings(lonely)
    with pytest.raises(DataError, match="missing.h5: file not found"):
        read_embeddings(tmp_path / "missing.h5")


def test_missing_text_extra_is_a_config_error_naming_it(monkeypatch):
    import sys

    from neuromodels.core.errors import ConfigError
    from neuromodels.networks import MiniLMEncoder

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(ConfigError, match="text` extra"):
        MiniLMEncoder()


def test_latent_probe_recovers_planted_linear_codes():
    from neuromodels.networks.evaluate import latent_probe

    rng = np.random.default_rng(0)
    latents = rng.normal(size=(200, 4))
    names = ["x", "y", "size", "light_sin"]
    mixing = rng.normal(size=(4, 16))
    coded = latents @ mixing + 0.1 * rng.normal(size=(200, 16))
    good = latent_probe(coded, latents, names)
    assert set(good) == {"position", "size", "light", "mean"}
    assert good["mean"] > 0.9
    noise = latent_probe(rng.normal(size=(200, 16)), latents, names)
    assert noise["mean"] < 0.1


def test_conv_stem_keeps_the_token_grid_and_rebuilds_from_its_config(tmp_path):
    from neuromodels.networks.encoders import load_encoder, random_init_copy, save_encoder
    from neuromodels.networks.vit import conv_stem

    vit = VisionTransformer(image_size=32, patch_size=8, dim=48, depth=2, num_heads=4, stem="conv").eval()
    images = torch.rand(3, 3, 32, 32)
    feats = extract_activations(vit, [images], ["patch_embed"], pooling="none")
    assert feats["patch_embed"].shape == (3, 48, 4, 4)  # the patch embedding's grid, by three stride-2 convs
    convs = [m for m in vit.patch_embed if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)] and [c.out_channels for c in convs] == [8, 12, 24, 48]
    # a saved encoder rebuilds with its stem and gives the same outputs; the random-init copy keeps the stem
    path = save_encoder(tmp_path / "e.pt", vit, None, {})
    again, _, _ = load_encoder(path)
    torch.testing.assert_close(again(images), vit(images))
    copy = random_init_copy(vit, seed=3)
    assert copy.config["stem"] == "conv" and not torch.allclose(copy(images), vit(images))
    with pytest.raises(ValueError, match="power of two"):
        conv_stem(48, 6)
    with pytest.raises(ValueError, match="stem"):
        VisionTransformer(image_size=32, patch_size=8, dim=48, stem="conv3")


def test_category_captions_name_only_the_category():
    from neuromodels.networks.presets import get_preset
    from neuromodels.stimuli import category_caption, sample_scenes

    table = sample_scenes(20, seed=3, p_second=0.5)
    texts = [category_caption(row) for _, row in table.iterrows()]
    for text, (_, row) in zip(texts, table.iterrows()):
        second = row["second_category"]
        assert text == (f"a {row['category']} and a {second}" if isinstance(second, str) else f"a {row['category']}")
    with pytest.raises(ConfigError, match="networks.captions"):
        get_preset("tiny").with_overrides({"captions": "short"})
    with pytest.raises(ConfigError, match="networks.stem"):
        get_preset("tiny").with_overrides({"stem": "conv3"})
