"""Data of the brainscore family on disk: image classification sets and Brain-Score-style neural assemblies.

Image classification set
    * HDF5: ``images`` uint8 ``(n, 3, H, W)``, ``labels`` int ``(n,)``, ``split`` int ``(n,)`` (0 train,
      1 test) and the attribute ``label_names`` (one name per label code). Optional ``stimulus_id``.
    * or an image folder: ``root/<class>/*.png|jpg`` (split drawn per class, 20 % test), or
      ``root/train/<class>/...`` and ``root/test/<class>/...``.

Neural assembly (netCDF, the format Brain-Score's assemblies use)
    One ``xarray.DataArray`` with dims ``presentation x neuroid x time_bin`` (``time_bin`` optional), one
    presentation per shown repetition of a stimulus. Coordinates: on ``presentation`` ``stimulus_id``,
    ``object_name``, ``repetition``; on ``neuroid`` ``neuroid_id`` and ``region`` (V4, IT, ...); on
    ``time_bin`` ``time_bin_start``/``time_bin_end`` (ms). Brain-Score files naming the stimulus
    ``image_id`` are read as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path

__all__ = ["ImageDataset", "write_image_dataset", "read_image_dataset", "world_image_dataset",
           "make_assembly", "write_assembly", "read_assembly", "average_repetitions", "ASSEMBLY_DIMS"]

ASSEMBLY_DIMS = ("presentation", "neuroid", "time_bin")
PRESENTATION_COORDS = ("stimulus_id", "object_name", "repetition")
NEUROID_COORDS = ("neuroid_id", "region")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


# ------------------------------------------------------------------------------------ classification sets
@dataclass
class ImageDataset:
    """Labelled images held in memory.

    Attributes
    ----------
    images : uint8 ``(n, 3, H, W)``.
    labels : int64 ``(n,)`` codes into ``label_names``.
    split : int8 ``(n,)``, 0 train and 1 test.
    label_names : one name per class.
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    label_names: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the ``train`` or ``test`` part."""
        keep = self.split == {"train": 0, "test": 1}[which]
        return self.images[keep], self.labels[keep]


def world_image_dataset(n_train: int, n_test: int, size: int, seed: int,
                        categories: Sequence[str] | None = None) -> ImageDataset:
    """Classification of the stimulus world's object categories (all, or the ``categories`` named); train and
    test scenes are drawn apart."""
    from ..stimuli import CATEGORY_NAMES, render_scenes, sample_scenes

    names = list(categories) if categories else list(CATEGORY_NAMES)
    table = sample_scenes(n_train + n_test, seed=seed, categories=names)
    images = render_scenes(table, size=size).transpose(0, 3, 1, 2)
    codes = {name: i for i, name in enumerate(names)}
    labels = table["category"].map(codes).to_numpy(np.int64)
    split = np.r_[np.zeros(n_train, np.int8), np.ones(n_test, np.int8)]
    return ImageDataset(np.ascontiguousarray(images), labels, split, names)


def write_image_dataset(path: PathLike, data: ImageDataset) -> Path:
    """Write an :class:`ImageDataset` as HDF5 (atomically)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("images", data=data.images, compression="gzip", compression_opts=1)
            f.create_dataset("labels", data=data.labels.astype(np.int64))
            f.create_dataset("split", data=data.split.astype(np.int8))
            f.attrs["label_names"] = np.array(data.label_names, dtype=object)
    return path


