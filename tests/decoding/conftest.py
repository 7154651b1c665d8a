"""Small simulated NSD-style data sets (a fake stimulus world of random latents keeps them fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuromodels.decoding.simulate import SimulationSettings, simulate_dataset


def fake_world(n: int, k: int = 6, size: int = 8, seed: int = 0):
    """(latents (n, k), images uint8 (n, size, size, 3), captions, names)."""
    rng = np.random.default_rng(seed)
    latents = rng.standard_normal((n, k))
    images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    captions = [f"scene {i}" for i in range(n)]
    return latents, images, captions, [f"z{j}" for j in range(k)]


SMALL = SimulationSettings(
    n_subjects=4,
    n_test=30,
    n_train=80,
    n_pool=140,
    repeats=3,
    sessions=2,
    reliability=0.3,
    grid=(12, 14, 12),
    voxel_mm=6.0,
    image_size=8,
    betas_format="mixed",
)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nsd")
    simulate_dataset(root, SMALL, seed=0, world=fake_world(SMALL.n_test + SMALL.n_pool))
    return root
