"""Brain Treebank-style SEEG recordings: layout, reader into MNE objects, validation, and a BIDS iEEG reader.

Layout of a dataset folder (one movie per trial; all times of the movie tables are movie seconds)::

    sub_{s}_trial{t:03d}.h5                        group ``data``: one dataset ``electrode_{i}`` per electrode,
                                                   float32 (samples,), microvolts; attribute ``sampling_rate`` (Hz)
    electrode_labels/sub_{s}/electrode_labels.json JSON list of labels, one per dataset, in dataset order
    localization/sub_{s}/depth-wm.csv              Electrode, Region, MNI_x, MNI_y, MNI_z (mm, MNI152)
    subject_timings/sub_{s}_trial{t:03d}_timings.csv  triggers: movie_time (s), index (neural sample)
    transcripts/{movie}/words.csv                  word, start, end (movie s), sentence (utterance index),
                                                   text (the utterance the word belongs to)
    transcripts/{movie}/scene_cuts.csv             time (movie s), stimulus_id (what is shown from then on)
    trials.json                                    {"sub_{s}_trial{t:03d}": {"movie": name}, ...}

Electrode labels follow the SEEG habit: shaft letters then contact number (``LT3`` is contact 3 of shaft ``LT``);
neighbouring contacts on a shaft differ by one in the number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..core.errors import DataError, require

LABEL_PATTERN = re.compile(r"^(?P<shaft>[A-Za-z'_-]+?)(?P<contact>\d+)$")
LOCALIZATION_COLUMNS = ("Electrode", "Region", "MNI_x", "MNI_y", "MNI_z")
WORD_COLUMNS = ("word", "start", "end", "sentence", "text")
SCENE_COLUMNS = ("time", "stimulus_id")


def trial_name(subject: int, trial: int) -> str:
    """``sub_{subject}_trial{trial:03d}``, the stem of a trial's files."""
    return f"sub_{subject}_trial{trial:03d}"


def split_label(label: str) -> tuple[str, int]:
    """Shaft name and contact number of an electrode label (``'LT12'`` -> ``('LT', 12)``)."""
    match = LABEL_PATTERN.match(label)
    if match is None:
        raise ValueError(f"electrode label {label!r} is not shaft letters followed by a contact number")
    return match["shaft"], int(match["contact"])


@dataclass
class SeegTrial:
    """One subject watching one movie: the recording with its channel positions and the movie's event tables.

    Attributes
    ----------
    raw : mne.io.RawArray
        Channels of type ``seeg`` (volts), a montage in MNI coordinates (``mni_tal`` frame, metres).
    localization : DataFrame
        One row per channel of ``raw``, in channel order: Electrode, Region, MNI_x, MNI_y, MNI_z (mm).
    words : DataFrame
        Word onsets, with ``onset`` (s, recording time) added to the movie columns.
    scene_cuts : DataFrame
        Scene cuts, with ``onset`` (s, recording time) added.
    subject, trial : int
    movie : str
    """

    raw: "mne.io.RawArray"  # noqa: F821
    localization: pd.DataFrame
    words: pd.DataFrame
    scene_cuts: pd.DataFrame
    subject: int
    trial: int
    movie: str


# ------------------------------------------------------------------------------------------------- writing
def write_trial(
    root: str | Path,
    subject: int,
    trial: int,
    movie: str,
    data: np.ndarray,
    sfreq: float,
    labels: Sequence[str],
    localization: pd.DataFrame,
    triggers: pd.DataFrame,
) -> None:
    """Write one trial (recording, labels, localization, triggers) in the Brain Treebank-style layout.

    Parameters
    ----------
    data : array (electrodes, samples), microvolts
    sfreq : sampling rate in Hz
    labels : one label per row of ``data``
    localization : Electrode, Region, MNI_x, MNI_y, MNI_z (mm) per electrode (may list more electrodes)
    triggers : movie_time (s) and index (sample of the recording) of each trigger
    The movie's word and scene-cut tables are written once per movie by :func:`write_movie`.
    """
    import h5py

    from ..core.io import atomic_path, write_json, write_table

    root = Path(root)
    name = trial_name(subject, trial)
    with atomic_path(root / f"{name}.h5") as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["sampling_rate"] = float(sfreq)
            group = h5.create_group("data")
            for i, row in enumerate(np.asarray(data, dtype=np.float32)):
                group.create_dataset(f"electrode_{i}", data=row)
    write_json(root / "electrode_labels" / f"sub_{subject}" / "electrode_labels.json", list(labels))
    write_table(root / "localization" / f"sub_{subject}" / "depth-wm.csv", localization)
    write_table(root / "subject_timings" / f"{name}_timings.csv", triggers)
    trials_path = root / "trials.json"
    trials = json.loads(trials_path.read_text()) if trials_path.exists() else {}
    trials[name] = {"movie": movie}
    write_json(trials_path, dict(sorted(trials.items())))


