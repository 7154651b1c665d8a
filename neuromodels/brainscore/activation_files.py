"""Files of precomputed activations (scoring without images): HDF5 with ``stimulus_id`` and ``layers/<name>``
(n, ...), or ``.npz``; written and read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path

__all__ = ["write_activations", "read_activations"]


def write_activations(path: PathLike, stimulus_ids: Sequence, layers: dict[str, np.ndarray]) -> Path:
    """Write activations ``{layer: (n, ...)}`` of the stimuli ``stimulus_ids`` as HDF5 (``stimulus_id`` and
    one dataset per layer under ``layers/``), atomically."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset(
                "stimulus_id", data=np.asarray([str(i) for i in stimulus_ids], dtype=object), dtype=h5py.string_dtype()
            )
            group = f.create_group("layers")
            for name, values in layers.items():
                group.create_dataset(name, data=np.asarray(values, dtype=np.float32))
    return path


def read_activations(path: PathLike) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read precomputed activations: ``(stimulus ids as text, {layer: float32 (n, n_features)})``.

    HDF5 (``stimulus_id`` and one dataset per layer under ``layers/``, or at the top level) or ``.npz``
    (``stimulus_id`` and one array per layer). Each layer's first axis follows ``stimulus_id``; the rest is
    flattened.
    """
    path = Path(path)
    require(path.is_file(), path, "activations file not found")
    arrays: dict[str, np.ndarray] = {}
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(path, f"not a readable .npz file ({exc})") from None
    else:
        import h5py

        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(path, f"not a readable HDF5 file ({exc})") from None
        with f:
            root = f["layers"] if isinstance(f.get("layers"), h5py.Group) else f
            arrays = {k: root[k][()] for k in root if isinstance(root[k], h5py.Dataset)}
            if "stimulus_id" in f:
                arrays["stimulus_id"] = f["stimulus_id"][()]
    require("stimulus_id" in arrays, path, "missing 'stimulus_id' (one id per row of every layer)")
    raw = arrays.pop("stimulus_id")
    ids = np.asarray([x.decode() if isinstance(x, bytes) else str(x) for x in np.ravel(raw)])
    require(bool(arrays), path, "no layer arrays besides stimulus_id")
    dup = pd.Series(ids)[pd.Series(ids).duplicated()]
    require(dup.empty, path, f"duplicate stimulus_id values {dup.unique()[:5].tolist()}")
    layers = {}
    for name, values in arrays.items():
        require(
            np.issubdtype(values.dtype, np.number) and values.ndim >= 2 and len(values) == len(ids),
            path,
            f"layer {name!r} must be numeric (n, features) with n = {len(ids)} stimuli, got "
            f"{values.dtype} {values.shape}",
        )
        values = values.reshape(len(ids), -1).astype(np.float32)
        require(bool(np.isfinite(values).all()), path, f"layer {name!r} has NaN or infinite values")
        layers[name] = values
    return ids, layers
