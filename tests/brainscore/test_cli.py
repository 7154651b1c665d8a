"""The brainscore steps from the command line on tiny data: images, simulate, train, score (also on a
Brain-Score-style assembly a user brings), summarize, bench; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neuromodels.cli import main

PARAMS = json.dumps(
    {"overrides": {"n_train": 64, "n_test": 32, "epochs": 1, "batch_size": 32, "n_stimuli": 60, "pgd_steps": 2}}
)


def run(*args: str) -> int:
    return main(["brainscore", *args, "--preset", "tiny", "--params", PARAMS, "--threads", "1"])


def test_steps_end_to_end(tmp_path: Path, capsys) -> None:
    assert run("images", "--out", str(tmp_path / "images.h5")) == 0
    assert run("simulate", "--out-dir", str(tmp_path / "neural"), "--seed", "1") == 0
    truth = json.loads((tmp_path / "neural" / "truth.json").read_text())
    assert set(truth["planted_reliability_median"]) == {"V4", "IT"}
    assert (
        run(
            "train",
            "--variant",
            "adversarial",
            "--data",
            str(tmp_path / "images.h5"),
            "--out",
            str(tmp_path / "m.pt"),
            "--checkpoint",
            str(tmp_path / "c.pt"),
            "--history",
            str(tmp_path / "h.json"),
            "--device",
            "cpu",
        )
        == 0
    )
    assert (
        run(
            "score",
            "--model",
            str(tmp_path / "m.pt"),
            "--data",
            str(tmp_path / "images.h5"),
            "--assembly",
            str(tmp_path / "neural" / "assembly.nc"),
            "--stimuli",
            str(tmp_path / "neural" / "stimuli"),
            "--out-dir",
            str(tmp_path / "scores"),
            "--device",
            "cpu",
        )
        == 0
    )
    neural = pd.read_csv(tmp_path / "scores" / "neural.csv")
    assert list(neural["region"]) == ["V4", "IT"] and neural["ceiling"].between(0.5, 1.0).all()
    robustness = pd.read_csv(tmp_path / "scores" / "robustness.csv")
    assert {"clean", "pgd", "noise", "blur", "contrast"} <= set(robustness["condition"])

    # a user's Brain-Score-style assembly: image_id, IT only, no time_bin; a stimulus CSV of their own
    own = xr.load_dataarray(tmp_path / "neural" / "assembly.nc", engine="h5netcdf")
    own = own.isel(time_bin=0, neuroid=np.flatnonzero(own["region"].values == "IT"))
    own = own.drop_vars(["time_bin_start", "time_bin_end"]).rename({"stimulus_id": "image_id"})
    own.to_netcdf(tmp_path / "user.nc", engine="h5netcdf")
    table = pd.read_csv(tmp_path / "neural" / "stimuli" / "stimuli.csv")
    table["filename"] = "stimuli/" + table["filename"]
    table[["stimulus_id", "filename", "category"]].to_csv(tmp_path / "neural" / "user_stimuli.csv", index=False)
    assert (
        run(
            "score",
            "--model",
            str(tmp_path / "m.pt"),
            "--data",
            str(tmp_path / "images.h5"),
            "--assembly",
            str(tmp_path / "user.nc"),
            "--stimuli",
            str(tmp_path / "neural" / "user_stimuli.csv"),
            "--layers",
            "blocks.0.out_large",
            "norm_large",
            "--out-dir",
            str(tmp_path / "user"),
        )
        == 0
    )
    assert list(pd.read_csv(tmp_path / "user" / "neural.csv")["region"]) == ["IT"]

    assert (
        main(
            [
                "brainscore",
                "summarize",
                "--inputs",
                str(tmp_path / "scores" / "summary.json"),
                str(tmp_path / "user" / "summary.json"),
                "--table",
                str(tmp_path / "v.csv"),
                "--figure",
                str(tmp_path / "v.png"),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(tmp_path / "v.csv")) == 2 and (tmp_path / "v.png").stat().st_size > 0

    # bad input: one line naming the file
    (tmp_path / "bad.nc").write_text("not netcdf")
    capsys.readouterr()
    assert (
        run(
            "score",
            "--model",
            str(tmp_path / "m.pt"),
            "--data",
            str(tmp_path / "images.h5"),
            "--assembly",
            str(tmp_path / "bad.nc"),
            "--stimuli",
            str(tmp_path / "neural" / "stimuli"),
            "--out-dir",
            str(tmp_path / "x"),
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("neuromodels: error:") and "bad.nc" in err


def test_bench_writes_ratios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "brainscore",
                "--out",
                str(out),
                "--preset",
                "tiny",
                "--steps",
                "1",
                "--device",
                "cpu",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert set(result["variants"]) == {"base", "rotation", "adversarial", "rotation_adversarial"}
    assert result["variants"]["base"]["ratio_to_base"] == 1.0
    assert result["adversarial_cost"] > 0 and "torch" in result["environment"]
