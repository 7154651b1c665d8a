"""Scanpath data sets: the data set a run uses (:func:`load_data`, held here), and the rest re-exported from
the modules that hold it:

* :mod:`.scanpaths`: the data in memory (:class:`Trial`, :class:`Scanpath`, :class:`ScanpathDataset`) and the
  mapping of fixations to objects (:func:`map_fixations`).
* :mod:`.dataset_folder`: the folder format (described there), its readers with validation
  (:func:`read_displays`, :func:`read_fixations`, :func:`read_dataset`) and the writer (:func:`write_dataset`).
* :mod:`.coco_search18`: COCO-Search18's fixation JSON read as published (:func:`read_coco_search18`).
* :mod:`.splits`: the ways test trials are held out (:func:`split_trials`, :class:`SplitUnavailable`).
* :mod:`.crops`: the crops of a display's objects and its target (:func:`object_crops`).
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigError
from ..core.io import PathLike
from .coco_search18 import COCO_KEYS, DATA_SPLITS, read_coco_search18
from .crops import object_crops
from .dataset_folder import (
    CSV_COLUMNS,
    DISPLAY_KEYS,
    DISPLAYS,
    FIXATIONS_CSV,
    FIXATIONS_JSONL,
    JSON_KEYS,
    read_dataset,
    read_displays,
    read_fixations,
    write_dataset,
)
from .scanpaths import NO_OBJECT, Scanpath, ScanpathDataset, Trial, map_fixations
from .splits import SplitUnavailable, split_trials

__all__ = [
    "Trial",
    "Scanpath",
    "ScanpathDataset",
    "read_dataset",
    "write_dataset",
    "read_coco_search18",
    "map_fixations",
    "split_trials",
    "SplitUnavailable",
    "object_crops",
    "DISPLAYS",
    "FIXATIONS_JSONL",
    "FIXATIONS_CSV",
    # also public here before the split
    "load_data",
    "read_displays",
    "read_fixations",
    "CSV_COLUMNS",
    "JSON_KEYS",
    "DISPLAY_KEYS",
    "NO_OBJECT",
    "COCO_KEYS",
    "DATA_SPLITS",
]


def load_data(folder: PathLike | None, params: dict[str, Any]) -> ScanpathDataset:
    """The data set a run uses: COCO-Search18 when ``coco_fixations`` is set, else the folder (ours or the
    simulator's)."""
    if params.get("coco_fixations"):
        if not params.get("coco_images"):
            raise ConfigError("gaze.coco_images", "needed with gaze.coco_fixations")
        return read_coco_search18(
            params["coco_fixations"],
            params["coco_images"],  # one file or a list
            tuple(params.get("coco_grid", (6, 10))),
            margin=params.get("mapping_margin", 0.02),
        )
    if folder is None:
        raise ConfigError("--data", "a scanpath data set folder is needed")
    return read_dataset(folder, margin=params.get("mapping_margin", 0.02))
