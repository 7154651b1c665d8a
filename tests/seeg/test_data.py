"""The reader round-trips what the simulator wrote (the release layout) and refuses malformed input with a clear
DataError; what it leaves out it counts."""

import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from neuromodels.core.errors import DataError
from neuromodels.seeg.data import read_trial, split_label


def test_round_trip(small_dataset):
    root, truth, scenes, _ = small_dataset
    trial = read_trial(root, 1, 0)
    raw = trial.raw
    assert raw.ch_names == truth["Electrode"].tolist()
    assert set(raw.get_channel_types()) == {"seeg"}
    with h5py.File(root / "all_subject_data" / "sub_1_trial000.h5") as h5:
        first = h5["data"]["electrode_0"][()]
        assert raw.info["sfreq"] == h5.attrs["sampling_rate"]
    np.testing.assert_allclose(raw.get_data()[0], first * 1e-6, rtol=1e-6)
    pos = raw.get_montage().get_positions()
    assert pos["coord_frame"] == "mni_tal"
    np.testing.assert_allclose(
        pos["ch_pos"][truth["Electrode"][0]] * 1000,
        truth.loc[0, ["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float),
        atol=1e-6,
    )
    assert trial.localization["Region"].tolist() == truth["Region"].tolist()
    # Events mapped through the triggers land where the simulator put them (lead-in and clock drift), within the
    # one sample to which the trigger indices are rounded.
    triggers = pd.read_csv(root / "subject_timings" / "sub_1_trial000_timings.csv")
    slope, intercept = np.polyfit(triggers["movie_time"], triggers["index"] / raw.info["sfreq"], 1)
    np.testing.assert_allclose(
        trial.words["onset"], intercept + slope * trial.words["start"], atol=1.0 / raw.info["sfreq"]
    )
    # ids are read as the text that names them
    assert set(trial.scene_cuts["stimulus_id"]) <= set(scenes["stimulus_id"].astype(str))
    # the words table's text is the word; the utterance is rebuilt from the sentence starts
    assert (
        trial.words.groupby("sentence")["utterance"].first().str.split().map(len)
        == trial.words.groupby("sentence").size()
    ).all()
    assert split_label("LTP12") == ("LTP", 12)
    assert split_label("F3cId10") == ("F3cId", 10)


def _copy(src, tmp_path):
    dst = tmp_path / "rec"
    shutil.copytree(src, dst)
    return dst


def test_label_count_mismatch(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    path = root / "electrode_labels" / "sub_1" / "electrode_labels.json"
    labels = json.loads(path.read_text())
    path.write_text(json.dumps(labels[:-1]))
    with pytest.raises(DataError, match=r"sub_1_trial000.h5.*electrode datasets but electrode_labels.json lists"):
        read_trial(root, 1, 0)


def test_unlocalized_channel_left_out(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    path = root / "electrode_labels" / "sub_1" / "electrode_labels.json"
    labels = json.loads(path.read_text())
    labels[0] = "ZZ9"
    path.write_text(json.dumps(labels))
    trial = read_trial(root, 1, 0)
    assert trial.counts["unlocalized_channels"] == 1 and 0 not in trial.channels
    assert trial.localization["Electrode"].tolist() == labels[1:]


def test_triggers_out_of_range(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    path = root / "subject_timings" / "sub_1_trial000_timings.csv"
    triggers = pd.read_csv(path)
    triggers.loc[len(triggers) - 1, "index"] = 10**9
    triggers.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"timings.csv: 1 trigger\(s\) outside the recording"):
        read_trial(root, 1, 0)


def test_nan_samples(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    with h5py.File(root / "all_subject_data" / "sub_1_trial000.h5", "a") as h5:
        h5["data"]["electrode_2"][5] = np.nan
    trial = read_trial(root, 1, 0)  # opening reads no samples; reading the channel refuses them
    with pytest.raises(DataError, match=r"NaN or infinite samples in electrode_2"):
        trial.recording.channel(2)


def test_events_beyond_recording_counted(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    path = root / "transcripts" / "movie0" / "manual" / "word-times-stanford.csv"
    words = pd.read_csv(path)
    words.loc[len(words) - 1, ["start", "end"]] = [10_000.0, 10_000.3]
    words.to_csv(path, index=False)
    trial = read_trial(root, 1, 0)
    assert trial.counts["words_outside_recording"] == 1


def test_missing_column(small_dataset, tmp_path):
    root = _copy(small_dataset[0], tmp_path)
    path = root / "localization" / "sub_1" / "depth-wm.csv"
    pd.read_csv(path).drop(columns="Electrode").to_csv(path, index=False)
    with pytest.raises(DataError, match=r"depth-wm.csv: missing column\(s\) \['Electrode'\]"):
        read_trial(root, 1, 0)


def test_stimulus_ids_are_names_from_scene_cuts_to_frames(tmp_path):
    """Ids such as `0012` or `frame_b` pass from the scene cuts, through the saved targets' events, to the
    frames folder unchanged (no integer conversion that would turn `0012` into 12 and miss its frame)."""
    import io

    from neuromodels.seeg.data import read_scene_cuts
    from neuromodels.seeg.features import frames_on_screen, load_frames, read_frames
    from neuromodels.stimuli.io import write_png

    cuts_dir = tmp_path / "release" / "transcripts" / "film"
    cuts_dir.mkdir(parents=True)
    (cuts_dir / "scene-cuts.csv").write_text("time,stimulus_id\n0.0,0012\n4.5,frame_b\n9.0,\n")
    cuts = read_scene_cuts(tmp_path / "release", "film")
    assert cuts["stimulus_id"].tolist() == ["0012", "frame_b", ""]
    frames = tmp_path / "frames"
    frames.mkdir()
    rows = ["stimulus_id,filename,movie,time"]
    for k, (name, time) in enumerate((("0012", 0.0), ("frame_b", 4.5), ("12", 9.0))):
        write_png(frames / f"f{k}.png", np.full((4, 4, 3), 40 * (k + 1), np.uint8))
        rows.append(f"{name},f{k}.png,film,{time}")
    (frames / "stimuli.csv").write_text("\n".join(rows) + "\n")
    table = read_frames(frames)
    # events as the targets file stores and reads them back
    events = pd.DataFrame({"movie": "film", "time": [1.0, 5.0, 9.5], "stimulus_id": ["0012", "frame_b", ""]})
    events = pd.read_json(io.StringIO(events.to_json(orient="split")), orient="split", dtype={"stimulus_id": str})
    shown = frames_on_screen(events, table)
    assert shown.tolist() == ["0012", "frame_b", "12"]  # the unnamed cut gets the frame on screen at 9.5 s
    images = load_frames(frames, table, sorted(set(shown)))
    assert {k: int(v[0, 0, 0]) for k, v in images.items()} == {"0012": 40, "frame_b": 80, "12": 120}
