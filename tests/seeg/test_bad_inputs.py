"""The SEEG part of the bad-input catalogue: each malformed input, written by a small writer over a copy of a
dataset in the Brain Treebank release layout, gives one DataError line naming the file and the problem (through
the reader, the targets step or the CLI), never a library traceback."""

import json
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest

from neuromodels.cli import main
from neuromodels.core.errors import DataError
from neuromodels.seeg.data import read_trial
from neuromodels.seeg.features import frames_on_screen, read_frames
from neuromodels.seeg.preprocess import PreprocessSettings
from neuromodels.seeg.targets import build_all_targets
from tests.seeg.release import write_release

H5 = "all_subject_data/sub_1_trial000.h5"
LABELS = "electrode_labels/sub_1/electrode_labels.json"
TIMINGS = "subject_timings/sub_1_trial000_timings.csv"
META = "subject_metadata/sub_1_trial000_metadata.json"
MOVIE = "transcripts/fantastic-mr-fox"
WORDS = f"{MOVIE}/manual/word-times-stanford.csv"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad")
    write_release(base / "bt", base / "frames", n_subjects=1, duration=40.0, seed=3)
    return base


def _json(path, value):
    path.write_text(value if isinstance(value, str) else json.dumps(value))


def _table(path, change):
    table = pd.read_csv(path, index_col=0 if path.name == "word-times-stanford.csv" else None)
    change(table)
    table.to_csv(path, index=path.name == "word-times-stanford.csv")


def _h5(path, change):
    with h5py.File(path, "a") as h5:
        change(h5["data"])


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _drop_last_label(p):
    labels = json.loads(p.read_text())
    _json(p, labels[:-1])


def _duplicate_after_cleaning(p):
    labels = json.loads(p.read_text())
    labels[1] = labels[0] + "#"
    _json(p, labels)


def _nan(group):
    x = group["electrode_2"][()]
    x[100] = np.nan
    del group["electrode_2"]
    group.create_dataset("electrode_2", data=x)


def _rename(group):
    group.move("electrode_3", "electrode_x")


def _shorten(group):
    x = group["electrode_0"][()][:-10]
    del group["electrode_0"]
    group.create_dataset("electrode_0", data=x)


def _strings(group):
    del group["electrode_1"]
    group.create_dataset("electrode_1", data=np.array([b"a"] * 10))


