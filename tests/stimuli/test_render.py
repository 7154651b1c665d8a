"""Rendering reflects the attributes: colour, position, size, rotation, lighting and texture, and is
deterministic per stimulus."""

from __future__ import annotations

import numpy as np
import pytest

from neuromodels.stimuli import (
    CATEGORY_NAMES,
    COLOURS,
    bar,
    crossing_lines,
    letter,
    line,
    render_scene,
    render_scenes,
    sample_scenes,
    shaded_disc,
)
from neuromodels.stimuli.render import shape_sdf

from .conftest import angle_diff, centroid, object_mask, orientation_deg


def _scene(**attributes) -> dict:
    row = {
        "stimulus_id": 7,
        "category": "disc",
        "shape_param": 1.0,
        "colour": "red",
        "texture": "plain",
        "x": 0.5,
        "y": 0.5,
        "size": 0.5,
        "rotation_deg": 0.0,
        "light_deg": 90.0,
    }
    row.update(attributes)
    return row


def test_same_table_same_pixels_other_seed_other_pixels():
    a = render_scenes(sample_scenes(12, seed=0), size=48)
    b = render_scenes(sample_scenes(12, seed=0), size=48)
    c = render_scenes(sample_scenes(12, seed=1), size=48)
    assert a.dtype == np.uint8 and a.shape == (12, 48, 48, 3)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any(axis=(1, 2, 3)).all()


@pytest.mark.parametrize("size", [32, 64, 128])
def test_dominant_colour_matches_the_colour_attribute(size):
    palette = np.array(list(COLOURS.values()), dtype=float)
    chroma = palette / palette.sum(1, keepdims=True)
    table = sample_scenes(40, seed=size, p_second=0.0)
    for _, row in table.iterrows():
        image = render_scene(row, size)
        pixels = image[object_mask(image, row["stimulus_id"])].astype(float)
        mean = pixels.mean(0) / pixels.mean(0).sum()
        assert list(COLOURS)[np.argmin(((chroma - mean) ** 2).sum(1))] == row["colour"], row.to_dict()


def test_centroid_matches_position_for_symmetric_shapes():
    table = sample_scenes(60, seed=3, categories=["disc", "square", "star", "cross", "ring", "bar"], textures=["plain"])
    size = 96
    for _, row in table.iterrows():
        image = render_scene(row, size)
        found = centroid(object_mask(image, row["stimulus_id"], threshold=30))
        np.testing.assert_allclose(found, [row["x"] * size, row["y"] * size], atol=1.0)


def test_area_grows_with_the_square_of_size():
    areas = [object_mask(render_scene(_scene(size=s), 128), 7).sum() for s in (0.3, 0.45, 0.6)]
    expected = [np.pi * (0.97 * s * 64) ** 2 for s in (0.3, 0.45, 0.6)]
    np.testing.assert_allclose(areas, expected, rtol=0.04)


@pytest.mark.parametrize("rotation", [0.0, 30.0, 75.0, 120.0, 160.0])
def test_rotation_turns_the_bar_on_screen(rotation):
    image = render_scene(_scene(category="bar", shape_param=0.0, rotation_deg=rotation, size=0.6), 128)
    assert angle_diff(orientation_deg(object_mask(image, 7)), rotation, period=180.0) < 1.5


def test_rotation_respects_the_star_symmetry():
    star = {"category": "star", "shape_param": 0.2, "light_deg": 90.0, "size": 0.6}
    base = render_scene(_scene(**star, rotation_deg=10.0), 96).astype(float)
    by_symmetry = render_scene(_scene(**star, rotation_deg=82.0), 96).astype(float)  # 10 + 360 / 5
    half_way = render_scene(_scene(**star, rotation_deg=46.0), 96).astype(float)
    assert np.abs(base - by_symmetry).mean() < 0.2
    assert np.abs(base - half_way).mean() > 5.0


@pytest.mark.parametrize("light", [0.0, 90.0, 135.0, 200.0, 270.0])
def test_lighting_brightens_the_side_facing_the_light(light):
    image = render_scene(_scene(light_deg=light, colour="blue", size=0.6), 128)
    mask = object_mask(image, 7)
    brightness = image.astype(float).sum(-1)
    dx, dy = centroid(mask, brightness) - centroid(mask)
    assert angle_diff(np.degrees(np.arctan2(-dy, dx)) % 360, light) < 3.0


def test_lighting_changes_any_object_measurably():
    table = sample_scenes(20, seed=9)
    for _, row in table.iterrows():
        lit = row.copy()
        dark = row.copy()
        dark["light_deg"] = (row["light_deg"] + 180.0) % 360.0
        a, b = render_scene(lit, 96), render_scene(dark, 96)
        mask = object_mask(a, row["stimulus_id"]) & object_mask(b, row["stimulus_id"])
        # where the object is, the brightness centroid moves towards the light when it swaps sides
        shift = centroid(mask, a.astype(float).sum(-1)) - centroid(mask, b.astype(float).sum(-1))
        light = np.radians(row["light_deg"])
        assert shift @ np.array([np.cos(light), -np.sin(light)]) > 0.2


def test_texture_marks_darken_part_of_the_object():
    plain = render_scene(_scene(texture="plain", colour="yellow", light_deg=90.0), 96).astype(float)
    for texture in ("stripes", "dots", "checker"):
        textured = render_scene(_scene(texture=texture, colour="yellow"), 96).astype(float)
        mask = object_mask(plain.astype(np.uint8), 7)
        darker = (plain - textured).sum(-1)[mask]
        assert 0.15 < (darker > 60).mean() < 0.85, texture  # marks cover part, not all, of the object


PRIMITIVES = [
    line(0.0),
    line(1.2),
    line(-2.0),
    line(3.0),
    shaded_disc(90.0),
    crossing_lines(True),
    crossing_lines(False),
    letter("T"),
    letter("L"),
    bar(20.0),
]


@pytest.mark.parametrize(
    "sdf", [shape_sdf(c, p) for c in CATEGORY_NAMES for p in (0.0, 0.5, 1.0)] + [g.sdf for g in PRIMITIVES]
)
def test_every_shape_lies_inside_its_unit_circle_around_its_centre(sdf):
    # the renderer's boxes and the displays' cells rely on this
    u, v = np.meshgrid(np.linspace(-1.3, 1.3, 261), np.linspace(-1.3, 1.3, 261))
    d = sdf(u, v)
    assert (d[np.hypot(u, v) > 1.0] > 0).all()
    inside = d < 0
    assert 0.1 < inside.mean() * 2.6**2 < np.pi
    # roughly centred: the bounding box of the shape straddles the origin
    assert -0.5 < (u[inside].min() + u[inside].max()) / 2 < 0.5 and -0.5 < (v[inside].min() + v[inside].max()) / 2 < 0.5


def test_second_object_is_drawn_where_it_is():
    table = sample_scenes(30, seed=4, p_second=1.0, textures=["plain"], categories=["disc", "square", "ring"])
    for _, row in table.iterrows():
        image = render_scene(row, 96)
        mask = object_mask(image, row["stimulus_id"], threshold=30)
        near = (
            np.hypot(
                *(np.mgrid[0:96, 0:96][::-1] + 0.5 - np.array([row["second_x"], row["second_y"]])[:, None, None] * 96)
            )
            < row["second_size"] * 48 + 1
        )
        found = centroid(mask & near)
        np.testing.assert_allclose(found, [row["second_x"] * 96, row["second_y"] * 96], atol=1.0)
