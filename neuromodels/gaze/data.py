"""Scanpath data sets on disk: readers with validation, the writer, COCO-Search18's fixation JSON, splits, crops.

A data set is a folder::

    displays.jsonl        one display (trial) per line: trial, image, width, height, layout, target,
                          target_image (optional), objects = [{id, box: [x0, y0, x1, y1], row, col}, ...]
    fixations.jsonl       one scanpath per line: trial, viewer, x: [...], y: [...], duration: [...] (seconds),
                          object: [...] (optional; object ids, "" = no object)
      or fixations.csv    one fixation per row: trial, viewer, fixation (order), x, y, duration, object (optional)
    images/               the display images (and the targets shown alone), PNG
    truth.json            (simulated data only) the generator's parameters and behaviour statistics

Pixels: ``x`` from the left, ``y`` from the top, boxes ``x0, y0, x1, y1`` with ``x1, y1`` exclusive. Object ids
and trial ids are strings, read as they are. ``row``/``col`` are the object's shelf cell; displays without a
grid get them from the box centres (``grid_bins`` bins over the image).

A fixation maps to the object whose box contains it, else to the object with the nearest box centre within
``margin`` (a fraction of the image diagonal), else to no object (index -1, counted in ``notes``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..core.io import PathLike, atomic_path
from ..core.runtime import get_logger

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
]

log = get_logger(__name__)

DISPLAYS = "displays.jsonl"
FIXATIONS_JSONL = "fixations.jsonl"
FIXATIONS_CSV = "fixations.csv"
CSV_COLUMNS = ("trial", "viewer", "fixation", "x", "y", "duration")
JSON_KEYS = ("trial", "viewer", "x", "y", "duration")
DISPLAY_KEYS = ("trial", "image", "width", "height", "objects")
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


# ---------------------------------------------------------------------------------------- displays
def _grid_from_centres(boxes: np.ndarray, width: int, height: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    cx, cy = boxes[:, [0, 2]].mean(1), boxes[:, [1, 3]].mean(1)
    cols = np.clip((cx / width * bins).astype(int), 0, bins - 1)
    rows = np.clip((cy / height * bins).astype(int), 0, bins - 1)
    return rows, cols


def _parse_display(entry: Any, path: Path, line: int, root: Path, grid_bins: int) -> Trial:
    where = f"line {line}"
    if not isinstance(entry, dict):
        raise DataError(path, f"{where}: not a JSON object")
    missing = [k for k in DISPLAY_KEYS if k not in entry]
    if missing:
        raise DataError(path, f"{where}: missing key '{missing[0]}'")
    trial = str(entry["trial"])
    where = f"trial {trial}"
    target = entry.get("target")
    if target is None or str(target) == "":
        raise DataError(path, f"{where}: no target")
    try:
        width, height = int(entry["width"]), int(entry["height"])
    except (TypeError, ValueError):
        raise DataError(path, f"{where}: width and height must be integers") from None
    if width <= 0 or height <= 0:
        raise DataError(path, f"{where}: image size {width}x{height} must be positive")
    objects = entry["objects"]
    if not isinstance(objects, list) or not objects:
        raise DataError(path, f"{where}: no objects")
    ids, boxes, rows, cols = [], [], [], []
    for k, obj in enumerate(objects):
        if not isinstance(obj, dict) or "id" not in obj or "box" not in obj:
            raise DataError(path, f"{where}: object {k} needs 'id' and 'box'")
        box = obj["box"]
        if not (isinstance(box, list) and len(box) == 4):
            raise DataError(path, f"{where}: object {obj['id']}: box must be [x0, y0, x1, y1]")
        x0, y0, x1, y1 = map(float, box)
        if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise DataError(
                path, f"{where}: object {obj['id']}: box {box} is empty or outside the {width}x{height} image"
            )
        ids.append(str(obj["id"]))
        boxes.append((x0, y0, x1, y1))
        rows.append(obj.get("row"))
        cols.append(obj.get("col"))
    dup = [k for k, n in Counter(ids).items() if n > 1]
    if dup:
        raise DataError(path, f"{where}: object id {dup[0]!r} appears twice")
    target = str(target)
    if target not in ids:
        raise DataError(path, f"{where}: target {target!r} is not one of its objects")
    boxes_arr = np.asarray(boxes, dtype=float)
    if any(r is None for r in rows) or any(c is None for c in cols):
        rows_arr, cols_arr = _grid_from_centres(boxes_arr, width, height, grid_bins)
    else:
        rows_arr, cols_arr = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        if (rows_arr < 0).any() or (cols_arr < 0).any():
            raise DataError(path, f"{where}: negative row or col")
    image = root / str(entry["image"])
    target_image = entry.get("target_image")
    return Trial(
        trial=trial,
        image=image,
        width=width,
        height=height,
        object_ids=ids,
        boxes=boxes_arr,
        rows=rows_arr,
        cols=cols_arr,
        target=target,
        layout=str(entry.get("layout") or ""),
        target_image=(root / str(target_image)) if target_image else None,
        target_label=str(entry.get("target_label") or target),
    )


def _json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of each non-blank line of a JSON lines file; a line that is not JSON is
    refused with its number."""
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"line {line_no}: not valid JSON ({exc.msg})") from None


