"""Brain-Score's published layout read as it is: the brainio store's assembly (netCDF4 or netCDF3, ``data``
variable, stimulus metadata left in the stimulus set) and stimulus set (its only CSV, images beside it), time
bins kept (averaged in a window, or scored each), any region names mapped, NaN neuroids dropped with a count,
and scoring from precomputed activations with a stimulus set that has no filename column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neuromodels.brainscore.data import (
    StimulusImages,
    map_regions,
    read_activations,
    read_assembly,
    read_stimulus_table,
    select_time_bins,
    stimulus_table_path,
    write_activations,
)
from neuromodels.cli import main

from .brainio_layout import write_brainio_fixture


@pytest.mark.parametrize(
    "netcdf3,legacy_ids", [(False, False), (True, False), (False, True)], ids=["netcdf4", "netcdf3", "image_id"]
)
def test_reads_brainio_store(tmp_path: Path, netcdf3: bool, legacy_ids: bool) -> None:
    fx = write_brainio_fixture(tmp_path, netcdf3=netcdf3, legacy_ids=legacy_ids)
    with open(fx["assembly"], "rb") as fh:
        assert fh.read(4) in ((b"CDF\x01", b"CDF\x02") if netcdf3 else (b"\x89HDF",))
    csv, table = read_stimulus_table(fx["stimuli"])  # the folder: its only CSV is found
    assert stimulus_table_path(fx["stimuli"]) == csv == fx["csv"] and stimulus_table_path(csv) == csv
    assert stimulus_table_path(tmp_path / "not_yet") == tmp_path / "not_yet" / "stimuli.csv"  # still to write
    assert csv == fx["csv"] and len(table) == 48
    a = read_assembly(fx["assembly"], stimuli=table)
    assert a.dims == ("presentation", "neuroid", "time_bin") and a.shape == (192, 24, 1)
    np.testing.assert_array_equal(a.values, fx["values"])  # exact round trip
    np.testing.assert_array_equal(a["stimulus_id"].values.astype(str), fx["stimulus_id"])
    np.testing.assert_array_equal(a["repetition"].values, fx["repetition"])
    np.testing.assert_array_equal(a["region"].values.astype(str), fx["region"])
    assert list(a["time_bin_start"].values) == [70] and list(a["time_bin_end"].values) == [170]
    # object_name came from the stimulus set, matched by id; extra coordinates stay
    expected = table.set_index("stimulus_id")["object_name"].reindex(fx["stimulus_id"]).to_numpy()
    np.testing.assert_array_equal(a["object_name"].values.astype(str), expected)
    assert set(a["animal"].values.astype(str)) == {"Chabo", "Tito"}
    assert a.attrs["nan_neuroids_dropped"] == 0
    # the images the stimulus set lists, by id
    images = StimulusImages(fx["stimuli"])
    first = table["stimulus_id"].iloc[3]
    np.testing.assert_array_equal(
        images([first])[0], np.asarray(Image.open(fx["stimuli"] / f"{first}.png").convert("RGB"))
    )


def test_images_read_from_the_zip_when_not_unpacked(tmp_path: Path) -> None:
    """The store as downloaded (CSV + zip, nothing unpacked) gives the same images as the unpacked one."""
    fx = write_brainio_fixture(tmp_path)
    _, table = read_stimulus_table(fx["stimuli"])
    ids = table["stimulus_id"].iloc[[5, 0, 9]].tolist()
    unpacked = StimulusImages(fx["stimuli"], size=16)(ids)
    for png in fx["stimuli"].glob("*.png"):
        png.unlink()
    np.testing.assert_array_equal(StimulusImages(fx["stimuli"], size=16)(ids), unpacked)


def test_nan_neuroids_dropped_with_count(tmp_path: Path, caplog, capsys) -> None:
    fx = write_brainio_fixture(tmp_path, nan_neuroids=3)
    a = read_assembly(fx["assembly"], stimuli=read_stimulus_table(fx["stimuli"])[1])
    assert a.sizes["neuroid"] == 21 and a.attrs["nan_neuroids_dropped"] == 3
    np.testing.assert_array_equal(a["neuroid_id"].values.astype(str), fx["neuroid_id"][3:])
    # logged (to the log capture, or to stderr once the CLI has set up its handler in this process)
    assert "3 of 24 neuroids with NaN" in caplog.text + capsys.readouterr().err


def test_time_bins_window_each_and_all(tmp_path: Path) -> None:
    bins = ((0, 70), (70, 120), (120, 170), (170, 250))
    fx = write_brainio_fixture(tmp_path, time_bins=bins)
    a = read_assembly(fx["assembly"], stimuli=read_stimulus_table(fx["stimuli"])[1])
    values = fx["values"]
    (window,), text = select_time_bins(a, [70, 170])
    np.testing.assert_allclose(window.values[:, :, 0], values[:, :, 1:3].mean(axis=2))
    assert (float(window["time_bin_start"][0]), float(window["time_bin_end"][0])) == (70, 170)
    assert "2 of 4 bins" in text and "70-120 ms, 120-170 ms" in text
    each, text = select_time_bins(a, "each")
    assert len(each) == 4 and "each of 4" in text
    np.testing.assert_array_equal(each[2].values[:, :, 0], values[:, :, 2])
    (everything,), text = select_time_bins(a, "all")
    np.testing.assert_allclose(everything.values[:, :, 0], values.mean(axis=2))
    assert "mean of all 4 bins" in text


def test_region_names_mapped_and_unmapped_counted(tmp_path: Path) -> None:
    fx = write_brainio_fixture(tmp_path, regions=(("V1", 5), ("V4", 6), ("pIT", 4), ("cIT", 3), ("aIT", 2)))
    a = read_assembly(fx["assembly"], stimuli=read_stimulus_table(fx["stimuli"])[1])
    mapped, notes = map_regions(a, {"V4": "V4", "IT": ["IT", "pIT", "cIT", "aIT"]})
    assert notes == {"regions_scored": ["V4", "IT"], "unmapped_regions": {"V1": 5}, "regions_absent": []}
    assert mapped.sizes["neuroid"] == 15
    assert (mapped["region"].values == "IT").sum() == 9
    assert set(mapped["source_region"].values[mapped["region"].values == "IT"]) == {"pIT", "cIT", "aIT"}
    # without a mapping: V4 as named, IT absent (logged and noted, not an error)
    default, notes = map_regions(a)
    assert notes["regions_scored"] == ["V4"] and notes["regions_absent"] == ["IT"]
    assert notes["unmapped_regions"] == {"V1": 5, "pIT": 4, "cIT": 3, "aIT": 2}


def _planted_activations(fx: dict, table: pd.DataFrame) -> dict[str, np.ndarray]:
    """A layer that carries the fixture's drive (the 8 x 8 thumbnails, as the generator saw them) and one of
    noise: layer commitment must pick the first."""
    thumbs = np.stack(
        [
            np.asarray(
                Image.open(fx["stimuli"] / f).convert("RGB").resize((8, 8), Image.Resampling.BOX), dtype=float
            ).ravel()
            / 255
            for f in table["filename"]
        ]
    )
    rng = np.random.default_rng(5)
    return {"informative": thumbs, "noise": rng.standard_normal(thumbs.shape)}


def test_score_from_activations_without_filenames(tmp_path: Path) -> None:
    fx = write_brainio_fixture(tmp_path / "store", time_bins=((0, 70), (70, 170)), n_stimuli=60)
    _, table = read_stimulus_table(fx["stimuli"])
    layers = _planted_activations(fx, table)
    order = np.random.default_rng(1).permutation(len(table))  # rows in an order of their own
    acts = write_activations(
        tmp_path / "acts.h5", table["stimulus_id"].to_numpy()[order], {k: v[order] for k, v in layers.items()}
    )
    no_files = tmp_path / "ids_only.csv"
    table.drop(columns=["filename"]).to_csv(no_files, index=False)  # a stimulus set without filename
    ids, back = read_activations(acts)
    np.testing.assert_array_equal(back["noise"], layers["noise"][order].astype(np.float32))
    params = json.dumps({"time_bins": "each", "overrides": {"n_splits": 3, "pls_components": 5}})
    out = tmp_path / "scores"
    assert (
        main(
            [
                "brainscore",
                "score",
                "--activations",
                str(acts),
                "--assembly",
                str(fx["assembly"]),
                "--stimuli",
                str(no_files),
                "--out-dir",
                str(out),
                "--preset",
                "tiny",
                "--params",
                params,
                "--threads",
                "1",
            ]
        )
        == 0
    )
    neural = pd.read_csv(out / "neural.csv")
    assert len(neural) == 4 and set(neural["time_bin_start"]) == {0, 70}  # a row per region and bin
    assert not (out / "robustness.csv").exists()
    late = neural[neural["time_bin_start"] == 70]
    early = neural[neural["time_bin_start"] == 0]
    assert list(neural.columns[:4]) == ["variant", "region", "time_bin_start", "time_bin_end"]
    assert (late["layer"] == "informative").all()
    assert (late["ceiled"] > 0.5).all()  # the planted drive is predicted once the signal starts
    assert (late["ceiling"] > 0.7).all() and (early["ceiling"] < 0.3).all()  # no signal planted before 70 ms
    summary = json.loads((out / "summary.json").read_text())
    assert summary["variant"] == "acts" and summary["notes"]["time_bins"].startswith("each of 2")
    assert summary["notes"]["nan_neuroids_dropped"] == 0 and summary["IT_n_bins"] == 2
