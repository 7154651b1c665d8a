"""Readers: round-trips of what the simulator writes (JSON lines and CSV), a COCO-Search18-style file, and one
clear line for each kind of malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neuromodels.core.errors import ConfigError, DataError
from neuromodels.gaze.data import (
    SplitUnavailable,
    map_fixations,
    object_crops,
    read_coco_search18,
    read_dataset,
    split_trials,
)
from neuromodels.gaze.simulate import LAYOUTS, SimulationSettings, simulate_dataset

SMALL = SimulationSettings(displays_per_layout=3, viewers=3, cell_px=12, n_products=30)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gaze") / "sim"
    simulate_dataset(folder, SMALL, seed=3)
    return folder


def test_round_trip_jsonl_and_csv(simulated: Path, tmp_path: Path) -> None:
    ds = read_dataset(simulated)
    assert len(ds.trials) == 3 * len(LAYOUTS) and len(ds.scanpaths) == 3 * len(LAYOUTS) * 3
    assert ds.layouts == sorted(LAYOUTS)
    assert ds.notes["fixations_on_no_object"] == 0
    # the same data written as CSV reads back the same (positions to the file's precision)
    other = tmp_path / "csv"
    simulate_dataset(other, SMALL, seed=3, fixations_format="csv")
    assert (other / "fixations.csv").is_file() and not (other / "fixations.jsonl").exists()
    again = read_dataset(other)
    assert list(again.trials) == list(ds.trials)
    for a, b in zip(ds.scanpaths, again.scanpaths):
        assert (a.trial, a.viewer) == (b.trial, b.viewer)
        np.testing.assert_array_equal(a.objects, b.objects)
        np.testing.assert_allclose(a.x, b.x, atol=1e-3)
        np.testing.assert_allclose(a.duration, b.duration, atol=1e-4)
    # the recorded object of every fixation is the box that holds it (mapping agrees with the writer)
    for s in ds.scanpaths:
        np.testing.assert_array_equal(map_fixations(ds.trials[s.trial], s.x, s.y, 0.02), s.objects)
    truth = json.loads((simulated / "truth.json").read_text())
    lengths = [len(s) for s in ds.scanpaths]
    assert truth["behaviour"]["length"] == pytest.approx(np.mean(lengths))
    assert truth["walk"]["p_stop"] > 0 and len(truth["viewers"]) == 3
    # string ids stay strings; the target image is the target
    trial = next(iter(ds.trials.values()))
    assert all(isinstance(o, str) for o in trial.object_ids)
    crops = object_crops(trial, (8, 8)).astype(float)
    mse = ((crops[:-1] - crops[-1:]) ** 2).mean(axis=(1, 2, 3))
    assert int(mse.argmin()) == trial.target_index


def test_mapping_falls_back_to_nearest_centre_within_margin() -> None:
    from neuromodels.gaze.data import Trial

    trial = Trial(
        "t",
        Path("x.png"),
        100,
        50,
        ["a", "b"],
        np.array([[0, 0, 40, 50], [60, 0, 100, 50]], float),
        np.zeros(2, int),
        np.arange(2),
        "a",
    )
    got = map_fixations(trial, np.array([10, 45, 50, 99]), np.array([25, 25, 25, 25]), margin=0.3)
    assert list(got) == [0, 0, 0, 1]  # 45 and 50 lie between the boxes: nearest centre (20 vs 80)
    assert list(map_fixations(trial, np.array([50.0]), np.array([25.0]), margin=0.01)) == [-1]


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _edit_jsonl(path: Path, fn) -> None:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    fn(lines)
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("outside", "fixation 1: (5000, 1) is outside the"),
        ("unknown_object", "unknown object 'nope'"),
        ("negative_duration", "duration -0.2 s must be > 0"),
        ("no_target", "no target"),
        ("target_not_an_object", "target 'p999' is not one of its objects"),
    ],
)
def test_malformed_input_is_one_clear_line(simulated: Path, tmp_path: Path, case: str, expected: str) -> None:
    folder = _copy(simulated, tmp_path / case)
    fix, disp = folder / "fixations.jsonl", folder / "displays.jsonl"
    first = json.loads(disp.read_text().splitlines()[0])["trial"]
    if case == "outside":
        _edit_jsonl(
            fix,
            lambda ls: (
                ls[0].update(x=[ls[0]["x"][0], 5000] + ls[0]["x"][2:], y=[ls[0]["y"][0], 1] + ls[0]["y"][2:])
                if len(ls[0]["x"]) > 1
                else ls[0].update(
                    x=[ls[0]["x"][0], 5000],
                    y=[ls[0]["y"][0], 1],
                    duration=ls[0]["duration"] * 2,
                    object=ls[0]["object"] * 2,
                )
            ),
        )
    elif case == "unknown_object":
        _edit_jsonl(fix, lambda ls: ls[0].update(object=["nope"] + ls[0]["object"][1:]))
    elif case == "negative_duration":
        _edit_jsonl(fix, lambda ls: ls[0].update(duration=[-0.2] + ls[0]["duration"][1:]))
    elif case == "no_target":
        _edit_jsonl(disp, lambda ls: ls[0].pop("target"))
    else:
        _edit_jsonl(disp, lambda ls: ls[0].update(target="p999"))
    with pytest.raises(DataError) as info:
        read_dataset(folder)
    message = str(info.value)
    assert expected in message, message
    assert "\n" not in message
    assert f"trial {first}" in message
    assert (
        "fixations.jsonl" if case in ("outside", "unknown_object", "negative_duration") else "displays.jsonl"
    ) in message


def test_csv_missing_column_and_bad_number(simulated: Path, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    simulate_dataset(folder, SMALL, seed=3, fixations_format="csv")
    table = pd.read_csv(folder / "fixations.csv", dtype={"object": str}, keep_default_na=False)
    table.drop(columns=["duration"]).to_csv(folder / "fixations.csv", index=False)
    with pytest.raises(DataError, match=r"fixations.csv: missing column 'duration'"):
        read_dataset(folder)
    bad = table.copy()
    bad["x"] = bad["x"].astype(object)
    bad.loc[4, "x"] = "left"
    bad.to_csv(folder / "fixations.csv", index=False)
    with pytest.raises(DataError, match=rf"trial {bad.loc[4, 'trial']}, viewer {bad.loc[4, 'viewer']}: x 'left'"):
        read_dataset(folder)


def _coco(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    (images / "bottle").mkdir(parents=True)
    Image.fromarray(np.full((105, 168, 3), 128, np.uint8)).save(images / "bottle" / "000000001.jpg")
    Image.fromarray(np.full((105, 168, 3), 90, np.uint8)).save(images / "000000002.jpg")
    Image.fromarray(np.full((105, 168, 3), 60, np.uint8)).save(images / "000000003.jpg")
    records = [
        {
            "name": "000000001.jpg",
            "subject": 1,
            "task": "bottle",
            "condition": "present",
            "bbox": [120, 60, 20, 30],
            "X": [84.0, 100.2, 131.0],
            "Y": [52.0, 60.1, 74.0],
            "T": [220, 180, 310],
            "length": 3,
            "split": "train",
            "fixOnTarget": True,
            "correct": 1,
        },
        {
            "name": "000000001.jpg",
            "subject": 2,
            "task": "bottle",
            "condition": "present",
            "bbox": [120, 60, 20, 30],
            "X": [84.0, 130.0],
            "Y": [52.0, 70.0],
            "T": [250, 400],
            "length": 2,
            "split": "train",
            "fixOnTarget": True,
            "correct": 1,
        },
        {
            "name": "000000002.jpg",
            "subject": 1,
            "task": "car",
            "condition": "present",
            "bbox": [0, 0, 16, 10],
            "X": [84.0, 8.0],
            "Y": [52.0, 5.0],
            "T": [200, 200],
            "length": 2,
            "split": "valid",
        },
        {
            "name": "000000003.jpg",
            "subject": 1,
            "task": "car",
            "condition": "absent",
            "X": [84.0],
            "Y": [52.0],
            "T": [200],
            "length": 1,
            "split": "test",
        },
    ]
    path = tmp_path / "coco_search18_fixations_TP_train.json"
    path.write_text(json.dumps(records))
    return path, images


def test_read_coco_search18_as_published(tmp_path: Path) -> None:
    path, images = _coco(tmp_path)
    ds = read_coco_search18(path, images, grid=(3, 4))
    assert sorted(ds.trials) == ["bottle/000000001.jpg", "car/000000002.jpg", "car/000000003.jpg@absent"]
    trial = ds.trials["bottle/000000001.jpg"]
    # the target is its own object, its bbox, besides the 12 grid cells
    assert (trial.width, trial.height) == (168, 105) and trial.n_objects == 13
    assert trial.target == "target" and trial.target_label == "bottle"
    np.testing.assert_allclose(trial.boxes[trial.target_index], [120, 60, 140, 90])
    # its row and col: the cell of the bbox centre (130, 75): column 130 // 42 = 3, row 75 // 35 = 2
    assert (trial.rows[trial.target_index], trial.cols[trial.target_index]) == (2, 3)
    first = ds.scanpaths[0]
    np.testing.assert_allclose(first.duration, [0.22, 0.18, 0.31])
    assert [trial.object_ids[k] for k in first.objects] == ["r1c2", "r1c2", "target"]
    # the target-absent record is read: grid cells only, no target to stop on, its own split kept
    absent = ds.trials["car/000000003.jpg@absent"]
    assert ds.notes["target_absent_scanpaths"] == 1 and not absent.target_present
    assert absent.target_index == -1 and absent.n_objects == 12 and absent.data_split == "test"
    assert object_crops(absent, (4, 4))[-1].max() == 0  # no target to show: a blank target crop
    car = ds.trials["car/000000002.jpg"]
    assert car.target == "target" and car.object_ids[ds.scanpaths[2].objects[-1]] == "target"
    assert split_trials(ds, "targets", 0)["test"]  # the task is the target label


def test_coco_search18_files_and_their_own_split(tmp_path: Path) -> None:
    """Target-present and target-absent files read together; the records' split field is the held-out-trials
    split; a data set without test records tests its valid trials; splits the data cannot form are refused with
    SplitUnavailable (the command skips them)."""
    path, images = _coco(tmp_path)
    records = json.loads(path.read_text())
    present, absent = tmp_path / "TP.json", tmp_path / "TA.json"
    present.write_text(json.dumps(records[:3]))
    absent.write_text(json.dumps(records[3:]))
    ds = read_coco_search18([present, absent], images, grid=(3, 4))
    assert len(ds.trials) == 3 and ds.notes["target_absent_scanpaths"] == 1
    split = split_trials(ds, "trials", 0)
    assert split["train"] == ["bottle/000000001.jpg"] and split["val"] == ["car/000000002.jpg"]
    assert split["test"] == ["car/000000003.jpg@absent"] and "own" in split["how"]
    assert split_trials(ds, "trials", 5)["test"] == split["test"]  # the data's split, not a seeded draw
    with pytest.raises(SplitUnavailable, match="'layouts' cannot be formed"):
        split_trials(ds, "layouts", 0)
    only_present = read_coco_search18(present, images, grid=(3, 4))
    split = split_trials(only_present, "trials", 0)
    assert split["test"] == ["car/000000002.jpg"] and "valid trials tested" in split["how"]
    records[1]["split"] = "valid"  # one trial, two splits
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match="record 1 .*split 'valid', but the trial's other records say 'train'"):
        read_coco_search18(path, images, grid=(3, 4))


def test_coco_search18_off_screen_fixations_are_clipped_and_counted(tmp_path: Path) -> None:
    """The published files keep a few fixations outside the 1680 x 1050 screen (e.g. (827.4, 1217.7)): they
    are clipped to the screen's edge and counted, not refused."""
    path, images = _coco(tmp_path)
    records = json.loads(path.read_text())
    records[1]["X"][1], records[1]["Y"][1] = 500.0, 70.0  # right of the 168-px-wide image
    records[0]["Y"][0] = -4.0  # above it
    path.write_text(json.dumps(records))
    ds = read_coco_search18(path, images, grid=(3, 4))
    assert ds.notes["fixations_off_screen_clipped"] == 2
    second = next(s for s in ds.scanpaths if s.viewer == "2")
    assert second.x[1] == pytest.approx(168, abs=0.01) and second.y[1] == 70.0
    assert ds.scanpaths[0].y[0] == 0.0 and ds.notes["fixations"] == 8