def _read_hdf5(path: Path) -> ImageDataset:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        missing = [k for k in ("images", "labels") if k not in f]
        require(not missing, path, f"missing datasets {missing} (need images (n, 3, H, W) uint8 and labels)")
        images = f["images"][()]
        labels = f["labels"][()]
        split = f["split"][()] if "split" in f else None
        names = f.attrs.get("label_names")
    require(images.ndim == 4 and images.shape[1] == 3, path,
            f"images must be (n, 3, H, W), got shape {images.shape}")
    require(images.dtype == np.uint8, path, f"images must be uint8, got {images.dtype}")
    require(labels.ndim == 1 and len(labels) == len(images), path,
            f"labels must be (n,) with n = {len(images)}, got shape {labels.shape}")
    require(np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0, path,
            "labels must be non-negative integer codes")
    n_classes = int(labels.max()) + 1
    label_names = [str(x.decode() if isinstance(x, bytes) else x) for x in names] if names is not None \
        else [str(i) for i in range(n_classes)]
    require(len(label_names) >= n_classes, path, f"{len(label_names)} label_names for {n_classes} classes")
    if split is None:
        split = _default_split(labels, seed=0)
    require(split.shape == labels.shape and set(np.unique(split)) <= {0, 1}, path,
            "split must be (n,) with 0 = train and 1 = test")
    require((split == 0).any() and (split == 1).any(), path, "split needs both train (0) and test (1) images")
    return ImageDataset(images, labels.astype(np.int64), split.astype(np.int8), label_names)


def _default_split(labels: np.ndarray, seed: int, test_fraction: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), np.int8)
    for code in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == code))
        split[idx[:max(1, int(round(test_fraction * len(idx))))]] = 1
    return split


def _read_folder(root: Path, size: int | None) -> ImageDataset:
    from PIL import Image

    parts = [root / "train", root / "test"] if (root / "train").is_dir() and (root / "test").is_dir() else [root]
    classes = sorted({d.name for part in parts for d in part.iterdir() if d.is_dir()})
    require(bool(classes), root, "no class folders (expected root/<class>/*.png or root/train|test/<class>/)")
    images, labels, split = [], [], []
    shape: tuple[int, int] | None = None
    for s, part in enumerate(parts):
        for code, name in enumerate(classes):
            folder = part / name
            if not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in _IMAGE_SUFFIXES:
                    continue
                try:
                    with Image.open(file) as img:
                        img = img.convert("RGB")
                        if size:
                            img = img.resize((size, size), Image.Resampling.BILINEAR)
                        array = np.asarray(img)
                except OSError as exc:
                    raise DataError(file, f"not a readable image ({exc})") from None
                if shape is None:
                    shape = array.shape[:2]
                require(array.shape[:2] == shape, file,
                        f"image is {array.shape[1]}x{array.shape[0]} px, others {shape[1]}x{shape[0]}; "
                        "give an image size to resize them")
                images.append(array.transpose(2, 0, 1))
                labels.append(code)
                split.append(s)
    require(bool(images), root, "no images found")
    labels_arr = np.asarray(labels, np.int64)
    split_arr = np.asarray(split, np.int8) if len(parts) == 2 else _default_split(labels_arr, seed=0)
    return ImageDataset(np.stack(images), labels_arr, split_arr, classes)


def read_image_dataset(path: PathLike, size: int | None = None) -> ImageDataset:
    """Read a classification set from HDF5 (``.h5``/``.hdf5``) or an image folder; see the module doc.

    ``size`` resizes folder images to ``size x size`` (HDF5 images are resized by the model).
    """
    path = Path(path)
    require(path.exists(), path, "image dataset not found")
    if path.is_dir():
        return _read_folder(path, size)
    return _read_hdf5(path)


# ---------------------------------------------------------------------------------------------- assemblies
def make_assembly(responses: np.ndarray, stimulus_id: Sequence, object_name: Sequence, repetition: Sequence,
                  neuroid_id: Sequence, region: Sequence, time_bins: Sequence[tuple[int, int]] = ((70, 170),)):
    """An assembly ``presentation x neuroid x time_bin`` from responses ``(n_presentations, n_neuroids,
    n_time_bins)`` (a 2-d array gets one time bin)."""
    import xarray as xr

    responses = np.asarray(responses, dtype=np.float32)
    if responses.ndim == 2:
        responses = responses[:, :, None]
    bins = np.asarray(time_bins, dtype=np.int64).reshape(-1, 2)
    return xr.DataArray(
        responses, dims=ASSEMBLY_DIMS,
        coords={
            "stimulus_id": ("presentation", np.asarray(stimulus_id)),
            "object_name": ("presentation", np.asarray(object_name, dtype=str)),
            "repetition": ("presentation", np.asarray(repetition, dtype=np.int64)),
            "neuroid_id": ("neuroid", np.asarray(neuroid_id, dtype=str)),
            "region": ("neuroid", np.asarray(region, dtype=str)),
            "time_bin_start": ("time_bin", bins[:, 0]),
            "time_bin_end": ("time_bin", bins[:, 1]),
        },
        name="responses",
    )


