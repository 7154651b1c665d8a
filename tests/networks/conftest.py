"""Planted-truth stimuli for the encoder tests, from the package's stimulus world: images rendered from
latent attributes and captions generated from the same attributes, so the matched pairs are known.

A reduced world (4 categories, 4 colours, plain texture, always lit from above) keeps the task learnable
in a few seconds."""

from __future__ import annotations

import pytest
import torch

from neuromodels.stimuli import captions, render_scenes, sample_scenes

VOCAB = dict(
    categories=["disc", "square", "star", "bar"],
    colours=["red", "green", "blue", "yellow"],
    textures=["plain"],
    light_prior=(90.0, 0.0),
)
SIZE = 32


def world(n: int, seed: int):
    """(uint8 images (n, 32, 32, 3), captions) of ``n`` scenes drawn with ``seed``."""
    table = sample_scenes(n, seed=seed, **VOCAB)
    return render_scenes(table, SIZE), captions(table)


@pytest.fixture(scope="session")
def train_world():
    return world(320, seed=1)


@pytest.fixture(scope="session")
def test_world():
    return world(96, seed=2)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """These models are small: one thread is as fast, and does not fight other jobs for the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
