"""The embedded default: shelf displays of stimulus-world products and simulated viewers searching them.

The world holds the ground truth. A catalogue of products is drawn from the stimulus world (each a world object
with its latent category, colour, texture and shape, shown upright and lit from above). A display is a shelf:
products on the cells of a layout (``2x11``, ``3x9``, or ``irregular``: rows of different lengths), one of them
the target. Viewers do a guided-search walk, a generative model that is not a transformer:

* guidance: each candidate object scores ``w_similarity * s(object, target) - w_distance * d / cell``, where
  ``s`` counts the latent attributes shared with the target (colour, category, texture, weighted) and ``d`` is
  the distance from the current fixation (the first from the display centre); the next object is drawn from
  the softmax of the scores;
* refixations: with probability ``p_refixation`` the viewer fixates the same object again;
* revisits: an already visited object's weight is multiplied by ``revisit_weight`` (inhibition of return);
* stopping: on the target the viewer stops with probability ``p_stop``; anywhere it gives up with ``p_quit``
  per fixation, and never goes past ``max_length`` fixations.

Each viewer has its own guidance weights (the shared ones times a log-normal factor), so viewers agree but not
perfectly. ``truth.json`` holds the generator's parameters and the behaviour statistics of what it produced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from ..core.io import PathLike, write_json
from ..core.runtime import get_logger
from ..stimuli.render import background, draw, object_glyph, to_uint8
from ..stimuli.world import sample_scenes
from .data import Scanpath, Trial, write_dataset
from .metrics import behaviour_table

__all__ = [
    "LAYOUTS",
    "WalkParameters",
    "walk_parameters",
    "SimulationSettings",
    "shelf_cells",
    "product_catalogue",
    "render_shelf",
    "guided_search_walk",
    "attribute_similarity",
    "draw_viewers",
    "draw_displays",
    "simulate_dataset",
]

log = get_logger(__name__)

# Row lengths of each layout; ``irregular`` has rows of different lengths (and so cells of different widths).
LAYOUTS: dict[str, tuple[int, ...]] = {
    "2x11": (11, 11),
    "3x9": (9, 9, 9),
    "irregular": (6, 8, 5, 7),
}


@dataclass(frozen=True)
class WalkParameters:
    """The guided-search walk's parameters (see the module docstring); the planted ground truth."""

    w_similarity: float = 3.5
    w_distance: float = 2.5
    similarity_weights: tuple[float, float, float] = (1.0, 0.7, 0.3)  # colour, category, texture shared
    p_refixation: float = 0.12
    revisit_weight: float = 0.15
    p_stop: float = 0.85
    p_quit: float = 0.01
    max_length: int = 24
    viewer_spread: float = 0.25
    duration_shape: float = 4.0
    duration_scale_s: float = 0.055
    target_extra_s: float = 0.15


def walk_parameters(overrides: Mapping[str, Any] | None = None) -> WalkParameters:
    """The walk's parameters with some replaced (the gaze preset's ``walk``); an unknown name is a
    :class:`~neuromodels.core.errors.ConfigError` naming ``gaze.overrides.walk.<name>``."""
    from ..core.config import override_settings

    return override_settings(WalkParameters(), dict(overrides or {}), "gaze.overrides.walk")


@dataclass(frozen=True)
class SimulationSettings:
    layouts: tuple[str, ...] = ("2x11", "3x9", "irregular")
    displays_per_layout: int = 24
    viewers: int = 8
    cell_px: int = 24
    n_products: int = 48
    lookalikes: float = 0.0
    walk: WalkParameters = field(default_factory=WalkParameters)

    @classmethod
    def from_preset(cls, preset: Any, walk: Mapping[str, Any] | None = None) -> SimulationSettings:
        """The simulated world of a gaze preset (its sizes, ``lookalikes`` and ``walk``), with ``walk`` replacing
        single parameters of the preset's walk."""
        return cls(
            displays_per_layout=preset.displays_per_layout,
            viewers=preset.viewers,
            cell_px=preset.cell_px,
            n_products=preset.n_products,
            lookalikes=preset.lookalikes,
            walk=walk_parameters({**preset.walk, **(walk or {})}),
        )