def write_assembly(path: PathLike, assembly) -> Path:
    """Write an assembly as netCDF (h5netcdf engine), atomically, after checking it."""
    _check_assembly(assembly, None)
    path = Path(path)
    with atomic_path(path) as tmp:
        assembly.to_netcdf(tmp, engine="h5netcdf")
    return path


def _check_assembly(assembly, path: PathLike | None):
    """Validate dims, coordinates and values; return the assembly with ``time_bin`` present."""
    dims = tuple(assembly.dims)
    require(dims[:2] == ("presentation", "neuroid") and dims[2:] in ((), ("time_bin",)), path,
            f"dims must be (presentation, neuroid[, time_bin]), got {dims}")
    if "time_bin" not in dims:
        assembly = assembly.expand_dims("time_bin", axis=2)
    for coord in PRESENTATION_COORDS + NEUROID_COORDS:
        require(coord in assembly.coords, path, f"missing coordinate '{coord}'")
    for coord, dim in [(c, "presentation") for c in PRESENTATION_COORDS] + [(c, "neuroid") for c in NEUROID_COORDS]:
        require(assembly[coord].dims == (dim,), path, f"coordinate '{coord}' must lie along '{dim}', "
                                                      f"got dims {assembly[coord].dims}")
    require(assembly.sizes["presentation"] > 0 and assembly.sizes["neuroid"] > 0, path, "no presentations or neuroids")
    require(np.issubdtype(assembly.dtype, np.floating) or np.issubdtype(assembly.dtype, np.integer), path,
            f"responses must be numeric, got {assembly.dtype}")
    values = np.asarray(assembly.values)
    require(bool(np.isfinite(values).all()), path,
            f"{int((~np.isfinite(values)).sum())} responses are NaN or infinite")
    ids = pd.Series(np.asarray(assembly["neuroid_id"].values).astype(str))
    require(ids.is_unique, path, f"duplicate neuroid_id {ids[ids.duplicated()].unique()[:5].tolist()}")
    pres = pd.DataFrame({"stimulus_id": np.asarray(assembly["stimulus_id"].values).astype(str),
                         "repetition": np.asarray(assembly["repetition"].values)})
    require(not pres.duplicated().any(), path, "a (stimulus_id, repetition) pair appears twice")
    names = pd.DataFrame({"stimulus_id": pres["stimulus_id"],
                          "object_name": np.asarray(assembly["object_name"].values).astype(str)})
    n_names = names.drop_duplicates().groupby("stimulus_id").size()
    require(bool((n_names == 1).all()), path,
            f"stimulus {n_names[n_names > 1].index[0] if (n_names > 1).any() else ''} has several object_name values")
    return assembly


def read_assembly(path: PathLike):
    """Read and check a neural assembly (ours or a Brain-Score netCDF file).

    Returns an ``xarray.DataArray`` ``presentation x neuroid x time_bin`` with the coordinates of the module
    doc (a file without ``time_bin`` gets one). Raises :class:`DataError` naming the file and the problem.
    """
    import xarray as xr

    path = Path(path)
    require(path.is_file(), path, "assembly file not found")
    try:
        dataset = xr.load_dataset(path, engine="h5netcdf")
    except Exception as exc:  # xarray/h5py raise many types for a file that is not netCDF
        raise DataError(path, f"not a readable netCDF file ({type(exc).__name__}: {exc})") from None
    variables = list(dataset.data_vars)
    require(len(variables) == 1, path, f"expected one data variable (the responses), found {variables}")
    assembly = dataset[variables[0]]
    # Brain-Score's older assemblies call the stimulus image_id
    if "stimulus_id" not in assembly.coords and "image_id" in assembly.coords:
        assembly = assembly.rename({"image_id": "stimulus_id"})
    assembly = _check_assembly(assembly, path)
    return assembly.transpose(*ASSEMBLY_DIMS)


