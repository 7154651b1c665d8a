"""Search trials on disk and the human reference slopes.

A trial set is a folder::

    images/trial_00000.png           the search display (RGB)
    images/trial_00000_target.png    the target alone, centred
    trials.csv                       one row per trial (written last)

``trials.csv`` columns: ``trial_id``, ``experiment``, ``condition``, ``set_size``, ``image``,
``target_image`` (paths relative to the folder), ``px_per_deg``, ``target_index`` (row of the target in
``item_boxes``), ``target_x0, target_y0, target_x1, target_y1`` (pixels, x1/y1 exclusive), ``item_boxes``
(JSON list of ``[x0, y0, x1, y1]``, one per item, target included), ``grid`` (``"rows x cols"``, or empty for
displays without a grid) and ``seed``. Bring your own stimuli by writing this table next to your PNGs: every
display of one experiment must have the same size.

The human slopes table (``human_slopes.csv``, shipped with the package) has one row per experiment and
condition: ``experiment``, ``condition``, ``slope_ms_per_item``, ``source``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike, write_table
from ..stimuli.displays import Display
from ..stimuli.io import read_png, write_png

__all__ = ["TRIALS_TABLE", "TrialSet", "write_trials", "read_trials", "read_human_slopes", "HUMAN_SLOPES"]

TRIALS_TABLE = "trials.csv"
HUMAN_SLOPES = "human_slopes.csv"
TRIAL_COLUMNS = (
    "trial_id",
    "experiment",
    "condition",
    "set_size",
    "image",
    "target_image",
    "px_per_deg",
    "target_index",
    "target_x0",
    "target_y0",
    "target_x1",
    "target_y1",
    "item_boxes",
)


def write_trials(directory: PathLike, displays: Sequence[Display]) -> Path:
    """Write the displays (from :func:`~.experiments.make_trials`) as PNGs and ``trials.csv`` (last)."""
    directory = Path(directory)
    rows = []
    for i, d in enumerate(displays):
        name = f"images/trial_{i:05d}"
        write_png(directory / f"{name}.png", d.image)
        write_png(directory / f"{name}_target.png", d.target_image)
        box = d.target_box
        rows.append(
            {
                "trial_id": i,
                "experiment": d.extra.get("experiment", ""),
                "condition": d.condition,
                "set_size": d.set_size,
                "image": f"{name}.png",
                "target_image": f"{name}_target.png",
                "px_per_deg": d.extra.get("px_per_deg", float("nan")),
                "target_index": d.target_index,
                "target_x0": int(box[0]),
                "target_y0": int(box[1]),
                "target_x1": int(box[2]),
                "target_y1": int(box[3]),
                "item_boxes": json.dumps(d.boxes.tolist()),
                "grid": f"{d.grid[0]}x{d.grid[1]}",
                "seed": d.seed,
            }
        )
    return write_table(directory / TRIALS_TABLE, pd.DataFrame(rows))


@dataclass
class TrialSet:
    """A trial table and where its images are; images are read on demand."""

    root: Path
    table: pd.DataFrame
    boxes: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.table)

    def image(self, i: int) -> np.ndarray:
        return read_png(self.root / self.table["image"].iloc[i])

    def target_image(self, i: int) -> np.ndarray:
        return read_png(self.root / self.table["target_image"].iloc[i])


def read_trials(directory: PathLike) -> TrialSet:
    """Read and check a trial set (see the module docstring); problems name the file and the row."""
    root = Path(directory)
    path = root / TRIALS_TABLE if root.is_dir() or not root.suffix else root
    root = path.parent
    require(path.is_file(), path, "trial table not found")
    try:
        table = pd.read_csv(path, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in TRIAL_COLUMNS if c not in table]
    require(not missing, path, f"missing columns {missing}")
    require(len(table) > 0, path, "no trials")
    boxes = []
    for i, row in table.iterrows():
        where = f"row {i} (trial {row['trial_id']})"
        try:
            b = np.asarray(json.loads(row["item_boxes"]), dtype=np.int64)
        except (json.JSONDecodeError, TypeError, ValueError):
            raise DataError(path, f"{where}: item_boxes is not a JSON list of [x0, y0, x1, y1]") from None
        require(
            b.ndim == 2 and b.shape[1] == 4 and len(b) >= 1,
            path,
            f"{where}: item_boxes must be a list of [x0, y0, x1, y1]",
        )
        require(int(row["set_size"]) == len(b), path, f"{where}: set_size {row['set_size']} but {len(b)} item boxes")
        t = int(row["target_index"])
        require(0 <= t < len(b), path, f"{where}: target_index {t} outside the {len(b)} items")
        target = [int(row[k]) for k in ("target_x0", "target_y0", "target_x1", "target_y1")]
        require(b[t].tolist() == target, path, f"{where}: the target box is not item {t}'s box")
        require(
            bool((b[:, :2] < b[:, 2:]).all() and (b >= 0).all()),
            path,
            f"{where}: boxes need x0 < x1, y0 < y1 and non-negative coordinates",
        )
        boxes.append(b)
    for column in ("image", "target_image"):
        absent = [str(p) for p in table[column] if not (root / p).is_file()]
        require(not absent, path, f"{len(absent)} {column} files not found (first: {absent[:1]})")
    return TrialSet(root=root, table=table.reset_index(drop=True), boxes=boxes)


def read_human_slopes(path: PathLike | None = None) -> pd.DataFrame:
    """The human RT slopes (ms/item) per experiment and condition; default the table shipped here."""
    if path is None:
        path = Path(str(resources.files(__package__) / HUMAN_SLOPES))
    path = Path(path)
    require(path.is_file(), path, "human slopes table not found")
    try:
        table = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in ("experiment", "condition", "slope_ms_per_item", "source") if c not in table]
    require(not missing, path, f"missing columns {missing}")
    slopes = pd.to_numeric(table["slope_ms_per_item"], errors="coerce")
    require(bool(slopes.notna().all()), path, "slope_ms_per_item must be numbers")
    require(not table.duplicated(["experiment", "condition"]).any(), path, "one row per experiment and condition")
    counts = table.groupby("experiment").size()
    require(
        bool((counts == 2).all()),
        path,
        f"each experiment needs its two conditions; {', '.join(counts[counts != 2].index)} do not",
    )
    table["slope_ms_per_item"] = slopes.astype(float)
    return table