# (case, file to change, writer, how the input is read, the expected message)
CASES = [
    (
        "labels count differs from the datasets",
        LABELS,
        _drop_last_label,
        "read",
        r"sub_1_trial000.h5: 11 electrode datasets but electrode_labels.json lists 10 labels",
    ),
    (
        "labels JSON malformed",
        LABELS,
        lambda p: _json(p, '["LT1aI1", '),
        "read",
        r"electrode_labels.json: not valid JSON",
    ),
    (
        "labels JSON not a list of strings",
        LABELS,
        lambda p: _json(p, {"LT1aI1": 0}),
        "read",
        r"electrode_labels.json: must be a non-empty JSON list of electrode label strings",
    ),
    (
        "duplicate labels once '*'/'#' are stripped",
        LABELS,
        _duplicate_after_cleaning,
        "read",
        r"electrode_labels.json: duplicate electrode labels \['LT1aI1'\]",
    ),
    (
        "not an HDF5 file",
        H5,
        lambda p: p.write_text("electrode,value\n1,2\n"),
        "cli",
        r"sub_1_trial000.h5: not a readable HDF5 file",
    ),
    ("truncated HDF5 file", H5, _truncate, "cli", r"sub_1_trial000.h5: (not a readable HDF5 file|cannot read)"),
    (
        "NaN samples",
        H5,
        lambda p: _h5(p, _nan),
        "cli",
        r"sub_1_trial000.h5: NaN or infinite samples in electrode_2 \(1 sample\(s\)\)",
    ),
    (
        "dataset names not electrode_0..n-1",
        H5,
        lambda p: _h5(p, _rename),
        "read",
        r"sub_1_trial000.h5: datasets must be electrode_0..electrode_10",
    ),
    (
        "channels of different lengths",
        H5,
        lambda p: _h5(p, _shorten),
        "read",
        r"sub_1_trial000.h5: electrode datasets must be 1-D of one length",
    ),
    (
        "non-numeric channel",
        H5,
        lambda p: _h5(p, _strings),
        "read",
        r"sub_1_trial000.h5: electrode datasets must be 1-D of one length|must be numeric",
    ),
    (
        "trigger times out of range",
        TIMINGS,
        lambda p: _table(p, lambda t: t.__setitem__("index", t["index"] * 100)),
        "cli",
        r"timings.csv: \d+ trigger\(s\) outside the recording",
    ),
    (
        "trigger table without index column",
        TIMINGS,
        lambda p: _table(p, lambda t: t.pop("index")),
        "read",
        r"timings.csv: missing column\(s\) \['index'\]",
    ),
    (
        "triggers not increasing",
        TIMINGS,
        lambda p: _table(p, lambda t: t.__setitem__("movie_time", t["movie_time"][::-1].to_numpy())),
        "read",
        r"timings.csv: trigger indices and movie times must increase",
    ),
    (
        "metadata without filename",
        META,
        lambda p: _json(p, {"title": "Fantastic Mr. Fox"}),
        "read",
        r"sub_1_trial000_metadata.json: needs a 'filename' naming the movie",
    ),
    (
        "movie missing from transcripts",
        META,
        lambda p: _json(p, {"filename": "no-such-movie"}),
        "cli",
        r"transcripts/no-such-movie: no transcripts folder for movie 'no-such-movie'",
    ),
    (
        "words without is_onset",
        WORDS,
        lambda p: _table(p, lambda t: t.pop("is_onset")),
        "read",
        r"word-times-stanford.csv: missing column\(s\) \['is_onset'\]",
    ),
    (
        "word start times not numbers",
        WORDS,
        lambda p: _table(p, lambda t: t.__setitem__("start", "soon")),
        "read",
        r"word-times-stanford.csv: column 'start' has \d+ value\(s\) that are not numbers",
    ),
    ("scene cuts missing", f"{MOVIE}/scene-cuts.csv", lambda p: p.unlink(), "read", r"scene-cuts.csv: file not found"),
    (
        "localization without Electrode column",
        "localization/sub_1/depth-wm.csv",
        lambda p: _table(p, lambda t: t.pop("Electrode")),
        "read",
        r"depth-wm.csv: missing column\(s\) \['Electrode'\]",
    ),
    (
        "corrupted_elec.json malformed",
        "corrupted_elec.json",
        lambda p: _json(p, ["LT1aI5"]),
        "read",
        r'corrupted_elec.json: must be a JSON object \{"sub_S": \[labels\], ...\}',
    ),
    (
        "every event after the recording",
        TIMINGS,
        lambda p: _table(p, lambda t: t.__setitem__("movie_time", t["movie_time"] - 1000.0)),
        "read",
        r"word-times-stanford.csv: every event falls outside the [\d.]+ s recording of sub_1_trial000",
    ),
    (
        "frames without movie and time for unnamed scene cuts",
        "../frames/stimuli.csv",
        lambda p: _table(p, lambda t: t.drop(columns=["movie", "time"], inplace=True)),
        "frames",
        r"stimuli.csv: the scene cuts name no stimulus_id, so the frames table needs columns \['movie', 'time'\]",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line(case, pristine, tmp_path, capsys):
    _, target, write, via, message = case
    shutil.copytree(pristine / "bt", tmp_path / "bt")
    shutil.copytree(pristine / "frames", tmp_path / "frames")
    root = tmp_path / "bt"
    write((root / target).resolve())
    if via == "read":
        with pytest.raises(DataError, match=message):
            read_trial(root, 1, 0)
    elif via == "frames":
        built = build_all_targets(root, ("vision",), PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05)["vision"]
        with pytest.raises(DataError, match=message):
            frames_on_screen(built.events, read_frames(tmp_path / "frames"), str(tmp_path / "frames/stimuli.csv"))
    else:
        out = [str(tmp_path / "language.npz"), str(tmp_path / "vision.npz")]
        code = main(["seeg", "targets", "--data", str(root), "--alignment", "language", "vision", "--out", *out])
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if line.startswith("neuromodels: error:")]
        assert code == 2 and len(errors) == 1, err
        assert "Traceback" not in "\n".join(err)
        import re

        assert re.search(message, errors[0]), errors[0]
