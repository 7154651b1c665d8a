"""Drawing: shapes as signed distances, anti-aliased from those distances, textured and shaded by the light.

Every drawable thing is a :class:`Glyph`: a signed distance function in the object's own frame (units of its
radius; negative inside, and the shape fits inside the unit circle) plus its colour, texture, rotation and
light. The world's categories (:func:`object_glyph`) and the search experiments' primitives
(:mod:`.displays`) are both glyphs, drawn by one function, :func:`draw`. Coverage of a pixel is
``clip(0.5 - distance_in_pixels, 0, 1)``, which anti-aliases edges at any image size without supersampling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .world import COLOURS, SECOND_PREFIX

Sdf = Callable[[np.ndarray, np.ndarray], np.ndarray]

BACKGROUND = 0.5  # grey level of the background, in [0, 1]
NOISE_STD = 0.02  # pixel noise of the background, in [0, 1] units
SHADING = 0.3  # brightness ranges over 1 -/+ SHADING from the dark to the lit side of an object
TEXTURE_PERIOD = 0.5  # texture period in units of the object's radius (4 stripes across the object)
TEXTURE_DARKEN = 0.5  # texture marks are this much darker than the object's colour


# ------------------------------------------------------------------------ signed distances (object frame)
def sd_circle(u: np.ndarray, v: np.ndarray, radius: float, cu: float = 0.0, cv: float = 0.0) -> np.ndarray:
    return np.hypot(u - cu, v - cv) - radius


def sd_ellipse(u: np.ndarray, v: np.ndarray, a: float, b: float) -> np.ndarray:
    """Approximate distance to an axis-aligned ellipse with half-axes ``a`` (along u) and ``b``."""
    return (np.hypot(u / a, v / b) - 1.0) * min(a, b)


def sd_box(u: np.ndarray, v: np.ndarray, half_u: float, half_v: float, cu: float = 0.0, cv: float = 0.0) -> np.ndarray:
    qu, qv = np.abs(u - cu) - half_u, np.abs(v - cv) - half_v
    outside = np.hypot(np.maximum(qu, 0.0), np.maximum(qv, 0.0))
    return outside + np.minimum(np.maximum(qu, qv), 0.0)


def sd_segment(
    u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float], half_width: float
) -> np.ndarray:
    """Distance to a stroke of half-width ``half_width`` from point ``a`` to ``b`` (round caps)."""
    eu, ev = b[0] - a[0], b[1] - a[1]
    wu, wv = u - a[0], v - a[1]
    t = np.clip((wu * eu + wv * ev) / (eu * eu + ev * ev), 0.0, 1.0)
    return np.hypot(wu - t * eu, wv - t * ev) - half_width


def sd_polygon(u: np.ndarray, v: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Exact signed distance to a simple polygon with ``vertices`` (m, 2), vectorised over edges."""
    a = vertices[None, :, :]
    b = np.roll(vertices, -1, axis=0)[None, :, :]
    p = np.stack([u.ravel(), v.ravel()], axis=1)[:, None, :]
    e, w = b - a, p - a
    t = np.clip((w * e).sum(-1) / (e * e).sum(-1), 0.0, 1.0)
    dist = np.linalg.norm(w - t[..., None] * e, axis=-1).min(axis=1)
    # even-odd rule: count edges crossed by a ray towards +u
    pu, pv = p[..., 0], p[..., 1]
    straddles = (a[..., 1] > pv) != (b[..., 1] > pv)
    with np.errstate(divide="ignore", invalid="ignore"):
        u_cross = a[..., 0] + (pv - a[..., 1]) * e[..., 0] / e[..., 1]
    inside = (straddles & (pu < u_cross)).sum(axis=1) % 2 == 1
    return np.where(inside, -dist, dist).reshape(u.shape)


def sd_arc(u: np.ndarray, v: np.ndarray, curvature: float, length: float, half_width: float) -> np.ndarray:
    """A stroke of arc ``length`` running along v and bulging towards +u with ``curvature`` (1 / radius;
    negative bulges towards -u; 0 gives a straight segment), all in units of the object's radius; the arc's
    bounding box is centred on the origin."""
    if abs(curvature) < 1e-6:
        return sd_segment(u, v, (0.0, -length / 2), (0.0, length / 2), half_width)
    r = 1.0 / abs(curvature)
    sign = np.sign(curvature)
    half_angle = min(length / (2 * r), np.pi)
    # circle centre on the u axis; the arc spans r (1 - cos(half_angle)) in u, centred on the origin
    cu = -sign * r + sign * r * (1 - np.cos(half_angle)) / 2
    du, dv = u - cu, v
    angle = np.arctan2(dv, sign * du)  # 0 at the arc's midpoint
    on_arc = np.abs(np.abs(np.hypot(du, dv)) - r)
    ends = [(cu + sign * r * np.cos(s * half_angle), r * np.sin(s * half_angle)) for s in (-1, 1)]
    to_ends = np.minimum(*(np.hypot(u - eu, v - ev) for eu, ev in ends))
    return np.where(np.abs(angle) <= half_angle, on_arc, to_ends) - half_width


