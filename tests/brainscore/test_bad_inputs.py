"""Brain-Score bad-input catalogue: each malformed assembly, stimulus set, activations file or setting gives one
line naming the file (or key) and the problem, never a library traceback. Some cases go through the CLI and
check that stderr is that one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from neuromodels.brainscore.data import (
    StimulusImages,
    read_activations,
    read_assembly,
    read_stimulus_table,
    select_time_bins,
    write_activations,
)
from tests.conftest import assert_one_error_line

from .brainio_layout import write_brainio_fixture


def _fixture(tmp: Path, **kw) -> dict:
    return write_brainio_fixture(tmp / "store", n_stimuli=24, repetitions=2, **kw)


def _rewrite(path: Path, change: Callable[[xr.Dataset], xr.Dataset], engine: str = "h5netcdf") -> None:
    """Load the fixture's netCDF, break it, write it back in place."""
    dataset = change(xr.load_dataset(path, engine=engine))
    path.unlink()
    dataset.to_netcdf(path, engine=engine)


def _drop_coord(name: str):
    return lambda ds: ds.drop_vars(name)


def _read(fx: dict) -> None:
    read_assembly(fx["assembly"], stimuli=read_stimulus_table(fx["stimuli"])[1])


def _acts(tmp: Path, fx: dict, drop: int = 0) -> Path:
    _, table = read_stimulus_table(fx["stimuli"])
    ids = table["stimulus_id"].to_numpy()[drop:]
    return write_activations(tmp / "acts.h5", ids, {"layer": np.random.default_rng(0).standard_normal((len(ids), 6))})


def _cli(
    tmp: Path, fx: dict, params: dict | None = None, stimuli: Path | None = None, acts: Path | None = None
) -> list[str]:
    """``neuromodels brainscore score --activations ...``: the arguments (the test runs them)."""
    return [
        "--log-level",
        "ERROR",
        "brainscore",
        "score",
        "--activations",
        str(acts or _acts(tmp, fx)),
        "--assembly",
        str(fx["assembly"]),
        "--stimuli",
        str(stimuli or fx["stimuli"]),
        "--out-dir",
        str(tmp / "out"),
        "--preset",
        "tiny",
        "--threads",
        "1",
        "--params",
        json.dumps({"overrides": {"n_splits": 2, "pls_components": 3}, **(params or {})}),
    ]


# --------------------------------------------------------------------------------------------- the cases
# Each case writes a malformed input under tmp and returns (what to run, the file or key the line must name).
# What to run is a callable (the reader) or a list of CLI arguments (run through neuromodels.cli.main).
def wrong_dims(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], lambda ds: ds.transpose("neuroid", "presentation", "time_bin"))
    return lambda: _read(fx), fx["assembly"]


def extra_dim(tmp):
    fx = _fixture(tmp)
    _rewrite(
        fx["assembly"],
        lambda ds: ds.expand_dims(trial_block=2).transpose("presentation", "neuroid", "time_bin", "trial_block"),
    )
    return lambda: _read(fx), fx["assembly"]


def object_name_nowhere(tmp):
    fx = _fixture(tmp)
    pd.read_csv(fx["csv"]).drop(columns=["object_name"]).to_csv(fx["csv"], index=False)
    return lambda: _read(fx), fx["assembly"]


def region_coord_missing(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], _drop_coord("region"))
    return lambda: _read(fx), fx["assembly"]


def stimulus_coord_missing(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], _drop_coord("stimulus_id"))
    return lambda: read_assembly(fx["assembly"]), fx["assembly"]


def ids_absent_from_stimulus_set(tmp):
    fx = _fixture(tmp)
    pd.read_csv(fx["csv"]).iloc[3:].to_csv(fx["csv"], index=False)
    return _cli(tmp, fx), fx["csv"]


def duplicate_stimulus_ids(tmp):
    fx = _fixture(tmp)
    table = pd.read_csv(fx["csv"])
    pd.concat([table, table.iloc[:2]]).to_csv(fx["csv"], index=False)
    return lambda: read_stimulus_table(fx["stimuli"]), fx["csv"]


def stimulus_id_column_missing(tmp):
    fx = _fixture(tmp)
    pd.read_csv(fx["csv"]).rename(columns={"stimulus_id": "stim"}).to_csv(fx["csv"], index=False)
    return lambda: read_stimulus_table(fx["stimuli"]), fx["csv"]


def filename_missing_with_model(tmp):
    fx = _fixture(tmp)
    pd.read_csv(fx["csv"]).drop(columns=["filename"]).to_csv(fx["csv"], index=False)
    args = _cli(tmp, fx)
    at = args.index("--activations")
    args[at : at + 2] = ["--model", str(tmp / "model.pt"), "--data", str(tmp / "images.h5")]
    return args, fx["csv"]