def write_movie(root: str | Path, movie: str, words: pd.DataFrame, scene_cuts: pd.DataFrame) -> None:
    """Write a movie's word-onset and scene-cut tables (movie seconds)."""
    from ..core.io import write_table

    folder = Path(root) / "transcripts" / movie
    write_table(folder / "words.csv", words[list(WORD_COLUMNS) + [c for c in words if c not in WORD_COLUMNS]])
    write_table(folder / "scene_cuts.csv",
                scene_cuts[list(SCENE_COLUMNS) + [c for c in scene_cuts if c not in SCENE_COLUMNS]])


# ------------------------------------------------------------------------------------------------- reading
def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    require(path.exists(), path, "file not found")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV table ({exc})") from None
    missing = [c for c in columns if c not in table.columns]
    require(not missing, path, f"missing column(s) {missing}; found {list(table.columns)}")
    return table


def list_trials(root: str | Path) -> list[tuple[int, int]]:
    """(subject, trial) pairs listed in ``trials.json``."""
    from ..core.io import read_json

    out = []
    for name in read_json(Path(root) / "trials.json"):
        match = re.match(r"^sub_(\d+)_trial(\d+)$", name)
        require(match is not None, Path(root) / "trials.json", f"trial name {name!r} is not sub_S_trialTTT")
        out.append((int(match[1]), int(match[2])))
    return out


def read_labels(root: str | Path, subject: int) -> list[str]:
    """Electrode labels of a subject (JSON list of strings), checked for duplicates and shaft/contact form."""
    from ..core.io import read_json

    path = Path(root) / "electrode_labels" / f"sub_{subject}" / "electrode_labels.json"
    labels = read_json(path)
    require(isinstance(labels, list) and all(isinstance(x, str) for x in labels), path,
            "must be a JSON list of electrode label strings")
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    require(not dupes, path, f"duplicate electrode labels {dupes}")
    for label in labels:
        require(LABEL_PATTERN.match(label) is not None, path,
                f"label {label!r} is not shaft letters followed by a contact number")
    return labels


