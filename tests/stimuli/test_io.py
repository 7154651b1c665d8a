"""Stimulus sets and displays round-trip exactly through disk; malformed folders fail naming the file;
the CLI steps write what the workflow expects."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neuromodels.cli import main
from neuromodels.core.errors import DataError
from neuromodels.stimuli import (
    bar,
    captions,
    read_display,
    read_displays,
    read_stimulus_set,
    render_scenes,
    sample_movie,
    sample_scenes,
    search_display,
    shaded_disc,
    world_display,
    write_display,
    write_displays,
    write_stimulus_set,
)


@pytest.fixture
def stimulus_set(tmp_path):
    table = sample_scenes(8, seed=2, p_second=0.5)
    write_stimulus_set(tmp_path / "set", table, size=32)
    return tmp_path / "set", table


def test_stimulus_set_round_trip_is_exact(stimulus_set):
    folder, table = stimulus_set
    stimuli = read_stimulus_set(folder)
    expected = table.copy()
    expected.insert(1, "filename", [f"images/{i:06d}.png" for i in table["stimulus_id"]])
    expected.insert(2, "caption", captions(table))
    pd.testing.assert_frame_equal(stimuli.table, expected)
    assert (folder / "images" / "000007.png").is_file() and stimuli.image_shape == (32, 32)
    np.testing.assert_array_equal(stimuli.images(), render_scenes(table, size=32))
    picked = stimuli.images([5, 1])
    np.testing.assert_array_equal(picked, render_scenes(table.iloc[[5, 1]], size=32))
    assert stimuli.images([3], size=16).shape == (1, 16, 16, 3)


def test_movie_table_round_trips_with_its_extra_columns(tmp_path):
    movie = sample_movie(2, 3, seed=0)
    write_stimulus_set(tmp_path, movie, size=16)
    back = read_stimulus_set(tmp_path).table
    pd.testing.assert_frame_equal(back.drop(columns=["filename", "caption"]), movie)


@pytest.mark.parametrize(
    "breakage, culprit, message",
    [
        ("drop_column", "stimuli.csv", "missing columns ['colour']"),
        ("duplicate_id", "stimuli.csv", "duplicate stimulus_id [3]"),
        ("unknown_category", "stimuli.csv", "unknown category values ['dragon']"),
        ("missing_png", "000004.png", "not found"),
        ("wrong_size", "000006.png", "16x16 px"),
        ("not_png", "000002.png", "not a readable image"),
    ],
)
def test_malformed_sets_fail_naming_the_file(stimulus_set, breakage, culprit, message):
    folder, _ = stimulus_set
    csv = folder / "stimuli.csv"
    table = pd.read_csv(csv)
    if breakage == "drop_column":
        table.drop(columns="colour").to_csv(csv, index=False)
    elif breakage == "duplicate_id":
        table.loc[4, "stimulus_id"] = 3
        table.to_csv(csv, index=False)
    elif breakage == "unknown_category":
        table.loc[0, "category"] = "dragon"
        table.to_csv(csv, index=False)
    elif breakage == "missing_png":
        (folder / "images" / "000004.png").unlink()
    elif breakage == "wrong_size":
        Image.new("RGB", (16, 16)).save(folder / "images" / "000006.png")
    elif breakage == "not_png":
        (folder / "images" / "000002.png").write_text("not an image")
    with pytest.raises(DataError) as info:
        read_stimulus_set(folder)
    assert info.value.path.endswith(culprit) and message in str(info.value)


def test_missing_table_and_unknown_id_name_the_table(tmp_path, stimulus_set):
    with pytest.raises(DataError, match="stimuli.csv: stimulus table not found"):
        read_stimulus_set(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no stimulus_id 99"):
        read_stimulus_set(stimulus_set[0]).images([99])


def test_displays_round_trip_exactly(tmp_path):
    displays = [
        search_display(shaded_disc(90), shaded_disc(270), 6, grid=(4, 4), cell_px=32, seed=1, condition="lighting"),
        search_display(bar(20), [bar(0), bar(-20)], 4, grid=(3, 3), cell_px=24, seed=2),
        world_display(5, seed=3, grid=(3, 3), cell_px=32),
    ]
    index_path = write_displays(tmp_path, displays)
    index, back = read_displays(tmp_path)
    assert index_path.name == "displays.csv" and index["set_size"].tolist() == [6, 4, 5]
    assert index["condition"].tolist() == ["lighting", "", "world"]
    for a, b in zip(displays, back):
        for key in ("image", "target_image", "boxes", "object_ids", "cells"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert (a.categories, a.target_index, a.grid, a.cell_px, a.condition, a.seed) == (
            b.categories,
            b.target_index,
            b.grid,
            b.cell_px,
            b.condition,
            b.seed,
        )
    record = json.loads((tmp_path / "display_00000.json").read_text())
    assert record["image_size"] == [128, 128] and record["set_size"] == 6
    assert record["target_box"] == displays[0].target_box.tolist()


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r.update(target_id=99), "target_id 99"),
        (lambda r: r.update(boxes=r["boxes"][:-1]), "boxes must be"),
        (lambda r: r.pop("categories"), "missing keys ['categories']"),
        (lambda r: r.update(image_size=[100, 100]), "expected 100x100"),
    ],
)
def test_malformed_display_fails_naming_the_file(tmp_path, edit, message):
    path = write_display(tmp_path, search_display(bar(20), bar(0), 4, grid=(2, 2), cell_px=32, seed=0), "d")
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(DataError) as info:
        read_display(path)
    assert message in str(info.value) and info.value.path.endswith(("d.json", "d.png"))


def test_cli_generate_and_displays(tmp_path):
    out = tmp_path / "world"
    assert (
        main(
            [
                "stimuli",
                "generate",
                "--out",
                str(out),
                "--n",
                "6",
                "--size",
                "24",
                "--seed",
                "1",
                "--sheet",
                str(tmp_path / "sheet.png"),
            ]
        )
        == 0
    )
    stimuli = read_stimulus_set(out)
    assert len(stimuli) == 6 and stimuli.image_shape == (24, 24)
    pd.testing.assert_frame_equal(stimuli.table[sample_scenes(6, seed=1).columns], sample_scenes(6, seed=1))
    assert Image.open(tmp_path / "sheet.png").size[0] > 200
    assert (
        main(
            [
                "stimuli",
                "displays",
                "--out",
                str(tmp_path / "displays"),
                "--n",
                "2",
                "--set-sizes",
                "3",
                "5",
                "--cell-px",
                "24",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    index, displays = read_displays(tmp_path / "displays")
    assert index["set_size"].tolist() == [3, 3, 5, 5] and len(displays) == 4
    assert not np.array_equal(displays[0].boxes, displays[1].boxes)
