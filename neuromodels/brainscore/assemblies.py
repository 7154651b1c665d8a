"""Brain-Score-style neural assemblies: built, written, read and checked, and prepared for scoring (NaN dropped,
time bins selected, regions mapped, repetitions averaged).

Neural assembly (netCDF, the format Brain-Score's assemblies use)
    One ``xarray.DataArray`` with dims ``presentation x neuroid x time_bin`` (``time_bin`` optional), one
    presentation per shown repetition of a stimulus. Coordinates: on ``presentation`` ``stimulus_id``,
    ``object_name``, ``repetition``; on ``neuroid`` ``neuroid_id`` and ``region`` (V4, IT, ...); on
    ``time_bin`` ``time_bin_start``/``time_bin_end`` (ms). Brain-Score's files (brainio: netCDF4 written by
    ``write_netcdf``, the variable named ``data``; older ones netCDF3) are read as they are: ``image_id`` for
    ``stimulus_id``, ``object_name`` taken from the stimulus set (:mod:`.stimulus_sets`) when the file leaves it
    there, any further coordinates (variation, animal, arr, ...) kept. NaN neuroids are dropped with a logged
    count.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path
from .stimulus_sets import check_stimulus_ids

__all__ = [
    "make_assembly",
    "write_assembly",
    "read_assembly",
    "drop_nan",
    "select_time_bins",
    "map_regions",
    "average_repetitions",
    "ASSEMBLY_DIMS",
    "PRESENTATION_COORDS",
    "NEUROID_COORDS",
    "DEFAULT_REGIONS",
    "VISUAL_HIERARCHY",
]

ASSEMBLY_DIMS = ("presentation", "neuroid", "time_bin")
PRESENTATION_COORDS = ("stimulus_id", "object_name", "repetition")
NEUROID_COORDS = ("neuroid_id", "region")


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