def read_displays(path: PathLike, grid_bins: int = 8) -> dict[str, Trial]:
    """Read ``displays.jsonl`` (see the module docstring); image paths are relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    trials: dict[str, Trial] = {}
    for line_no, entry in _json_lines(path):
        trial = _parse_display(entry, path, line_no, path.parent, grid_bins)
        if trial.trial in trials:
            raise DataError(path, f"trial {trial.trial}: listed twice")
        trials[trial.trial] = trial
    if not trials:
        raise DataError(path, "no displays")
    return trials


# ---------------------------------------------------------------------------------------- fixations
def _check_scanpath(
    path: Path,
    trial: Trial | None,
    trial_id: str,
    viewer: str,
    x: np.ndarray,
    y: np.ndarray,
    duration: np.ndarray,
    objects: Sequence[Any] | None,
) -> None:
    where = f"trial {trial_id}, viewer {viewer}"
    if trial is None:
        raise DataError(path, f"{where}: unknown trial (not in {DISPLAYS})")
    if not (len(x) == len(y) == len(duration)) or (objects is not None and len(objects) != len(x)):
        raise DataError(path, f"{where}: x, y, duration (and object) differ in length")
    if len(x) == 0:
        raise DataError(path, f"{where}: no fixations")
    for name, values in (("x", x), ("y", y), ("duration", duration)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise DataError(path, f"{where}, fixation {int(np.argmax(bad))}: {name} is not a finite number")
    outside = (x < 0) | (x >= trial.width) | (y < 0) | (y >= trial.height)
    if outside.any():
        i = int(np.argmax(outside))
        raise DataError(
            path, f"{where}, fixation {i}: ({x[i]:g}, {y[i]:g}) is outside the {trial.width}x{trial.height} image"
        )
    nonpos = duration <= 0
    if nonpos.any():
        i = int(np.argmax(nonpos))
        raise DataError(path, f"{where}, fixation {i}: duration {duration[i]:g} s must be > 0")
    if objects is not None:
        known = set(trial.object_ids)
        for i, oid in enumerate(objects):
            if oid is not None and str(oid) != "" and str(oid) not in known:
                raise DataError(path, f"{where}, fixation {i}: unknown object {str(oid)!r}")


def _floats(values: Any, path: Path, where: str, name: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(path, f"{where}: {name} must be numbers") from None


def _make_scanpath(
    path: Path,
    trials: dict[str, Trial],
    trial_id: str,
    viewer: str,
    x: np.ndarray,
    y: np.ndarray,
    duration: np.ndarray,
    objects: Sequence[Any] | None,
    margin: float,
    notes: Counter,
) -> Scanpath:
    trial = trials.get(trial_id)
    _check_scanpath(path, trial, trial_id, viewer, x, y, duration, objects)
    assert trial is not None
    if objects is not None:
        index = {oid: k for k, oid in enumerate(trial.object_ids)}
        obj = np.array([index.get(str(o), NO_OBJECT) if o is not None else NO_OBJECT for o in objects], dtype=np.int64)
    else:
        obj = map_fixations(trial, x, y, margin)
    notes["fixations"] += len(obj)
    notes["fixations_on_no_object"] += int((obj < 0).sum())
    return Scanpath(trial_id, viewer, x, y, duration, obj)


def read_fixations(
    path: PathLike, trials: dict[str, Trial], margin: float = 0.02, notes: Counter | None = None
) -> list[Scanpath]:
    """Read ``fixations.jsonl`` or ``fixations.csv`` (by suffix), validated against ``trials``."""
    path = Path(path)
    notes = Counter() if notes is None else notes
    if not path.is_file():
        raise DataError(path, "file not found")
    scanpaths: list[Scanpath] = []
    seen: set[tuple[str, str]] = set()
    if path.suffix == ".csv":
        try:
            table = pd.read_csv(path, dtype={"trial": str, "viewer": str, "object": str}, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(path, f"not a readable CSV ({str(exc).splitlines()[0]})") from None
        missing = [c for c in CSV_COLUMNS if c not in table.columns]
        if missing:
            raise DataError(path, f"missing column '{missing[0]}' (has: {', '.join(map(str, table.columns))})")
        for col in ("x", "y", "duration", "fixation"):
            values = pd.to_numeric(table[col], errors="coerce")
            if values.isna().any():
                row = int(np.argmax(values.isna().to_numpy()))
                raise DataError(
                    path,
                    f"trial {table['trial'].iloc[row]}, viewer {table['viewer'].iloc[row]}: "
                    f"{col} {table[col].iloc[row]!r} is not a number",
                )
            table[col] = values
        for (trial_id, viewer), group in table.groupby(["trial", "viewer"], sort=False):
            group = group.sort_values("fixation", kind="stable")
            objects = list(group["object"]) if "object" in group else None
            scanpaths.append(
                _make_scanpath(
                    path,
                    trials,
                    str(trial_id),
                    str(viewer),
                    group["x"].to_numpy(float),
                    group["y"].to_numpy(float),
                    group["duration"].to_numpy(float),
                    objects,
                    margin,
                    notes,
                )
            )
    else:
        for line_no, entry in _json_lines(path):
            if not isinstance(entry, dict):
                raise DataError(path, f"line {line_no}: not a JSON object")
            missing = [k for k in JSON_KEYS if k not in entry]
            if missing:
                who = f"trial {entry.get('trial', '?')}, viewer {entry.get('viewer', '?')}"
                raise DataError(path, f"line {line_no} ({who}): missing key '{missing[0]}'")
            trial_id, viewer = str(entry["trial"]), str(entry["viewer"])
            where = f"trial {trial_id}, viewer {viewer}"
            if (trial_id, viewer) in seen:
                raise DataError(path, f"{where}: listed twice")
            seen.add((trial_id, viewer))
            scanpaths.append(
                _make_scanpath(
                    path,
                    trials,
                    trial_id,
                    viewer,
                    _floats(entry["x"], path, where, "x"),
                    _floats(entry["y"], path, where, "y"),
                    _floats(entry["duration"], path, where, "duration"),
                    entry.get("object"),
                    margin,
                    notes,
                )
            )
    if not scanpaths:
        raise DataError(path, "no scanpaths")
    return scanpaths


def read_dataset(folder: PathLike, margin: float = 0.02, grid_bins: int = 8) -> ScanpathDataset:
    """Read a scanpath data set folder (``displays.jsonl`` and ``fixations.jsonl`` or ``fixations.csv``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    trials = read_displays(folder / DISPLAYS, grid_bins=grid_bins)
    fix = folder / FIXATIONS_JSONL
    if not fix.is_file():
        fix = folder / FIXATIONS_CSV
    if not fix.is_file():
        raise DataError(folder, f"holds neither {FIXATIONS_JSONL} nor {FIXATIONS_CSV}")
    notes: Counter = Counter()
    scanpaths = read_fixations(fix, trials, margin=margin, notes=notes)
    for trial in trials.values():
        if not trial.image.is_file():
            raise DataError(trial.image, f"trial {trial.trial}: display image not found")
    ds = ScanpathDataset(folder, trials, scanpaths, dict(notes))
    if notes["fixations_on_no_object"]:
        log.warning(
            "%s: %d of %d fixations fall on no object (left out of object sequences)",
            folder,
            notes["fixations_on_no_object"],
            notes["fixations"],
        )
    return ds


def write_dataset(
    folder: PathLike, trials: Sequence[Trial], scanpaths: Sequence[Scanpath], fixations_format: str = "jsonl"
) -> Path:
    """Write ``displays.jsonl`` and the fixations (``jsonl`` or ``csv``) atomically; images must already be
    in ``folder``. Object columns are written as ids ("" for no object)."""
    folder = Path(folder)
    with atomic_path(folder / DISPLAYS) as tmp:
        tmp.write_text("".join(json.dumps(t.to_json(folder)) + "\n" for t in trials))
    by_id = {t.trial: t for t in trials}

    def ids(s: Scanpath) -> list[str]:
        names = by_id[s.trial].object_ids
        return [names[k] if k >= 0 else "" for k in s.objects]

    if fixations_format == "csv":
        rows = [
            {
                "trial": s.trial,
                "viewer": s.viewer,
                "fixation": i,
                "x": float(s.x[i]),
                "y": float(s.y[i]),
                "duration": float(s.duration[i]),
                "object": oid,
            }
            for s in scanpaths
            for i, oid in enumerate(ids(s))
        ]
        with atomic_path(folder / FIXATIONS_CSV) as tmp:
            pd.DataFrame(rows, columns=[*CSV_COLUMNS, "object"]).to_csv(tmp, index=False)
        return folder / FIXATIONS_CSV
    if fixations_format != "jsonl":
        raise ConfigError("fixations_format", f"must be 'jsonl' or 'csv', got {fixations_format!r}")
    with atomic_path(folder / FIXATIONS_JSONL) as tmp:
        tmp.write_text(
            "".join(
                json.dumps(
                    {
                        "trial": s.trial,
                        "viewer": s.viewer,
                        "x": [round(float(v), 3) for v in s.x],
                        "y": [round(float(v), 3) for v in s.y],
                        "duration": [round(float(v), 4) for v in s.duration],
                        "object": ids(s),
                    }
                )
                + "\n"
                for s in scanpaths
            )
        )
    return folder / FIXATIONS_JSONL


# ---------------------------------------------------------------------------------------- COCO-Search18
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


# ---------------------------------------------------------------------------------------- splits
class SplitUnavailable(ConfigError):
    """A split the data cannot form (e.g. held-out layouts on data of one layout): the run skips it with a log
    line and a count in the summary's notes instead of stopping."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__("gaze.splits", f"'{kind}' cannot be formed from this data: {problem}")
        self.kind, self.reason = kind, problem


def split_trials(
    dataset: ScanpathDataset,
    kind: str,
    seed: int,
    test_fraction: float = 0.25,
    val_fraction: float = 0.1,
    heldout_layout: str = "",
) -> dict[str, Any]:
    """Trial ids of ``train``, ``val`` and ``test`` for one way of holding trials out (seeded), and ``how``.

    ``trials``: the data set's own train / valid / test when every trial has one (``data_split``, e.g.
    COCO-Search18's ``split`` field; files without test records have their valid trials tested and a validation
    share drawn from train, said in ``how``), else a random ``test_fraction`` of trials. ``layouts``: every
    trial of ``heldout_layout`` (default: the last layout by name, e.g. ``irregular``). ``targets``: the trials
    whose target label is one of a random set of labels covering about ``test_fraction`` of trials. ``val`` is
    drawn from the rest. A split the data cannot form (one layout, one target label, no test or no training
    trial) raises :class:`SplitUnavailable`.
    """
    rng = np.random.default_rng([seed, 11])
    ids = sorted(dataset.trials)
    how = f"seeded {kind} split"
    own = {t: DATA_SPLITS.get(dataset.trials[t].data_split, "") for t in ids}
    if kind == "trials" and ids and all(own.values()):
        parts = {name: [t for t in ids if own[t] == name] for name in ("train", "val", "test")}
        how = "the data set's own train / valid / test"
        if not parts["test"] and parts["val"]:
            parts["test"], parts["val"] = parts["val"], []
            how = "the data set's own split, its valid trials tested (the files hold no test records)"
        if not parts["train"] or not parts["test"]:
            raise SplitUnavailable(kind, "its own split fields give no training or no test trial")
        if not parts["val"]:
            train = list(rng.permutation(parts["train"]))
            n_val = max(1, int(round(val_fraction * len(train)))) if len(train) > 2 else 0
            parts["val"], parts["train"] = train[:n_val], train[n_val:]
            how += "; validation drawn from train"
        return {
            "train": sorted(str(t) for t in parts["train"]),
            "val": sorted(str(t) for t in parts["val"]),
            "test": sorted(str(t) for t in parts["test"]),
            "how": how,
        }
    if kind == "trials":
        order = rng.permutation(ids)
        n_test = max(1, int(round(test_fraction * len(ids))))
        test = set(order[:n_test])
    elif kind == "layouts":
        layouts = dataset.layouts
        if len(layouts) < 2:
            raise SplitUnavailable(kind, f"it needs displays of at least two layouts, got {layouts}")
        held = heldout_layout or layouts[-1]
        if held not in layouts:
            raise ConfigError("gaze.heldout_layout", f"{held!r} is not a layout of the data ({layouts})")
        test = {t for t in ids if dataset.trials[t].layout == held}
    elif kind == "targets":
        labels = sorted({dataset.trials[t].target_label for t in ids})
        if len(labels) < 2:
            raise SplitUnavailable(kind, "it needs at least two different targets")
        test = set()
        for label in rng.permutation(labels):
            if len(test) >= test_fraction * len(ids):
                break
            test |= {t for t in ids if dataset.trials[t].target_label == label}
    else:
        raise ConfigError("gaze.splits", f"unknown split {kind!r} (trials, layouts, targets)")
    rest = [t for t in ids if t not in test]
    if not rest or not test:
        raise SplitUnavailable(kind, "it leaves no training or no test trial")
    rest = list(rng.permutation(rest))
    n_val = max(1, int(round(val_fraction * len(rest)))) if len(rest) > 2 else 0
    # plain str (not numpy's), so that a model file holding the split loads without pickles
    return {
        "train": sorted(str(t) for t in rest[n_val:]),
        "val": sorted(str(t) for t in rest[:n_val]),
        "test": sorted(str(t) for t in test),
        "how": how,
    }


# ---------------------------------------------------------------------------------------- crops
def _load_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise DataError(path, "image not found") from None
    except OSError as exc:
        raise DataError(path, f"not a readable image ({exc})") from None


def _resize(patch: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.array(patch, dtype=np.float32)).permute(2, 0, 1)[None]
    out = F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return out[0].round().clamp(0, 255).to(torch.uint8).numpy()


def object_crops(trial: Trial, hw: tuple[int, int], image: np.ndarray | None = None) -> np.ndarray:
    """uint8 (n + 1, 3, h, w): each object's box cropped and resized, then the target alone (its own image
    when the trial has one, else its box; blank on a target-absent display)."""
    image = _load_image(trial.image) if image is None else image
    crops = []
    for x0, y0, x1, y1 in trial.boxes:
        xa, ya = int(np.floor(x0)), int(np.floor(y0))
        xb, yb = max(int(np.ceil(x1)), xa + 1), max(int(np.ceil(y1)), ya + 1)
        crops.append(_resize(image[ya:yb, xa:xb], hw))
    if trial.target_image is not None and trial.target_image.is_file():
        crops.append(_resize(_load_image(trial.target_image), hw))
    elif trial.target_present:
        crops.append(crops[trial.target_index])
    else:  # target absent: no target to show, a blank crop
        crops.append(np.zeros((3, *hw), dtype=np.uint8))
    return np.stack(crops)


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
