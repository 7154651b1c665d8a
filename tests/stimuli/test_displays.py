"""Search displays: set size respected, one target, boxes apart and holding what is drawn; primitives
draw what the asymmetry experiments need."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from neuromodels.core.errors import ConfigError
from neuromodels.stimuli import (
    bar,
    crossing_lines,
    letter,
    line,
    sample_scenes,
    search_display,
    shaded_disc,
    world_display,
)
from neuromodels.stimuli.render import background, draw

from .conftest import angle_diff, orientation_deg

EXPERIMENTS = {  # (target, distractors, grid, set sizes) shaped like the classic asymmetry experiments
    "curvature": (line(1.2), line(0.0), (6, 6), (8, 16, 32)),
    "lighting": (shaded_disc(90.0), shaded_disc(270.0), (4, 4), (1, 6, 12)),
    "intersection": (crossing_lines(True), crossing_lines(False), (3, 3), (3, 6, 9)),
    "t_vs_l": (letter("T"), [letter("L", a) for a in (0, 90, 180, 270)], (3, 3), (3, 6, 9)),
    "orientation": (bar(20.0), bar(0.0), (4, 4), (1, 4, 8, 12)),
    "orientation_heterogeneous": (bar(0.0), [bar(-20.0), bar(20.0), bar(40.0)], (4, 4), (1, 4, 8, 12)),
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_layout_invariants(name):
    target, distractors, grid, set_sizes = EXPERIMENTS[name]
    cell = 40
    for set_size in set_sizes:
        for seed in range(3):
            d = search_display(
                target, distractors, set_size, grid=grid, cell_px=cell, jitter=1.0, seed=seed, noise=0.0, condition=name
            )
            assert d.image.shape == (grid[0] * cell, grid[1] * cell, 3) and d.image.dtype == np.uint8
            assert d.set_size == set_size == len(d.boxes) == len(d.categories) == len(d.cells)
            assert d.categories.count(target.name) == 1 and d.categories[d.target_index] == target.name
            assert d.target_id == d.object_ids[d.target_index]
            # boxes inside the image and pairwise disjoint
            x0, y0, x1, y1 = d.boxes.T
            assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= d.image.shape[1]).all()
            assert (y1 <= d.image.shape[0]).all()
            for i in range(set_size):
                for j in range(i + 1, set_size):
                    assert x1[i] <= x0[j] or x1[j] <= x0[i] or y1[i] <= y0[j] or y1[j] <= y0[i]
            # every drawn pixel lies in a box and every box holds a drawn item
            drawn = (d.image != 128).any(-1)
            covered = np.zeros_like(drawn)
            for bx0, by0, bx1, by1 in d.boxes:
                covered[by0:by1, bx0:bx1] = True
                assert drawn[by0:by1, bx0:bx1].sum() > 10
            assert not (drawn & ~covered).any()
            # each box sits in its item's cell
            rows, cols = d.cells.T
            assert ((x0 // cell == cols) & ((x1 - 1) // cell == cols) & (y0 // cell == rows)).all()


def test_same_seed_same_display_other_seed_other_layout():
    a = search_display(line(1.2), line(0.0), 8, grid=(4, 4), seed=5)
    b = search_display(line(1.2), line(0.0), 8, grid=(4, 4), seed=5)
    c = search_display(line(1.2), line(0.0), 8, grid=(4, 4), seed=6)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.boxes, c.boxes)


def test_target_image_is_the_target_alone_at_the_same_size():
    d = search_display(letter("T", 30.0), letter("L", 30.0), 6, grid=(3, 3), cell_px=48, jitter=0.0, seed=2, noise=0.0)
    r, c = d.cells[d.target_index]
    crop = d.image[r * 48 : (r + 1) * 48, c * 48 : (c + 1) * 48]
    np.testing.assert_array_equal(crop, d.target_image)
    other = d.cells[(d.target_index + 1) % d.set_size]
    assert not np.array_equal(
        d.image[other[0] * 48 : (other[0] + 1) * 48, other[1] * 48 : (other[1] + 1) * 48], d.target_image
    )


def test_heterogeneous_distractors_are_drawn_from_the_pool():
    d = search_display(bar(0.0), [bar(-20.0), bar(20.0), bar(40.0)], 16, grid=(4, 4), seed=0)
    assert set(d.categories) == {"bar_0", "bar_-20", "bar_20", "bar_40"}


def test_world_display_has_one_object_of_the_target_category():
    for seed in range(5):
        d = world_display(9, seed=seed, grid=(4, 4), cell_px=48)
        assert d.categories.count(d.categories[d.target_index]) == 1 and d.set_size == 9


def test_world_objects_as_items():
    scenes = sample_scenes(4, seed=0, categories=["star", "disc"])
    d = search_display(scenes.iloc[0], scenes.iloc[1:], 4, grid=(2, 2), seed=1, distinct=True)
    assert sorted(d.categories) == sorted(scenes["category"])


def test_bad_layouts_are_config_errors():
    with pytest.raises(ConfigError, match="set_size"):
        search_display(bar(0), bar(20), 10, grid=(3, 3))
    with pytest.raises(ConfigError, match="distinct"):
        search_display(bar(0), [bar(20)], 4, grid=(3, 3), distinct=True)
    with pytest.raises(ConfigError, match="letter"):
        letter("X")


def _alone(glyph, size=96):
    canvas = background(size, size, seed=0, noise=0.0)
    draw(canvas, glyph, size / 2, size / 2, size * 0.45)
    return canvas.mean(-1)


def test_primitives_draw_what_they_say():
    # shaded discs: brighter on the lit side, same mean as the background
    for light in (0.0, 90.0, 180.0, 270.0, 45.0):
        img = _alone(shaded_disc(light))
        d_row, d_col = np.gradient(img[28:68, 28:68])
        gradient = np.array([d_col.mean(), -d_row.mean()])  # brightness gradient, y up
        assert np.linalg.norm(gradient) > 0.005
        assert angle_diff(np.degrees(np.arctan2(gradient[1], gradient[0])) % 360, light) < 1.0
        disc = np.hypot(*np.mgrid[0:96, 0:96] - 47.5) < 40
        assert abs(img[disc].mean() - 0.5) < 0.01
    # bars: long axis at the orientation (counter-clockwise from vertical)
    for orientation in (0.0, 20.0, -20.0, 45.0):
        mask = _alone(bar(orientation)) < 0.3
        assert angle_diff(orientation_deg(mask), 90.0 + orientation, period=180.0) < 1.0
    # a curve and a line of the same length: the curve bends away from its chord, the line does not
    straight, curved = _alone(line(0.0)) < 0.3, _alone(line(1.2)) < 0.3
    assert abs(straight.sum() - curved.sum()) / straight.sum() < 0.1
    assert np.ptp(np.nonzero(straight)[1]) < 8 < np.ptp(np.nonzero(curved)[1])
    # a cross is one connected piece of ink with ink at its centre; the non-cross, the same strokes apart
    cross, apart = _alone(crossing_lines(True)) < 0.3, _alone(crossing_lines(False)) < 0.3
    assert ndimage.label(cross)[1] == 1 and cross[47:49, 47:49].all()
    assert ndimage.label(apart)[1] == 2 and abs(int(cross.sum()) - int(apart.sum())) / cross.sum() < 0.1
    # T and L: same ink, different shapes
    t, ell = _alone(letter("T")) < 0.3, _alone(letter("L")) < 0.3
    assert abs(int(t.sum()) - int(ell.sum())) / t.sum() < 0.1 and (t != ell).sum() > 0.5 * t.sum()
