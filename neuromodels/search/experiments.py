"""The six classic search asymmetry experiments, each in both directions, drawn from the stimulus world.

Geometry follows eccNET's stimuli (Gupta, Zhang & Kreiman, NeurIPS 2021) at ``px_per_deg`` pixels per degree
(the paper's 30; smaller presets scale the whole display down, keeping every size in degrees):

=========================  ========  =====  ==========  ==========  ============
experiment                 display   grid   background  item        set sizes
=========================  ========  =====  ==========  ==========  ============
curvature                  11.3 deg  6x6    black       1.6 deg     8, 16, 32
lighting                   6.6 deg   4x4    grey        1.04 deg    1, 6, 12
intersection               20.5 deg  3x3    white       5.5 deg     3, 6, 9
t_vs_l                     20.5 deg  3x3    white       5.5 deg     3, 6, 9
orientation_homogeneous    11.3 deg  4x4    white       2 deg bar   1, 4, 8, 12
orientation_heterogeneous  11.3 deg  4x4    white       2 deg bar   1, 4, 8, 12
=========================  ========  =====  ==========  ==========  ============

An item's size is the diameter of the circle that encloses it. Each experiment has two conditions, A among B
and B among A; which one humans find easier is read from the human slopes table, not from here.

Conditions (target among distractors; angles counter-clockwise, so -20 is a 20 degree clockwise tilt):

- curvature: ``curve_among_lines`` / ``line_among_curves`` (white strokes on black).
- lighting: ``top_down`` (a disc lit from above among discs lit from below) / ``left_right`` (lit from the
  left among discs lit from the right); the discs have the background's mean grey.
- intersection: ``cross_among_noncross`` / ``noncross_among_cross`` (two perpendicular 0.55 deg strokes).
- t_vs_l: ``t_among_l`` / ``l_among_t`` (upright letters of two equal strokes).
- orientation_homogeneous: ``target_0`` (vertical among -20 deg bars) / ``target_minus20`` (-20 among vertical).
- orientation_heterogeneous: ``target_0`` / ``target_minus20`` among bars drawn from -80, -60, -40, 20, 40,
  60 and 80 deg (the published stimuli's distractor angles, the same for both targets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.errors import ConfigError
from ..stimuli.displays import Display, bar, crossing_lines, letter, line, search_display, shaded_disc
from ..stimuli.render import Glyph, sd_segment

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "Condition",
    "get_experiment",
    "make_trial",
    "make_trials",
    "CONDITIONS",
    "DOG_KERNELS",
    "DEFAULT_DOG",
    "QUARTERS",
    "DARK_BACKGROUND",
]

WHITE, BLACK, GREY = (0.97, 0.97, 0.97), (0.03, 0.03, 0.03), 0.5


@dataclass(frozen=True)
class Condition:
    """One direction of an experiment: ``target`` and the ``distractors`` it is searched among; ``published``
    gives the published stimuli's (target variants, one drawn per display, and distractor variants) when they
    differ from ours."""

    name: str
    target: Callable[[], Glyph]
    distractors: Callable[[], Sequence[Glyph]]
    published: Callable[[], tuple[Sequence[Glyph], Sequence[Glyph]]] | None = None


@dataclass(frozen=True)
class Experiment:
    """Geometry of one experiment in degrees of visual angle, and its two conditions."""

    name: str
    display_deg: float
    grid: tuple[int, int]
    background: float
    item_deg: float
    set_sizes: tuple[int, ...]
    conditions: tuple[Condition, Condition]
    published_background: float | None = None

    def cell_px(self, px_per_deg: float) -> int:
        """Side of one grid cell in pixels (the display is ``grid`` cells of this side)."""
        return max(int(round(self.display_deg * px_per_deg / max(self.grid))), 4)

    def item_scale(self, px_per_deg: float) -> float:
        """Item diameter as a fraction of the cell side: the paper's, but at most 0.95 of the cell and small
        enough that an item's box (its anti-aliasing fringe included, 2 px wider) never reaches the next
        cell's; at low px/deg this shrinks the curvature items below 1.6 deg."""
        cell = self.cell_px(px_per_deg)
        return float(min(self.item_deg * px_per_deg / cell, 0.95, (cell - 4.0) / cell))

    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise ConfigError(
            "condition",
            f"experiment {self.name} has conditions {', '.join(c.name for c in self.conditions)}; got {name!r}",
        )


