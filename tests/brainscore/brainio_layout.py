"""A small data set in Brain-Score's published layout, written by a generator of its own for the tests.

Layout (brainio's local store, as ``brainio.fetch`` leaves it after a download):

    <root>/assy_<lab>_<Name>/assy_<lab>_<Name>.nc
        netCDF4 (HDF5) written as ``brainio.packaging.write_netcdf`` does: the DataArray turned into a Dataset
        whose one data variable is ``data`` (zlib level 1), dims presentation x neuroid x time_bin; on
        presentation ``stimulus_id`` (or the older ``image_id``), ``repetition``, ``variation`` and no
        stimulus metadata (that lives in the stimulus set); on neuroid ``neuroid_id`` (animal_hemisphere_array_
        row_col), ``animal``, ``arr``, ``region``; on time_bin ``time_bin_start``, ``time_bin_end`` (ms);
        global attributes ``identifier`` and ``stimulus_set_identifier``. ``netcdf3=True`` writes the same as
        classic netCDF3 (older releases).
    <root>/stimulus_<lab>_<Name>/stimulus_<lab>_<Name>.csv, .zip and the unpacked images beside them
        columns ``stimulus_id``, ``filename`` (the name inside the zip), ``object_name``, ``category_name``,
        ``variation``.

The responses are NOT the project's simulator: each neuroid reads a random linear filter of the image's
8 x 8 colour thumbnail through a softplus, with a latency (no signal before 70 ms), per-region gains and
independent Gaussian trial noise, so what a model is scored on here was planted in pixels, not in the stimulus
world's latent attributes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from PIL import Image

from neuromodels.stimuli import render_scenes, sample_scenes

LAB, NAME = "test", "Fixture2026"
ASSEMBLY_ID = f"{LAB}.{NAME}"
STIMULUS_SET_ID = f"{LAB}.{NAME}"
DEFAULT_BINS = ((70, 170),)


def assembly_path(root: Path) -> Path:
    store = f"assy_{LAB}_{NAME}"
    return Path(root) / store / f"{store}.nc"


def stimulus_dir(root: Path) -> Path:
    return Path(root) / f"stimulus_{LAB}_{NAME}"


def write_brainio_fixture(
    root: Path,
    n_stimuli: int = 48,
    repetitions: int = 4,
    regions: Sequence[tuple[str, int]] = (("V4", 12), ("IT", 12)),
    time_bins: Sequence[tuple[int, int]] = DEFAULT_BINS,
    size: int = 32,
    netcdf3: bool = False,
    legacy_ids: bool = False,
    nan_neuroids: int = 0,
    seed: int = 0,
) -> dict[str, Path]:
    """Write the assembly and its stimulus set under ``root`` in brainio's layout; return their paths.

    ``regions``: (region name, neuroid count) pairs; ``nan_neuroids`` neuroids get NaN on one presentation
    (a lost trial).
    """
    rng = np.random.default_rng(seed)
    scenes = sample_scenes(n_stimuli, seed=seed + 77, categories=["disc", "triangle", "cross", "bar"])
    images = render_scenes(scenes, size=size)  # (n, H, W, 3) uint8
    ids = np.array([f"{i:040x}"[-12:] for i in rng.integers(0, 2**62, n_stimuli)])  # hash-like text ids
    assert len(set(ids)) == n_stimuli

    # stimulus set: images zipped flat (the zip's names are the filenames), then unpacked beside the CSV
    sdir = stimulus_dir(root)
    sdir.mkdir(parents=True, exist_ok=True)
    store = sdir.name
    filenames = [f"{i}.png" for i in ids]
    with zipfile.ZipFile(sdir / f"{store}.zip", "w") as archive:
        for image, name in zip(images, filenames):
            Image.fromarray(image).save(sdir / name)
            archive.write(sdir / name, arcname=name)
    variation = rng.choice([0, 3], n_stimuli)
    pd.DataFrame(
        {
            "stimulus_id": ids,
            "filename": filenames,
            "object_name": scenes["category"].to_numpy(),
            "category_name": "shape",
            "variation": variation,
        }
    ).to_csv(sdir / f"{store}.csv", index=False)

    # responses: a random filter of the 8 x 8 colour thumbnail, softplus, a latency, trial noise
    thumbs = np.stack(
        [np.asarray(Image.fromarray(im).resize((8, 8), Image.Resampling.BOX), dtype=float) / 255 for im in images]
    ).reshape(n_stimuli, -1)
    thumbs = (thumbs - thumbs.mean(0)) / (thumbs.std(0) + 1e-6)
    names = [name for name, count in regions for _ in range(count)]
    n_neuroids = len(names)
    weights = rng.standard_normal((thumbs.shape[1], n_neuroids)) / np.sqrt(thumbs.shape[1])
    drive = np.log1p(np.exp(2.0 * thumbs @ weights))
    drive = (drive - drive.mean(0)) / drive.std(0)
    gain = np.array([1.0 if t0 >= 70 else 0.0 for t0, _ in time_bins])
    values = np.empty((n_stimuli * repetitions, n_neuroids, len(time_bins)))
    for r in range(repetitions):
        block = slice(r * n_stimuli, (r + 1) * n_stimuli)
        values[block] = drive[:, :, None] * gain + 0.8 * rng.standard_normal((n_stimuli, n_neuroids, len(time_bins)))
    values = 10 + 5 * values  # firing-rate-like
    order = rng.permutation(len(values))  # presentations in shown order
    stim = np.tile(ids, repetitions)[order]
    rep = np.repeat(np.arange(repetitions), n_stimuli)[order]
    values = values[order]
    if nan_neuroids:
        values[0, :nan_neuroids, :] = np.nan
    animals = np.where(np.arange(n_neuroids) % 2 == 0, "Chabo", "Tito")
    arrays = np.array(["M", "P", "A"])[np.arange(n_neuroids) % 3]
    neuroid_id = [f"{a}_L_{arr}_{i // 10}_{i % 10}" for i, (a, arr) in enumerate(zip(animals, arrays))]
    bins = np.asarray(time_bins, dtype=np.int64).reshape(-1, 2)
    stim_coord = "image_id" if legacy_ids else "stimulus_id"
    assembly = xr.DataArray(
        values.astype(np.float64),
        dims=("presentation", "neuroid", "time_bin"),
        coords={
            stim_coord: ("presentation", stim),
            "repetition": ("presentation", rep.astype(np.int32)),
            "variation": ("presentation", variation[pd.Index(ids).get_indexer(stim)].astype(np.int32)),
            "neuroid_id": ("neuroid", neuroid_id),
            "animal": ("neuroid", animals),
            "arr": ("neuroid", arrays),
            "region": ("neuroid", names),
            "time_bin_start": ("time_bin", bins[:, 0].astype(np.int32)),
            "time_bin_end": ("time_bin", bins[:, 1].astype(np.int32)),
        },
    )
    dataset = assembly.to_dataset(name="data")
    dataset.attrs.update(identifier=ASSEMBLY_ID, stimulus_set_identifier=STIMULUS_SET_ID)
    path = assembly_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    if netcdf3:
        dataset.to_netcdf(path, engine="scipy")
    else:
        dataset.to_netcdf(
            path, engine="h5netcdf", encoding={var: {"zlib": True, "complevel": 1} for var in dataset.variables}
        )
    return {
        "assembly": path,
        "stimuli": sdir,
        "csv": sdir / f"{store}.csv",
        "values": values,
        "stimulus_id": stim,
        "repetition": rep,
        "region": np.asarray(names),
        "neuroid_id": np.asarray(neuroid_id),
    }
