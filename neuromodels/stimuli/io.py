"""Stimulus sets and search displays on disk, written atomically and read back with validation.

A stimulus set is a folder::

    images/000000.png ...       one RGB PNG per stimulus, all the same size
    stimuli.csv                 stimulus_id, filename (relative to the folder), caption, every attribute

``stimuli.csv`` is written last, so its presence means the set is complete. Search displays are a folder
of ``{name}.png`` (the display), ``{name}_target.png`` (the target alone) and ``{name}.json`` (image size,
boxes, object ids, categories, target id, set size, condition), indexed by ``displays.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path, read_json, write_json, write_table
from .captions import caption
from .displays import Display
from .render import render_scene
from .world import CATEGORY_NAMES, COLOUR_NAMES, OBJECT_COLUMNS, SCENE_COLUMNS, TEXTURES

TABLE_NAME = "stimuli.csv"
DISPLAY_INDEX = "displays.csv"
REQUIRED_COLUMNS = ("stimulus_id", "filename", "caption", *OBJECT_COLUMNS, *SCENE_COLUMNS)


# ------------------------------------------------------------------------------------------------ PNG
def write_png(path: PathLike, image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image as PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(tmp, format="PNG")
    return path


def read_png(path: PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image as uint8 (H, W, 3) RGB; with ``size`` = (H, W) check it has that size."""
    path = Path(path)
    require(path.is_file(), path, "image file not found")
    try:
        with Image.open(path) as img:
            img.load()
            image = np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise DataError(path, f"not a readable image ({exc})") from None
    if size is not None and image.shape[:2] != tuple(size):
        raise DataError(path, f"image is {image.shape[1]}x{image.shape[0]} px, expected {size[1]}x{size[0]}")
    return image


