"""Embedding files keyed by stimulus id: written by ``neuromodels networks embed``, read by the families that
use them as targets or features.

Formats (chosen by the suffix):

* ``.h5`` / ``.hdf5``: dataset ``embeddings`` ``(n, d)`` float32 and dataset ``stimulus_id`` ``(n,)`` strings;
  attributes record the encoder and what was embedded.
* ``.npz``: arrays ``embeddings`` and ``stimulus_id``.
* ``.npy``: the ``(n, d)`` matrix alone, with the ids in a sidecar ``<name>.ids.csv`` (one column
  ``stimulus_id``, same row order).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import DataError, require
from neuromodels.core.io import atomic_path, write_table

__all__ = ["write_embeddings", "read_embeddings", "EMBEDDING_SUFFIXES"]

PathLike = str | os.PathLike
EMBEDDING_SUFFIXES = (".h5", ".hdf5", ".npz", ".npy")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.stem + ".ids.csv")


def write_embeddings(
    path: PathLike, stimulus_ids: Sequence[str], embeddings: np.ndarray, attrs: Mapping[str, Any] | None = None
) -> Path:
    """Write ``embeddings`` ``(n, d)`` keyed by ``stimulus_ids`` (n unique ids) atomically."""
    path = Path(path)
    ids = [str(i) for i in stimulus_ids]
    emb = np.asarray(embeddings, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(ids):
        raise ValueError(f"embeddings must be (n_ids, d) = ({len(ids)}, d), got {emb.shape}")
    if len(set(ids)) != len(ids):
        raise ValueError("stimulus ids must be unique")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        import h5py

        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as fh:
                fh.create_dataset("embeddings", data=emb)
                fh.create_dataset("stimulus_id", data=np.array(ids, dtype=object), dtype=h5py.string_dtype())
                for key, value in (attrs or {}).items():
                    fh.attrs[key] = str(value)
    elif suffix == ".npz":
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, embeddings=emb, stimulus_id=np.array(ids, dtype=str))
    elif suffix == ".npy":
        write_table(_sidecar(path), pd.DataFrame({"stimulus_id": ids}))
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, emb)
    else:
        raise ValueError(f"unknown embedding format {suffix!r}; use one of {EMBEDDING_SUFFIXES}")
    return path


def read_embeddings(path: PathLike) -> tuple[list[str], np.ndarray]:
    """Read ``(stimulus_ids, embeddings (n, d) float32)`` from a file written by :func:`write_embeddings`
    (or by hand in the same layout). Problems raise :class:`DataError` naming the file."""
    path = Path(path)
    require(path.exists(), path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as fh:
                require("embeddings" in fh, path, "no dataset 'embeddings' (n x d)")
                require("stimulus_id" in fh, path, "no dataset 'stimulus_id' (n,)")
                emb = np.asarray(fh["embeddings"][()], dtype=np.float32)
                ids = [i.decode() if isinstance(i, bytes) else str(i) for i in fh["stimulus_id"][()]]
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                require(
                    "embeddings" in data and "stimulus_id" in data,
                    path,
                    "needs arrays 'embeddings' (n x d) and 'stimulus_id' (n,)",
                )
                emb = np.asarray(data["embeddings"], dtype=np.float32)
                ids = [str(i) for i in data["stimulus_id"]]
        elif suffix == ".npy":
            sidecar = _sidecar(path)
            require(sidecar.exists(), path, f"no stimulus ids beside it (expected {sidecar.name})")
            emb = np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)
            table = pd.read_csv(sidecar, dtype=str)
            require("stimulus_id" in table.columns, sidecar, "no column 'stimulus_id'")
            ids = list(table["stimulus_id"])
        else:
            raise DataError(path, f"unknown embedding format {suffix!r}; use one of {EMBEDDING_SUFFIXES}")
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot read embeddings ({exc})") from None
    require(emb.ndim == 2, path, f"embeddings must be 2-d (n x d), got shape {emb.shape}")
    require(emb.shape[0] == len(ids), path, f"{emb.shape[0]} embedding rows but {len(ids)} stimulus ids")
    require(len(set(ids)) == len(ids), path, "stimulus ids are not unique")
    require(bool(np.isfinite(emb).all()), path, "embeddings contain NaN or infinite values")
    return ids, emb