def _curve(curved: bool) -> Glyph:
    # the stroke spans ~0.95 of the item's diameter; curvature 1.2 / radius gives a clearly bent arc
    return line(curvature=1.2 if curved else 0.0, length=1.9, colour=WHITE)


def _letter(name: str) -> Glyph:
    return letter(name, colour=BLACK)


def _cross(crossing: bool) -> Glyph:
    return crossing_lines(crossing, colour=BLACK)


def _bar(deg: float) -> Glyph:
    # a 2 x 0.3 deg bar in an item of 2.1 deg diameter: half-length 0.95, half-width 0.15 / 1.05 radii
    return bar(deg, half_width=0.143, colour=BLACK)


# the heterogeneous distractors of the published stimuli, the same for both targets (0 and -20 deg)
HETERO = (-80.0, -60.0, -40.0, 20.0, 40.0, 60.0, 80.0)


def _hetero() -> list[Glyph]:
    return [_bar(d) for d in HETERO]


# ---------------------------------------------------------------------------- the published stimuli
# eccNET's stimuli (its generators): T, L, cross, non-cross and the curves in four orientations, each item's
# drawn at random; the non-cross keeps two T junctions; the lighting discs lie on a dark background (27/255);
# the heterogeneous distractors include the other target's angle.
QUARTERS = (0.0, 90.0, 180.0, 270.0)
DARK_BACKGROUND = 27 / 255
_HALF, _W = 0.62, 0.062  # half side of the intersection figures' square and their strokes' half-width (0.1 side)


def _intersection(crossing: bool, variant: int) -> Glyph:
    """The published cross (a full vertical stroke crossed by a full horizontal one at 0.35 of the height) or
    non-cross (the same vertical stroke with a left half-stroke at 0.35 and a right half-stroke at 0.65 of the
    height: two T junctions, no crossing), in one of its four published variants (as drawn, flipped upside
    down, transposed, transposed and mirrored)."""
    a, b = _HALF - 0.7 * _HALF, _HALF - 1.3 * _HALF  # the strokes' heights, from the top at +_HALF
    if crossing:
        segments = [((0, -_HALF), (0, _HALF)), ((-_HALF, a), (_HALF, a))]
    else:
        segments = [((0, -_HALF), (0, _HALF)), ((-_HALF, a), (0, a)), ((0, b), (_HALF, b))]

    def sdf(u, v):
        if variant == 1:
            v = -v
        elif variant == 2:
            u, v = -v, -u
        elif variant == 3:
            u, v = v, -u
        d = sd_segment(u, v, segments[0][0], segments[0][1], _W)
        for p, q in segments[1:]:
            d = np.minimum(d, sd_segment(u, v, p, q, _W))
        return d

    return Glyph(sdf, BLACK, name=("cross" if crossing else "non-cross") + f"_{variant}")


def _all_quarters(make: Callable[[float], Glyph]) -> list[Glyph]:
    return [make(q) for q in QUARTERS]


def _published_curves(target_curved: bool) -> tuple[list[Glyph], list[Glyph]]:
    def make(curved: bool) -> list[Glyph]:
        return _all_quarters(
            lambda q: line(curvature=1.2 if curved else 0.0, orientation_deg=q, length=1.9, colour=WHITE)
        )

    return make(target_curved), make(not target_curved)


