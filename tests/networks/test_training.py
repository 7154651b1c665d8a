"""Training with SimCLR, CLIP and SLIP on planted-truth stimuli; bundles, random-init copies, features, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuromodels.core.errors import ConfigError
from neuromodels.networks import (
    Augmentation,
    ImageEncoder,
    VisionTransformer,
    embed_images,
    embed_texts,
    fit_encoder,
    image_layer_features,
    load_encoder,
    random_init_copy,
    retrieval_accuracy,
    text_layer_features,
)
from neuromodels.networks.train import retrieval_chance

FAST = dict(batch_size=32, val_fraction=0.0)


@pytest.fixture(scope="module")
def clip_bundle(train_world) -> ImageEncoder:
    images, captions = train_world
    return fit_encoder(
        images, captions, "clip", "tiny", seed=0, progress=False, overrides=dict(FAST, epochs=16, lr=1e-3)
    )


@pytest.fixture(scope="module")
def simclr_bundle(train_world) -> ImageEncoder:
    images, _ = train_world
    return fit_encoder(images[:256], None, "simclr", "tiny", seed=0, progress=False, overrides=dict(FAST, epochs=6))


def _retrieval(bundle, images, captions) -> tuple[float, float]:
    img = torch.from_numpy(embed_images(bundle, images))
    txt = torch.from_numpy(embed_texts(captions, bundle))
    return retrieval_accuracy(txt, img, captions), retrieval_accuracy(img, txt, captions)


def test_clip_retrieves_matched_caption_image_pairs_far_above_chance(clip_bundle, test_world):
    images, captions = test_world  # new scenes, never trained on
    chance = retrieval_chance(len(captions), captions)
    caption_to_image, image_to_caption = _retrieval(clip_bundle, images, captions)
    assert caption_to_image > 4 * chance and image_to_caption > 4 * chance, (caption_to_image, image_to_caption, chance)
    control = random_init_copy(clip_bundle, seed=5)
    assert max(_retrieval(control, images, captions)) < min(caption_to_image, image_to_caption)
    history = clip_bundle.meta["history"]
    assert history[-1]["loss"] < history[0]["loss"]


def test_simclr_loss_decreases_and_views_of_one_image_stay_closest(simclr_bundle, test_world):
    history = simclr_bundle.meta["history"]
    assert history[-1]["simclr"] < history[0]["simclr"] - 0.2
    images = torch.from_numpy(test_world[0]).permute(0, 3, 1, 2).float() / 255
    aug = Augmentation()

    def view_similarity(vision: VisionTransformer) -> tuple[float, float, float]:
        """Mean cosine similarity of two views of one image, of views of different images, and the share of
        images whose partner view is closer than their average other view."""
        g = torch.Generator().manual_seed(11)
        with torch.no_grad():
            a = F.normalize(vision(aug(images, g)), dim=-1)
            b = F.normalize(vision(aug(images, g)), dim=-1)
        sim = a @ b.t()
        others = ~torch.eye(len(sim), dtype=torch.bool)
        mean_other = (sim * others).sum(1) / others.sum(1)
        share = (sim.diagonal() > mean_other).float().mean().item()
        return sim.diagonal().mean().item(), sim[others].mean().item(), share

    same, other, share = view_similarity(simclr_bundle.vision)
    assert same > other + 0.1 and share > 0.75, (same, other, share)
    # training is what separates them: the random-init copy barely tells views of one image from others
    r_same, r_other, r_share = view_similarity(random_init_copy(simclr_bundle.vision, seed=3))
    assert (same - other) > 2 * (r_same - r_other) and share > r_share + 0.1


def test_save_load_round_trip_gives_identical_outputs(clip_bundle, test_world, tmp_path):
    images, captions = test_world
    path = clip_bundle.save(tmp_path / "encoder.pt")
    vision, text, meta = load_encoder(path)
    assert text is not None and meta["objective"] == "clip" and meta["history"] == clip_bundle.meta["history"]
    np.testing.assert_array_equal(embed_images(path, images), embed_images(clip_bundle, images))
    np.testing.assert_array_equal(embed_texts(captions, path), embed_texts(captions, clip_bundle))
    x = torch.from_numpy(images[:4]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        torch.testing.assert_close(vision(x), clip_bundle.vision.eval()(x), rtol=0, atol=0)


def test_random_init_copy_has_the_architecture_but_not_the_weights(clip_bundle, test_world, tmp_path):
    path = clip_bundle.save(tmp_path / "encoder.pt")
    copy = random_init_copy(path, seed=1)
    again = random_init_copy(clip_bundle, seed=1)
    other = random_init_copy(clip_bundle, seed=2)
    for trained, fresh in ((clip_bundle.vision, copy.vision), (clip_bundle.text, copy.text)):
        assert type(fresh) is type(trained) and fresh.config == trained.config
        a, b = trained.state_dict(), fresh.state_dict()
        assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a)
        assert not torch.equal(a["head.weight"], b["head.weight"])
    assert copy.meta["random_init"] is True and "history" not in copy.meta
    images = test_world[0]
    np.testing.assert_array_equal(embed_images(copy, images), embed_images(again, images))  # seeded
    assert not np.allclose(embed_images(copy, images), embed_images(other, images))
    assert not np.allclose(embed_images(copy, images), embed_images(clip_bundle, images))
    np.testing.assert_array_equal(embed_images(path, images, random_init=True, seed=1), embed_images(copy, images))


def test_layer_features_by_name(clip_bundle, test_world):
    images, captions = test_world
    feats = image_layer_features(clip_bundle, images)
    dim = clip_bundle.vision.dim
    assert list(feats) == clip_bundle.vision.layer_names
    assert all(v.shape == (len(images), dim) for k, v in feats.items() if k != "head")
    np.testing.assert_allclose(feats["head"], embed_images(clip_bundle, images), rtol=1e-5, atol=1e-6)
    random = image_layer_features(clip_bundle, images, layers=["blocks.1"], random_init=True, seed=0)
    assert random["blocks.1"].shape == feats["blocks.1"].shape
    assert not np.allclose(random["blocks.1"], feats["blocks.1"])
    text = text_layer_features(captions, clip_bundle)
    assert set(text) == {"token_embed", "blocks.0", "norm", "head"}
    np.testing.assert_allclose(text["head"], embed_texts(captions, clip_bundle), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="unknown layer"):
        image_layer_features(clip_bundle, images, layers=["blocks.9"])


def test_simclr_encoder_has_no_caption_side(simclr_bundle):
    assert simclr_bundle.text is None
    with pytest.raises(ConfigError, match="simclr encoder has no caption encoder"):
        embed_texts(["a red disc"], simclr_bundle)


def test_resume_after_a_kill_gives_the_same_weights(train_world, tmp_path):
    images, captions = train_world[0][:96], train_world[1][:96]
    settings = dict(batch_size=16, epochs=2, checkpoint_every=2, val_fraction=0.1)
    kwargs = dict(objective="slip", preset="tiny", seed=3, progress=False, overrides=settings)
    straight = fit_encoder(images, captions, **kwargs)

    class Killed(Exception):
        pass

    def kill_at_step_7(step, metrics):
        if step == 7:
            raise Killed

    checkpoint = tmp_path / "ckpt.pt"
    with pytest.raises(Killed):
        fit_encoder(images, captions, checkpoint_path=checkpoint, on_step_end=kill_at_step_7, **kwargs)
    resumed = fit_encoder(images, captions, checkpoint_path=checkpoint, **kwargs)
    assert resumed.meta["resumed_from_step"] == 6 and resumed.meta["steps"] == straight.meta["steps"]
    for a, b in ((straight.vision, resumed.vision), (straight.text, resumed.text)):
        sa, sb = a.state_dict(), b.state_dict()
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=0, msg=key)
    # the history matches too: held-out metrics and the mean training loss of the interrupted epoch
    assert resumed.meta["history"] == straight.meta["history"]


def test_clip_needs_one_caption_per_image(train_world):
    images, captions = train_world
    with pytest.raises(ConfigError, match="one caption per image"):
        fit_encoder(images[:10], captions[:9], "clip", "tiny", progress=False)
    with pytest.raises(ConfigError, match="objective"):
        fit_encoder(images[:10], None, "byol", "tiny", progress=False)
