"""The Brain Treebank release layout, written by the tests' own writer (tests/seeg/release.py), is read as it is:
cleaned labels, corrupted and trigger channels left out (counted), coordinates from elec_coords_full.csv, the rate
of a file without a rate attribute, words whose ``text`` is the word, scene cuts without stimulus ids matched to
frames by movie time; channel-by-channel preprocessing equals the whole-recording path; the tiny seeg DAG runs on
the folder without hand edits."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from neuromodels.seeg.data import list_trials, read_trial
from neuromodels.seeg.features import frames_on_screen, load_frames, read_frames
from neuromodels.seeg.preprocess import PreprocessSettings, preprocess_channels, preprocess_with_log
from neuromodels.seeg.targets import build_all_targets
from tests.seeg.release import SFREQ, write_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    base = tmp_path_factory.mktemp("release")
    planted = write_release(base / "braintreebank", base / "frames")
    return base / "braintreebank", base / "frames", planted


def test_reader_reads_the_release_as_it_is(release):
    root, _, planted = release
    assert list_trials(root) == [(1, 0), (2, 0)]
    trial = read_trial(root, 1, 0)
    assert trial.movie == planted["movie"]
    assert trial.recording.sfreq == SFREQ  # no rate attribute: the release's 2048 Hz
    assert trial.labels[:-1] == planted["labels"] and trial.labels[-1] == "DC1"  # '*' and '#' stripped
    analysed = trial.localization["Electrode"].tolist()
    assert analysed == [x for x in planted["labels"] if x not in planted["corrupted"]["sub_1"]]
    assert trial.counts["non_brain_channels"] == 1 and trial.counts["corrupted_channels"] == 1
    assert trial.localization["Region"].str.startswith("ctx-lh-").all()
    coords = pd.read_csv(root / "localization" / "elec_coords_full.csv").set_index(["Subject", "Electrode"])
    assert trial.localization["MNI_x"].tolist() == [coords.loc[("sub_1", x), "X"] for x in analysed]
    words = planted["words"]
    assert trial.words["word"].tolist() == words["text"].tolist()  # text is the word
    first = words[words["is_onset"] == 1].index[1]
    n = words.loc[first:, "is_onset"].iloc[1:].eq(1).idxmax() - first
    assert trial.words.loc[first, "utterance"] == " ".join(words.loc[first : first + n - 1, "text"])
    assert (trial.scene_cuts["stimulus_id"] == "").all()  # the release's cuts name no frame


def test_features_csv_read_when_the_manual_file_is_absent(release, tmp_path):
    import shutil

    root = tmp_path / "bt"
    shutil.copytree(release[0], root)
    (root / "transcripts" / release[2]["movie"] / "manual" / "word-times-stanford.csv").unlink()
    trial = read_trial(root, 2, 0)
    assert "gpt2_surprisal" in trial.words and len(trial.words) == len(release[2]["words"])
    # a word without a start time is dropped and counted; True/False onsets read as 1/0
    path = root / "transcripts" / release[2]["movie"] / "features.csv"
    table = pd.read_csv(path, index_col=0)
    table["is_onset"] = table["is_onset"].astype(bool)
    table.loc[3, "start"] = np.nan
    table.to_csv(path)
    trial = read_trial(root, 2, 0)
    assert trial.counts["words_without_start"] == 1 and len(trial.words) == len(release[2]["words"]) - 1
    assert trial.words["sentence"].max() == release[2]["words"]["is_onset"].sum() - 1


def test_channel_by_channel_equals_whole_recording(release):
    root, _, _ = release
    trial = read_trial(root, 1, 0)
    labels = trial.localization["Electrode"].tolist()
    n_bytes = 8 * trial.recording.n_samples
    for reference, group in (("laplacian", 1), ("laplacian", 3), ("car", 2), ("car", 100)):
        settings = PreprocessSettings(reference=reference)
        whole, table_whole = preprocess_with_log(trial.raw, settings)
        data, sfreq, table, good = preprocess_channels(
            lambda i: trial.recording.channel(trial.channels[i]),
            labels,
            trial.recording.sfreq,
            settings,
            group_bytes=group * n_bytes,
        )
        assert sfreq == whole.info["sfreq"] and data.dtype == np.float32
        assert [labels[i] for i in good] == whole.ch_names
        pd.testing.assert_frame_equal(table, table_whole)
        np.testing.assert_allclose(data, whole.get_data(), atol=1e-4)


def test_targets_and_frames_from_the_release(release):
    root, frames, planted = release
    built = build_all_targets(root, ("language", "vision"), PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05)
    lang, vis = built["language"], built["vision"]
    assert lang.counts["corrupted_channels"] == 2 and lang.counts["non_brain_channels"] == 2
    # shaft ends and the corrupted channel's neighbours lack a neighbour on each side: references only, counted
    assert lang.counts["electrodes_without_two_neighbours"] == 8
    assert len(lang.electrodes) == (
        2 * (len(planted["labels"]) - 1)
        - lang.counts["electrodes_dropped_bad"]
        - lang.counts["electrodes_without_two_neighbours"]
    )
    assert len(vis.events) == len(planted["cuts"]) - vis.counts["events_dropped"]
    table = read_frames(frames)
    ids = frames_on_screen(vis.events, table)
    # each scene cut gets the frame grabbed at its own time
    expected = table.set_index("time").loc[vis.events["time"], "stimulus_id"].astype(str).to_numpy()
    np.testing.assert_array_equal(ids, expected)
    images = load_frames(frames, table, sorted(set(ids.tolist())))
    assert {im.shape for im in images.values()} == {(48, 64, 3)}
    # the planted responsive contacts (high gamma after sentence starts) stand out in the language targets
    onsets = lang.events["text"].ne(lang.events["text"].shift()).to_numpy()
    late = lang.Y[:, :, 5:9].mean(axis=2)  # bins 0.15-0.45 s
    contrast = late[onsets].mean(0) - late[~onsets].mean(0)
    names = lang.electrodes["Electrode"].to_numpy()
    responsive = np.isin(names, planted["responsive"])
    assert contrast[responsive].min() > contrast[~responsive].max()


def test_channels_clean_laplacian_leaves_out_still_reference_their_neighbours(release, tmp_path):
    """The release's clean_laplacian.json names the analysed channels; the others (corrupted ones apart) are still
    their neighbours' references, so a listed contact gets the same signal as without the file."""
    import shutil

    root = tmp_path / "bt"
    shutil.copytree(release[0], root)
    clean = ["LT1aI2", "F3cId3"]
    (root / "clean_laplacian.json").write_text(json.dumps({"sub_1": clean, "sub_2": clean}))
    settings, args = PreprocessSettings(), ((-0.1, 0.6), 0.1, 0.05)
    lang = build_all_targets(root, ("language",), settings, *args)["language"]
    full = build_all_targets(release[0], ("language",), settings, *args)["language"]
    assert lang.electrodes.loc[lang.electrodes["subject"] == 1, "Electrode"].tolist() == clean
    assert lang.counts["not_in_clean_laplacian"] == 2 * 7 and lang.counts["electrodes_without_two_neighbours"] == 0
    refs = lang.references[lang.references["subject"] == 1].set_index("Electrode")
    assert refs.loc["LT1aI2", "reference"] == "LT1aI1 LT1aI3" and not refs.loc["LT1aI1", "analysed"]
    for subject in (1, 2):
        for label in clean:
            here = np.flatnonzero((lang.electrodes["subject"] == subject) & (lang.electrodes["Electrode"] == label))
            there = np.flatnonzero((full.electrodes["subject"] == subject) & (full.electrodes["Electrode"] == label))
            np.testing.assert_allclose(lang.Y[:, here[0]], full.Y[:, there[0]], atol=1e-5)