def _star(inner: float, points: int = 5) -> np.ndarray:
    angle = np.pi / 2 + np.arange(2 * points) * np.pi / points
    radius = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def shape_sdf(category: str, shape_param: float) -> Sdf:
    """The signed distance function of a world category (see :data:`~.world.CATEGORIES`), shape inside the
    unit circle, drawn upright at rotation 0."""
    q = float(np.clip(shape_param, 0.0, 1.0))
    if category == "disc":
        return lambda u, v: sd_ellipse(u, v, 0.97, 0.97 * (0.55 + 0.45 * q))
    if category == "square":
        side = 0.68
        return lambda u, v: sd_box(u, v, side, side * (0.55 + 0.45 * q))
    if category == "triangle":
        half_base = 0.5 + 0.366 * q  # 0.866: equilateral in the unit circle
        tri = np.array([[0.0, 0.97], [-half_base, -0.48], [half_base, -0.48]])
        return lambda u, v: sd_polygon(u, v, tri)
    if category == "star":
        star = _star(0.35 + 0.25 * q) * 0.97
        return lambda u, v: sd_polygon(u, v, star)
    if category == "cross":
        t = 0.16 + 0.14 * q
        return lambda u, v: np.minimum(sd_box(u, v, 0.9, t), sd_box(u, v, t, 0.9))
    if category == "ring":
        t = 0.1 + 0.12 * q
        return lambda u, v: np.abs(np.hypot(u, v) - (0.95 - t)) - t
    if category == "ell":
        t = 0.14 + 0.12 * q  # two strokes of equal length meeting at a corner
        return lambda u, v: np.minimum(sd_box(u, v, t, 0.65, cu=-0.6 + t), sd_box(u, v, 0.6, t, cv=-0.65 + t))
    if category == "tee":
        t = 0.14 + 0.12 * q  # a stem meeting the middle of a cross-bar
        return lambda u, v: np.minimum(sd_box(u, v, 0.65, t, cv=0.65 - t), sd_box(u, v, t, 0.65))
    if category == "bar":
        t = 0.12 + 0.14 * q
        return lambda u, v: sd_box(u, v, 0.95, t)
    if category == "crescent":
        offset = 0.3 + 0.35 * q
        return lambda u, v: np.maximum(sd_circle(u, v, 0.95), -sd_circle(u, v, 0.8, cu=offset))
    raise ValueError(f"unknown category {category!r}")


# ------------------------------------------------------------------------------------------------ glyphs
@dataclass(frozen=True)
class Glyph:
    """Something to draw: a shape in its own frame plus its appearance.

    Attributes
    ----------
    sdf : signed distance ``(u, v) -> d`` in units of the radius (negative inside); the shape must lie
        inside the unit circle, which :func:`draw` scales to the requested radius in pixels.
    colour : RGB in [0, 1].
    texture : one of the world's textures (plain, stripes, dots, checker), laid in the object's frame.
    rotation_deg : counter-clockwise rotation on screen.
    light_deg : direction the light comes from (90 = above), or None for flat colour.
    shading : strength of the light's brightness gradient (brightness 1 -/+ shading across the object).
    name : label (a category or a primitive's name) recorded with displays.
    """

    sdf: Sdf
    colour: tuple[float, float, float]
    texture: str = "plain"
    rotation_deg: float = 0.0
    light_deg: float | None = None
    shading: float = SHADING
    name: str = "glyph"


def colour_rgb(name: str) -> tuple[float, float, float]:
    """A named world colour as RGB in [0, 1]."""
    return tuple(c / 255.0 for c in COLOURS[name])  # type: ignore[return-value]


def object_glyph(attributes: Mapping[str, Any] | pd.Series, prefix: str = "", light_deg: float | None = None) -> Glyph:
    """The glyph of one world object from its attributes (``prefix="second_"`` for a scene's second object).

    The light comes from ``light_deg`` when given, else from the row's ``light_deg``.
    """
    light = light_deg if light_deg is not None else attributes.get("light_deg")
    return Glyph(
        sdf=shape_sdf(attributes[prefix + "category"], float(attributes[prefix + "shape_param"])),
        colour=colour_rgb(attributes[prefix + "colour"]),
        texture=attributes[prefix + "texture"],
        rotation_deg=float(attributes[prefix + "rotation_deg"]),
        light_deg=None if light is None else float(light),
        name=str(attributes[prefix + "category"]),
    )


