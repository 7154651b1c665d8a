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

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..core.errors import ConfigError
from ..stimuli.displays import Display, bar, crossing_lines, letter, line, search_display, shaded_disc
from ..stimuli.render import Glyph

__all__ = ["EXPERIMENTS", "Experiment", "Condition", "get_experiment", "make_trial", "make_trials",
           "CONDITIONS"]

WHITE, BLACK, GREY = (0.97, 0.97, 0.97), (0.03, 0.03, 0.03), 0.5


@dataclass(frozen=True)
class Condition:
    """One direction of an experiment: ``target`` and the ``distractors`` it is searched among."""

    name: str
    target: Callable[[], Glyph]
    distractors: Callable[[], Sequence[Glyph]]


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
        raise ConfigError("condition", f"experiment {self.name} has conditions "
                                       f"{', '.join(c.name for c in self.conditions)}; got {name!r}")


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


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("curvature", 11.3, (6, 6), 0.0, 1.6, (8, 16, 32), (
        Condition("curve_among_lines", lambda: _curve(True), lambda: [_curve(False)]),
        Condition("line_among_curves", lambda: _curve(False), lambda: [_curve(True)]))),
    Experiment("lighting", 6.6, (4, 4), GREY, 1.04, (1, 6, 12), (
        Condition("top_down", lambda: shaded_disc(90.0), lambda: [shaded_disc(270.0)]),
        Condition("left_right", lambda: shaded_disc(180.0), lambda: [shaded_disc(0.0)]))),
    Experiment("intersection", 20.5, (3, 3), 1.0, 5.5, (3, 6, 9), (
        Condition("cross_among_noncross", lambda: _cross(True), lambda: [_cross(False)]),
        Condition("noncross_among_cross", lambda: _cross(False), lambda: [_cross(True)]))),
    Experiment("t_vs_l", 20.5, (3, 3), 1.0, 5.5, (3, 6, 9), (
        Condition("t_among_l", lambda: _letter("T"), lambda: [_letter("L")]),
        Condition("l_among_t", lambda: _letter("L"), lambda: [_letter("T")]))),
    Experiment("orientation_homogeneous", 11.3, (4, 4), 1.0, 2.1, (1, 4, 8, 12), (
        Condition("target_0", lambda: _bar(0.0), lambda: [_bar(-20.0)]),
        Condition("target_minus20", lambda: _bar(-20.0), lambda: [_bar(0.0)]))),
    Experiment("orientation_heterogeneous", 11.3, (4, 4), 1.0, 2.1, (1, 4, 8, 12), (
        Condition("target_0", lambda: _bar(0.0), _hetero),
        Condition("target_minus20", lambda: _bar(-20.0), _hetero))),
)}
CONDITIONS: dict[str, tuple[str, str]] = {k: (e.conditions[0].name, e.conditions[1].name)
                                          for k, e in EXPERIMENTS.items()}


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError("experiments", f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def make_trial(experiment: str | Experiment, condition: str, set_size: int, seed: int,
               px_per_deg: float = 30.0, jitter: float = 0.5) -> Display:
    """One search display: ``set_size`` items (exactly one target) on the experiment's jittered grid.

    Returns the stimulus world's :class:`~neuromodels.stimuli.displays.Display` (image, target image, item
    boxes, grid cells); ``extra`` records the experiment and ``px_per_deg``.
    """
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    if px_per_deg <= 0:
        raise ConfigError("px_per_deg", f"must be positive, got {px_per_deg}")
    cond = exp.condition(condition)
    display = search_display(cond.target(), list(cond.distractors()), set_size, grid=exp.grid,
                             cell_px=exp.cell_px(px_per_deg), jitter=jitter,
                             item_scale=exp.item_scale(px_per_deg), seed=seed, condition=cond.name,
                             background_level=exp.background, noise=0.0)
    display.extra.update({"experiment": exp.name, "px_per_deg": float(px_per_deg)})
    return display


def make_trials(experiments: Sequence[str], n_trials: int, seed: int, px_per_deg: float = 30.0,
                jitter: float = 0.5) -> list[Display]:
    """``n_trials`` displays per experiment, condition and set size; seeds follow from ``seed`` and the
    trial's position, so the same arguments always give the same displays."""
    if n_trials < 1:
        raise ConfigError("n_trials", f"must be at least 1, got {n_trials}")
    displays = []
    for e_index, name in enumerate(experiments):
        exp = get_experiment(name)
        for c_index, cond in enumerate(exp.conditions):
            for s_index, set_size in enumerate(exp.set_sizes):
                for t in range(n_trials):
                    trial_seed = int(np.random.SeedSequence([seed, e_index, c_index, s_index, t])
                                     .generate_state(1)[0] % (2 ** 31))
                    displays.append(make_trial(exp, cond.name, set_size, trial_seed, px_per_deg, jitter))
    return displays