def test_coco_search18_refuses_bad_records(tmp_path: Path) -> None:
    path, images = _coco(tmp_path)
    records = json.loads(path.read_text())
    records[1]["X"][1] = float("nan")
    path.write_text(json.dumps(records).replace("NaN", "null"))
    with pytest.raises(DataError, match=r"trial bottle/000000001.jpg, viewer 2, fixation 1: x is not a finite"):
        read_coco_search18(path, images, grid=(3, 4))
    del records[1]["T"]
    path.write_text(json.dumps(records))
    with pytest.raises(DataError, match="record 1: missing key 'T'"):
        read_coco_search18(path, images, grid=(3, 4))


def test_splits_are_seeded_and_hold_out_what_they_say(simulated: Path) -> None:
    ds = read_dataset(simulated)
    a, b = split_trials(ds, "trials", 5), split_trials(ds, "trials", 5)
    assert a == b and a != split_trials(ds, "trials", 6)
    layouts = split_trials(ds, "layouts", 0, heldout_layout="irregular")
    assert {ds.trials[t].layout for t in layouts["test"]} == {"irregular"}
    assert "irregular" not in {ds.trials[t].layout for t in layouts["train"] + layouts["val"]}
    targets = split_trials(ds, "targets", 0)
    held = {ds.trials[t].target_label for t in targets["test"]}
    assert held and not held & {ds.trials[t].target_label for t in targets["train"] + targets["val"]}
    for split in (a, layouts, targets):
        assert not set(split["test"]) & set(split["train"]) and not set(split["val"]) & set(split["train"])
    with pytest.raises(ConfigError, match="heldout_layout"):
        split_trials(ds, "layouts", 0, heldout_layout="4x4")