def read_localization(root: str | Path, subject: int, labels: Sequence[str]) -> pd.DataFrame:
    """Localization rows for ``labels`` in label order; every label must be localized, with finite coordinates."""
    path = Path(root) / "localization" / f"sub_{subject}" / "depth-wm.csv"
    table = _read_csv(path, LOCALIZATION_COLUMNS)
    table["Electrode"] = table["Electrode"].astype(str)
    unknown = [x for x in labels if x not in set(table["Electrode"])]
    require(not unknown, path, f"no localization for channel(s) {unknown[:10]} of electrode_labels.json")
    table = table.drop_duplicates("Electrode").set_index("Electrode").loc[list(labels)].reset_index()
    coords = table[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(dtype=float)
    bad = table.loc[~np.isfinite(coords).all(axis=1), "Electrode"].tolist()
    require(not bad, path, f"non-finite MNI coordinates for {bad[:10]}")
    return table


def read_recording(path: str | Path, n_labels: int) -> tuple[np.ndarray, float]:
    """The H5 recording as (electrodes, samples) microvolts and its sampling rate (Hz), validated."""
    import h5py

    path = Path(path)
    require(path.exists(), path, "file not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    with h5:
        require("data" in h5, path, "no group 'data'")
        sfreq = h5.attrs.get("sampling_rate")
        require(sfreq is not None and float(sfreq) > 0, path, "missing or non-positive 'sampling_rate' attribute")
        names = list(h5["data"].keys())
        expected = {f"electrode_{i}" for i in range(len(names))}
        require(set(names) == expected, path,
                f"datasets must be electrode_0..electrode_{len(names) - 1}; found {sorted(names)[:5]}...")
        require(len(names) == n_labels, path,
                f"{len(names)} electrode datasets but electrode_labels.json lists {n_labels} labels")
        lengths = {h5["data"][n].shape for n in names}
        require(len(lengths) == 1 and len(next(iter(lengths))) == 1, path,
                f"electrode datasets must be 1-D of one length; found shapes {sorted(lengths)}")
        data = np.stack([h5["data"][f"electrode_{i}"][()] for i in range(len(names))]).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(data).all(axis=1))
    require(bad.size == 0, path, f"NaN or infinite samples in electrode_{bad[0] if bad.size else ''} "
            f"({bad.size} electrode(s) affected)")
    return data, float(sfreq)


def read_triggers(path: str | Path, n_samples: int) -> pd.DataFrame:
    """Trigger table (movie_time s, index sample), checked to be increasing and inside the recording."""
    path = Path(path)
    table = _read_csv(path, ("movie_time", "index"))
    require(len(table) >= 2, path, "needs at least two triggers to align the movie to the recording")
    idx = table["index"].to_numpy()
    require(np.isfinite(table[["movie_time", "index"]].to_numpy(float)).all(), path, "NaN in trigger table")
    outside = table.loc[(idx < 0) | (idx >= n_samples)]
    require(outside.empty, path, f"{len(outside)} trigger(s) outside the recording (0..{n_samples - 1} "
            f"samples), first at index {outside['index'].iloc[0] if len(outside) else ''}")
    require(bool(np.all(np.diff(idx) > 0)) and bool(np.all(np.diff(table["movie_time"]) > 0)), path,
            "trigger indices and movie times must increase")
    return table


def movie_to_recording(times: np.ndarray, triggers: pd.DataFrame, sfreq: float) -> np.ndarray:
    """Map movie seconds to recording seconds by linear interpolation between triggers (extrapolated at ends)."""
    mt = triggers["movie_time"].to_numpy(float)
    rt = triggers["index"].to_numpy(float) / sfreq
    slope, intercept = np.polyfit(mt, rt, 1)
    inside = np.interp(times, mt, rt)
    outside = (times < mt[0]) | (times > mt[-1])
    return np.where(outside, slope * np.asarray(times) + intercept, inside)


def read_movie(root: str | Path, movie: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Word-onset and scene-cut tables of a movie (movie seconds), validated."""
    folder = Path(root) / "transcripts" / movie
    words = _read_csv(folder / "words.csv", WORD_COLUMNS)
    cuts = _read_csv(folder / "scene_cuts.csv", SCENE_COLUMNS)
    for path, table, col in ((folder / "words.csv", words, "start"), (folder / "scene_cuts.csv", cuts, "time")):
        values = table[col].to_numpy(float)
        require(np.isfinite(values).all(), path, f"NaN in column {col!r}")
        require(bool(np.all(np.diff(values) >= 0)), path, f"column {col!r} must not decrease")
    words["text"] = words["text"].astype(str)
    return words, cuts


def make_raw(data_uv: np.ndarray, sfreq: float, localization: pd.DataFrame) -> "mne.io.RawArray":  # noqa: F821
    """An MNE RawArray of ``seeg`` channels (volts) with an MNI montage from the localization table."""
    import mne

    names = localization["Electrode"].astype(str).tolist()
    info = mne.create_info(names, sfreq, ch_types="seeg")
    raw = mne.io.RawArray(data_uv * 1e-6, info, verbose="error")
    pos = localization[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float) / 1000.0  # MNE speaks metres
    montage = mne.channels.make_dig_montage(ch_pos=dict(zip(names, pos)), coord_frame="mni_tal")
    raw.set_montage(montage, verbose="error")
    return raw


def read_trial(root: str | Path, subject: int, trial: int) -> SeegTrial:
    """Read and validate one trial into MNE objects and event tables in recording time.

    Raises
    ------
    DataError
        Naming the file and the problem: label count differs from the datasets, a channel has no localization,
        NaN samples, triggers outside the recording, events outside the recording, malformed tables.
    """
    from ..core.io import read_json

    root = Path(root)
    name = trial_name(subject, trial)
    trials = read_json(root / "trials.json")
    require(name in trials, root / "trials.json", f"no entry for {name}")
    movie = str(trials[name]["movie"])
    labels = read_labels(root, subject)
    data, sfreq = read_recording(root / f"{name}.h5", len(labels))
    localization = read_localization(root, subject, labels)
    triggers = read_triggers(root / "subject_timings" / f"{name}_timings.csv", data.shape[1])
    words, cuts = read_movie(root, movie)
    duration = data.shape[1] / sfreq
    words["onset"] = movie_to_recording(words["start"].to_numpy(float), triggers, sfreq)
    cuts["onset"] = movie_to_recording(cuts["time"].to_numpy(float), triggers, sfreq)
    for table, fname in ((words, "words.csv"), (cuts, "scene_cuts.csv")):
        late = int(((table["onset"] < 0) | (table["onset"] >= duration)).sum())
        require(late == 0, root / "transcripts" / movie / fname,
                f"{late} event(s) fall outside the {duration:.1f} s recording of {name} after trigger alignment")
    raw = make_raw(data, sfreq, localization)
    return SeegTrial(raw=raw, localization=localization, words=words, scene_cuts=cuts, subject=subject,
                     trial=trial, movie=movie)


# ------------------------------------------------------------------------------------------------ BIDS iEEG
def read_bids_ieeg(bids_root: str | Path, subject: str, task: str, session: str | None = None,
                   run: str | None = None) -> tuple["mne.io.BaseRaw", pd.DataFrame]:  # noqa: F821
    """Read a BIDS iEEG recording with mne-bids: the Raw (channel types and positions from the sidecars) and
    its events table (``events.tsv``: onset s, duration s, trial_type, ...; empty when absent)."""
    import mne_bids

    path = mne_bids.BIDSPath(root=bids_root, subject=subject, session=session, task=task, run=run,
                             datatype="ieeg")
    matches = path.match()
    require(bool(matches), bids_root, f"no iEEG recording for {path.basename}")
    try:
        raw = mne_bids.read_raw_bids(path, verbose="error")
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        raise DataError(bids_root, f"cannot read {path.basename} as BIDS iEEG ({exc})") from None
    events_path = path.copy().update(suffix="events", extension=".tsv")
    events = (pd.read_csv(events_path.fpath, sep="\t") if events_path.fpath.exists()
              else pd.DataFrame(columns=["onset", "duration", "trial_type"]))
    require(bool(np.isfinite(raw.get_data()).all()), events_path.fpath.parent, "NaN samples in the recording")
    return raw, events