def _texture_mask(texture: str, u: np.ndarray, v: np.ndarray, pixel: float) -> np.ndarray:
    """Where the texture's marks are (0..1, anti-aliased); ``pixel`` is one pixel in object units."""
    if texture == "plain":
        return np.zeros_like(u)
    k = 2 * np.pi / TEXTURE_PERIOD
    # sin(k u) / k approximates the signed distance to the stripe edges near them; where the period is
    # below two pixels the amplitude falls under half a pixel and the marks fade to an even grey: no aliasing
    if texture == "stripes":
        d = np.sin(k * u) / k
    elif texture == "checker":
        d = np.sin(k * u) * np.sin(k * v) / k
    elif texture == "dots":
        cu = np.mod(u, TEXTURE_PERIOD) - TEXTURE_PERIOD / 2
        cv = np.mod(v, TEXTURE_PERIOD) - TEXTURE_PERIOD / 2
        d = 0.28 * TEXTURE_PERIOD - np.hypot(cu, cv)
    else:
        raise ValueError(f"unknown texture {texture!r}")
    return np.clip(0.5 + d / pixel, 0.0, 1.0)


def background(height: int, width: int, seed: int, level: float = BACKGROUND, noise: float = NOISE_STD) -> np.ndarray:
    """Grey canvas (height, width, 3) float32 in [0, 1] with mild pixel noise, the same for the same seed."""
    rng = np.random.default_rng(seed)
    canvas = level + noise * rng.standard_normal((height, width, 1), dtype=np.float32)
    return np.repeat(canvas, 3, axis=2).astype(np.float32)


def draw(canvas: np.ndarray, glyph: Glyph, cx: float, cy: float, radius: float) -> tuple[int, int, int, int]:
    """Draw ``glyph`` onto ``canvas`` (H, W, 3) float in [0, 1], in place.

    Parameters
    ----------
    cx, cy : centre in pixels (x from the left, y from the top; pixel i covers [i, i + 1)).
    radius : radius of the glyph's enclosing circle in pixels.

    Returns
    -------
    The box ``(x0, y0, x1, y1)`` in pixels (x1, y1 exclusive, clipped to the canvas) that holds every pixel
    the glyph touched.
    """
    height, width = canvas.shape[:2]
    x0, x1 = max(int(np.floor(cx - radius - 1)), 0), min(int(np.ceil(cx + radius + 1)), width)
    y0, y1 = max(int(np.floor(cy - radius - 1)), 0), min(int(np.ceil(cy + radius + 1)), height)
    if x0 >= x1 or y0 >= y1:
        return x0, y0, max(x0, x1), max(y0, y1)
    dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :]
    dy = (cy - np.arange(y0, y1, dtype=np.float32) - 0.5)[:, None]  # upwards on screen
    dx, dy = np.broadcast_arrays(dx, dy)
    theta = np.deg2rad(glyph.rotation_deg)
    # into the glyph's frame: undo its rotation, scale by its radius
    u = (dx * np.cos(theta) + dy * np.sin(theta)) / radius
    v = (-dx * np.sin(theta) + dy * np.cos(theta)) / radius
    alpha = np.clip(0.5 - glyph.sdf(u, v) * radius, 0.0, 1.0)[..., None]
    shade = 1.0
    if glyph.light_deg is not None:
        light = np.deg2rad(glyph.light_deg)
        toward_light = np.clip((dx * np.cos(light) + dy * np.sin(light)) / radius, -1.0, 1.0)
        shade = (1.0 + glyph.shading * toward_light)[..., None]
    texture = _texture_mask(glyph.texture, u, v, 1.0 / radius)[..., None]
    colour = np.asarray(glyph.colour, dtype=np.float32) * (1.0 - TEXTURE_DARKEN * texture) * shade
    window = canvas[y0:y1, x0:x1]
    window[...] = window * (1.0 - alpha) + np.clip(colour, 0.0, 1.0) * alpha
    return x0, y0, x1, y1


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """A float canvas in [0, 1] as uint8 (rounded, clipped)."""
    return np.clip(np.rint(canvas * 255.0), 0, 255).astype(np.uint8)


def render_scene(row: Mapping[str, Any] | pd.Series, size: int = 64) -> np.ndarray:
    """The image of one scene of :func:`~.world.sample_scenes`.

    Parameters
    ----------
    row : a scene's attributes (one table row).
    size : image side in pixels.

    Returns
    -------
    uint8 array (size, size, 3). The background noise is seeded by ``stimulus_id``, so a scene always
    renders to the same pixels.
    """
    canvas = background(size, size, seed=int(row["stimulus_id"]))
    for prefix in ("", SECOND_PREFIX):
        category = row.get(prefix + "category")
        if not isinstance(category, str):  # no second object (NaN) or no such column
            continue
        draw(
            canvas,
            object_glyph(row, prefix),
            float(row[prefix + "x"]) * size,
            float(row[prefix + "y"]) * size,
            float(row[prefix + "size"]) * size / 2,
        )
    return to_uint8(canvas)


def render_scenes(table: pd.DataFrame, size: int = 64) -> np.ndarray:
    """Images of every scene in ``table``: uint8 array (n, size, size, 3) in table order."""
    images = np.empty((len(table), size, size, 3), dtype=np.uint8)
    for i, (_, row) in enumerate(table.iterrows()):
        images[i] = render_scene(row, size)
    return images
