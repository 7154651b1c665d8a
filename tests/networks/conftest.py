"""A tiny planted world for the encoder tests: one coloured shape per image, its caption generated from the
same attributes (colour, shape, side), so matched image-caption pairs are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230), "yellow": (230, 220, 30)}
SHAPES = ("disc", "square", "bar")
SIDES = ("left", "right")


def render(colour: str, shape: str, side: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """uint8 (size, size, 3): a grey background with one shape on the named side."""
    img = np.full((size, size, 3), 110, dtype=np.uint8)
    img = np.clip(img.astype(int) + rng.integers(-12, 13, size=(size, size, 1)), 0, 255).astype(np.uint8)
    r = size * rng.uniform(0.16, 0.22)
    cx = size * (0.28 if side == "left" else 0.72) + rng.uniform(-2, 2)
    cy = size * 0.5 + rng.uniform(-4, 4)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    if shape == "disc":
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2
    elif shape == "square":
        mask = (abs(xx - cx) <= r * 0.9) & (abs(yy - cy) <= r * 0.9)
    else:
        mask = (abs(xx - cx) <= r * 0.35) & (abs(yy - cy) <= r * 1.4)
    img[mask] = COLOURS[colour]
    return img


def planted_world(n_per_combo: int, seed: int = 0, size: int = 32):
    rng = np.random.default_rng(seed)
    images, captions, attrs = [], [], []
    for _ in range(n_per_combo):
        for colour, shape, side in itertools.product(COLOURS, SHAPES, SIDES):
            images.append(render(colour, shape, side, rng, size))
            captions.append(f"a {colour} {shape} on the {side}")
            attrs.append((colour, shape, side))
    order = rng.permutation(len(images))
    return (np.stack(images)[order], [captions[i] for i in order], [attrs[i] for i in order])


@pytest.fixture(scope="session")
def world():
    """(images uint8 (N, 32, 32, 3), captions, attributes): 24 attribute combinations x 12 images."""
    return planted_world(12, seed=0)