def test_lookalike_displays_hold_the_targets_lookalikes_and_zero_leaves_the_draw_as_it_was() -> None:
    """``lookalikes``: that share of each display's distractors shares the target's colour or category, as many as
    the catalogue holds (at 1 every one of them is on the shelf; drawn at random, about half); at 0 the displays
    are the draw they always were (the same products and targets from the same generator state)."""
    from neuromodels.gaze.simulate import draw_displays, product_catalogue

    settings = SimulationSettings(displays_per_layout=6, n_products=40)
    catalogue = product_catalogue(40, 0)

    def shares(lookalikes: float) -> tuple[list[float], list[tuple]]:
        out, draws = [], []
        rng = np.random.default_rng(5)
        for trial, products, _ in draw_displays(
            SimulationSettings(**{**settings.__dict__, "lookalikes": lookalikes}), catalogue, rng
        ):
            target = products.iloc[trial.target_index]
            assert target["product"] == trial.target and products["product"].is_unique
            others = products.drop(index=trial.target_index)
            alike = (others["colour"] == target["colour"]) | (others["category"] == target["category"])
            in_catalogue = (catalogue["colour"] == target["colour"]) | (catalogue["category"] == target["category"])
            out.append(float(alike.sum() / (in_catalogue.sum() - 1)))
            draws.append((trial.target, tuple(products["product"])))
        return out, draws

    random_share, _ = shares(0.0)
    full, _ = shares(1.0)
    # every look-alike the catalogue holds is on the shelf at 1, about half of them when drawn at random
    assert full == [1.0] * len(full) and np.mean(random_share) < 0.7
    # the same generator state, drawn the way the displays were drawn before the setting existed
    rng = np.random.default_rng(5)
    before = []
    for layout in settings.layouts:
        n = sum(LAYOUTS[layout])
        for _ in range(settings.displays_per_layout):
            pick = rng.choice(40, size=n, replace=False)
            t = int(rng.integers(n))
            rng.integers(2**31)
            before.append((f"p{pick[t]:03d}", tuple(f"p{i:03d}" for i in pick)))
    assert shares(0.0)[1] == before


