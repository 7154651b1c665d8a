"""The procedural world: a fixed vocabulary of objects and the latent attributes that describe each image.

Every image shows one object (optionally a second, smaller one) whose attributes are drawn at random and
kept in a table, one row per image. Simulators of brain recordings use those attributes as ground truth
(:func:`latent_matrix`), the renderer draws them (:mod:`.render`) and captions describe them (:mod:`.captions`).

Conventions (the same everywhere in this package):

- ``x``, ``y``: the object's centre as a fraction of the image side, ``x`` from the left, ``y`` from the top.
- ``size``: the diameter of the circle that encloses the object, as a fraction of the image side.
- ``rotation_deg``: counter-clockwise rotation of the object on screen, degrees in [0, 360).
- ``light_deg``: direction the light comes *from*, counter-clockwise from the right on screen
  (90 = lit from above, 180 = from the left); the object is brighter on that side. One light per scene.
- ``shape_param``: one number in [0, 1] that varies each category's shape (see :data:`CATEGORIES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import ConfigError


@dataclass(frozen=True)
class Category:
    """An object category: a parametric shape whose ``shape_param`` in [0, 1] varies ``varies``."""

    name: str
    varies: str


CATEGORIES: tuple[Category, ...] = (
    Category("disc", "aspect ratio (1 = circle, 0 = ellipse 0.55)"),
    Category("square", "aspect ratio (1 = square, 0 = rectangle 0.55)"),
    Category("triangle", "base width (0 = narrow isosceles, 1 = equilateral)"),
    Category("star", "inner radius of the five points (0.35 to 0.6)"),
    Category("cross", "arm thickness"),
    Category("ring", "ring thickness"),
    Category("ell", "stroke thickness of the L"),
    Category("tee", "stroke thickness of the T"),
    Category("bar", "bar thickness"),
    Category("crescent", "how far the bite is offset (thin to thick crescent)"),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)

# Saturated hues of moderate brightness, so shading never saturates them into white and every colour stands
# out from the grey background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 45, 45),
    "orange": (225, 125, 30),
    "yellow": (215, 195, 40),
    "green": (50, 160, 70),
    "cyan": (40, 180, 190),
    "blue": (45, 85, 205),
    "purple": (135, 65, 185),
    "pink": (225, 105, 170),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

TEXTURES: tuple[str, ...] = ("plain", "stripes", "dots", "checker")

# Attribute columns of one object, in table order; a second object repeats them with SECOND_PREFIX.
OBJECT_COLUMNS: tuple[str, ...] = ("category", "shape_param", "colour", "texture", "x", "y", "size", "rotation_deg")
SCENE_COLUMNS: tuple[str, ...] = ("light_deg",)
SECOND_PREFIX = "second_"

SIZE_RANGE = (0.3, 0.6)  # main object diameter, fraction of the image side
SECOND_SIZE_RANGE = (0.15, 0.28)  # the second object is always smaller


def _check_names(given: Sequence[str] | None, known: Sequence[str], key: str) -> list[str]:
    if given is None:
        return list(known)
    unknown = sorted(set(given) - set(known))
    if unknown or not given:
        raise ConfigError(key, f"unknown or empty {unknown or given}; choose from {', '.join(known)}")
    return list(given)


def _sample_objects(
    rng: np.random.Generator,
    n: int,
    categories: list[str],
    colours: list[str],
    textures: list[str],
    size_range: tuple[float, float],
    balanced: bool,
) -> dict[str, np.ndarray]:
    if balanced:  # every category equally often (up to one), in random order: good for classification splits
        category = rng.permutation(np.resize(np.asarray(categories), n))
    else:
        category = rng.choice(categories, size=n)
    size = rng.uniform(*size_range, size=n)
    return {
        "category": category.astype(object),
        "shape_param": rng.uniform(0.0, 1.0, size=n),
        "colour": rng.choice(colours, size=n).astype(object),
        "texture": rng.choice(textures, size=n).astype(object),
        # the object stays inside the image: its centre keeps half its size from every border
        "x": rng.uniform(size / 2, 1 - size / 2),
        "y": rng.uniform(size / 2, 1 - size / 2),
        "size": size,
        "rotation_deg": rng.uniform(0.0, 360.0, size=n),
    }


def _sample_light(rng: np.random.Generator, n: int, light_prior: tuple[float, float] | None) -> np.ndarray:
    if light_prior is None:
        return rng.uniform(0.0, 360.0, size=n)
    mean, spread = light_prior
    return np.mod(mean + spread * rng.standard_normal(n), 360.0)


def sample_scenes(
    n: int,
    seed: int,
    p_second: float = 0.0,
    categories: Sequence[str] | None = None,
    colours: Sequence[str] | None = None,
    textures: Sequence[str] | None = None,
    light_prior: tuple[float, float] | None = None,
    balanced: bool = True,
    first_id: int = 0,
) -> pd.DataFrame:
    """Draw ``n`` scenes of the world; the same arguments always give the same table.

    Parameters
    ----------
    n : number of scenes (images).
    seed : random seed.
    p_second : probability that a scene also holds a second, smaller object that does not overlap the first.
        With 0 the table has no ``second_*`` columns; otherwise scenes without one hold NaN there.
    categories, colours, textures : subsets of the vocabulary to draw from (default: all).
    light_prior : ``(mean_deg, spread_deg)`` for light directions drawn around ``mean_deg`` (e.g. ``(90, 30)``:
        mostly lit from above, like a natural image diet); default uniform over the circle.
    balanced : every category equally often (up to one) rather than drawn independently.
    first_id : ``stimulus_id`` of the first scene (ids are consecutive).

    Returns
    -------
    pandas.DataFrame, one row per scene: ``stimulus_id`` (int), the object columns (:data:`OBJECT_COLUMNS`),
    ``light_deg`` and, with ``p_second > 0``, the second object's columns prefixed ``second_``.
    """
    if n < 1:
        raise ConfigError("n", f"must be at least 1, got {n}")
    if not 0.0 <= p_second <= 1.0:
        raise ConfigError("p_second", f"must be a probability, got {p_second}")
    cats = _check_names(categories, CATEGORY_NAMES, "categories")
    cols = _check_names(colours, COLOUR_NAMES, "colours")
    texs = _check_names(textures, TEXTURES, "textures")
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"stimulus_id": np.arange(first_id, first_id + n, dtype=np.int64)})
    for key, values in _sample_objects(rng, n, cats, cols, texs, SIZE_RANGE, balanced).items():
        table[key] = values
    table["light_deg"] = _sample_light(rng, n, light_prior)
    if p_second > 0:
        second = _sample_objects(rng, n, cats, cols, texs, SECOND_SIZE_RANGE, balanced=False)
        _place_apart(rng, table["x"].to_numpy(), table["y"].to_numpy(), table["size"].to_numpy(), second)
        present = rng.uniform(size=n) < p_second
        for key, values in second.items():
            values = values.copy()
            values[~present] = np.nan
            table[SECOND_PREFIX + key] = values
    return table


def _place_apart(
    rng: np.random.Generator, x: np.ndarray, y: np.ndarray, size: np.ndarray, second: dict[str, np.ndarray]
) -> None:
    """Redraw the second object's position until its enclosing circle clears the first object's (in place)."""
    s = second["size"]
    for _ in range(1000):
        clash = np.hypot(second["x"] - x, second["y"] - y) < (size + s) / 2 + 0.02
        if not clash.any():
            return
        k = int(clash.sum())
        second["x"][clash] = rng.uniform(s[clash] / 2, 1 - s[clash] / 2, size=k)
        second["y"][clash] = rng.uniform(s[clash] / 2, 1 - s[clash] / 2, size=k)
    raise RuntimeError("could not place the second object apart from the first")  # cannot happen for our sizes


def sample_movie(
    n_shots: int,
    frames_per_shot: int,
    seed: int,
    fps: float = 4.0,
    **scene_options,
) -> pd.DataFrame:
    """A "movie": shots of one scene each, separated by cuts; within a shot the objects glide and turn.

    Each shot is a scene of :func:`sample_scenes`. Over the shot its objects move together by one
    translation (so a second object never runs into the first) that keeps them inside the image, and each
    turns by up to 90 degrees; frames interpolate linearly from the shot's first frame to its last.

    Parameters
    ----------
    n_shots : number of shots (scene cuts happen at the first frame of each shot).
    frames_per_shot : frames in each shot.
    seed : random seed.
    fps : frames per second, which sets ``time_s``.
    scene_options : passed to :func:`sample_scenes` (e.g. ``p_second``, ``categories``).

    Returns
    -------
    pandas.DataFrame, one row per frame: ``stimulus_id`` (frame index), ``shot``, ``frame_in_shot``,
    ``time_s`` (onset, seconds), ``is_cut`` and the scene columns of :func:`sample_scenes`.
    """
    if frames_per_shot < 1:
        raise ConfigError("frames_per_shot", f"must be at least 1, got {frames_per_shot}")
    shots = sample_scenes(n_shots, seed, **scene_options)
    rng = np.random.default_rng([seed, 1])
    prefixes = [p for p in ("", SECOND_PREFIX) if p + "x" in shots]
    shot = np.repeat(np.arange(n_shots), frames_per_shot)
    within = np.tile(np.arange(frames_per_shot), n_shots)
    t = within / max(frames_per_shot - 1, 1)
    frames = shots.iloc[shot].reset_index(drop=True)
    for key in ("x", "y"):
        # the translation range that keeps every object of the shot inside the image (always contains 0)
        lo = np.nanmax([shots[p + "size"] / 2 - shots[p + key] for p in prefixes], axis=0)
        hi = np.nanmin([1 - shots[p + "size"] / 2 - shots[p + key] for p in prefixes], axis=0)
        move = rng.uniform(lo, hi)
        for p in prefixes:
            frames[p + key] = frames[p + key] + t * move[shot]
    for p in prefixes:
        turn = rng.uniform(-90.0, 90.0, size=n_shots)
        frames[p + "rotation_deg"] = np.mod(frames[p + "rotation_deg"] + t * turn[shot], 360.0)
    frames["stimulus_id"] = np.arange(len(frames), dtype=np.int64)
    frames.insert(1, "shot", shot)
    frames.insert(2, "frame_in_shot", within)
    frames.insert(3, "time_s", np.arange(len(frames)) / fps)
    frames.insert(4, "is_cut", within == 0)
    return frames


def latent_matrix(table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Numeric encoding of the latent attributes: the ground truth simulators map to brain responses.

    One-hot ``category=...``, ``colour=...``, ``texture=...``; continuous ``shape_param``, ``x``, ``y``, ``size``;
    ``rotation_sin``/``rotation_cos`` and ``light_sin``/``light_cos`` (angles on the circle, so 359 deg sits next
    to 1 deg). When the table has a second object, its columns follow with the ``second_`` prefix, a
    ``second_present`` indicator, and zeros where a scene has none. Rotation is encoded as drawn, whatever the
    shape's symmetry (a disc looks the same at every rotation; only its texture turns).

    Returns
    -------
    matrix : float64 array (n_scenes, n_latents).
    names : the column names, length n_latents.
    """
    columns: dict[str, np.ndarray] = {}
    prefixes = [""] + ([SECOND_PREFIX] if SECOND_PREFIX + "category" in table else [])
    for prefix in prefixes:
        missing = [prefix + c for c in OBJECT_COLUMNS if prefix + c not in table]
        if missing:
            raise ConfigError("table", f"missing attribute columns {missing}")
        present = table[prefix + "category"].notna().to_numpy()
        if prefix:
            columns[prefix + "present"] = present.astype(float)
        for key, vocab in (("category", CATEGORY_NAMES), ("colour", COLOUR_NAMES), ("texture", TEXTURES)):
            values = table[prefix + key].to_numpy()
            for name in vocab:
                columns[f"{prefix}{key}={name}"] = (values == name).astype(float)
        for key in ("shape_param", "x", "y", "size"):
            columns[prefix + key] = np.where(present, table[prefix + key].to_numpy(dtype=float), 0.0)
        angle = np.deg2rad(np.where(present, table[prefix + "rotation_deg"].to_numpy(dtype=float), 0.0))
        columns[prefix + "rotation_sin"] = np.where(present, np.sin(angle), 0.0)
        columns[prefix + "rotation_cos"] = np.where(present, np.cos(angle), 0.0)
        if not prefix:
            light = np.deg2rad(table["light_deg"].to_numpy(dtype=float))
            columns["light_sin"], columns["light_cos"] = np.sin(light), np.cos(light)
    names = list(columns)
    return np.column_stack([columns[k] for k in names]), names
