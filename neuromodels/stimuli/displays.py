"""Search displays: one target among distractors on a jittered grid, plus the target shown alone.

Items are world objects (attribute rows of :func:`~.world.sample_scenes`) or glyphs. The primitives below
draw the stimuli of the classic search asymmetry experiments: curved vs straight lines, shaded discs lit
from one side, crossing vs non-crossing lines, T vs L, and bars at an orientation.

Layout: ``set_size`` of the ``rows x cols`` cells are chosen at random; each item sits in its cell, shifted
by up to ``jitter`` of the free margin, so no two items' boxes overlap. Everything follows from ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from .render import (
    BACKGROUND,
    NOISE_STD,
    Glyph,
    background,
    draw,
    object_glyph,
    sd_arc,
    sd_box,
    sd_segment,
    shape_sdf,
    to_uint8,
)
from .world import sample_scenes

Item = Glyph | Mapping[str, Any] | pd.Series
INK = (0.05, 0.05, 0.05)  # strokes of the search primitives: near-black on the grey background
STROKE = 0.09  # half-width of strokes, in units of the item's radius


# ---------------------------------------------------------------------------------------- primitives
def line(
    curvature: float = 0.0, orientation_deg: float = 0.0, length: float = 1.6, colour: tuple[float, float, float] = INK
) -> Glyph:
    """A stroke of fixed ``length`` (item radii), straight (``curvature`` 0) or bent into a circular arc
    (curvature = 1 / arc radius, in 1 / item radii; ~1.2 gives a clearly curved line). ``orientation_deg``
    turns it counter-clockwise from vertical."""
    return Glyph(
        lambda u, v: sd_arc(u, v, curvature, length, STROKE),
        colour,
        rotation_deg=orientation_deg,
        name="curve" if curvature else "line",
    )


def shaded_disc(light_deg: float, shading: float = 0.9, level: float = BACKGROUND) -> Glyph:
    """A grey disc whose brightness runs linearly from dark to light towards ``light_deg`` (90: lit from
    above), with the background's mean level, so only the gradient tells it apart."""
    return Glyph(
        lambda u, v: np.hypot(u, v) - 0.95,
        (level, level, level),
        light_deg=light_deg,
        shading=shading,
        name=f"disc_lit_{int(round(light_deg)) % 360}",
    )


def crossing_lines(
    crossing: bool = True, orientation_deg: float = 0.0, colour: tuple[float, float, float] = INK
) -> Glyph:
    """Two equal perpendicular strokes: a plus sign (``crossing``) or the same two strokes apart, the
    vertical one starting a gap above the middle of the horizontal one (no intersection, no junction)."""
    half, gap = 0.575, 0.2
    if crossing:

        def sdf(u, v):
            return np.minimum(
                sd_segment(u, v, (-half, 0), (half, 0), STROKE), sd_segment(u, v, (0, -half), (0, half), STROKE)
            )
    else:
        base = -(gap + 2 * half) / 2  # the pair is centred vertically

        def sdf(u, v):
            return np.minimum(
                sd_segment(u, v, (-half, base), (half, base), STROKE),
                sd_segment(u, v, (0, base + gap), (0, base + gap + 2 * half), STROKE),
            )

    return Glyph(sdf, colour, rotation_deg=orientation_deg, name="cross" if crossing else "non-cross")


def letter(name: str, rotation_deg: float = 0.0, colour: tuple[float, float, float] = INK) -> Glyph:
    """The letter ``"T"`` or ``"L"`` made of two strokes of equal length, turned by ``rotation_deg``."""
    category = {"T": "tee", "L": "ell"}.get(name)
    if category is None:
        raise ConfigError("letter", f"must be 'T' or 'L', got {name!r}")
    return Glyph(shape_sdf(category, 0.0), colour, rotation_deg=rotation_deg, name=name)


def bar(orientation_deg: float = 0.0, half_width: float = 0.16, colour: tuple[float, float, float] = INK) -> Glyph:
    """A bar tilted ``orientation_deg`` counter-clockwise from vertical (0: vertical, 20: a 20 degree tilt)."""
    return Glyph(
        lambda u, v: sd_box(u, v, half_width, 0.95),
        colour,
        rotation_deg=orientation_deg,
        name=f"bar_{orientation_deg:g}",
    )


def as_glyph(item: Item) -> Glyph:
    """A glyph as is; a world object's attribute row as its glyph."""
    return item if isinstance(item, Glyph) else object_glyph(item)


# ------------------------------------------------------------------------------------------- display
@dataclass
class Display:
    """A search display and what a viewer model needs to know about it.

    Attributes
    ----------
    image : uint8 (H, W, 3), H = rows * cell_px, W = cols * cell_px.
    target_image : uint8 (cell_px, cell_px, 3), the target alone, centred, at the same size.
    boxes : int (n, 4) ``x0, y0, x1, y1`` in pixels (x1, y1 exclusive); every drawn pixel of an item lies inside.
    object_ids : int (n,), one per item (here its position in row-major cell order).
    categories : n labels (world category or primitive name).
    cells : int (n, 2) grid ``row, col`` of each item.
    target_index : index of the target among the n items.
    grid : ``(rows, cols)``.
    cell_px : cell side in pixels.
    condition : free label of the experimental condition (e.g. ``"curve_among_lines"``).
    seed : the seed the layout came from.
    """

    image: np.ndarray
    target_image: np.ndarray
    boxes: np.ndarray
    object_ids: np.ndarray
    categories: list[str]
    cells: np.ndarray
    target_index: int
    grid: tuple[int, int]
    cell_px: int
    condition: str = ""
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def set_size(self) -> int:
        return len(self.object_ids)

    @property
    def target_id(self) -> int:
        return int(self.object_ids[self.target_index])

    @property
    def target_box(self) -> np.ndarray:
        return self.boxes[self.target_index]

    @property
    def centres(self) -> np.ndarray:
        """(n, 2) float ``x, y`` centre of each box in pixels."""
        return np.stack([self.boxes[:, [0, 2]].mean(1), self.boxes[:, [1, 3]].mean(1)], axis=1)