# a whole family DAG of its own (one to two minutes): CI keeps one tiny end-to-end run, `make test-all` runs this
@pytest.mark.slow
def test_tiny_seeg_dag_runs_on_the_release_layout(release, tmp_path):
    """`seeg.data` and `seeg.frames` naming the release folder: the whole seeg DAG at the tiny preset, no hand
    edits; the summary notes count what was left out and the figures exist although no finding is planted."""
    from tests.conftest import ROOT, run_snakemake, scratch_workdir

    root, frames, _ = release
    work = scratch_workdir(tmp_path / "work")
    (work / "seeg.yaml").write_text(json.dumps({"seeg": {"data": str(root), "frames": str(frames)}}))
    out = run_snakemake(
        "--profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--cores",
        "2",
        "seeg",
        "--configfile",
        "seeg.yaml",
        "--config",
        "preset=tiny",
        "device=cpu",
        cwd=work,
        timeout=3000,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    results = work / "results" / "seeg"
    summary = json.loads((results / "summary.json").read_text())
    notes = summary["notes"]["seed0"]["targets"]["language"]
    assert notes["corrupted_channels"] == 2 and notes["non_brain_channels"] == 2
    for name in ("electrodes.csv", "regions.csv", "glass_brain.png", "r_by_bin.png"):
        assert os.path.getsize(results / "seed0" / name) > 0
    # every claim's statistics are emitted (a number, or None with its reason) but the detection of planted
    # electrodes, which real recordings cannot have; the models are scored on the electrodes with signal
    from neuromodels.core.claims import load_registry

    stats, why = summary["statistics"]["0"], summary.get("undefined", {}).get("0", {})
    wanted = {n for c in load_registry("seeg") for n in (c.value, c.control_value) if n}
    assert {n for n in wanted if not n.startswith("multimodal_detection.")} <= set(stats)
    assert not [n for n in stats if stats[n] is None and n not in why]
    assert summary["notes"]["seed0"]["driven_electrodes"]["clip"]["of"] == "electrodes with signal"
    # the semantic / low-level split needs planted classes: undefined on real recordings, with the reason
    assert stats["clip.mean_r.semantic"] is None and "real recordings" in why["clip.mean_r.semantic"]
    assert summary["findings"] == []


def test_trials_of_other_movies_are_skipped_and_counted(release, tmp_path):
    import shutil

    root = tmp_path / "bt"
    shutil.copytree(release[0], root)
    movie = release[2]["movie"]
    shutil.copytree(root / "transcripts" / movie, root / "transcripts" / "another-movie")
    (root / "subject_metadata" / "sub_2_trial000_metadata.json").write_text(json.dumps({"filename": "another-movie"}))
    built = build_all_targets(root, ("language",), PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05, movies=[movie])
    lang = built["language"]
    assert lang.counts["trials_of_other_movies"] == 1 and lang.counts["trials"] == 1
    assert set(lang.electrodes["subject"]) == {1}
    assert set(lang.events["movie"]) == {movie}


def test_subjects_without_a_common_movie_stop_before_preprocessing(release, tmp_path):
    import shutil

    from neuromodels.core.errors import DataError

    root = tmp_path / "bt"
    shutil.copytree(release[0], root)
    shutil.copytree(root / "transcripts" / release[2]["movie"], root / "transcripts" / "another-movie")
    (root / "subject_metadata" / "sub_2_trial000_metadata.json").write_text(json.dumps({"filename": "another-movie"}))
    with pytest.raises(DataError, match=r"subject_metadata: the subjects watched no movie in common .*seeg.movies"):
        build_all_targets(root, ("language",), PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05)
