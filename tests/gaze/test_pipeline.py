"""The family end to end on the tiny preset: OAT ahead of every baseline on Sequence Score (held-out trials) with
the preset's margin; on a second, different scanpath generator OAT still learns; the command line runs the steps
(OAT, the image-blind control, the summary's statistics per seed) and turns bad input into one line. The paper's
claims against the named controls are judged over seeds by the registry (claims.yaml), not here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuromodels.cli import main
from neuromodels.gaze.baselines import BASELINES
from neuromodels.gaze.data import read_dataset, split_trials
from neuromodels.gaze.evaluate import GUIDED_WALK, HUMAN, evaluate_split
from neuromodels.gaze.presets import get_preset
from neuromodels.gaze.simulate import SimulationSettings, WalkParameters, simulate_dataset
from neuromodels.gaze.train import train_oat


def _run(folder: Path, preset, split_name: str, walk=None, params: WalkParameters | None = None):
    settings = SimulationSettings(
        displays_per_layout=preset.displays_per_layout,
        viewers=preset.viewers,
        cell_px=preset.cell_px,
        n_products=preset.n_products,
        walk=params or WalkParameters(),
    )
    simulate_dataset(folder, settings, seed=0, walk=walk)
    dataset = read_dataset(folder)
    split = split_trials(dataset, split_name, 0)
    trained = train_oat(dataset, split, preset, seed=0, progress=False)
    table, _ = evaluate_split(
        trained, dataset, split_name, split, preset.n_samples, preset.max_length, preset.multimatch_samples, seed=0
    )
    return table.set_index("model")


@pytest.mark.slow
def test_tiny_preset_oat_ahead_of_every_baseline(tmp_path: Path) -> None:
    p = get_preset("tiny")
    table = _run(tmp_path / "sim", p, "trials")
    baselines = table.loc[list(BASELINES)]
    oat = table.loc["oat_sampled"]
    assert oat["sequence_score"] > baselines["sequence_score"].max() + p.margin
    # and below what viewers reach among themselves, which is the ceiling
    assert oat["sequence_score"] < table.loc[HUMAN, "sequence_score"] + 0.05
    assert np.isfinite(table.loc[GUIDED_WALK, ["sequence_score", "delta"]].astype(float)).all()


def raster_walk(trial, similarity, rng, viewer, params):
    """A different generator: read the shelf row by row, left to right from a random row, skipping objects at
    random, and stop at the target with probability 0.9 (no guidance by similarity, no proximity choice)."""
    order = np.lexsort((trial.cols, trial.rows))
    start = int(rng.integers(trial.rows.max() + 1))
    order = np.concatenate([order[trial.rows[order] >= start], order[trial.rows[order] < start]])
    path = []
    for k in np.concatenate([order, order]):
        if rng.uniform() < 0.3 and k != trial.target_index:
            continue
        path.append(int(k))
        if (k == trial.target_index and rng.uniform() < 0.9) or len(path) >= params.max_length:
            break
    return np.asarray(path, dtype=np.int64)


@pytest.mark.slow
def test_second_generator_is_learned_too(tmp_path: Path) -> None:
    p = get_preset("tiny", {"epochs": 15, "displays_per_layout": 16})
    table = _run(tmp_path / "raster", p, "trials", walk=raster_walk)
    truth = json.loads((tmp_path / "raster" / "truth.json").read_text())
    assert truth["generator"] == "raster_walk"
    oat = table.loc["oat_sampled", "sequence_score"]
    assert oat > table.loc["random", "sequence_score"] + 0.05
    assert oat > table.loc["nearest", "sequence_score"]


def test_command_line_steps_and_one_line_errors(tmp_path: Path, capsys) -> None:
    params = json.dumps(
        {
            "overrides": {
                "displays_per_layout": 3,
                "viewers": 2,
                "epochs": 1,
                "n_samples": 2,
                "pe_fit_steps": 300,
                "multimatch_samples": 2,
            },
            "splits": ["trials"],
        }
    )
    common = ["--preset", "tiny", "--params", params, "--threads", "1"]
    data = tmp_path / "data"
    assert main(["gaze", "simulate", "--out-dir", str(data), *common]) == 0
    run = tmp_path / "trials"
    assert (
        main(
            [
                "gaze",
                "train",
                "--data",
                str(data),
                "--split",
                "trials",
                "--out",
                str(run / "model.pt"),
                "--history",
                str(run / "history.json"),
                "--checkpoint",
                str(run / "ck.pt"),
                "--device",
                "cpu",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "gaze",
                "evaluate",
                "--model",
                str(run / "model.pt"),
                "--data",
                str(data),
                "--split",
                "trials",
                "--out-dir",
                str(run),
                "--device",
                "cpu",
                *common,
            ]
        )
        == 0
    )
    table = pd.read_csv(run / "metrics.csv")
    assert set(table["model"]) == {"oat_greedy", "oat_sampled", *BASELINES, GUIDED_WALK, HUMAN}
    # training and evaluating in one call (the DAG's one job per split) writes the same tables
    once = tmp_path / "once"
    assert (
        main(
            [
                "gaze",
                "train",
                "--data",
                str(data),
                "--split",
                "trials",
                "--out",
                str(once / "model.pt"),
                "--checkpoint",
                str(once / "ck.pt"),
                "--evaluate-dir",
                str(once),
                "--device",
                "cpu",
                *common,
            ]
        )
        == 0
    )
    for name in ("metrics.csv", "scanpaths.json"):
        assert (once / name).read_bytes() == (run / name).read_bytes(), name
    # the image-blind control: the same train step with --image-blind, its own rows
    blind = tmp_path / "blind"
    assert (
        main(
            [
                "gaze",
                "train",
                "--image-blind",
                "--data",
                str(data),
                "--split",
                "trials",
                "--out",
                str(blind / "model.pt"),
                "--evaluate-dir",
                str(blind),
                "--device",
                "cpu",
                *common,
            ]
        )
        == 0
    )
    assert set(pd.read_csv(blind / "metrics.csv")["model"]) == {"image_blind_greedy", "image_blind"}
    # a second seed (another split of the same data) so the summary holds statistics per seed
    seed1 = tmp_path / "seed1"
    assert (
        main(
            [
                "gaze",
                "train",
                "--data",
                str(data),
                "--split",
                "trials",
                "--out",
                str(seed1 / "model.pt"),
                "--evaluate-dir",
                str(seed1),
                "--device",
                "cpu",
                "--seed",
                "1",
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "gaze",
                "summarize",
                "--inputs",
                str(run / "metrics.csv"),
                str(blind / "metrics.csv"),
                str(seed1 / "metrics.csv"),
                "--scanpaths",
                str(run / "scanpaths.json"),
                str(seed1 / "scanpaths.json"),
                "--data",
                str(data),
                "--table",
                str(tmp_path / "all.csv"),
                "--figure",
                str(tmp_path / "fig.png"),
                "--summary",
                str(tmp_path / "summary.json"),
                *common,
            ]
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["family"] == "gaze" and summary["findings"] == [] and summary["seeds"] == [0, 1]
    assert "image_blind.sequence_score.trials" in summary["statistics"]["0"]
    assert "guided_walk.sequence_score.trials" in summary["statistics"]["1"]
    assert summary["notes"]["multimatch_pairs"] > 0 and summary["notes"]["seeds_counted"] == 2
    assert (tmp_path / "fig.png").stat().st_size > 0
    # bad input: one line naming the file and the trial
    lines = (data / "fixations.jsonl").read_text().splitlines()
    entry = json.loads(lines[0])
    entry["duration"][0] = -1
    (data / "fixations.jsonl").write_text("\n".join([json.dumps(entry), *lines[1:]]) + "\n")
    capsys.readouterr()
    assert main(["gaze", "train", "--data", str(data), "--split", "trials", "--out", str(run / "m2.pt"), *common]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "fixations.jsonl" in errors[0] and f"trial {entry['trial']}" in errors[0]
    assert (
        main(
            [
                "gaze",
                "train",
                "--data",
                str(data),
                "--split",
                "trials",
                "--out",
                str(run / "m3.pt"),
                "--preset",
                "tiny",
                "--params",
                json.dumps({"splits": ["nope"]}),
            ]
        )
        == 2
    )
    assert "gaze.splits" in capsys.readouterr().err


def test_same_seed_same_numbers_and_resume(tmp_path: Path) -> None:
    import torch

    p = get_preset(
        "tiny", {"displays_per_layout": 3, "viewers": 2, "epochs": 2, "checkpoint_every": 1, "pe_fit_steps": 300}
    )
    simulate_dataset(
        tmp_path / "d", SimulationSettings(displays_per_layout=3, viewers=2, cell_px=12, n_products=30), seed=1
    )
    dataset = read_dataset(tmp_path / "d")
    split = split_trials(dataset, "trials", 0)
    a = train_oat(dataset, split, p, seed=0, progress=False)
    b = train_oat(dataset, split, p, seed=0, progress=False, checkpoint_path=tmp_path / "ck.pt")
    assert [h["loss"] for h in a.meta["train"]["history"]] == [h["loss"] for h in b.meta["train"]["history"]]
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name
    # a finished checkpoint is resumed, not retrained: the same weights, no new steps
    c = train_oat(dataset, split, p, seed=0, progress=False, checkpoint_path=tmp_path / "ck.pt")
    assert c.meta["train"]["resumed_from_step"] == b.meta["train"]["steps"]
    assert all(torch.equal(x, y) for x, y in zip(b.model.state_dict().values(), c.model.state_dict().values()))


def test_coco_search18_from_config_alone_scores_absent_trials_and_skips_layouts(tmp_path: Path) -> None:
    """The published files (target-present and target-absent) train and score OAT from the gaze.coco_* keys
    alone: the records' own split is used, the target-absent test trial is scored, the layouts split (one
    layout) is skipped and counted, off-screen fixations are counted."""
    from tests.gaze.test_data import _coco

    path, images = _coco(tmp_path)
    records = json.loads(path.read_text())
    records[0]["X"][0] = 1700.0  # off the 168-px-wide screen
    present, absent = tmp_path / "TP.json", tmp_path / "TA.json"
    present.write_text(json.dumps(records[:3]))
    absent.write_text(json.dumps(records[3:]))
    params = json.dumps(
        {
            "coco_fixations": [str(present), str(absent)],
            "coco_images": str(images),
            "coco_grid": [3, 4],
            "overrides": {"epochs": 1, "n_samples": 2, "pe_fit_steps": 200, "multimatch_samples": 1},
        }
    )
    common = ["--preset", "tiny", "--params", params, "--threads", "1", "--device", "cpu"]
    runs = {}
    for split in ("trials", "layouts"):
        runs[split] = tmp_path / split
        assert (
            main(
                [
                    "gaze",
                    "train",
                    "--split",
                    split,
                    "--out",
                    str(runs[split] / "model.pt"),
                    "--evaluate-dir",
                    str(runs[split]),
                    *common,
                ]
            )
            == 0
        )
    table = pd.read_csv(runs["trials"] / "metrics.csv")
    assert table["n_trials"].iloc[0] == 1  # the absent trial, the records' own test split
    assert np.isfinite(table.set_index("model").loc["oat_sampled", "sequence_score"])
    assert list(pd.read_csv(runs["layouts"] / "metrics.csv")["model"]) == ["skipped"]
    assert (
        main(
            [
                "gaze",
                "summarize",
                "--inputs",
                str(runs["trials"] / "metrics.csv"),
                str(runs["layouts"] / "metrics.csv"),
                "--scanpaths",
                str(runs["trials"] / "scanpaths.json"),
                "--table",
                str(tmp_path / "all.csv"),
                "--figure",
                str(tmp_path / "fig.png"),
                "--summary",
                str(tmp_path / "summary.json"),
                *common[:-2],
            ]
        )
        == 0
    )
    notes = json.loads((tmp_path / "summary.json").read_text())["notes"]
    assert notes["split_jobs_skipped"] == 1 and "layouts seed 0" in notes["splits_skipped"]
    assert notes["fixations_off_screen_clipped"] == 1 and notes["target_absent_scanpaths_read"] == 1
    assert "skipped" not in set(pd.read_csv(tmp_path / "all.csv")["model"])
