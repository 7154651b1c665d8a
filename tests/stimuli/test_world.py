"""The world's tables: deterministic per seed, balanced, objects inside the image and apart, latents exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neuromodels.core.errors import ConfigError
from neuromodels.stimuli import CATEGORY_NAMES, COLOUR_NAMES, TEXTURES, latent_matrix, sample_movie, sample_scenes


def test_same_seed_same_table_and_different_seed_differs():
    a, b = sample_scenes(50, seed=3, p_second=0.5), sample_scenes(50, seed=3, p_second=0.5)
    pd.testing.assert_frame_equal(a, b)
    c = sample_scenes(50, seed=4, p_second=0.5)
    assert not np.allclose(a["x"], c["x"])
    assert (a["category"] != c["category"]).any()


def test_attributes_are_in_range_and_categories_balanced():
    table = sample_scenes(200, seed=0)
    assert table["stimulus_id"].tolist() == list(range(200))
    counts = table["category"].value_counts()
    assert set(counts.index) == set(CATEGORY_NAMES) and counts.max() - counts.min() == 0
    assert set(table["colour"]) <= set(COLOUR_NAMES) and set(table["texture"]) <= set(TEXTURES)
    half = table["size"] / 2
    assert ((table["x"] >= half) & (table["x"] <= 1 - half) & (table["y"] >= half) & (table["y"] <= 1 - half)).all()
    assert table["rotation_deg"].between(0, 360).all() and table["light_deg"].between(0, 360).all()


def test_second_object_is_smaller_and_apart():
    table = sample_scenes(300, seed=1, p_second=0.6)
    has = table["second_category"].notna()
    assert 0.45 < has.mean() < 0.75
    two = table[has]
    gap = np.hypot(two["x"] - two["second_x"], two["y"] - two["second_y"]) - (two["size"] + two["second_size"]) / 2
    assert (gap > 0).all()
    assert (two["second_size"] < two["size"]).all()
    assert table.loc[~has, "second_x"].isna().all()


def test_subsets_and_light_prior():
    table = sample_scenes(400, seed=2, categories=["disc", "bar"], colours=["red"], light_prior=(90.0, 20.0))
    assert set(table["category"]) == {"disc", "bar"} and set(table["colour"]) == {"red"}
    offset = (table["light_deg"] - 90 + 180) % 360 - 180
    assert abs(offset.mean()) < 4 and 15 < offset.std() < 25
    with pytest.raises(ConfigError, match="categories"):
        sample_scenes(5, seed=0, categories=["dragon"])


def test_latent_matrix_encodes_the_table():
    table = sample_scenes(60, seed=5, p_second=0.5)
    matrix, names = latent_matrix(table)
    assert matrix.shape == (60, len(names)) and len(set(names)) == len(names)
    assert np.isfinite(matrix).all()
    col = {n: matrix[:, i] for i, n in enumerate(names)}
    onehot = np.stack([col[f"category={c}"] for c in CATEGORY_NAMES], axis=1)
    np.testing.assert_array_equal(onehot.sum(1), 1.0)
    assert [CATEGORY_NAMES[i] for i in onehot.argmax(1)] == table["category"].tolist()
    np.testing.assert_allclose(
        np.degrees(np.arctan2(col["rotation_sin"], col["rotation_cos"])) % 360, table["rotation_deg"], atol=1e-9
    )
    np.testing.assert_allclose(
        np.degrees(np.arctan2(col["light_sin"], col["light_cos"])) % 360, table["light_deg"], atol=1e-9
    )
    present = table["second_category"].notna().to_numpy()
    np.testing.assert_array_equal(col["second_present"], present)
    np.testing.assert_array_equal(col["second_x"][~present], 0.0)
    np.testing.assert_array_equal(col["second_x"][present], table["second_x"][present])
    second_onehot = np.stack([col[f"second_category={c}"] for c in CATEGORY_NAMES], axis=1)
    np.testing.assert_array_equal(second_onehot.sum(1), present)


def test_movie_moves_smoothly_within_shots_and_cuts_between():
    movie = sample_movie(n_shots=4, frames_per_shot=5, seed=0, fps=2.0, p_second=1.0)
    assert len(movie) == 20 and movie["stimulus_id"].tolist() == list(range(20))
    assert movie["is_cut"].tolist() == [k % 5 == 0 for k in range(20)]
    np.testing.assert_allclose(movie["time_s"], np.arange(20) / 2.0)
    for _, shot in movie.groupby("shot"):
        assert shot["category"].nunique() == 1 and shot["colour"].nunique() == 1
        steps = np.diff(shot["x"].to_numpy())
        np.testing.assert_allclose(steps, steps[0], atol=1e-12)  # linear glide
        # both objects move together and stay inside the image, so they never meet
        gap = (
            np.hypot(shot["x"] - shot["second_x"], shot["y"] - shot["second_y"])
            - (shot["size"] + shot["second_size"]) / 2
        )
        assert (gap > 0).all()
        for p in ("", "second_"):
            half = shot[p + "size"] / 2
            assert (shot[p + "x"].between(half - 1e-12, 1 - half + 1e-12)).all()
    first = movie[movie["is_cut"]]
    assert first["category"].nunique() > 1
