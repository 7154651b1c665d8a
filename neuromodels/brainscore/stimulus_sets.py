"""Stimulus sets in brainio's layout: their table and their images by ``stimulus_id``.

A stimulus set is a CSV with ``stimulus_id`` (or ``image_id``), ``filename`` (relative to the CSV's folder, where
the store unpacks its zip) and metadata columns such as ``object_name``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike

__all__ = ["stimulus_table_path", "read_stimulus_table", "check_stimulus_ids", "StimulusImages"]


def stimulus_table_path(path: PathLike) -> Path:
    """Where a stimulus set's table is: the CSV itself, a folder's ``stimuli.csv``, or a folder's only CSV
    (Brain-Score's local store names it after the set, ``<identifier>.csv``, beside its images). A folder that
    does not exist yet (a simulation still to write) or holds several CSVs gives ``<folder>/stimuli.csv``."""
    path = Path(path)
    if path.is_dir() and not (path / "stimuli.csv").is_file():
        tables = sorted(path.glob("*.csv"))
        if len(tables) == 1:
            return tables[0]
    return path / "stimuli.csv" if path.is_dir() or not path.suffix else path


def _stimulus_csv(path: Path) -> Path:
    """:func:`stimulus_table_path`, checked: the table exists and the folder holds no other CSV to choose."""
    if path.is_dir() and not (path / "stimuli.csv").is_file():
        tables = sorted(path.glob("*.csv"))
        require(
            len(tables) == 1,
            path,
            f"a stimulus set folder needs stimuli.csv or exactly one CSV, found {[t.name for t in tables]}",
        )
    csv = stimulus_table_path(path)
    require(csv.is_file(), csv, "stimulus set not found (a folder with its CSV, or the CSV)")
    return csv


def read_stimulus_table(path: PathLike, need: Sequence[str] = ()) -> tuple[Path, pd.DataFrame]:
    """Read a stimulus set's table: ``(csv path, table)`` with ``stimulus_id`` as text (``image_id``, the older
    Brain-Score name, is renamed), unique; ``need`` names further required columns."""
    csv = _stimulus_csv(Path(path))
    try:
        table = pd.read_csv(csv, dtype={"stimulus_id": str, "image_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(csv, f"not a readable CSV ({str(exc).splitlines()[0]})") from None
    if "stimulus_id" not in table and "image_id" in table:
        table = table.rename(columns={"image_id": "stimulus_id"})
    missing = [c for c in ("stimulus_id", *need) if c not in table]
    require(not missing, csv, f"missing columns {missing}")
    require(not table["stimulus_id"].isna().any(), csv, "empty stimulus_id values")
    dup = table["stimulus_id"][table["stimulus_id"].duplicated()]
    require(dup.empty, csv, f"duplicate stimulus_id values {dup.unique()[:5].tolist()}")
    table.attrs["path"] = str(csv)
    return csv, table


def check_stimulus_ids(assembly, csv: PathLike | None, table: pd.DataFrame) -> None:
    """Every stimulus of the assembly must be in the stimulus set (:class:`DataError` naming the CSV)."""
    ids = pd.Index(np.unique(np.asarray(assembly["stimulus_id"].values).astype(str)))
    missing = ids.difference(pd.Index(table["stimulus_id"].astype(str)))
    require(
        missing.empty,
        csv,
        f"{len(missing)} of the assembly's {len(ids)} stimulus ids are not in the "
        f"stimulus set (e.g. {missing[:3].tolist()})",
    )


class StimulusImages:
    """Images of a stimulus set by ``stimulus_id``: a folder with its CSV (``stimuli.csv``, or the only CSV as
    Brain-Score's local store keeps it) or the CSV itself, listing ``stimulus_id`` (or ``image_id``) and
    ``filename`` (relative to the CSV's folder; a file not unpacked there is read from the folder's one zip,
    as Brain-Score ships the images).

    Calling it with ids returns uint8 ``(n, size, size, 3)`` (bilinear resize when ``size`` is given). Ids are
    matched as text, so integer ids in one file match the same ids in another.
    """

    def __init__(self, path: PathLike, size: int | None = None) -> None:
        csv, table = read_stimulus_table(path, need=("filename",))
        self.csv, self.root, self.size = csv, csv.parent, size
        self.table = table
        self._files = dict(zip(table["stimulus_id"].astype(str), table["filename"].astype(str)))
        self._cache: dict[str, np.ndarray] = {}

    def _zip(self) -> Path | None:
        """The folder's one zip archive (Brain-Score ships the images zipped beside the CSV), if any."""
        if not hasattr(self, "_archive"):
            archives = sorted(self.root.glob("*.zip"))
            self._archive = archives[0] if len(archives) == 1 else None
        return self._archive

    def _open(self, filename: str):
        """The image file, unpacked beside the CSV or still inside the folder's zip."""
        import io
        import zipfile

        file = self.root / filename
        if file.is_file():
            return file, file
        archive = self._zip()
        if archive is not None:
            try:
                with zipfile.ZipFile(archive) as z:
                    if filename in z.namelist():
                        return io.BytesIO(z.read(filename)), f"{archive}:{filename}"
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(archive, f"not a readable zip archive ({exc})") from None
        where = f" nor inside {archive.name}" if archive is not None else ""
        raise DataError(file, f"image file listed in the stimulus table not found{where}")

    def _load(self, key: str) -> np.ndarray:
        from PIL import Image

        if key not in self._cache:
            filename = self._files.get(key)
            require(filename is not None, self.csv, f"no stimulus_id {key}")
            source, name = self._open(filename)
            try:
                with Image.open(source) as img:
                    img = img.convert("RGB")
                    if self.size:
                        img = img.resize((self.size, self.size), Image.Resampling.BILINEAR)
                    self._cache[key] = np.asarray(img)
            except OSError as exc:
                raise DataError(name, f"not a readable image ({exc})") from None
        return self._cache[key]

    def __call__(self, stimulus_ids: Sequence) -> np.ndarray:
        images = [self._load(str(i)) for i in stimulus_ids]
        shapes = {im.shape for im in images}
        require(len(shapes) == 1, self.csv, f"images of several sizes {sorted(shapes)}; give a size to resize")
        return np.stack(images)