def average_repetitions(assembly, stimulus_ids: Sequence | None = None):
    """Mean over repetitions: ``(n_stimuli, n_neuroids, n_time_bins)`` array, the stimulus ids (sorted, or in
    the order given) and their object names."""
    stim = np.asarray(assembly["stimulus_id"].values)
    names = np.asarray(assembly["object_name"].values).astype(str)
    ids = np.unique(stim) if stimulus_ids is None else np.asarray(stimulus_ids)
    values = np.asarray(assembly.values, dtype=np.float64)
    codes = pd.Index(ids).get_indexer(stim)
    keep = codes >= 0
    sums = np.zeros((len(ids),) + values.shape[1:])
    np.add.at(sums, codes[keep], values[keep])
    counts = np.bincount(codes[keep], minlength=len(ids))
    require(bool((counts > 0).all()), None, "some requested stimuli have no presentation in the assembly")
    object_name = pd.Series(names[keep], index=codes[keep]).groupby(level=0).first().reindex(range(len(ids)))
    return sums / counts[:, None, None], ids, object_name.to_numpy()


# ------------------------------------------------------------------------------------------ stimulus images
class StimulusImages:
    """Images of a stimulus set by ``stimulus_id``: a folder with ``stimuli.csv`` (or the CSV itself) listing
    ``stimulus_id`` and ``filename`` (relative to the CSV), as Brain-Score's stimulus sets do.

    Calling it with ids returns uint8 ``(n, size, size, 3)`` (bilinear resize when ``size`` is given). Ids are
    matched as text, so integer ids in one file match the same ids in another.
    """

    def __init__(self, path: PathLike, size: int | None = None) -> None:
        path = Path(path)
        csv = path / "stimuli.csv" if path.is_dir() else path
        require(csv.is_file(), csv, "stimulus table not found (a folder with stimuli.csv, or the CSV)")
        try:
            table = pd.read_csv(csv, dtype={"stimulus_id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(csv, f"not a readable CSV ({exc})") from None
        if "stimulus_id" not in table and "image_id" in table:
            table = table.rename(columns={"image_id": "stimulus_id"})
        missing = [c for c in ("stimulus_id", "filename") if c not in table]
        require(not missing, csv, f"missing columns {missing}")
        require(table["stimulus_id"].is_unique, csv, "duplicate stimulus_id values")
        self.csv, self.root, self.size = csv, csv.parent, size
        self.table = table
        self._files = dict(zip(table["stimulus_id"].astype(str), table["filename"].astype(str)))
        self._cache: dict[str, np.ndarray] = {}

    def _load(self, key: str) -> np.ndarray:
        from PIL import Image

        if key not in self._cache:
            filename = self._files.get(key)
            require(filename is not None, self.csv, f"no stimulus_id {key}")
            file = self.root / filename
            require(file.is_file(), file, "image file listed in the stimulus table not found")
            try:
                with Image.open(file) as img:
                    img = img.convert("RGB")
                    if self.size:
                        img = img.resize((self.size, self.size), Image.Resampling.BILINEAR)
                    self._cache[key] = np.asarray(img)
            except OSError as exc:
                raise DataError(file, f"not a readable image ({exc})") from None
        return self._cache[key]

    def __call__(self, stimulus_ids: Sequence) -> np.ndarray:
        images = [self._load(str(i)) for i in stimulus_ids]
        shapes = {im.shape for im in images}
        require(len(shapes) == 1, self.csv, f"images of several sizes {sorted(shapes)}; give a size to resize")
        return np.stack(images)
