"""The paper's formulas against hand-computed values, the human table, planted slopes recovered by the
analysis, and bad input as one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromodels.cli import main
from neuromodels.core.errors import DataError
from neuromodels.search.data import read_human_slopes
from neuromodels.search.evaluate import (
    asymmetry_index,
    condition_slopes,
    fit_slope,
    index_table,
    reaction_time_ms,
    slope_correlation,
)


def test_rt_and_index_formulas_by_hand() -> None:
    assert reaction_time_ms(0) == pytest.approx(376.271)
    assert reaction_time_ms(3) == pytest.approx(3 * 252.359 + 376.271)
    assert asymmetry_index(7.6, 0.8) == pytest.approx(6.8 / 8.4)  # the human curvature index, 0.81
    assert asymmetry_index(2.0, 6.0) == pytest.approx(-0.5)  # reversed asymmetry: negative
    assert asymmetry_index(5.0, -3.0) == pytest.approx(1.0)  # negative slopes clipped at 0
    assert np.isnan(asymmetry_index(-1.0, -2.0))  # two flat lines: undefined, not 0
    assert np.isnan(asymmetry_index(3.5, 0.0, floor=3.5))  # both at most the floor: undefined, not +1
    assert asymmetry_index(3.6, 0.0, floor=3.5) == pytest.approx(1.0)
    assert fit_slope([1, 6, 12], [400, 500, 620]) == pytest.approx(np.polyfit([1, 6, 12], [400, 500, 620], 1)[0])
    with pytest.raises(DataError):
        fit_slope([4, 4], [1, 2])


def test_human_table_and_its_indices() -> None:
    human = read_human_slopes()
    assert len(human) == 12 and human["experiment"].nunique() == 6
    assert human["source"].str.contains("NeurIPS 2021").all()
    by = human.set_index(["experiment", "condition"])["slope_ms_per_item"]
    assert by[("lighting", "left_right")] == 23.9
    # the human indices of MISSION: 0.81, 0.70, 0.36, 0.40, 0.61, 0.50; mean 0.564
    fake = human.assign(model="humans")
    table = index_table(fake, human)
    assert np.allclose(table["index"], table["human_index"])
    assert np.allclose(table["index"].round(2), [0.81, 0.70, 0.36, 0.40, 0.61, 0.50])
    assert table["index"].mean() == pytest.approx(0.564, abs=0.001)


def test_planted_slopes_are_recovered() -> None:
    """Fixations planted with known slopes per condition; the analysis returns those slopes (x 252.359 ms)
    and the index they imply, with H chosen by the human table."""
    human = read_human_slopes()
    rows = []
    planted = {"curve_among_lines": 0.1, "line_among_curves": 0.4}  # fixations per item
    for cond, per_item in planted.items():
        for n in (8, 16, 32):
            for _ in range(3):
                rows.append(
                    {
                        "model": "m",
                        "experiment": "curvature",
                        "condition": cond,
                        "set_size": n,
                        "fixations": 1 + per_item * n,
                    }
                )
    slopes = condition_slopes(pd.DataFrame(rows))
    got = slopes.set_index("condition")["slope_ms_per_item"]
    assert got["line_among_curves"] == pytest.approx(0.4 * 252.359)
    table = index_table(slopes, human)
    assert table["index"].iloc[0] == pytest.approx((0.4 - 0.1) / (0.4 + 0.1))
    assert table["hard_condition"].iloc[0] == "line_among_curves"
    assert np.isnan(slope_correlation(slopes, human, "m"))  # two conditions are too few for a correlation


def test_the_harder_condition_is_the_published_one() -> None:
    """H per experiment, by target: the published human lines give a cross among non-crosses 96 ms/item (a
    non-cross among crosses 45), an L among Ts 33 (a T among Ls 14), a vertical among -20 deg bars 9.9 (a -20
    deg bar among verticals 2.4: tilted among vertical is the easy search), a -20 deg bar among heterogeneous
    distractors 71.1 (a vertical 23.7), a line among curves 7.6 and left-right lighting 23.9."""
    table = index_table(read_human_slopes().assign(model="humans"), read_human_slopes())
    hard = dict(zip(table["experiment"], table["hard_condition"]))
    assert hard == {
        "curvature": "line_among_curves",
        "lighting": "left_right",
        "intersection": "cross_among_noncross",
        "t_vs_l": "l_among_t",
        "orientation_homogeneous": "target_0",
        "orientation_heterogeneous": "target_minus20",
    }
    by = read_human_slopes().set_index(["experiment", "condition"])["slope_ms_per_item"]
    assert by[("intersection", "cross_among_noncross")] == 96.0
    assert by[("orientation_homogeneous", "target_minus20")] == 2.4


def test_bad_human_table_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "human.csv"
    bad.write_text("experiment,condition,slope_ms_per_item,source\ncurvature,curve,fast,x\ncurvature,line,2,x\n")
    with pytest.raises(DataError, match="human.csv: slope_ms_per_item must be numbers"):
        read_human_slopes(bad)
    bad.write_text("experiment,condition,slope_ms_per_item\ncurvature,curve,1\n")
    with pytest.raises(DataError, match="missing columns"):
        read_human_slopes(bad)


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "trials.csv").write_text("trial_id,experiment\n0,curvature\n")
    code = main(
        [
            "search",
            "run",
            "--model",
            "pixel",
            "--trials",
            str(tmp_path),
            "--out",
            str(tmp_path / "out.csv"),
            "--preset",
            "tiny",
            "--threads",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "trials.csv" in err and "missing columns" in err
    code = main(
        [
            "search",
            "stimuli",
            "--out-dir",
            str(tmp_path / "s"),
            "--preset",
            "tiny",
            "--params",
            json.dumps({"px_per_deg": -1}),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "px_per_deg" in err


def test_cli_runs_several_models_in_one_call_as_one_call_each(tmp_path: Path, capsys) -> None:
    """One call with several runs (the DAG's one job) writes each table as a call of its own would."""
    tiny = ["--preset", "tiny", "--threads", "1"]
    trials = tmp_path / "trials"
    assert main(["search", "stimuli", "--out-dir", str(trials), "--params", json.dumps({"n_trials": 1}), *tiny]) == 0
    alone = [tmp_path / f"{m}_alone.csv" for m in ("chance", "pixel")]
    for model, out in zip(("chance", "pixel"), alone):
        assert main(["search", "run", "--model", model, "--trials", str(trials), "--out", str(out), *tiny]) == 0
    together = [tmp_path / f"{m}_together.csv" for m in ("chance", "pixel")]
    assert (
        main(
            [
                "search",
                "run",
                "--model",
                "chance",
                "pixel",
                "--trials",
                str(trials),
                "--backbone",
                "none",
                "--diet",
                "none",
                "none",
                "--out",
                *map(str, together),
                *tiny,
            ]
        )
        == 0
    )
    for a, b in zip(alone, together):
        assert a.read_bytes() == b.read_bytes()
    capsys.readouterr()
    code = main(
        [
            "search",
            "run",
            "--model",
            "chance",
            "pixel",
            "--trials",
            str(trials),
            "--out",
            str(tmp_path / "one.csv"),
            *tiny,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--out" in err
    # a training image size the backbone's five poolings cannot take is one line naming the key
    out = str(tmp_path / "b.pt")
    params = json.dumps({"overrides": {"train_size": 16}})
    code = main(["search", "train", "--diet", "upright", "--out", out, "--preset", "tiny", "--params", params])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "search.train_size" in err and "multiple of 32" in err
