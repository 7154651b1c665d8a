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
    ``time_bin`` ``time_bin_start``/``time_bin_end`` (ms). Brain-Score's files (brainio: netCDF4 written by
    ``write_netcdf``, the variable named ``data``; older ones netCDF3) are read as they are: ``image_id`` for
    ``stimulus_id``, ``object_name`` taken from the stimulus set when the file leaves it there, any further
    coordinates (variation, animal, arr, ...) kept. NaN neuroids are dropped with a logged count.

Stimulus set (brainio's layout): a CSV with ``stimulus_id`` (or ``image_id``), ``filename`` (relative to the
CSV's folder, where the store unpacks its zip) and metadata columns such as ``object_name``.

Precomputed activations (scoring without images): HDF5 with ``stimulus_id`` and ``layers/<name>`` (n, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path

__all__ = [
    "ImageDataset",
    "write_image_dataset",
    "read_image_dataset",
    "world_image_dataset",
    "make_assembly",
    "write_assembly",
    "read_assembly",
    "drop_nan",
    "select_time_bins",
    "map_regions",
    "average_repetitions",
    "ASSEMBLY_DIMS",
    "stimulus_table_path",
    "read_stimulus_table",
    "check_stimulus_ids",
    "StimulusImages",
    "write_activations",
    "read_activations",
]

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


def world_image_dataset(
    n_train: int, n_test: int, size: int, seed: int, categories: Sequence[str] | None = None
) -> ImageDataset:
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
    require(images.ndim == 4 and images.shape[1] == 3, path, f"images must be (n, 3, H, W), got shape {images.shape}")
    require(images.dtype == np.uint8, path, f"images must be uint8, got {images.dtype}")
    require(
        labels.ndim == 1 and len(labels) == len(images),
        path,
        f"labels must be (n,) with n = {len(images)}, got shape {labels.shape}",
    )
    require(
        np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0, path, "labels must be non-negative integer codes"
    )
    n_classes = int(labels.max()) + 1
    label_names = (
        [str(x.decode() if isinstance(x, bytes) else x) for x in names]
        if names is not None
        else [str(i) for i in range(n_classes)]
    )
    require(len(label_names) >= n_classes, path, f"{len(label_names)} label_names for {n_classes} classes")
    if split is None:
        split = _default_split(labels, seed=0)
    require(
        split.shape == labels.shape and set(np.unique(split)) <= {0, 1},
        path,
        "split must be (n,) with 0 = train and 1 = test",
    )
    require((split == 0).any() and (split == 1).any(), path, "split needs both train (0) and test (1) images")
    return ImageDataset(images, labels.astype(np.int64), split.astype(np.int8), label_names)


def _default_split(labels: np.ndarray, seed: int, test_fraction: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), np.int8)
    for code in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == code))
        split[idx[: max(1, int(round(test_fraction * len(idx))))]] = 1
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
                require(
                    array.shape[:2] == shape,
                    file,
                    f"image is {array.shape[1]}x{array.shape[0]} px, others {shape[1]}x{shape[0]}; "
                    "give an image size to resize them",
                )
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
def make_assembly(
    responses: np.ndarray,
    stimulus_id: Sequence,
    object_name: Sequence,
    repetition: Sequence,
    neuroid_id: Sequence,
    region: Sequence,
    time_bins: Sequence[tuple[int, int]] = ((70, 170),),
):
    """An assembly ``presentation x neuroid x time_bin`` from responses ``(n_presentations, n_neuroids,
    n_time_bins)`` (a 2-d array gets one time bin)."""
    import xarray as xr

    responses = np.asarray(responses, dtype=np.float32)
    if responses.ndim == 2:
        responses = responses[:, :, None]
    bins = np.asarray(time_bins, dtype=np.int64).reshape(-1, 2)
    return xr.DataArray(
        responses,
        dims=ASSEMBLY_DIMS,
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


def write_assembly(path: PathLike, assembly, engine: str = "h5netcdf") -> Path:
    """Write an assembly as netCDF, atomically, after checking it: netCDF4 (``engine="h5netcdf"``) or netCDF3
    (``engine="scipy"``)."""
    _check_assembly(assembly, None)
    path = Path(path)
    with atomic_path(path) as tmp:
        assembly.to_netcdf(tmp, engine=engine)
    return path


def _check_assembly(assembly, path: PathLike | None, finite: bool = True):
    """Validate dims, coordinates and values; return the assembly with ``time_bin`` present. ``finite=False``
    leaves NaN to the caller (:func:`drop_nan`)."""
    dims = tuple(assembly.dims)
    require(
        dims[:2] == ("presentation", "neuroid") and dims[2:] in ((), ("time_bin",)),
        path,
        f"dims must be (presentation, neuroid[, time_bin]), got {dims}",
    )
    if "time_bin" not in dims:
        assembly = assembly.expand_dims("time_bin", axis=2)
    for coord in PRESENTATION_COORDS + NEUROID_COORDS:
        require(coord in assembly.coords, path, f"missing coordinate '{coord}'")
    for coord, dim in [(c, "presentation") for c in PRESENTATION_COORDS] + [(c, "neuroid") for c in NEUROID_COORDS]:
        require(
            assembly[coord].dims == (dim,),
            path,
            f"coordinate '{coord}' must lie along '{dim}', got dims {assembly[coord].dims}",
        )
    require(assembly.sizes["presentation"] > 0 and assembly.sizes["neuroid"] > 0, path, "no presentations or neuroids")
    require(
        np.issubdtype(assembly.dtype, np.floating) or np.issubdtype(assembly.dtype, np.integer),
        path,
        f"responses must be numeric, got {assembly.dtype}",
    )
    values = np.asarray(assembly.values)
    bad = np.isinf(values) if not finite else ~np.isfinite(values)
    require(not bad.any(), path, f"{int(bad.sum())} responses are {'infinite' if not finite else 'NaN or infinite'}")
    ids = pd.Series(np.asarray(assembly["neuroid_id"].values).astype(str))
    require(ids.is_unique, path, f"duplicate neuroid_id {ids[ids.duplicated()].unique()[:5].tolist()}")
    pres = pd.DataFrame(
        {
            "stimulus_id": np.asarray(assembly["stimulus_id"].values).astype(str),
            "repetition": np.asarray(assembly["repetition"].values),
        }
    )
    require(not pres.duplicated().any(), path, "a (stimulus_id, repetition) pair appears twice")
    names = pd.DataFrame(
        {"stimulus_id": pres["stimulus_id"], "object_name": np.asarray(assembly["object_name"].values).astype(str)}
    )
    n_names = names.drop_duplicates().groupby("stimulus_id").size()
    require(
        bool((n_names == 1).all()),
        path,
        f"stimulus {n_names[n_names > 1].index[0] if (n_names > 1).any() else ''} has several object_name values",
    )
    return assembly


# First bytes of the two netCDF families: classic netCDF3 ("CDF" + version 1, 2 or 5) and netCDF4 (an HDF5 file).
_NETCDF3 = (b"CDF\x01", b"CDF\x02")
_HDF5 = b"\x89HDF\r\n\x1a\n"


def _netcdf_engine(path: Path) -> str:
    """The xarray engine for a file, from its signature: ``scipy`` (netCDF3) or ``h5netcdf`` (netCDF4)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    require(len(head) > 0, path, "empty file (expected a netCDF assembly)")
    if head[:4] in _NETCDF3:
        return "scipy"
    if head == _HDF5:
        return "h5netcdf"
    require(
        head[:4] != b"CDF\x05",
        path,
        "netCDF3 64-bit-data (CDF-5) files are not readable here; save the assembly as netCDF4 or classic netCDF3",
    )
    raise DataError(path, "not a netCDF file (neither the netCDF3 'CDF' nor the netCDF4/HDF5 signature)")


def _response_variable(dataset, path: Path):
    """The one data variable along presentation x neuroid (Brain-Score names it ``data`` or leaves xarray's
    default name)."""
    variables = list(dataset.data_vars)
    candidates = [v for v in variables if {"presentation", "neuroid"} <= set(dataset[v].dims)]
    if len(variables) == 1:
        return dataset[variables[0]]
    require(len(candidates) == 1, path, f"expected one data variable (the responses), found {variables}")
    return dataset[candidates[0]]


def _merge_stimulus_metadata(assembly, stimuli: pd.DataFrame):
    """Take ``object_name`` from the stimulus set when the assembly lacks it (Brain-Score keeps stimulus
    metadata in the stimulus set and merges it in on loading)."""
    if "object_name" in assembly.coords or "object_name" not in stimuli:
        return assembly
    names = stimuli.set_index("stimulus_id")["object_name"]
    ids = pd.Index(np.asarray(assembly["stimulus_id"].values).astype(str))
    return assembly.assign_coords(object_name=("presentation", names.reindex(ids).astype(str).to_numpy()))


def drop_nan(assembly, path: PathLike | None = None):
    """Drop presentations whose every response is NaN, then neuroids with any NaN response.

    Returns ``(assembly, {"nan_presentations_dropped": n, "nan_neuroids_dropped": m})``, logged; an assembly
    with nothing left is a :class:`DataError`.
    """
    from ..core.runtime import get_logger

    values = np.asarray(assembly.values)
    nan = np.isnan(values)
    require(not nan.all(), path, "every response is NaN")
    empty = nan.all(axis=(1, 2))
    if empty.any():
        assembly = assembly.isel(presentation=np.flatnonzero(~empty))
        nan = nan[~empty]
    bad = nan.any(axis=(0, 2))
    require(not bad.all(), path, f"every neuroid has NaN responses ({assembly.sizes['neuroid']} neuroids)")
    if bad.any():
        assembly = assembly.isel(neuroid=np.flatnonzero(~bad))
    counts = {"nan_presentations_dropped": int(empty.sum()), "nan_neuroids_dropped": int(bad.sum())}
    if empty.any() or bad.any():
        get_logger(__name__).warning(
            "%s: dropped %d presentations without any response and %d of %d neuroids with NaN responses",
            path,
            counts["nan_presentations_dropped"],
            counts["nan_neuroids_dropped"],
            len(bad),
        )
    return assembly, counts


def read_assembly(path: PathLike, stimuli: pd.DataFrame | None = None):
    """Read and check a neural assembly (ours or a Brain-Score netCDF file, netCDF3 or netCDF4).

    Returns an ``xarray.DataArray`` ``presentation x neuroid x time_bin`` with the coordinates of the module
    doc (a file without ``time_bin`` gets one). ``stimuli`` (:func:`read_stimulus_table`) supplies
    ``object_name`` when the file lacks it, as Brain-Score's loader merges the stimulus set in (every stimulus
    of the assembly must be in it: :func:`check_stimulus_ids`). Presentations
    without any response and neuroids with NaN responses are dropped (counts logged and in
    ``attrs["nan_presentations_dropped"]`` / ``attrs["nan_neuroids_dropped"]``). Raises :class:`DataError`
    naming the file and the problem.
    """
    import xarray as xr

    path = Path(path)
    require(path.is_file(), path, "assembly file not found")
    engine = _netcdf_engine(path)
    try:
        dataset = xr.load_dataset(path, engine=engine)
    except Exception as exc:  # xarray, h5py and scipy raise many types for a truncated or corrupt file
        raise DataError(
            path,
            f"not a readable netCDF file, truncated or corrupt ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})",
        ) from None
    assembly = _response_variable(dataset, path)
    # Brain-Score's older assemblies call the stimulus image_id
    if "stimulus_id" not in assembly.coords and "image_id" in assembly.coords:
        assembly = assembly.rename({"image_id": "stimulus_id"})
    if stimuli is not None and "stimulus_id" in assembly.coords:
        check_stimulus_ids(assembly, stimuli.attrs.get("path"), stimuli)
        assembly = _merge_stimulus_metadata(assembly, stimuli)
    assembly = _check_assembly(assembly, path, finite=False)
    assembly, counts = drop_nan(assembly, path)
    assembly = assembly.transpose(*ASSEMBLY_DIMS)
    assembly.attrs.update(counts)
    return assembly


def _bin_label(assembly, i: int) -> tuple[float, float] | None:
    if "time_bin_start" in assembly.coords and "time_bin_end" in assembly.coords:
        return float(assembly["time_bin_start"].values[i]), float(assembly["time_bin_end"].values[i])
    return None


def _mean_bins(assembly, keep: np.ndarray):
    """Mean over the time bins ``keep`` (indices): one time bin spanning them."""
    part = assembly.isel(time_bin=keep)
    labels = [_bin_label(assembly, int(i)) for i in keep]
    mean = part.mean("time_bin", keep_attrs=True).expand_dims("time_bin", axis=2)
    if all(lab is not None for lab in labels):
        mean = mean.assign_coords(
            time_bin_start=("time_bin", [min(lab[0] for lab in labels)]),
            time_bin_end=("time_bin", [max(lab[1] for lab in labels)]),
        )
    return mean


def _describe_bins(assembly, keep) -> str:
    labels = [_bin_label(assembly, int(i)) for i in keep]
    if any(lab is None for lab in labels):
        return f"{len(labels)} bin(s) without time_bin_start/time_bin_end"
    return ", ".join(f"{a:g}-{b:g} ms" for a, b in labels)


def select_time_bins(
    assembly, setting: str | Sequence[float] = "all", path: PathLike | None = None, key: str = "brainscore.time_bins"
) -> tuple[list, str]:
    """Apply the ``time_bins`` setting: ``"all"`` (mean of every bin), ``[start, end]`` (mean of the bins lying
    within the window, ms) or ``"each"`` (every bin on its own).

    Returns ``(assemblies, description)``: a list of assemblies with one time bin each (one for a mean) and
    the bins used, in words, for the log and the notes.
    """
    from ..core.errors import ConfigError
    from ..core.runtime import get_logger

    n = assembly.sizes["time_bin"]
    everything = np.arange(n)
    if isinstance(setting, str):
        if setting == "each":
            parts = [assembly.isel(time_bin=[i]) for i in everything]
            text = f"each of {n} bin(s) scored on its own: {_describe_bins(assembly, everything)}"
        elif setting == "all":
            parts = [assembly if n == 1 else _mean_bins(assembly, everything)]
            text = (
                f"one bin: {_describe_bins(assembly, everything)}"
                if n == 1
                else f"mean of all {n} bins: {_describe_bins(assembly, everything)}"
            )
        else:
            raise ConfigError(key, f"must be all, each or [start, end] in ms; got {setting!r}")
    else:
        window = [float(x) for x in setting]
        if len(window) != 2 or window[0] >= window[1]:
            raise ConfigError(key, f"a window must be [start, end] with start < end (ms); got {list(setting)}")
        require(
            "time_bin_start" in assembly.coords and "time_bin_end" in assembly.coords,
            path,
            f"time bins have no time_bin_start/time_bin_end coordinates, so the window {key} = "
            f"{window} cannot be applied",
        )
        start = np.asarray(assembly["time_bin_start"].values, dtype=float)
        end = np.asarray(assembly["time_bin_end"].values, dtype=float)
        keep = np.flatnonzero((start >= window[0]) & (end <= window[1]))
        if not len(keep):
            raise DataError(
                path,
                f"no time bin lies within {key} = {window[0]:g}-{window[1]:g} ms (bins: "
                f"{_describe_bins(assembly, everything)})",
            )
        parts = [_mean_bins(assembly, keep)]
        text = (
            f"mean of {len(keep)} of {n} bins within {window[0]:g}-{window[1]:g} ms: {_describe_bins(assembly, keep)}"
        )
    get_logger(__name__).info("time bins: %s", text)
    return parts, text


DEFAULT_REGIONS = ("V4", "IT")
VISUAL_HIERARCHY = ("V1", "V2", "V4", "IT")


def map_regions(
    assembly, regions: dict | None = None, path: PathLike | None = None, key: str = "brainscore.regions"
) -> tuple[Any, dict]:
    """Rename and select regions: ``regions`` maps each scored region to one or several of the assembly's
    region names (``{"IT": ["IT", "pIT", "cIT", "aIT"]}``).

    Neuroids of other regions are dropped and counted per name (logged). An empty ``regions`` scores V4 and IT
    as named, each where present (an absent one is logged and noted); a region named in ``regions`` that the
    assembly lacks is a :class:`DataError` naming the file and the key. The original name stays in the
    ``source_region`` coordinate.

    Returns ``(assembly, notes)`` with ``regions_scored`` (V1, V2, V4, IT in that order, then others as given),
    ``unmapped_regions`` (name: neuroid count) and
    ``regions_absent``.
    """
    from ..core.errors import ConfigError
    from ..core.runtime import get_logger

    log = get_logger(__name__)
    source = pd.Series(np.asarray(assembly["region"].values).astype(str))
    counts = source.value_counts()
    have = ", ".join(f"{name} ({n})" for name, n in counts.items())
    explicit = bool(regions)
    wanted = (
        {k: ([v] if isinstance(v, str) else list(v)) for k, v in (regions or {}).items()}
        if explicit
        else {r: [r] for r in DEFAULT_REGIONS}
    )
    target_of: dict[str, str] = {}
    for target, names in wanted.items():
        for name in names:
            if name in target_of and target_of[name] != target:
                raise ConfigError(key, f"region name {name!r} is mapped to both {target_of[name]!r} and {target!r}")
            target_of[name] = target
    absent = [t for t, names in wanted.items() if not any(n in counts for n in names)]
    if explicit and absent:
        t = absent[0]
        raise DataError(
            path,
            f"no neuroids for region {t!r} of {key} (looked for {', '.join(wanted[t])}); "
            f"the assembly's regions: {have}",
        )
    # the visual hierarchy's order first (a config passed as sorted JSON loses the order it was written in)
    rank = {t: i for i, t in enumerate(VISUAL_HIERARCHY)}
    order = sorted(wanted, key=lambda t: rank.get(t, len(rank)))
    scored = [t for t in order if t not in absent]
    require(
        bool(scored),
        path,
        f"no neuroids in region {' or '.join(DEFAULT_REGIONS)} (the assembly's regions: "
        f"{have}); map its region names with {key}, e.g. {{IT: [pIT, cIT, aIT]}}",
    )
    for t in absent:
        log.warning("%s: no neuroids in region %s: not scored", path, t)
    mapped = source.map(target_of)
    unmapped = {str(k): int(v) for k, v in source[mapped.isna()].value_counts().items()}
    if unmapped:
        log.warning(
            "%s: %d neuroids of unmapped regions dropped (%s); map them with %s",
            path,
            sum(unmapped.values()),
            ", ".join(f"{k} {v}" for k, v in unmapped.items()),
            key,
        )
    keep = np.flatnonzero(mapped.notna().to_numpy())
    out = assembly.isel(neuroid=keep)
    out = out.assign_coords(
        source_region=("neuroid", source.to_numpy()[keep]), region=("neuroid", mapped.to_numpy()[keep].astype(str))
    )
    notes = {"regions_scored": scored, "unmapped_regions": unmapped, "regions_absent": absent}
    return out, notes


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


# ------------------------------------------------------------------------------------ precomputed activations
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
