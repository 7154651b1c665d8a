"""Stimulus ids: one canonical form for the ids read from any file, id lists read from files, and HDF5 datasets
of ids read and written.

Ids anywhere (stimuli, trials, targets, split lists) may be integers or strings; a column of strings that all
spell integers ("00123") is read as integers, anything else stays a string id and must match exactly
(:func:`canonical_ids`). Lists of ids load from ``.txt`` (one per line), ``.csv`` (a `stimulus_id` column, or
the first column), ``.npy`` or HDF5 (:func:`read_id_list`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import DataError, require

__all__ = [
    "canonical_ids",
    "id_key",
    "missing_ids",
    "read_ids_dataset",
    "write_ids_dataset",
    "read_id_list",
    "load_npy",
]

_INT_TEXT = re.compile(r"^[+-]?\d+$")


def canonical_ids(values: Any, path: str | Path | None = None, what: str = "stimulus ids") -> np.ndarray:
    """Stimulus ids as one array: int64 when every id is an integer (or a string spelling one, e.g. "00123"),
    else unicode strings (e.g. 'nsd73000'), compared exactly. Bytes are decoded; surrounding blanks stripped."""
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:  # a row or column vector (e.g. from MATLAB)
        arr = arr.ravel()
    require(arr.ndim == 1, path, f"{what} must be one list, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        raise DataError(path, f"{what} must be integers or strings, got booleans")
    if arr.dtype.kind == "f":
        require(bool(np.all(np.isfinite(arr))), path, f"{what} hold NaN or infinite values")
        require(
            bool(np.all(arr == np.round(arr))),
            path,
            f"{what} hold non-integer numbers, e.g. {arr[arr != np.round(arr)][:3].tolist()}",
        )
        return arr.astype(np.int64)
    text = []
    for v in arr.tolist():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise DataError(path, f"{what} hold an empty value")
        text.append(str(v).strip())
    require(all(text), path, f"{what} hold an empty value")
    if all(_INT_TEXT.match(t) for t in text):
        return np.array([int(t) for t in text], dtype=np.int64)
    return np.array(text, dtype=str) if text else np.zeros(0, dtype=np.int64)


def id_key(value: Any) -> int | str:
    """One id as a dict key (int or str), whatever numpy or bytes type it came in."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (np.integer, int)):
        return int(value)
    return str(value)


def missing_ids(ids: Iterable[Any], known: Iterable[Any]) -> list:
    """Ids of ``ids`` that are not in ``known`` (in order; exact comparison, ints never equal strings)."""
    have = {id_key(k) for k in known}
    return [id_key(i) for i in ids if id_key(i) not in have]


def _unique_check(ids: np.ndarray, path: str | Path | None, what: str = "stimulus ids") -> None:
    uniq, counts = np.unique(ids, return_counts=True)
    dup = uniq[counts > 1]
    require(dup.size == 0, path, f"{what} hold {dup.size} duplicate(s), e.g. {dup[:3].tolist()}")


def read_ids_dataset(dset: Any) -> np.ndarray:
    """An HDF5 dataset of ids (integers or strings) as :func:`canonical_ids` gives them."""
    if dset.dtype.kind in "SO":
        return canonical_ids(dset.asstr()[()], dset.file.filename, f"'{dset.name.lstrip('/')}'")
    return canonical_ids(dset[()], dset.file.filename, f"'{dset.name.lstrip('/')}'")


def write_ids_dataset(group: Any, name: str, ids: Sequence[Any]) -> None:
    """Write ids (integers as int64, strings as UTF-8 strings) as dataset ``name`` of an open HDF5 group."""
    import h5py

    ids = canonical_ids(ids)
    if ids.dtype.kind == "U":
        group.create_dataset(name, data=np.array(ids.tolist(), dtype=object), dtype=h5py.string_dtype())
    else:
        group.create_dataset(name, data=ids.astype(np.int64))


def read_id_list(path: str | Path, key: str | None = None) -> np.ndarray:
    """Ids from a file: ``.txt`` (one per line; blank lines and lines starting with # skipped), ``.csv`` (a
    `stimulus_id` column, else the first column), ``.npy``, or HDF5 (``.h5``/``.hdf5``: dataset ``key``, else
    `stimulus_id`, `ids` or the only dataset). Duplicates are refused."""
    path = Path(path)
    require(path.exists(), path, "id list not found")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise DataError(path, "not a UTF-8 text file of ids") from None
        values = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    elif suffix == ".csv":
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise DataError(path, f"not a readable CSV ({type(exc).__name__})") from None
        require(len(table.columns) > 0, path, "no column of ids")
        col = key or ("stimulus_id" if "stimulus_id" in table.columns else table.columns[0])
        require(col in table.columns, path, f"no column '{col}'")
        values = table[col].tolist()
    elif suffix == ".npy":
        values = load_npy(path)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                names = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
                name = key or next((k for k in ("stimulus_id", "ids") if k in names), None)
                if name is None:
                    require(len(names) == 1, path, "needs a dataset 'stimulus_id' (or 'ids')")
                    name = names[0]
                require(name in f, path, f"no dataset '{name}'")
                return _checked_list(read_ids_dataset(f[name]), path)
        except OSError:
            raise DataError(path, "not a readable HDF5 file") from None
    else:
        raise DataError(path, "id lists must be .txt, .csv, .npy, .h5 or .hdf5")
    return _checked_list(canonical_ids(values, path), path)


def load_npy(path: Path) -> np.ndarray:
    """An ``.npy`` array (no pickles); a truncated or foreign file is one error naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(path, f"not a readable .npy file ({type(exc).__name__})") from None


def _checked_list(ids: np.ndarray, path: Path) -> np.ndarray:
    require(ids.size > 0, path, "holds no id")
    _unique_check(ids, path)
    return ids


def _kind_hint(ids: np.ndarray, known: np.ndarray) -> str:
    """A hint when integer ids meet string ids (e.g. 123 against 'nsd00123')."""
    a, b = np.asarray(ids).dtype.kind, np.asarray(known).dtype.kind
    if a != b and {a, b} <= {"i", "U"}:
        kinds = {"i": "integers", "U": "strings"}
        return f" (these ids are {kinds[a]}, the stimuli file's are {kinds[b]})"
    return ""


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind != b.dtype.kind:
        return a[:0]
    return np.intersect1d(a, b)
