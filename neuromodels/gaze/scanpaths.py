"""Scanpath data in memory: a display with its target (:class:`Trial`), one viewer's fixations on it
(:class:`Scanpath`), a data set of both (:class:`ScanpathDataset`), and the mapping of fixations to objects
(:func:`map_fixations`).

A fixation maps to the object whose box contains it, else to the object with the nearest box centre within
``margin`` (a fraction of the image diagonal), else to no object (index -1, counted in ``notes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Trial", "Scanpath", "ScanpathDataset", "map_fixations", "NO_OBJECT"]

NO_OBJECT = -1


@dataclass
class Trial:
    """One display with its target.

    ``boxes`` float (n, 4) ``x0, y0, x1, y1`` in pixels; ``rows``/``cols`` int (n,) shelf cells;
    ``target`` the target's object id ("" on a target-absent display: no target to stop on, ``target_index``
    -1); ``target_label`` what counts as "the same target" across trials for the held-out-targets split (the
    product id here, the task in COCO-Search18); ``data_split`` the data set's own split of the trial (train,
    valid or test; "" when it has none).
    """

    trial: str
    image: Path
    width: int
    height: int
    object_ids: list[str]
    boxes: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    target: str
    layout: str = ""
    target_image: Path | None = None
    target_label: str = ""
    data_split: str = ""

    @property
    def n_objects(self) -> int:
        return len(self.object_ids)

    @property
    def target_present(self) -> bool:
        return self.target != ""

    @property
    def target_index(self) -> int:
        """The target's object index; -1 on a target-absent display."""
        return self.object_ids.index(self.target) if self.target_present else NO_OBJECT

    @property
    def centres(self) -> np.ndarray:
        """(n, 2) box centres ``x, y`` in pixels."""
        return np.stack([self.boxes[:, [0, 2]].mean(1), self.boxes[:, [1, 3]].mean(1)], axis=1)

    def to_json(self, root: Path) -> dict[str, Any]:
        def rel(p: Path | None) -> str | None:
            if p is None:
                return None
            try:
                return str(Path(p).relative_to(root))
            except ValueError:
                return str(p)

        return {
            "trial": self.trial,
            "image": rel(self.image),
            "width": int(self.width),
            "height": int(self.height),
            "layout": self.layout,
            "target": self.target,
            "target_label": self.target_label,
            "target_image": rel(self.target_image),
            "objects": [
                {"id": oid, "box": [float(v) for v in box], "row": int(r), "col": int(c)}
                for oid, box, r, c in zip(self.object_ids, self.boxes, self.rows, self.cols)
            ],
        }


@dataclass
class Scanpath:
    """One viewer's fixations on one trial: ``x``, ``y`` in pixels, ``duration`` in seconds, ``objects`` the
    fixated object's index in its trial (-1: no object)."""

    trial: str
    viewer: str
    x: np.ndarray
    y: np.ndarray
    duration: np.ndarray
    objects: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def object_sequence(self) -> np.ndarray:
        """The fixated objects in order, fixations on no object left out."""
        return self.objects[self.objects >= 0]


@dataclass
class ScanpathDataset:
    """Trials by id, the scanpaths on them, and counts of what reading replaced or dropped (``notes``)."""

    root: Path
    trials: dict[str, Trial]
    scanpaths: list[Scanpath]
    notes: dict[str, int] = field(default_factory=dict)

    def scanpaths_of(self, trial_ids: Iterable[str]) -> list[Scanpath]:
        wanted = set(trial_ids)
        return [s for s in self.scanpaths if s.trial in wanted]

    @property
    def layouts(self) -> list[str]:
        return sorted({t.layout for t in self.trials.values()})

    @property
    def viewers(self) -> list[str]:
        return sorted({s.viewer for s in self.scanpaths})


# ---------------------------------------------------------------------------------------- mapping
def map_fixations(trial: Trial, x: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    """Object index of each fixation: the box holding it (the smallest if several), else the nearest box
    centre within ``margin`` x the image diagonal, else -1."""
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[:, None]
    b = trial.boxes[None]
    inside = (x >= b[..., 0]) & (x < b[..., 2]) & (y >= b[..., 1]) & (y < b[..., 3])
    area = (trial.boxes[:, 2] - trial.boxes[:, 0]) * (trial.boxes[:, 3] - trial.boxes[:, 1])
    c = trial.centres[None]
    dist = np.hypot(x - c[..., 0], y - c[..., 1])
    out = np.full(len(x), NO_OBJECT, dtype=np.int64)
    has = inside.any(1)
    if has.any():
        out[has] = np.where(inside[has], area[None], np.inf).argmin(1)
    limit = margin * float(np.hypot(trial.width, trial.height))
    near = ~has & (dist.min(1) <= limit)
    out[near] = dist[near].argmin(1)
    return out