def _as_items(distractors: Item | Sequence[Item] | pd.DataFrame) -> list[Item]:
    if isinstance(distractors, pd.DataFrame):
        return [row for _, row in distractors.iterrows()]
    if isinstance(distractors, (Glyph, Mapping, pd.Series)):
        return [distractors]
    items = list(distractors)
    if not items:
        raise ConfigError("distractors", "needs at least one distractor item")
    return items


def search_display(
    target: Item,
    distractors: Item | Sequence[Item] | pd.DataFrame,
    set_size: int,
    grid: tuple[int, int] = (4, 4),
    cell_px: int = 64,
    jitter: float = 0.5,
    item_scale: float = 0.7,
    seed: int = 0,
    condition: str = "",
    distinct: bool = False,
    background_level: float = BACKGROUND,
    noise: float = NOISE_STD,
) -> Display:
    """Place one target and ``set_size - 1`` distractors on a jittered grid.

    Parameters
    ----------
    target : the target item (a glyph or a world object's attribute row).
    distractors : one item (every distractor alike), or several, each distractor drawn at random from them
        (heterogeneous distractors; a DataFrame of world objects counts as several).
    set_size : items in the display, target included; at most rows * cols.
    grid : ``(rows, cols)`` of cells.
    cell_px : cell side in pixels.
    jitter : 0 puts items at cell centres; 1 lets them shift by the whole free margin of the cell.
    item_scale : item diameter as a fraction of the cell side.
    seed : seeds the chosen cells, the target's cell, the distractor draws, the jitter and the noise.
    condition : label stored with the display.
    distinct : use each distractor item at most once (needs at least ``set_size - 1``) instead of drawing
        with replacement.
    background_level, noise : grey level and pixel noise of the background (both in [0, 1]).
    """
    rows, cols = grid
    if not 1 <= set_size <= rows * cols:
        raise ConfigError("set_size", f"must be between 1 and rows * cols = {rows * cols}, got {set_size}")
    if not (0.0 <= jitter <= 1.0 and 0.0 < item_scale <= 1.0):
        raise ConfigError("jitter", f"jitter must be in [0, 1] and item_scale in (0, 1], got {jitter}, {item_scale}")
    pool = _as_items(distractors)
    rng = np.random.default_rng(seed)
    cells_flat = np.sort(rng.choice(rows * cols, size=set_size, replace=False))
    cells = np.stack([cells_flat // cols, cells_flat % cols], axis=1)
    target_index = int(rng.integers(set_size))
    if distinct:
        if len(pool) < set_size - 1:
            raise ConfigError("distractors", f"distinct needs {set_size - 1} items, got {len(pool)}")
        picks = np.insert(rng.permutation(len(pool))[: set_size - 1], target_index, -1)
    else:
        picks = rng.integers(len(pool), size=set_size)
    radius = item_scale * cell_px / 2
    # keep the item and its one-pixel anti-aliasing fringe inside its own cell
    margin = max(cell_px / 2 - radius - 1.5, 0.0) * jitter
    offsets = rng.uniform(-margin, margin, size=(set_size, 2))
    glyphs = [as_glyph(target) if i == target_index else as_glyph(pool[picks[i]]) for i in range(set_size)]

    canvas = background(rows * cell_px, cols * cell_px, seed=seed, level=background_level, noise=noise)
    boxes = np.empty((set_size, 4), dtype=np.int64)
    for i, glyph in enumerate(glyphs):
        cx = (cells[i, 1] + 0.5) * cell_px + offsets[i, 0]
        cy = (cells[i, 0] + 0.5) * cell_px + offsets[i, 1]
        boxes[i] = draw(canvas, glyph, cx, cy, radius)
    alone = background(cell_px, cell_px, seed=seed + 1, level=background_level, noise=noise)
    draw(alone, glyphs[target_index], cell_px / 2, cell_px / 2, radius)
    return Display(
        image=to_uint8(canvas),
        target_image=to_uint8(alone),
        boxes=boxes,
        object_ids=np.arange(set_size, dtype=np.int64),
        categories=[g.name for g in glyphs],
        cells=cells.astype(np.int64),
        target_index=target_index,
        grid=(rows, cols),
        cell_px=cell_px,
        condition=condition,
        seed=seed,
    )


def world_display(
    set_size: int,
    seed: int,
    grid: tuple[int, int] = (4, 4),
    cell_px: int = 64,
    jitter: float = 0.5,
    condition: str = "world",
) -> Display:
    """A display of world objects: a random target and distractors drawn from the other categories
    (each with its own colour, texture, rotation and light), as for free-viewing search of objects."""
    scenes = sample_scenes(set_size * 4, seed=seed, balanced=False)
    target = scenes.iloc[0]
    others = scenes.iloc[1:]
    others = others[others["category"] != target["category"]].iloc[: max(set_size - 1, 1)]
    return search_display(
        target,
        others,
        set_size,
        grid=grid,
        cell_px=cell_px,
        jitter=jitter,
        seed=seed,
        condition=condition,
        distinct=True,
    )
