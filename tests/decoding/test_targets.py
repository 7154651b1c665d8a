"""Target embeddings: user-supplied files in every accepted layout are aligned by stimulus id."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest

from neuromodels.core.errors import DataError
from neuromodels.decoding.data import read_stimulus_ids
from neuromodels.decoding.simulate import read_ground_truth
from neuromodels.decoding.targets import (
    latent_targets,
    make_targets,
    read_embedding_file,
    read_targets,
    standardise_features,
    write_targets,
)


def _user_embeddings(ids, dim=5, seed=0):
    """Embeddings that encode their id, in a shuffled order, so misalignment shows."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    emb = np.stack([np.full(dim, float(i)) for i in ids])
    return ids[order], emb[order].astype(np.float32)


@pytest.mark.parametrize("layout", ["npy", "npz", "h5", "h5_keyed"])
def test_user_files_align_by_stimulus_id(small_dataset, tmp_path, layout):
    ids = read_stimulus_ids(small_dataset / "stimuli.h5")
    shuffled, emb = _user_embeddings(ids)
    ids_path = None
    if layout == "npy":
        path = tmp_path / "emb.npy"
        np.save(path, emb)
        ids_path = tmp_path / "ids.npy"
        np.save(ids_path, shuffled)
    elif layout == "npz":
        path = tmp_path / "emb.npz"
        np.savez(path, stimulus_id=shuffled, embeddings=emb)
    elif layout == "h5":
        path = tmp_path / "emb.h5"
        with h5py.File(path, "w") as f:
            f["stimulus_id"], f["embeddings"] = shuffled, emb
    else:
        path = tmp_path / "emb.hdf5"
        with h5py.File(path, "w") as f:
            for i, e in zip(shuffled, emb):
                f[str(i)] = e
    got_ids, got = read_embedding_file(path, ids_path)
    assert sorted(got_ids.tolist()) == sorted(ids.tolist())
    t = make_targets(
        small_dataset, image=str(path), text="latents", ids_path=str(ids_path) if ids_path else None, standardise=False
    )
    assert np.array_equal(t.image[:, 0], ids.astype(np.float32))  # row i holds stimulus ids[i]
    out = write_targets(tmp_path / "targets.h5", t)
    back = read_targets(out)
    assert np.array_equal(back.stimulus_id, t.stimulus_id) and np.array_equal(back.image, t.image)
    assert np.array_equal(back.text, t.text)
    assert np.array_equal(back.take(ids[[3, 1]])["image"], t.image[[3, 1]])


def test_latent_targets_are_a_fixed_function_of_the_planted_latents(small_dataset):
    gt = read_ground_truth(small_dataset)
    t = make_targets(small_dataset, image="latents", text="latents", dim=12)
    assert t.image.shape == (len(gt["latents"]), 12) and t.text.shape == t.image.shape
    assert np.allclose(t.image, standardise_features(latent_targets(gt["latents"], 12, seed=0)), atol=1e-5)
    assert np.allclose(t.image.mean(0), 0, atol=1e-5) and np.allclose(t.image.std(0), 1, atol=1e-4)
    assert not np.allclose(t.image, t.text)


def test_bad_embedding_files_are_refused(small_dataset, tmp_path):
    ids = read_stimulus_ids(small_dataset / "stimuli.h5")
    path = tmp_path / "few.npz"
    np.savez(path, stimulus_id=ids[:5], embeddings=np.zeros((5, 3)))
    with pytest.raises(DataError, match=r"few.npz: no target embedding for \d+ stimulus id"):
        make_targets(small_dataset, image=str(path))
    bad = tmp_path / "nan.npz"
    e = np.zeros((len(ids), 3))
    e[2, 1] = np.nan
    np.savez(bad, stimulus_id=ids, embeddings=e)
    with pytest.raises(DataError, match="NaN"):
        read_embedding_file(bad)
    with pytest.raises(DataError, match="needs a file of stimulus ids"):
        np.save(tmp_path / "x.npy", e)
        read_embedding_file(tmp_path / "x.npy")


def test_declared_clip_targets_are_the_bundles_own_embeddings_in_blocks_in_id_order(tmp_path, monkeypatch):
    """'clip' is a declared model (the networks family's bundle of encoder_seed): its targets equal what the
    networks family's own functions give for that bundle (unchanged by the move to declarations), embedded a
    block at a time (NSD's brick would not fit at once) in the order of the ids."""
    import torch

    import neuromodels.decoding.targets as targets_module
    from neuromodels import networks
    from neuromodels.decoding.data import write_stimuli, write_subject
    from neuromodels.networks.declared import DeclaredModel
    from neuromodels.networks.encoders import save_encoder
    from neuromodels.networks.text import CaptionEncoder, build_vocab
    from neuromodels.networks.vit import VisionTransformer

    rng = np.random.default_rng(0)
    ids = np.array([11, 3, 42, 7, 5])
    images = rng.integers(0, 256, (5, 3, 16, 16), dtype=np.uint8)
    captions = ["a red ball", "a blue cube", "a green cone", "a red cube", "a blue ball"]
    write_stimuli(tmp_path, ids, images, captions)
    trials = pd.DataFrame({"trial": range(5), "session": 1, "stimulus_id": ids, "repeat": 0})
    write_subject(tmp_path, "subj01", np.ones((2, 2, 2), bool), np.eye(4), rng.standard_normal((5, 8)), trials)
    torch.manual_seed(0)
    vision = VisionTransformer(image_size=16, patch_size=8, dim=16, depth=1, num_heads=2, embed_dim=8)
    text = CaptionEncoder(vocab=build_vocab(captions), dim=16, depth=1, num_heads=2, embed_dim=8)
    bundle = tmp_path / "results/networks/clip/seed4/encoder.pt"
    bundle.parent.mkdir(parents=True)
    save_encoder(bundle, vision, text, {"objective": "clip"})
    monkeypatch.chdir(tmp_path)
    seen = []
    embed = DeclaredModel.embed_images

    def counting(self, imgs, batch_size=256):
        seen.append(len(imgs))
        return embed(self, imgs, batch_size)

    monkeypatch.setattr(DeclaredModel, "embed_images", counting)
    monkeypatch.setattr(targets_module, "IMAGE_BLOCK", 2)
    t = targets_module.make_targets(tmp_path, "clip", "clip", standardise=False, encoder_seed=4)
    assert seen == [2, 2, 1]
    assert t.stimulus_id.tolist() == ids.tolist()
    hwc = images.transpose(0, 2, 3, 1)
    expected = np.concatenate([networks.embed_images(str(bundle), hwc[i : i + 2]) for i in (0, 2, 4)])
    assert np.array_equal(t.image, expected)  # the old path embedded the same blocks
    by_id = dict(zip(ids.tolist(), captions))
    assert np.array_equal(t.text, networks.embed_texts([by_id[i] for i in ids.tolist()], str(bundle)))
    # a bundle path is the same model
    again = targets_module.make_targets(tmp_path, str(bundle), standardise=False)
    assert np.array_equal(again.image, expected)