def _published_letters(target: str) -> tuple[list[Glyph], list[Glyph]]:
    other = "L" if target == "T" else "T"
    return (
        _all_quarters(lambda q: letter(target, rotation_deg=q, colour=BLACK)),
        _all_quarters(lambda q: letter(other, rotation_deg=q, colour=BLACK)),
    )


def _published_intersections(target_crossing: bool) -> tuple[list[Glyph], list[Glyph]]:
    return (
        [_intersection(target_crossing, k) for k in range(4)],
        [_intersection(not target_crossing, k) for k in range(4)],
    )


def _published_hetero(target_deg: float) -> tuple[list[Glyph], list[Glyph]]:
    # -80..80 deg in 20 deg steps but the target's own angle: the other target's angle is among them
    return [_bar(target_deg)], [
        _bar(d) for d in (-80.0, -60.0, -40.0, -20.0, 0.0, 20.0, 40.0, 60.0, 80.0) if d != target_deg
    ]


def _published_discs(light_deg: float, distractor_deg: float) -> tuple[list[Glyph], list[Glyph]]:
    return [shaded_disc(light_deg, level=0.5)], [shaded_disc(distractor_deg, level=0.5)]


# eccNET's difference-of-Gaussians kernels per experiment (its data_utils: ((size, sigma) narrow, (size, sigma)
# wide) in its map pixels, OpenCV's sigma 0 = the window's own): orientation and curvature, intersection (both
# of its experiments), lighting
DOG_KERNELS: dict[str, tuple[tuple[int, float], tuple[int, float]]] = {
    "curvature": ((3, 1.0), (5, 3.0)),
    "lighting": ((3, 0.0), (5, 1.0)),
    "intersection": ((5, 3.0), (7, 5.0)),
    "t_vs_l": ((5, 3.0), (7, 5.0)),
    "orientation_homogeneous": ((3, 1.0), (5, 3.0)),
    "orientation_heterogeneous": ((3, 1.0), (5, 3.0)),
}
DEFAULT_DOG = DOG_KERNELS["curvature"]


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "curvature",
            11.3,
            (6, 6),
            0.0,
            1.6,
            (8, 16, 32),
            (
                Condition(
                    "curve_among_lines", lambda: _curve(True), lambda: [_curve(False)], lambda: _published_curves(True)
                ),
                Condition(
                    "line_among_curves", lambda: _curve(False), lambda: [_curve(True)], lambda: _published_curves(False)
                ),
            ),
        ),
        Experiment(
            "lighting",
            6.6,
            (4, 4),
            GREY,
            1.04,
            (1, 6, 12),
            (
                Condition(
                    "top_down",
                    lambda: shaded_disc(90.0),
                    lambda: [shaded_disc(270.0)],
                    lambda: _published_discs(90.0, 270.0),
                ),
                Condition(
                    "left_right",
                    lambda: shaded_disc(180.0),
                    lambda: [shaded_disc(0.0)],
                    lambda: _published_discs(180.0, 0.0),
                ),
            ),
            published_background=DARK_BACKGROUND,
        ),
        Experiment(
            "intersection",
            20.5,
            (3, 3),
            1.0,
            5.5,
            (3, 6, 9),
            (
                Condition(
                    "cross_among_noncross",
                    lambda: _cross(True),
                    lambda: [_cross(False)],
                    lambda: _published_intersections(True),
                ),
                Condition(
                    "noncross_among_cross",
                    lambda: _cross(False),
                    lambda: [_cross(True)],
                    lambda: _published_intersections(False),
                ),
            ),
        ),
        Experiment(
            "t_vs_l",
            20.5,
            (3, 3),
            1.0,
            5.5,
            (3, 6, 9),
            (
                Condition("t_among_l", lambda: _letter("T"), lambda: [_letter("L")], lambda: _published_letters("T")),
                Condition("l_among_t", lambda: _letter("L"), lambda: [_letter("T")], lambda: _published_letters("L")),
            ),
        ),
        Experiment(
            "orientation_homogeneous",
            11.3,
            (4, 4),
            1.0,
            2.1,
            (1, 4, 8, 12),
            (
                Condition("target_0", lambda: _bar(0.0), lambda: [_bar(-20.0)]),
                Condition("target_minus20", lambda: _bar(-20.0), lambda: [_bar(0.0)]),
            ),
        ),
        Experiment(
            "orientation_heterogeneous",
            11.3,
            (4, 4),
            1.0,
            2.1,
            (1, 4, 8, 12),
            (
                Condition("target_0", lambda: _bar(0.0), _hetero, lambda: _published_hetero(0.0)),
                Condition("target_minus20", lambda: _bar(-20.0), _hetero, lambda: _published_hetero(-20.0)),
            ),
        ),
    )
}
CONDITIONS: dict[str, tuple[str, str]] = {
    k: (e.conditions[0].name, e.conditions[1].name) for k, e in EXPERIMENTS.items()
}


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError("experiments", f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def make_trial(
    experiment: str | Experiment,
    condition: str,
    set_size: int,
    seed: int,
    px_per_deg: float = 30.0,
    jitter: float = 0.5,
    published: bool = False,
) -> Display:
    """One search display: ``set_size`` items (exactly one target) on the experiment's jittered grid.

    ``published``: the published stimuli (module docstring): T, L, cross, non-cross and curves in four
    orientations (each item's drawn, the target image shows the display's target), the non-cross with its
    junctions, the lighting discs on the dark background, heterogeneous distractors with the other target's
    angle. Returns the stimulus world's :class:`~neuromodels.stimuli.displays.Display` (image, target image,
    item boxes, grid cells); ``extra`` records the experiment and ``px_per_deg``.
    """
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    if px_per_deg <= 0:
        raise ConfigError("px_per_deg", f"must be positive, got {px_per_deg}")
    cond = exp.condition(condition)
    target, distractors, background = cond.target(), list(cond.distractors()), exp.background
    if published:
        if cond.published is not None:
            variants, distractors = cond.published()
            target = variants[int(np.random.default_rng([seed, 7]).integers(len(variants)))]
        if exp.published_background is not None:
            background = exp.published_background
    display = search_display(
        target,
        list(distractors),
        set_size,
        grid=exp.grid,
        cell_px=exp.cell_px(px_per_deg),
        jitter=jitter,
        item_scale=exp.item_scale(px_per_deg),
        seed=seed,
        condition=cond.name,
        background_level=background,
        noise=0.0,
    )
    display.extra.update({"experiment": exp.name, "px_per_deg": float(px_per_deg)})
    return display


def make_trials(
    experiments: Sequence[str],
    n_trials: int,
    seed: int,
    px_per_deg: float = 30.0,
    jitter: float = 0.5,
    published: bool = False,
    n_trials_by_experiment: dict[str, int] | None = None,
) -> list[Display]:
    """``n_trials`` displays per experiment, condition and set size (``n_trials_by_experiment`` overrides it
    per experiment, e.g. the published 36 for the intersection experiments); seeds follow from ``seed`` and
    the trial's position, so the same arguments always give the same displays. ``published``: see
    :func:`make_trial`."""
    counts = dict(n_trials_by_experiment or {})
    for name, n in [("n_trials", n_trials), *counts.items()]:
        if int(n) < 1:
            raise ConfigError("n_trials", f"must be at least 1, got {n} ({name})")
    displays = []
    for e_index, name in enumerate(experiments):
        exp = get_experiment(name)
        for c_index, cond in enumerate(exp.conditions):
            for s_index, set_size in enumerate(exp.set_sizes):
                for t in range(int(counts.get(name, n_trials))):
                    trial_seed = int(
                        np.random.SeedSequence([seed, e_index, c_index, s_index, t]).generate_state(1)[0] % (2**31)
                    )
                    displays.append(make_trial(exp, cond.name, set_size, trial_seed, px_per_deg, jitter, published))
    return displays