# ---------------------------------------------------------------------------------------- displays
def shelf_cells(layout: str, cell_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The cells of a layout: boxes float (n, 4) ``x0, y0, x1, y1``, rows, cols, image width and height.

    Rows are ``cell_px`` high; a row of k cells spans the image's width (the longest row times ``cell_px``)."""
    if layout not in LAYOUTS:
        raise ConfigError("gaze.layouts", f"unknown layout {layout!r} ({', '.join(LAYOUTS)})")
    counts = LAYOUTS[layout]
    width, height = max(counts) * cell_px, len(counts) * cell_px
    boxes, rows, cols = [], [], []
    for r, k in enumerate(counts):
        edges = np.round(np.linspace(0, width, k + 1)).astype(int)
        for c in range(k):
            boxes.append((edges[c], r * cell_px, edges[c + 1], (r + 1) * cell_px))
            rows.append(r)
            cols.append(c)
    return np.asarray(boxes, float), np.asarray(rows), np.asarray(cols), width, height


def product_catalogue(n: int, seed: int) -> pd.DataFrame:
    """``n`` products: world objects shown upright (rotation 0) and lit from above, with ids ``p000``..."""
    table = sample_scenes(n, seed=seed, balanced=True)
    table["rotation_deg"] = 0.0
    table["light_deg"] = 90.0
    table.insert(0, "product", [f"p{i:03d}" for i in range(n)])
    return table


def render_shelf(products: pd.DataFrame, boxes: np.ndarray, width: int, height: int, seed: int) -> np.ndarray:
    """uint8 (height, width, 3): each product drawn at the centre of its cell."""
    canvas = background(height, width, seed=seed)
    for (_, row), (x0, y0, x1, y1) in zip(products.iterrows(), boxes):
        radius = 0.4 * min(x1 - x0, y1 - y0)
        draw(canvas, object_glyph(row), (x0 + x1) / 2, (y0 + y1) / 2, radius)
    return to_uint8(canvas)


def render_product(product: pd.Series, cell_px: int, seed: int) -> np.ndarray:
    canvas = background(cell_px, cell_px, seed=seed)
    draw(canvas, object_glyph(product), cell_px / 2, cell_px / 2, 0.4 * cell_px)
    return to_uint8(canvas)


# ---------------------------------------------------------------------------------------- viewers
def attribute_similarity(
    products: pd.DataFrame, target: pd.Series, weights: Sequence[float] = (1.0, 0.7, 0.3)
) -> np.ndarray:
    """Weighted count of latent attributes (colour, category, texture) each product shares with the target."""
    out = np.zeros(len(products))
    for w, key in zip(weights, ("colour", "category", "texture")):
        out += w * (products[key].to_numpy() == target[key])
    return out


def guided_search_walk(
    trial: Trial, similarity: np.ndarray, rng: np.random.Generator, viewer: dict[str, float], params: WalkParameters
) -> np.ndarray:
    """One viewer's object sequence (indices into the trial's objects) on one display."""
    centres = trial.centres
    cell = float(np.median(trial.boxes[:, 3] - trial.boxes[:, 1]))
    pos = np.array([trial.width / 2, trial.height / 2])
    visited = np.zeros(trial.n_objects, bool)
    seq: list[int] = []
    target = trial.target_index
    while len(seq) < params.max_length:
        if seq and rng.uniform() < params.p_refixation:
            nxt = seq[-1]
        else:
            d = np.hypot(*(centres - pos).T) / cell
            score = viewer["w_similarity"] * similarity - viewer["w_distance"] * d
            score = score + np.where(visited, np.log(params.revisit_weight), 0.0)
            if seq:
                score[seq[-1]] = -np.inf  # a move, not a refixation
            p = np.exp(score - score.max())
            nxt = int(rng.choice(trial.n_objects, p=p / p.sum()))
        seq.append(nxt)
        visited[nxt] = True
        pos = centres[nxt]
        if nxt == target and rng.uniform() < params.p_stop:
            break
        if rng.uniform() < params.p_quit:
            break
    return np.asarray(seq, dtype=np.int64)


def fixations_on(
    trial: Trial, objects: np.ndarray, rng: np.random.Generator, params: WalkParameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions (inside each object's box, scattered about its centre) and durations (s)."""
    b = trial.boxes[objects]
    c = trial.centres[objects]
    half = (b[:, 2:] - b[:, :2]) / 2
    xy = c + rng.normal(0.0, 0.25, size=c.shape) * half
    xy = np.clip(xy, b[:, :2], b[:, 2:] - 1e-3)
    duration = rng.gamma(params.duration_shape, params.duration_scale_s, size=len(objects))
    duration = duration + params.target_extra_s * (objects == trial.target_index)
    return xy[:, 0], xy[:, 1], np.maximum(duration, 0.02)


# ---------------------------------------------------------------------------------------- data set
def draw_viewers(params: WalkParameters, n: int, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """``n`` viewers' guidance weights (``v00`` ...): the shared ones times a log-normal factor each."""
    return {
        f"v{v:02d}": {
            "w_similarity": params.w_similarity * float(np.exp(params.viewer_spread * z1)),
            "w_distance": params.w_distance * float(np.exp(params.viewer_spread * z2)),
        }
        for v, (z1, z2) in enumerate(rng.normal(size=(n, 2)))
    }


def _stock_with_lookalikes(
    catalogue: pd.DataFrame, n: int, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """A shelf of ``n`` catalogue rows whose distractors are, for ``share`` of them, look-alikes of the target
    (products sharing its colour or its category; as many as the catalogue holds), the rest drawn from the other
    products; shuffled onto the cells. Returns the rows and the target's cell."""
    target = int(rng.integers(len(catalogue)))
    colour, category = catalogue["colour"].to_numpy(), catalogue["category"].to_numpy()
    alike = (colour == colour[target]) | (category == category[target])
    alike[target] = False
    similar, other = np.flatnonzero(alike), np.flatnonzero(~alike)
    other = other[other != target]
    k = min(max(int(round(share * (n - 1))), n - 1 - len(other)), len(similar))
    pick = np.concatenate(
        [[target], rng.choice(similar, size=k, replace=False), rng.choice(other, size=n - 1 - k, replace=False)]
    )
    order = rng.permutation(n)
    return pick[order], int(np.flatnonzero(order == 0)[0])


def draw_displays(
    settings: SimulationSettings, catalogue: pd.DataFrame, rng: np.random.Generator, images: PathLike | None = None
) -> Iterator[tuple[Trial, pd.DataFrame, int]]:
    """The shelf displays of every layout, drawn from ``rng`` one at a time: ``(trial, products, display_seed)``.

    Lazy, so that what the caller draws from the same ``rng`` between two displays (the viewers' walks) keeps
    its place. ``images``: the folder the trial's display and target images are named in (``<name>.png``,
    ``<name>_target.png``; nothing is written here); None leaves them unnamed.
    """
    folder = Path(images) if images is not None else None
    for layout in settings.layouts:
        boxes, rows, cols, width, height = shelf_cells(layout, settings.cell_px)
        if len(boxes) > settings.n_products:
            raise ConfigError(
                "gaze.n_products",
                f"layout {layout} has {len(boxes)} cells; the catalogue only {settings.n_products} products",
            )
        for d in range(settings.displays_per_layout):
            name = f"{layout}_{d:03d}"
            if settings.lookalikes > 0:
                pick, t_index = _stock_with_lookalikes(catalogue, len(boxes), settings.lookalikes, rng)
            else:
                pick = rng.choice(settings.n_products, size=len(boxes), replace=False)
                t_index = None
            products = catalogue.iloc[pick].reset_index(drop=True)
            t_index = int(rng.integers(len(boxes))) if t_index is None else t_index
            target = str(products.iloc[t_index]["product"])
            display_seed = int(rng.integers(2**31))
            trial = Trial(
                trial=name,
                image=folder / f"{name}.png" if folder is not None else None,
                width=width,
                height=height,
                object_ids=list(products["product"]),
                boxes=boxes,
                rows=rows,
                cols=cols,
                target=target,
                layout=layout,
                target_image=folder / f"{name}_target.png" if folder is not None else None,
                target_label=target,
            )
            yield trial, products, display_seed


def simulate_dataset(
    folder: PathLike,
    settings: SimulationSettings,
    seed: int = 0,
    walk: Callable[..., np.ndarray] | None = None,
    fixations_format: str = "jsonl",
) -> dict[str, Any]:
    """Write a scanpath data set (see :mod:`neuromodels.gaze.data`) and ``truth.json``; return the truth.

    ``walk(trial, similarity, rng, viewer, params) -> object indices`` replaces the guided-search walk (the
    tests use a different generator this way).
    """
    from ..stimuli.io import write_png

    folder = Path(folder)
    walk = walk or guided_search_walk
    params = settings.walk
    rng = np.random.default_rng([seed, 3])
    catalogue = product_catalogue(settings.n_products, seed)
    viewers = draw_viewers(params, settings.viewers, rng)
    trials: list[Trial] = []
    scanpaths: list[Scanpath] = []
    for trial, products, display_seed in draw_displays(settings, catalogue, rng, folder / "images"):
        target = products.iloc[trial.target_index]
        write_png(trial.image, render_shelf(products, trial.boxes, trial.width, trial.height, display_seed))
        write_png(trial.target_image, render_product(target, settings.cell_px, display_seed + 1))
        trials.append(trial)
        similarity = attribute_similarity(products, target, params.similarity_weights)
        for viewer, weights in viewers.items():
            objects = walk(trial, similarity, rng, weights, params)
            x, y, duration = fixations_on(trial, objects, rng, params)
            scanpaths.append(Scanpath(trial.trial, viewer, x, y, duration, objects))
    write_dataset(folder, trials, scanpaths, fixations_format=fixations_format)
    stats = behaviour_table(
        [s.objects for s in scanpaths],
        [trials[[t.trial for t in trials].index(s.trial)].target_index for s in scanpaths],
    )
    truth = {
        "generator": "guided_search_walk" if walk is guided_search_walk else getattr(walk, "__name__", "walk"),
        "seed": seed,
        "settings": {k: v for k, v in asdict(settings).items() if k != "walk"},
        "walk": asdict(params),
        "viewers": viewers,
        "behaviour": {k: float(v) for k, v in stats.mean().items()},
        "n_trials": len(trials),
        "n_scanpaths": len(scanpaths),
    }
    write_json(folder / "truth.json", truth)
    log.info(
        "simulated %d displays x %d viewers (%s) in %s: mean length %.1f, target found %.0f%%",
        len(trials),
        settings.viewers,
        ", ".join(settings.layouts),
        folder,
        truth["behaviour"]["length"],
        100 * truth["behaviour"]["target_fixation"],
    )
    return truth