def image_neither_unpacked_nor_zipped(tmp):
    fx = _fixture(tmp)
    _, table = read_stimulus_table(fx["stimuli"])
    first = table["filename"].iloc[0]
    (fx["stimuli"] / first).unlink()
    zipped = next(fx["stimuli"].glob("*.zip"))
    zipped.unlink()
    return lambda: StimulusImages(fx["stimuli"])([table["stimulus_id"].iloc[0]]), fx["stimuli"] / first


def image_zip_corrupt(tmp):
    fx = _fixture(tmp)
    _, table = read_stimulus_table(fx["stimuli"])
    (fx["stimuli"] / table["filename"].iloc[0]).unlink()
    zipped = next(fx["stimuli"].glob("*.zip"))
    zipped.write_bytes(b"PK not really")
    return lambda: StimulusImages(fx["stimuli"])([table["stimulus_id"].iloc[0]]), zipped


def two_csvs_in_folder(tmp):
    fx = _fixture(tmp)
    (fx["stimuli"] / "notes.csv").write_text("a\n1\n")
    return lambda: read_stimulus_table(fx["stimuli"]), fx["stimuli"]


def not_netcdf(tmp):
    fx = _fixture(tmp)
    fx["assembly"].write_text("presentation,neuroid\n1,2\n")
    return _cli(tmp, fx), fx["assembly"]


def empty_file(tmp):
    fx = _fixture(tmp)
    fx["assembly"].write_bytes(b"")
    return lambda: _read(fx), fx["assembly"]