def _png_size(path: Path) -> tuple[int, int]:
    """(H, W) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as img:
            return img.height, img.width
    except OSError as exc:
        raise DataError(path, f"not a readable image ({exc})") from None


# ------------------------------------------------------------------------------------------ stimulus set
def write_stimulus_set(
    directory: PathLike, table: pd.DataFrame, size: int = 64, images: np.ndarray | None = None
) -> Path:
    """Render (unless ``images`` are given) and write a stimulus set; return the path of ``stimuli.csv``.

    Parameters
    ----------
    directory : output folder (created).
    table : scenes of :func:`~.world.sample_scenes` (or any table with the attribute columns).
    size : image side in pixels when rendering.
    images : optional uint8 (n, H, W, 3) images in table order, written instead of rendering.
    """
    directory = Path(directory)
    require(table["stimulus_id"].is_unique, None, "stimulus_id values must be unique")
    require(
        images is None or len(images) == len(table),
        None,
        f"{0 if images is None else len(images)} images for {len(table)} stimuli",
    )
    out = table.copy()
    out["filename"] = [f"images/{int(i):06d}.png" for i in out["stimulus_id"]]
    if "caption" not in out:
        out["caption"] = [caption(row) for _, row in out.iterrows()]
    for i, (_, row) in enumerate(out.iterrows()):
        write_png(directory / row["filename"], render_scene(row, size) if images is None else images[i])
    first = ["stimulus_id", "filename", "caption"]
    out = out[first + [c for c in out.columns if c not in first]]
    return write_table(directory / TABLE_NAME, out)  # last: its presence marks a complete set


@dataclass
class StimulusSet:
    """A stimulus set read from disk: the table (one row per stimulus) and a lazy image loader.

    Attributes
    ----------
    root : the folder.
    table : ``stimulus_id``, ``filename``, ``caption`` and the attributes, in file order.
    image_shape : (H, W) that every image has.
    """

    root: Path
    table: pd.DataFrame
    image_shape: tuple[int, int]

    def __len__(self) -> int:
        return len(self.table)

    @property
    def stimulus_ids(self) -> np.ndarray:
        return self.table["stimulus_id"].to_numpy()

    def path(self, stimulus_id: int) -> Path:
        rows = self.table.index[self.table["stimulus_id"] == stimulus_id]
        require(len(rows) == 1, self.root / TABLE_NAME, f"no stimulus_id {stimulus_id}")
        return self.root / self.table.at[rows[0], "filename"]

    def images(self, ids: Sequence[int] | np.ndarray | None = None, size: int | None = None) -> np.ndarray:
        """Load images as uint8 (n, H, W, 3) in the order of ``ids`` (default: all, in table order);
        with ``size``, resized to size x size (Lanczos)."""
        if ids is None:
            ids = self.stimulus_ids
        lookup = dict(zip(self.table["stimulus_id"].tolist(), self.table["filename"]))
        shape = (size, size) if size else self.image_shape
        out = np.empty((len(ids), *shape, 3), dtype=np.uint8)
        for i, stimulus_id in enumerate(ids):
            filename = lookup.get(int(stimulus_id))
            require(filename is not None, self.root / TABLE_NAME, f"no stimulus_id {stimulus_id}")
            image = read_png(self.root / filename, self.image_shape)
            if size and shape != self.image_shape:
                image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS))
            out[i] = image
        return out


def read_stimulus_set(directory: PathLike) -> StimulusSet:
    """Read and check a stimulus set folder.

    Raises
    ------
    DataError naming the file: no ``stimuli.csv``, missing columns, duplicate ids, unknown category /
    colour / texture names, a missing or unreadable PNG, or images of different sizes.
    """
    root = Path(directory)
    table_path = root / TABLE_NAME
    require(table_path.is_file(), table_path, "stimulus table not found")
    try:
        # round_trip: floats read back to the exact values written
        table = pd.read_csv(table_path, float_precision="round_trip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(table_path, f"not a readable CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    require(not missing, table_path, f"missing columns {missing}")
    require(len(table) > 0, table_path, "no stimuli")
    require(pd.api.types.is_integer_dtype(table["stimulus_id"]), table_path, "stimulus_id must be integers")
    duplicated = table["stimulus_id"][table["stimulus_id"].duplicated()].unique().tolist()
    require(not duplicated, table_path, f"duplicate stimulus_id {duplicated[:5]}")
    for column, vocab in (("category", CATEGORY_NAMES), ("colour", COLOUR_NAMES), ("texture", TEXTURES)):
        unknown = sorted(set(table[column].dropna()) - set(vocab))
        require(not unknown, table_path, f"unknown {column} values {unknown[:5]}")
    shapes: dict[Path, tuple[int, int]] = {}
    for filename in table["filename"]:
        path = root / str(filename)
        require(path.is_file(), path, "image file listed in stimuli.csv not found")
        shapes[path] = _png_size(path)
    # the size most images have is the set's; name the first image that differs from it
    values, counts = np.unique(np.array(list(shapes.values())), axis=0, return_counts=True)
    height, width = (int(x) for x in values[np.argmax(counts)])
    for path, (h, w) in shapes.items():
        require((h, w) == (height, width), path, f"image is {w}x{h} px but the set's images are {width}x{height} px")
    return StimulusSet(root=root, table=table, image_shape=(height, width))


# ---------------------------------------------------------------------------------------------- displays
def write_display(directory: PathLike, display: Display, name: str) -> Path:
    """Write ``{name}.png``, ``{name}_target.png`` and ``{name}.json`` (last); return the JSON path."""
    directory = Path(directory)
    write_png(directory / f"{name}.png", display.image)
    write_png(directory / f"{name}_target.png", display.target_image)
    record = {
        "image": f"{name}.png",
        "target_image": f"{name}_target.png",
        "image_size": list(display.image.shape[:2]),  # [height, width] in pixels
        "boxes": display.boxes.tolist(),  # [x0, y0, x1, y1] per object, x1/y1 exclusive
        "object_ids": display.object_ids.tolist(),
        "categories": list(display.categories),
        "cells": display.cells.tolist(),  # [row, col] per object
        "target_id": display.target_id,
        "target_box": display.target_box.tolist(),
        "set_size": display.set_size,
        "condition": display.condition,
        "grid": list(display.grid),
        "cell_px": display.cell_px,
        "seed": display.seed,
        "extra": display.extra,
    }
    return write_json(directory / f"{name}.json", record)


def read_display(path: PathLike) -> Display:
    """Read a display written by :func:`write_display` (path of its JSON), checking it is consistent."""
    path = Path(path)
    record = read_json(path)
    required = (
        "image",
        "target_image",
        "image_size",
        "boxes",
        "object_ids",
        "categories",
        "cells",
        "target_id",
        "set_size",
        "condition",
        "grid",
        "cell_px",
    )
    missing = [k for k in required if not isinstance(record, dict) or k not in record]
    require(not missing, path, f"missing keys {missing}")
    boxes = np.asarray(record["boxes"], dtype=np.int64)
    object_ids = np.asarray(record["object_ids"], dtype=np.int64)
    n = len(object_ids)
    require(boxes.shape == (n, 4), path, f"boxes must be {n} x 4 (one per object), got shape {boxes.shape}")
    require(
        len(record["categories"]) == n and len(record["cells"]) == n,
        path,
        "categories and cells need one entry per object",
    )
    require(record["set_size"] == n, path, f"set_size {record['set_size']} but {n} objects")
    hits = np.flatnonzero(object_ids == record["target_id"])
    require(len(hits) == 1, path, f"target_id {record['target_id']} must name exactly one object")
    height, width = record["image_size"]
    require(
        bool(
            (boxes[:, 0] >= 0).all()
            and (boxes[:, 1] >= 0).all()
            and (boxes[:, 2] <= width).all()
            and (boxes[:, 3] <= height).all()
            and (boxes[:, :2] < boxes[:, 2:]).all()
        ),
        path,
        "boxes must lie inside the image with x0 < x1 and y0 < y1",
    )
    image = read_png(path.parent / record["image"], (height, width))
    cell = int(record["cell_px"])
    target_image = read_png(path.parent / record["target_image"])
    return Display(
        image=image,
        target_image=target_image,
        boxes=boxes,
        object_ids=object_ids,
        categories=[str(c) for c in record["categories"]],
        cells=np.asarray(record["cells"], dtype=np.int64).reshape(n, 2),
        target_index=int(hits[0]),
        grid=tuple(record["grid"]),
        cell_px=cell,
        condition=str(record["condition"]),
        seed=int(record.get("seed", 0)),
        extra=dict(record.get("extra") or {}),
    )


def write_displays(directory: PathLike, displays: Sequence[Display]) -> Path:
    """Write displays as ``display_00000`` ... plus the index ``displays.csv`` (last); return the index path.

    The index has one row per display: display_id, json, image, target_image, set_size, condition,
    target_category.
    """
    directory = Path(directory)
    rows = []
    for i, display in enumerate(displays):
        name = f"display_{i:05d}"
        write_display(directory, display, name)
        rows.append(
            {
                "display_id": i,
                "json": f"{name}.json",
                "image": f"{name}.png",
                "target_image": f"{name}_target.png",
                "set_size": display.set_size,
                "condition": display.condition,
                "target_category": display.categories[display.target_index],
            }
        )
    return write_table(directory / DISPLAY_INDEX, pd.DataFrame(rows))


def read_displays(directory: PathLike) -> tuple[pd.DataFrame, list[Display]]:
    """Read the index ``displays.csv`` of a folder and every display it lists (in index order)."""
    directory = Path(directory)
    index_path = directory / DISPLAY_INDEX
    require(index_path.is_file(), index_path, "display index not found")
    index = pd.read_csv(index_path, keep_default_na=False)
    missing = [c for c in ("display_id", "json") if c not in index]
    require(not missing, index_path, f"missing columns {missing}")
    return index, [read_display(directory / name) for name in index["json"]]
