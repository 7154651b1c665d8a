"""Formats: netCDF assemblies round-trip exactly and malformed ones are refused with the file named;
Brain-Score-style files are read; image classification sets (HDF5, folders) and stimulus images."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from neuromodels.brainscore.data import (
    StimulusImages,
    average_repetitions,
    make_assembly,
    read_assembly,
    read_image_dataset,
    world_image_dataset,
    write_assembly,
    write_image_dataset,
)
from neuromodels.core.errors import DataError


def small_assembly(n_stimuli: int = 6, reps: int = 3, n_neuroids: int = 4, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    stim = np.tile(np.arange(n_stimuli), reps)
    rep = np.repeat(np.arange(reps), n_stimuli)
    names = np.array(["disc", "star"])[stim % 2]
    region = ["V4", "V4", "IT", "IT"][:n_neuroids]
    return make_assembly(
        rng.standard_normal((n_stimuli * reps, n_neuroids)),
        stim,
        names,
        rep,
        [f"n{i}" for i in range(n_neuroids)],
        region,
    )


def test_assembly_round_trip(tmp_path: Path) -> None:
    assembly = small_assembly()
    path = write_assembly(tmp_path / "a.nc", assembly)
    back = read_assembly(path)
    assert back.dims == ("presentation", "neuroid", "time_bin")
    np.testing.assert_array_equal(back.values, assembly.values)
    for coord in ("stimulus_id", "object_name", "repetition", "neuroid_id", "region", "time_bin_start", "time_bin_end"):
        np.testing.assert_array_equal(back[coord].values, assembly[coord].values)


def test_average_repetitions() -> None:
    assembly = small_assembly()
    mean, ids, names = average_repetitions(assembly)
    np.testing.assert_array_equal(ids, np.arange(6))
    expected = assembly.values[assembly["stimulus_id"].values == 4].mean(axis=0)
    np.testing.assert_allclose(mean[4], expected)
    assert list(names[:2]) == ["disc", "star"]


def test_reads_brain_score_style_file(tmp_path: Path) -> None:
    """Brain-Score's older files call the stimulus image_id, may lack time_bin, and name the variable
    __xarray_dataarray_variable__."""
    a = small_assembly().isel(time_bin=0).drop_vars(["time_bin_start", "time_bin_end"])
    a = a.rename({"stimulus_id": "image_id"})
    a.name = None
    a.to_netcdf(tmp_path / "bs.nc", engine="h5netcdf")
    back = read_assembly(tmp_path / "bs.nc")
    assert back.dims == ("presentation", "neuroid", "time_bin") and back.sizes["time_bin"] == 1
    np.testing.assert_array_equal(back["stimulus_id"].values, a["image_id"].values)
    np.testing.assert_array_equal(back.values[:, :, 0], a.values)


def _write_raw(path: Path, array: xr.DataArray) -> Path:
    array.to_netcdf(path, engine="h5netcdf")
    return path


@pytest.mark.parametrize(
    "break_it,message",
    [
        (lambda a: a.drop_vars("object_name"), "missing coordinate 'object_name'"),
        (lambda a: a.drop_vars("region"), "missing coordinate 'region'"),
        (lambda a: a.transpose("neuroid", "presentation", "time_bin"), "dims must be"),
        (lambda a: a.where(a["neuroid_id"] != "n1", np.inf), "infinite"),
        (lambda a: a.assign_coords(neuroid_id=("neuroid", ["n0", "n0", "n2", "n3"])), "duplicate neuroid_id"),
        (
            lambda a: a.assign_coords(repetition=("presentation", np.zeros(a.sizes["presentation"], int))),
            "appears twice",
        ),
        (
            lambda a: a.assign_coords(
                object_name=(
                    "presentation",
                    np.array(["disc", "star", "ring", "bar"])[np.arange(a.sizes["presentation"]) % 4],
                )
            ),
            "several object_name",
        ),
    ],
)
def test_malformed_assemblies_are_refused(tmp_path: Path, break_it, message: str) -> None:
    path = _write_raw(tmp_path / "bad.nc", break_it(small_assembly()))
    with pytest.raises(DataError, match=message) as info:
        read_assembly(path)
    assert str(path) in str(info.value)


def test_not_netcdf_and_two_variables_refused(tmp_path: Path) -> None:
    text = tmp_path / "x.nc"
    text.write_text("hello")
    with pytest.raises(DataError, match="not a netCDF file"):
        read_assembly(text)
    ds = xr.Dataset({"a": small_assembly(), "b": small_assembly()})
    ds.to_netcdf(tmp_path / "two.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="one data variable"):
        read_assembly(tmp_path / "two.nc")
    with pytest.raises(DataError, match="not found"):
        read_assembly(tmp_path / "missing.nc")


def test_image_dataset_hdf5_round_trip(tmp_path: Path) -> None:
    data = world_image_dataset(20, 10, 16, seed=0)
    assert data.images.shape == (30, 3, 16, 16) and data.images.dtype == np.uint8
    assert set(data.split.tolist()) == {0, 1} and data.n_classes == 10
    back = read_image_dataset(write_image_dataset(tmp_path / "d.h5", data))
    np.testing.assert_array_equal(back.images, data.images)
    np.testing.assert_array_equal(back.labels, data.labels)
    np.testing.assert_array_equal(back.split, data.split)
    assert back.label_names == data.label_names


def test_malformed_hdf5_refused(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["images"] = np.zeros((4, 8, 8, 3), np.uint8)
        f["labels"] = np.zeros(4, np.int64)
    with pytest.raises(DataError, match=r"images must be \(n, 3, H, W\)"):
        read_image_dataset(tmp_path / "bad.h5")
    with h5py.File(tmp_path / "nolabels.h5", "w") as f:
        f["images"] = np.zeros((4, 3, 8, 8), np.uint8)
    with pytest.raises(DataError, match="missing datasets"):
        read_image_dataset(tmp_path / "nolabels.h5")


def test_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    data = read_image_dataset(tmp_path, size=8)
    assert data.label_names == ["cat", "dog"] and data.images.shape == (10, 3, 8, 8)
    assert sorted(np.bincount(data.labels).tolist()) == [5, 5]
    assert (data.split == 1).sum() == 2  # 20 % of each class held out
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "dog" / "odd.png")
    with pytest.raises(DataError, match="odd.png"):
        read_image_dataset(tmp_path)  # mixed sizes without resizing


def test_stimulus_images_by_id(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    for i, v in enumerate((10, 200)):
        Image.fromarray(np.full((6, 6, 3), v, np.uint8)).save(tmp_path / "img" / f"{i}.png")
    (tmp_path / "stimuli.csv").write_text("stimulus_id,filename,object_name\nab,img/0.png,x\n7,img/1.png,y\n")
    load = StimulusImages(tmp_path, size=4)
    out = load(["7", "ab"])
    assert out.shape == (2, 4, 4, 3) and out[0, 0, 0, 0] == 200 and out[1, 0, 0, 0] == 10
    assert load([7]).shape == (1, 4, 4, 3)  # integer ids match their text form
    with pytest.raises(DataError, match="no stimulus_id zz"):
        load(["zz"])