def truncated_netcdf4(tmp):
    fx = _fixture(tmp)
    data = fx["assembly"].read_bytes()
    fx["assembly"].write_bytes(data[: len(data) // 2])
    return _cli(tmp, fx), fx["assembly"]


def truncated_netcdf3(tmp):
    fx = _fixture(tmp, netcdf3=True)
    data = fx["assembly"].read_bytes()
    fx["assembly"].write_bytes(data[: len(data) // 3])
    return lambda: _read(fx), fx["assembly"]


def two_data_variables(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], lambda ds: ds.assign(other=ds["data"] * 2))
    return lambda: _read(fx), fx["assembly"]


def duplicate_neuroid_ids(tmp):
    fx = _fixture(tmp)
    _rewrite(
        fx["assembly"],
        lambda ds: ds.assign_coords(neuroid_id=("neuroid", np.r_[["x", "x"], ds["neuroid_id"].values[2:]])),
    )
    return lambda: _read(fx), fx["assembly"]


def duplicate_presentations(tmp):
    fx = _fixture(tmp)
    _rewrite(
        fx["assembly"],
        lambda ds: ds.assign_coords(repetition=("presentation", np.zeros(ds.sizes["presentation"], np.int32))),
    )
    return lambda: _read(fx), fx["assembly"]


def all_nan(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], lambda ds: ds.assign(data=ds["data"] * np.nan))
    return _cli(tmp, fx), fx["assembly"]


def infinite_response(tmp):
    fx = _fixture(tmp)
    _rewrite(fx["assembly"], lambda ds: ds.assign(data=ds["data"].where(ds["data"] < ds["data"].max(), np.inf)))
    return lambda: _read(fx), fx["assembly"]


def region_asked_but_absent(tmp):
    fx = _fixture(tmp)
    return _cli(tmp, fx, params={"regions": {"V4": "V4", "IT": ["pIT", "aIT"]}}), "brainscore.regions"


def no_default_region(tmp):
    fx = _fixture(tmp, regions=(("V1", 6), ("V2", 6)))
    return _cli(tmp, fx), "brainscore.regions"


def region_mapped_twice(tmp):
    fx = _fixture(tmp)
    return _cli(tmp, fx, params={"regions": {"V4": "V4", "IT": ["IT", "V4"]}}), "brainscore.regions"


def window_without_bins(tmp):
    fx = _fixture(tmp, time_bins=((0, 50), (50, 100)))
    return _cli(tmp, fx, params={"time_bins": [200, 300]}), fx["assembly"]


def window_without_bin_coords(tmp):
    fx = _fixture(tmp, time_bins=((70, 120), (120, 170)))
    _rewrite(fx["assembly"], lambda ds: ds.drop_vars(["time_bin_start", "time_bin_end"]))
    return (
        lambda: select_time_bins(
            read_assembly(fx["assembly"], read_stimulus_table(fx["stimuli"])[1]), [70, 170], fx["assembly"]
        )
    ), fx["assembly"]


def time_bins_setting_misspelt(tmp):
    fx = _fixture(tmp)
    return _cli(tmp, fx, params={"time_bins": "average"}), "brainscore.time_bins"


def one_repetition(tmp):
    fx = write_brainio_fixture(tmp / "store", n_stimuli=24, repetitions=1)
    return _cli(tmp, fx), fx["assembly"]


def activations_missing_stimuli(tmp):
    fx = _fixture(tmp)
    acts = _acts(tmp, fx, drop=5)
    return _cli(tmp, fx, acts=acts), acts


def activations_not_hdf5(tmp):
    fx = _fixture(tmp)
    acts = tmp / "acts.h5"
    acts.write_text("not hdf5")
    return _cli(tmp, fx, acts=acts), acts


def activations_rows_mismatch(tmp):
    acts = tmp / "acts.npz"
    np.savez(acts, stimulus_id=np.array(["a", "b", "c"]), layer=np.zeros((4, 5)))
    return lambda: read_activations(acts), acts


def activations_without_ids(tmp):
    acts = tmp / "acts.npz"
    np.savez(acts, layer=np.zeros((4, 5)))
    return lambda: read_activations(acts), acts


CASES = {
    "wrong_dims": (wrong_dims, r"dims must be \(presentation, neuroid"),
    "extra_dim": (extra_dim, "dims must be"),
    "object_name_nowhere": (object_name_nowhere, "missing coordinate 'object_name'"),
    "region_coord_missing": (region_coord_missing, "missing coordinate 'region'"),
    "stimulus_coord_missing": (stimulus_coord_missing, "missing coordinate 'stimulus_id'"),
    "ids_absent_from_stimulus_set": (ids_absent_from_stimulus_set, r"3 of the assembly's 24 stimulus ids are not in"),
    "duplicate_stimulus_ids": (duplicate_stimulus_ids, "duplicate stimulus_id values"),
    "stimulus_id_column_missing": (stimulus_id_column_missing, r"missing columns \['stimulus_id'\]"),
    "filename_missing_with_model": (filename_missing_with_model, r"missing columns \['filename'\]"),
    "image_neither_unpacked_nor_zipped": (image_neither_unpacked_nor_zipped, "listed in the stimulus table not found"),
    "image_zip_corrupt": (image_zip_corrupt, "not a readable zip archive"),
    "two_csvs_in_folder": (two_csvs_in_folder, "needs stimuli.csv or exactly one CSV"),
    "not_netcdf": (not_netcdf, "not a netCDF file"),
    "empty_file": (empty_file, "empty file"),
    "truncated_netcdf4": (truncated_netcdf4, "truncated or corrupt"),
    "truncated_netcdf3": (truncated_netcdf3, "truncated or corrupt"),
    "two_data_variables": (two_data_variables, "expected one data variable"),
    "duplicate_neuroid_ids": (duplicate_neuroid_ids, r"duplicate neuroid_id \['x'\]"),
    "duplicate_presentations": (duplicate_presentations, r"\(stimulus_id, repetition\) pair appears twice"),
    "all_nan": (all_nan, "every response is NaN"),
    "infinite_response": (infinite_response, "responses are infinite"),
    "region_asked_but_absent": (
        region_asked_but_absent,
        r"no neuroids for region 'IT'.*looked for pIT, aIT.*V4 \(12\), IT \(12\)",
    ),
    "no_default_region": (no_default_region, r"no neuroids in region V4 or IT .*V1 \(6\), V2 \(6\)"),
    "region_mapped_twice": (region_mapped_twice, "mapped to both"),
    "window_without_bins": (window_without_bins, r"no time bin lies within .*200-300 ms .*0-50 ms, 50-100 ms"),
    "window_without_bin_coords": (window_without_bin_coords, "no time_bin_start/time_bin_end"),
    "time_bins_setting_misspelt": (time_bins_setting_misspelt, "'average' is not"),
    "one_repetition": (one_repetition, "at least two repetitions"),
    "activations_missing_stimuli": (activations_missing_stimuli, "no activations for 5 stimuli"),
    "activations_not_hdf5": (activations_not_hdf5, "not a readable HDF5 file"),
    "activations_rows_mismatch": (
        activations_rows_mismatch,
        r"layer 'layer' must be numeric \(n, features\) with n = 3",
    ),
    "activations_without_ids": (activations_without_ids, "missing 'stimulus_id'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line(tmp_path: Path, case: str, capsys) -> None:
    setup, message = CASES[case]
    run, named = setup(tmp_path)
    assert_one_error_line(run, named, message, capsys)
