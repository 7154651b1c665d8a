"""COCO-Search18's fixation JSON files read as published (:func:`read_coco_search18`): each display's grid of
cells plus the target's box, target-absent displays, the data set's own train / valid / test split, off-screen
fixations clipped to the screen's edge."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, DataError
from ..core.io import PathLike
from ..core.runtime import get_logger
from .dataset_folder import _floats, _make_scanpath
from .scanpaths import Scanpath, ScanpathDataset, Trial

__all__ = ["read_coco_search18", "COCO_KEYS", "DATA_SPLITS"]

log = get_logger(__name__)
COCO_KEYS = ("name", "subject", "task", "X", "Y", "T")
# the data set's own split names, as the records' ``split`` field spells them
DATA_SPLITS = {"train": "train", "valid": "val", "validation": "val", "val": "val", "test": "test"}


def read_coco_search18(
    path: PathLike | Sequence[PathLike],
    image_root: PathLike,
    grid: tuple[int, int] = (6, 10),
    image_size: tuple[int, int] | None = None,
    margin: float = 0.02,
) -> ScanpathDataset:
    """Read COCO-Search18's fixation JSON files as published (one file or several, e.g. the target-present and
    target-absent files of every split): lists of records with name, subject, task, condition, bbox [x, y, w,
    h], X, Y, T in ms, length, split.

    On a target-present display the target is its own object, ``target``, with the record's ``bbox`` (cut to the
    image) as its box; the other objects are the cells of a ``grid`` (rows, cols) over each image (ids
    ``r{row}c{col}``), and the target's row and col are those of the cell holding its centre. A fixation inside
    the bbox maps to the target (the smallest box holding it). A target-absent record (condition ``absent`` or
    no bbox) is read as a display of grid cells with no target (trial id ``{task}/{name}@absent``): scored like
    the others, with nothing to stop on. A trial is one (task, image, condition); a viewer is a subject. The
    record's ``split`` (train, valid, test) is kept as the trial's ``data_split``, which the held-out-trials
    split honours. Images are found as ``image_root/task/name`` or ``image_root/name``; ``image_size`` (width,
    height) skips opening them for their size (COCO-Search18: 1680 x 1050). Fixations outside the screen (the
    maintainers keep a few on purpose) are clipped to its edge and counted in ``notes``
    (``fixations_off_screen_clipped``); target-absent scanpaths are counted too (``target_absent_scanpaths``).
    Everything else is validated as for our own format.
    """
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise ConfigError("gaze.coco_fixations", "names no file")
    root = Path(image_root)
    rows_n, cols_n = grid
    if rows_n < 1 or cols_n < 1:
        raise ConfigError("gaze.coco_grid", f"must be positive, got {grid}")
    trials: dict[str, Trial] = {}
    notes: Counter = Counter()
    scanpaths: list[Scanpath] = []
    seen: set[tuple[str, str]] = set()
    for file in paths:
        _read_coco_file(file, root, rows_n, cols_n, image_size, margin, trials, notes, scanpaths, seen)
    if not scanpaths:
        raise DataError(paths[0], "no scanpaths")
    for trial in trials.values():
        if not trial.image.is_file():
            raise DataError(trial.image, f"trial {trial.trial}: image not found")
    if notes["target_absent_scanpaths"]:
        log.info(
            "%s: %d target-absent scanpaths read (no target to stop on)", paths[0], notes["target_absent_scanpaths"]
        )
    if notes["fixations_off_screen_clipped"]:
        log.warning(
            "%s: clipped %d off-screen fixations to the screen's edge", paths[0], notes["fixations_off_screen_clipped"]
        )
    return ScanpathDataset(paths[0].parent, trials, scanpaths, dict(notes))


def _read_coco_file(
    path: Path,
    root: Path,
    rows_n: int,
    cols_n: int,
    image_size: tuple[int, int] | None,
    margin: float,
    trials: dict[str, Trial],
    notes: Counter,
    scanpaths: list[Scanpath],
    seen: set[tuple[str, str]],
) -> None:
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(records, list):
        raise DataError(path, "must be a list of fixation records")
    for k, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(path, f"record {k}: not a JSON object")
        missing = [key for key in COCO_KEYS if key not in rec]
        if missing:
            raise DataError(path, f"record {k}: missing key '{missing[0]}'")
        bbox = rec.get("bbox")
        absent = rec.get("condition", "present") == "absent" or not bbox
        data_split = str(rec.get("split") or "")
        if data_split and data_split not in DATA_SPLITS:
            raise DataError(path, f"record {k}: split {data_split!r} is none of {', '.join(DATA_SPLITS)}")
        trial_id = f"{rec['task']}/{rec['name']}" + ("@absent" if absent else "")
        if trial_id not in trials:
            image = root / str(rec["task"]) / str(rec["name"])
            if not image.is_file():
                image = root / str(rec["name"])
            if image_size is not None:
                width, height = image_size
            else:
                if not image.is_file():
                    raise DataError(image, f"trial {trial_id}: image not found")
                from PIL import Image

                with Image.open(image) as img:
                    width, height = img.size
            cw, ch = width / cols_n, height / rows_n
            r, c = np.divmod(np.arange(rows_n * cols_n), cols_n)
            boxes = np.stack([c * cw, r * ch, (c + 1) * cw, (r + 1) * ch], axis=1)
            ids = [f"r{i}c{j}" for i, j in zip(r, c)]
            target = ""
            if not absent:
                try:
                    bx, by, bw, bh = map(float, bbox)
                except (TypeError, ValueError):
                    raise DataError(path, f"record {k} ({trial_id}): bbox {bbox!r} is not [x, y, w, h]") from None
                x0, y0 = min(max(bx, 0.0), width - 1.0), min(max(by, 0.0), height - 1.0)
                x1, y1 = min(max(bx + bw, x0 + 1.0), float(width)), min(max(by + bh, y0 + 1.0), float(height))
                tr = int(np.clip((by + bh / 2) // ch, 0, rows_n - 1))
                tc = int(np.clip((bx + bw / 2) // cw, 0, cols_n - 1))
                boxes, r, c = np.vstack([boxes, [[x0, y0, x1, y1]]]), np.append(r, tr), np.append(c, tc)
                ids, target = [*ids, "target"], "target"
            trials[trial_id] = Trial(
                trial=trial_id,
                image=image,
                width=int(width),
                height=int(height),
                object_ids=ids,
                boxes=boxes,
                rows=r,
                cols=c,
                target=target,
                layout=f"coco{rows_n}x{cols_n}",
                target_label=str(rec["task"]),
                data_split=data_split,
            )
        trial = trials[trial_id]
        viewer = str(rec["subject"])
        where = f"trial {trial_id}, viewer {viewer}"
        if trial.data_split != data_split:
            raise DataError(
                path,
                f"record {k} ({where}): split {data_split!r}, but the trial's other records say {trial.data_split!r}",
            )
        if (trial_id, viewer) in seen:
            raise DataError(path, f"{where}: listed twice")
        seen.add((trial_id, viewer))
        x, y = _floats(rec["X"], path, where, "X"), _floats(rec["Y"], path, where, "Y")
        if len(x) == len(y):  # off-screen fixations (kept in the published files) clipped to the edge, counted
            off = np.isfinite(x) & np.isfinite(y) & ((x < 0) | (x >= trial.width) | (y < 0) | (y >= trial.height))
            if off.any():
                notes["fixations_off_screen_clipped"] += int(off.sum())
                x = np.where(off, np.clip(x, 0, trial.width - 1e-3), x)
                y = np.where(off, np.clip(y, 0, trial.height - 1e-3), y)
        notes["target_absent_scanpaths"] += int(absent)
        scanpaths.append(
            _make_scanpath(
                path, trials, trial_id, viewer, x, y, _floats(rec["T"], path, where, "T") / 1000.0, None, margin, notes
            )
        )