def test_the_walk_is_a_preset_setting_and_an_unknown_name_in_it_is_one_line(tmp_path: Path, capsys) -> None:
    """``gaze.overrides.walk`` sets the simulated viewers' law (truth.json records it, and the viewers follow it:
    guided by colour alone, far more of their fixations on distractors land on the target's colour); a misspelt
    name stops the command with one line naming it."""
    from neuromodels.cli import main
    from neuromodels.gaze.data import load_data

    def colour_share(folder: Path, walk: dict) -> float:
        params = {"overrides": {"displays_per_layout": 4, "viewers": 3, "walk": walk}}
        args = ["gaze", "simulate", "--out-dir", str(folder), "--preset", "tiny", "--params", json.dumps(params)]
        assert main(args) == 0
        truth = json.loads((folder / "truth.json").read_text())
        for key, value in walk.items():
            assert truth["walk"][key] == value
        from neuromodels.gaze.simulate import product_catalogue

        catalogue = product_catalogue(truth["settings"]["n_products"], 0).set_index("product")
        data = load_data(folder, {"data": str(folder)})
        hits = []
        for s in data.scanpaths:
            trial = data.trials[s.trial]
            colour = catalogue.loc[trial.object_ids, "colour"].to_numpy()
            distractors = s.objects[s.objects != trial.target_index]
            hits += list(colour[distractors] == colour[trial.target_index])
        return float(np.mean(hits))

    plain = colour_share(tmp_path / "plain", {})
    by_colour = colour_share(tmp_path / "colour", {"w_similarity": 6.0, "similarity_weights": [1.0, 0.0, 0.0]})
    assert by_colour > plain + 0.05, (by_colour, plain)  # 0.72 against 0.60 when written
    bad = {"overrides": {"walk": {"w_similarty": 6.0}}}
    args = ["gaze", "simulate", "--out-dir", str(tmp_path / "bad"), "--preset", "tiny", "--params", json.dumps(bad)]
    assert main(args) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert "gaze.overrides.walk.w_similarty" in err[-1] and "Traceback" not in "\n".join(err)
