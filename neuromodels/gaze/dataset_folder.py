"""A scanpath data set folder: its format, the readers with validation (:func:`read_displays`,
:func:`read_fixations`, :func:`read_dataset`) and the writer (:func:`write_dataset`).

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

Fixations without an ``object`` column map to objects by :func:`~neuromodels.gaze.scanpaths.map_fixations`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..core.io import PathLike, atomic_path
from ..core.runtime import get_logger
from .scanpaths import NO_OBJECT, Scanpath, ScanpathDataset, Trial, map_fixations

__all__ = [
    "read_displays",
    "read_fixations",
    "read_dataset",
    "write_dataset",
    "DISPLAYS",
    "FIXATIONS_JSONL",
    "FIXATIONS_CSV",
    "CSV_COLUMNS",
    "JSON_KEYS",
    "DISPLAY_KEYS",
]

log = get_logger(__name__)

DISPLAYS = "displays.jsonl"
FIXATIONS_JSONL = "fixations.jsonl"
FIXATIONS_CSV = "fixations.csv"
CSV_COLUMNS = ("trial", "viewer", "fixation", "x", "y", "duration")
JSON_KEYS = ("trial", "viewer", "x", "y", "duration")
DISPLAY_KEYS = ("trial", "image", "width", "height", "objects")


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
