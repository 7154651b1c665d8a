"""The Brain Treebank release layout: writer, reader (channel by channel, never the whole recording at once),
validation, and a BIDS iEEG reader.

Layout of a dataset folder, as the release and its public loaders have it (one movie per trial; the tables of a
movie are in movie seconds)::

    all_subject_data/sub_{s}_trial{t:03d}.h5       group ``data``: one 1-D dataset ``electrode_{i}`` per channel,
                                                   in the order of electrode_labels.json (microvolts). No rate
                                                   attribute in the release: the rate is ``seeg.sfreq`` (2048 Hz)
                                                   unless the file carries a ``sampling_rate`` attribute. A file
                                                   at the root (``sub_{s}_trial{t:03d}.h5``) is read as well.
    electrode_labels/sub_{s}/electrode_labels.json JSON list of labels; ``*`` and ``#`` are stripped (as the
                                                   public loaders do); ``DC``/``TRIG`` channels and labels without
                                                   a contact number are not brain channels and are left out
    corrupted_elec.json                            optional: {"sub_{s}": [labels]}: bad channels, left out of every
                                                   analysis and every reference
    localization/sub_{s}/depth-wm.csv              ``Electrode`` and a region column (``Region``, else
                                                   ``DesikanKilliany``, else ``Destrieux``); MNI coordinates from
                                                   ``MNI_x``/``MNI_y``/``MNI_z`` columns when present, else from
                                                   ``localization/elec_coords_full.csv`` (Subject, Electrode, X, Y,
                                                   Z); channels without a row are left out (counted)
    subject_timings/sub_{s}_trial{t:03d}_timings.csv  triggers: ``movie_time`` (s) and ``index`` (sample)
    subject_metadata/sub_{s}_trial{t:03d}_metadata.json  ``filename`` names the movie (its transcripts folder)
    transcripts/{movie}/manual/word-times-stanford.csv  one row per word: ``text`` (the word), ``start``, ``end``
                                                   (movie s), ``is_onset`` (1 at the first word of a sentence);
                                                   ``transcripts/{movie}/features.csv`` (same columns) is read when
                                                   the manual file is absent
    transcripts/{movie}/scene-cuts.csv             ``time`` (movie s) of each scene cut; an optional
                                                   ``stimulus_id`` names the frame shown from then on. Or one CSV
                                                   named by ``seeg.scene_cuts`` with ``movie`` and ``time`` columns.
    clean_laplacian.json                           optional: {"sub_{s}": [labels]}: when present, only these
                                                   channels of the subject are analysed (the others, corrupted
                                                   ones apart, still serve as their neighbours' references)

Electrode labels follow the SEEG habit: a shaft stem then the contact number (``LT3`` is contact 3 of shaft
``LT``; ``F3cId10`` is contact 10 of shaft ``F3cId``); neighbouring contacts on a shaft differ by one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DataError, require
from ..core.runtime import get_logger

log = get_logger(__name__)

LABEL_PATTERN = re.compile(r"^(?P<shaft>.*?\D)(?P<contact>\d+)$")
TRIGGER_PREFIXES = ("DC", "TRIG")
REGION_COLUMNS = ("Region", "DesikanKilliany", "Destrieux")
MNI_COLUMNS = ("MNI_x", "MNI_y", "MNI_z")
WORD_COLUMNS = ("text", "start", "end", "is_onset")
DEFAULT_SFREQ = 2048.0
RECORDING_DIR = "all_subject_data"


def trial_name(subject: int, trial: int) -> str:
    """``sub_{subject}_trial{trial:03d}``, the stem of a trial's files."""
    return f"sub_{subject}_trial{trial:03d}"


def clean_label(label: str) -> str:
    """A release label without the ``*`` and ``#`` marks the public loaders strip."""
    return str(label).replace("*", "").replace("#", "")


def split_label(label: str) -> tuple[str, int]:
    """Shaft stem and contact number of an electrode label (``'LT12'`` -> ``('LT', 12)``)."""
    match = LABEL_PATTERN.match(label)
    if match is None:
        raise ValueError(f"electrode label {label!r} is not a shaft name followed by a contact number")
    return match["shaft"], int(match["contact"])


def is_brain_channel(label: str) -> bool:
    """A contact label (shaft then number) that is not a trigger channel."""
    return LABEL_PATTERN.match(label) is not None and not label.upper().startswith(TRIGGER_PREFIXES)


def recording_path(root: str | Path, subject: int, trial: int) -> Path:
    """The trial's H5 file: under ``all_subject_data/`` (the release), else at the root."""
    root = Path(root)
    inside = root / RECORDING_DIR / f"{trial_name(subject, trial)}.h5"
    at_root = root / f"{trial_name(subject, trial)}.h5"
    return at_root if (not inside.exists() and at_root.exists()) else inside


# ------------------------------------------------------------------------------------------------- writing
def write_trial(
    root: str | Path,
    subject: int,
    trial: int,
    movie: str,
    data: np.ndarray,
    labels: Sequence[str],
    localization: pd.DataFrame,
    triggers: pd.DataFrame,
    sfreq: float | None = None,
    coordinates: pd.DataFrame | None = None,
) -> None:
    """Write one trial (recording, labels, localization, triggers, metadata) in the release layout.

    Parameters
    ----------
    data : array (channels, samples), microvolts; written float32, one chunked dataset per channel
    labels : one label per row of ``data``
    localization : depth-wm.csv rows (``Electrode`` and a region column; may list more electrodes)
    triggers : ``movie_time`` (s) and ``index`` (sample of the recording) of each trigger
    sfreq : written as a ``sampling_rate`` attribute when given (the release has none: 2048 Hz)
    coordinates : Electrode, X, Y, Z (MNI mm) rows of this subject for ``localization/elec_coords_full.csv``
    The movie's tables are written once per movie by :func:`write_movie`.
    """
    import h5py

    from ..core.io import atomic_path, write_json, write_table

    root = Path(root)
    name = trial_name(subject, trial)
    with atomic_path(root / RECORDING_DIR / f"{name}.h5") as tmp:
        with h5py.File(tmp, "w") as h5:
            if sfreq is not None:
                h5.attrs["sampling_rate"] = float(sfreq)
            group = h5.create_group("data")
            for i, row in enumerate(data):
                group.create_dataset(
                    f"electrode_{i}", data=np.asarray(row, dtype=np.float32), chunks=(min(len(row), 1 << 16),)
                )
    write_json(root / "electrode_labels" / f"sub_{subject}" / "electrode_labels.json", list(labels))
    write_table(root / "localization" / f"sub_{subject}" / "depth-wm.csv", localization)
    write_table(root / "subject_timings" / f"{name}_timings.csv", triggers)
    write_json(root / "subject_metadata" / f"{name}_metadata.json", {"filename": movie, "title": movie})
    if coordinates is not None:
        path = root / "localization" / "elec_coords_full.csv"
        rows = coordinates.assign(Subject=f"sub_{subject}")[["Subject", "Electrode", "X", "Y", "Z"]]
        if path.exists():
            old = pd.read_csv(path)
            rows = pd.concat([old[old["Subject"] != f"sub_{subject}"], rows], ignore_index=True)
        write_table(path, rows)


def write_movie(root: str | Path, movie: str, words: pd.DataFrame, scene_cuts: pd.DataFrame) -> None:
    """Write a movie's word table (release columns: ``text`` is the word, ``is_onset`` starts a sentence) and its
    scene cuts (``time``, plus ``stimulus_id`` when known).

    ``words`` has ``word``, ``start``, ``end`` and ``sentence`` (utterance index); other columns are kept."""
    from ..core.io import write_table

    folder = Path(root) / "transcripts" / movie
    sentence = words["sentence"].to_numpy()
    onset = np.r_[True, sentence[1:] != sentence[:-1]] if len(words) else np.zeros(0, bool)
    extra = [c for c in words if c not in ("word", "start", "end", "sentence", "text")]
    table = pd.DataFrame(
        {"text": words["word"].astype(str), "start": words["start"], "end": words["end"], "is_onset": onset.astype(int)}
    )
    for c in extra:
        table[c] = words[c].to_numpy()
    write_table(folder / "manual" / "word-times-stanford.csv", table)
    write_table(folder / "scene-cuts.csv", scene_cuts)


# ------------------------------------------------------------------------------------------------- reading
def read_csv_table(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV table with the named columns (the unnamed index column of pandas-written files dropped). A
    ``stimulus_id`` column is read as text: ids are names (``0012`` stays ``0012``)."""
    require(path.exists(), path, "file not found")
    try:
        table = pd.read_csv(path, dtype={"stimulus_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable CSV table ({str(exc).splitlines()[0]})") from None
    table = table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed: ")])
    missing = [c for c in columns if c not in table.columns]
    require(not missing, path, f"missing column(s) {missing}; found {list(table.columns)}")
    return table


def _numeric(table: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    for c in columns:
        values = pd.to_numeric(table[c], errors="coerce")
        bad = int(values.isna().sum() - table[c].isna().sum())
        require(bad == 0, path, f"column {c!r} has {bad} value(s) that are not numbers")
        table[c] = values


def list_trials(root: str | Path) -> list[tuple[int, int]]:
    """(subject, trial) pairs with a ``subject_metadata/sub_S_trialTTT_metadata.json``."""
    folder = Path(root) / "subject_metadata"
    require(folder.is_dir(), folder, "folder not found (the release's per-trial metadata)")
    out = []
    for path in sorted(folder.glob("*_metadata.json")):
        match = re.match(r"^sub_(\d+)_trial(\d+)_metadata\.json$", path.name)
        require(match is not None, path, "file name is not sub_S_trialTTT_metadata.json")
        out.append((int(match[1]), int(match[2])))
    require(bool(out), folder, "lists no trials (no sub_S_trialTTT_metadata.json)")
    return sorted(out)


def read_movie_name(root: str | Path, subject: int, trial: int) -> str:
    """The movie of a trial: ``filename`` of its metadata JSON."""
    from ..core.io import read_json

    path = Path(root) / "subject_metadata" / f"{trial_name(subject, trial)}_metadata.json"
    meta = read_json(path)
    require(
        isinstance(meta, dict) and isinstance(meta.get("filename"), str) and meta["filename"],
        path,
        "needs a 'filename' naming the movie",
    )
    return meta["filename"]


def _per_subject_list(path: Path, subject: int) -> list[str] | None:
    """Labels listed for ``sub_{subject}`` in an optional {"sub_S": [labels]} JSON (None when the file is absent)."""
    from ..core.io import read_json

    if not path.exists():
        return None
    table = read_json(path)
    require(isinstance(table, dict), path, 'must be a JSON object {"sub_S": [labels], ...}')
    labels = table.get(f"sub_{subject}", [])
    require(
        isinstance(labels, list) and all(isinstance(x, str) for x in labels),
        path,
        f"sub_{subject} must list label strings",
    )
    return [clean_label(x) for x in labels]


def read_labels(root: str | Path, subject: int) -> list[str]:
    """Cleaned labels of every dataset of a subject's recordings, in dataset order (duplicates refused)."""
    from ..core.io import read_json

    path = Path(root) / "electrode_labels" / f"sub_{subject}" / "electrode_labels.json"
    labels = read_json(path)
    require(
        isinstance(labels, list) and all(isinstance(x, str) for x in labels) and labels,
        path,
        "must be a non-empty JSON list of electrode label strings",
    )
    labels = [clean_label(x) for x in labels]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    require(not dupes, path, f"duplicate electrode labels {dupes[:10]} (after stripping '*' and '#')")
    return labels


def read_localization(root: str | Path, subject: int) -> pd.DataFrame:
    """Localization of a subject: Electrode, Region, MNI_x, MNI_y, MNI_z (NaN where no coordinates are given)."""
    root = Path(root)
    path = root / "localization" / f"sub_{subject}" / "depth-wm.csv"
    table = read_csv_table(path, ("Electrode",))
    table["Electrode"] = table["Electrode"].astype(str).map(clean_label)
    table = table.drop_duplicates("Electrode")
    region = next((c for c in REGION_COLUMNS if c in table.columns), None)
    out = pd.DataFrame({"Electrode": table["Electrode"], "Region": table[region].astype(str) if region else "unknown"})
    if all(c in table.columns for c in MNI_COLUMNS):
        _numeric(table, path, MNI_COLUMNS)
        for c in MNI_COLUMNS:
            out[c] = table[c].to_numpy(float)
        return out.reset_index(drop=True)
    coords_path = root / "localization" / "elec_coords_full.csv"
    for c in MNI_COLUMNS:
        out[c] = np.nan
    if coords_path.exists():
        coords = read_csv_table(coords_path, ("Subject", "Electrode", "X", "Y", "Z"))
        _numeric(coords, coords_path, ("X", "Y", "Z"))
        coords = coords[coords["Subject"].astype(str) == f"sub_{subject}"].copy()
        coords["Electrode"] = coords["Electrode"].astype(str).map(clean_label)
        coords = coords.drop_duplicates("Electrode").set_index("Electrode")
        for c, src in zip(MNI_COLUMNS, ("X", "Y", "Z")):
            out[c] = out["Electrode"].map(coords[src]).to_numpy(float)
    return out.reset_index(drop=True)


class Recording:
    """One trial's H5 file, validated on opening and read channel by channel (float32 microvolts).

    ``n_channels``, ``n_samples``, ``sfreq``; :meth:`channel` reads one channel and refuses NaN samples."""

    def __init__(self, path: str | Path, n_labels: int, sfreq: float = DEFAULT_SFREQ) -> None:
        import h5py

        self.path = path = Path(path)
        require(path.exists(), path, "file not found")
        try:
            self._h5 = h5py.File(path, "r")
        except OSError as exc:
            raise DataError(path, f"not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
        h5 = self._h5
        require("data" in h5 and isinstance(h5["data"], h5py.Group), path, "no group 'data'")
        rate = h5.attrs.get("sampling_rate", sfreq)
        require(np.isscalar(rate) and float(rate) > 0, path, "non-positive 'sampling_rate' attribute")
        self.sfreq = float(rate)
        names = list(h5["data"].keys())
        expected = {f"electrode_{i}" for i in range(len(names))}
        require(
            set(names) == expected,
            path,
            f"datasets must be electrode_0..electrode_{len(names) - 1}; found {sorted(names)[:5]}...",
        )
        require(
            len(names) == n_labels,
            path,
            f"{len(names)} electrode datasets but electrode_labels.json lists {n_labels} labels",
        )
        shapes = {h5["data"][n].shape for n in names}
        require(
            len(shapes) == 1 and len(next(iter(shapes))) == 1,
            path,
            f"electrode datasets must be 1-D of one length; found shapes {sorted(shapes)[:5]}",
        )
        kinds = {h5["data"][n].dtype.kind for n in names}
        require(kinds <= {"f", "i", "u"}, path, f"electrode datasets must be numeric; found dtype kinds {kinds}")
        self.n_channels, self.n_samples = len(names), next(iter(shapes))[0]
        require(self.n_samples > 0, path, "electrode datasets are empty")

    def channel(self, i: int) -> np.ndarray:
        """Channel ``i`` (dataset ``electrode_{i}``) as float32 microvolts."""
        try:
            x = self._h5["data"][f"electrode_{i}"][()].astype(np.float32, copy=False)
        except OSError as exc:
            raise DataError(
                self.path, f"cannot read electrode_{i} (truncated file? {str(exc).splitlines()[0]})"
            ) from None
        if not np.isfinite(x).all():
            raise DataError(
                self.path, f"NaN or infinite samples in electrode_{i} ({int((~np.isfinite(x)).sum())} sample(s))"
            )
        return x

    def close(self) -> None:
        self._h5.close()


def read_triggers(path: str | Path, n_samples: int) -> pd.DataFrame:
    """Trigger table (movie_time s, index sample), checked to be increasing and inside the recording."""
    path = Path(path)
    table = read_csv_table(path, ("movie_time", "index"))
    _numeric(table, path, ("movie_time", "index"))
    require(len(table) >= 2, path, "needs at least two triggers to align the movie to the recording")
    require(np.isfinite(table[["movie_time", "index"]].to_numpy(float)).all(), path, "NaN in trigger table")
    idx = table["index"].to_numpy(float)
    outside = table.loc[(idx < 0) | (idx >= n_samples)]
    require(
        outside.empty,
        path,
        f"{len(outside)} trigger(s) outside the recording (0..{n_samples - 1} "
        f"samples), first at index {outside['index'].iloc[0] if len(outside) else ''}",
    )
    require(
        bool(np.all(np.diff(idx) > 0)) and bool(np.all(np.diff(table["movie_time"]) > 0)),
        path,
        "trigger indices and movie times must increase",
    )
    return table


def movie_to_recording(times: np.ndarray, triggers: pd.DataFrame, sfreq: float) -> np.ndarray:
    """Map movie seconds to recording seconds by linear interpolation between triggers (extrapolated at ends)."""
    mt = triggers["movie_time"].to_numpy(float)
    rt = triggers["index"].to_numpy(float) / sfreq
    slope, intercept = np.polyfit(mt, rt, 1)
    inside = np.interp(times, mt, rt)
    outside = (times < mt[0]) | (times > mt[-1])
    return np.where(outside, slope * np.asarray(times) + intercept, inside)


def read_words(root: str | Path, movie: str) -> pd.DataFrame:
    """Word rows of a movie: word, start, end (movie s), sentence (index), utterance (the sentence's words).

    From ``manual/word-times-stanford.csv``, else ``features.csv``; rows without a start time are dropped
    (logged, as the public loaders drop them); rows are put in start order."""
    folder = Path(root) / "transcripts" / movie
    path = folder / "manual" / "word-times-stanford.csv"
    if not path.exists() and (folder / "features.csv").exists():
        path = folder / "features.csv"
        log.info("%s: no manual/word-times-stanford.csv, reading the words of features.csv", movie)
    require(folder.is_dir(), folder, f"no transcripts folder for movie {movie!r}")
    table = read_csv_table(path, WORD_COLUMNS)
    if table["is_onset"].dtype == object:  # True/False written as text
        table["is_onset"] = table["is_onset"].map(lambda v: {"true": 1, "false": 0}.get(str(v).strip().lower(), v))
    _numeric(table, path, ("start", "end", "is_onset"))
    missing = table["start"].isna() | table["text"].isna()
    if missing.any():
        log.warning("%s: %d word row(s) without text or start time dropped", path, int(missing.sum()))
        table = table[~missing]
    require(len(table) > 0, path, "no word rows with a start time")
    table = table.sort_values("start", kind="stable").reset_index(drop=True)
    onset = table["is_onset"].fillna(0).to_numpy(float) > 0
    onset[0] = True
    words = pd.DataFrame(
        {
            "word": table["text"].astype(str),
            "start": table["start"].to_numpy(float),
            "end": table["end"].to_numpy(float),
            "sentence": np.cumsum(onset) - 1,
        }
    )
    words["utterance"] = words.groupby("sentence")["word"].transform(" ".join)
    for c in table.columns:
        if c not in WORD_COLUMNS and c not in words:
            words[c] = table[c].to_numpy()
    words.attrs["path"] = str(path)
    words.attrs["dropped"] = int(missing.sum())
    return words


def read_scene_cuts(root: str | Path, movie: str, scene_cuts: str | Path | None = None) -> pd.DataFrame:
    """Scene cuts of a movie (``time`` movie s, ``stimulus_id`` as text, or ``""`` where the table names none), in
    time order.

    From ``scene_cuts`` (a CSV with ``movie`` and ``time`` columns) when given, else
    ``transcripts/{movie}/scene-cuts.csv``."""
    if scene_cuts:
        path = Path(scene_cuts)
        table = read_csv_table(path, ("movie", "time"))
        table = table[table["movie"].astype(str) == movie].drop(columns="movie")
        require(len(table) > 0, path, f"no scene cuts of movie {movie!r}")
    else:
        path = Path(root) / "transcripts" / movie / "scene-cuts.csv"
        table = read_csv_table(path, ("time",))
    _numeric(table, path, ("time",))
    require(bool(np.isfinite(table["time"].to_numpy(float)).all()), path, "NaN in column 'time'")
    table["stimulus_id"] = table["stimulus_id"].fillna("") if "stimulus_id" in table else ""
    table = table.sort_values("time", kind="stable").reset_index(drop=True)
    table.attrs["path"] = str(path)
    return table


@dataclass
class SeegTrial:
    """One subject watching one movie: the open recording, the analysed channels and the movie's events.

    Attributes
    ----------
    recording : Recording (read channel by channel)
    labels : every dataset's cleaned label, in dataset order
    channels : rows of ``recording`` analysed, in order (brain channels, localized, not corrupted, in
        clean_laplacian.json when there is one)
    localization : one row per analysed channel: Electrode, Region, MNI_x, MNI_y, MNI_z (mm; NaN if unknown)
    corrupted : labels listed in corrupted_elec.json (never analysed, never part of a reference)
    words, scene_cuts : movie tables with ``onset`` (s, recording time); events outside the recording are counted
    counts : what was left out, by reason
    reference_channels : rows of ``recording`` that may serve as references, in order (every brain channel that
        is not corrupted: the analysed ones, the unlocalized ones and those clean_laplacian.json leaves out);
        empty means ``channels``
    """

    recording: Recording
    labels: list[str]
    channels: list[int]
    localization: pd.DataFrame
    corrupted: list[str]
    words: pd.DataFrame
    scene_cuts: pd.DataFrame
    subject: int
    trial: int
    movie: str
    counts: dict = field(default_factory=dict)
    reference_channels: list[int] = field(default_factory=list)

    @property
    def raw(self) -> mne.io.RawArray:  # noqa: F821
        """The analysed channels as one MNE Raw (the whole recording in memory: for small recordings)."""
        data = np.stack([self.recording.channel(i) for i in self.channels])
        return make_raw(data, self.recording.sfreq, self.localization)


def make_raw(data_uv: np.ndarray, sfreq: float, localization: pd.DataFrame) -> mne.io.RawArray:  # noqa: F821
    """An MNE RawArray of ``seeg`` channels (volts), with an MNI montage when every channel has coordinates."""
    import mne

    names = localization["Electrode"].astype(str).tolist()
    info = mne.create_info(names, sfreq, ch_types="seeg")
    raw = mne.io.RawArray(np.asarray(data_uv, dtype=np.float64) * 1e-6, info, verbose="error")
    pos = localization[list(MNI_COLUMNS)].to_numpy(float) / 1000.0  # MNE speaks metres
    if np.isfinite(pos).all():
        montage = mne.channels.make_dig_montage(ch_pos=dict(zip(names, pos)), coord_frame="mni_tal")
        raw.set_montage(montage, verbose="error")
    return raw


def read_trial(
    root: str | Path, subject: int, trial: int, sfreq: float = DEFAULT_SFREQ, scene_cuts: str | Path | None = None
) -> SeegTrial:
    """Open and validate one trial: the recording (not read yet), its channels and the movie's events.

    Channels left out (counted in ``counts``): trigger channels and labels without a contact number, channels
    in corrupted_elec.json, channels without a localization row, and channels not in clean_laplacian.json when
    that file is present. Events that fall outside the recording after trigger alignment are dropped (counted).

    Raises
    ------
    DataError
        Naming the file and the problem: label count differs from the datasets, not HDF5, NaN samples (when a
        channel is read), triggers outside the recording, no channel left, malformed tables, missing movie.
    """
    root = Path(root)
    name = trial_name(subject, trial)
    movie = read_movie_name(root, subject, trial)
    labels = read_labels(root, subject)
    labels_path = root / "electrode_labels" / f"sub_{subject}" / "electrode_labels.json"
    recording = Recording(recording_path(root, subject, trial), len(labels), sfreq)
    corrupted = _per_subject_list(root / "corrupted_elec.json", subject) or []
    clean = _per_subject_list(root / "clean_laplacian.json", subject)
    loc = read_localization(root, subject).set_index("Electrode")
    counts = {"non_brain_channels": 0, "corrupted_channels": 0, "unlocalized_channels": 0, "not_in_clean_laplacian": 0}
    channels, references = [], []
    for i, label in enumerate(labels):
        if is_brain_channel(label) and label not in corrupted:
            references.append(i)
        if not is_brain_channel(label):
            counts["non_brain_channels"] += 1
        elif label in corrupted:
            counts["corrupted_channels"] += 1
        elif label not in loc.index:
            counts["unlocalized_channels"] += 1
        elif clean is not None and label not in clean:
            counts["not_in_clean_laplacian"] += 1
        else:
            channels.append(i)
    require(bool(channels), labels_path, f"no analysable channel in {name} ({counts})")
    if any(counts.values()):
        log.warning(
            "%s: %d of %d channels analysed; left out: %s",
            name,
            len(channels),
            len(labels),
            {k: v for k, v in counts.items() if v},
        )
    localization = loc.loc[[labels[i] for i in channels]].reset_index()
    triggers = read_triggers(root / "subject_timings" / f"{name}_timings.csv", recording.n_samples)
    words = read_words(root, movie)
    counts["words_without_start"] = words.attrs.get("dropped", 0)
    cuts = read_scene_cuts(root, movie, scene_cuts)
    duration = recording.n_samples / recording.sfreq
    tables = []
    for table, key in ((words, "words"), (cuts, "scene_cuts")):
        path = table.attrs["path"]
        start = table["start"] if key == "words" else table["time"]
        table = table.assign(onset=movie_to_recording(start.to_numpy(float), triggers, recording.sfreq))
        outside = (table["onset"] < 0) | (table["onset"] >= duration)
        counts[f"{key}_outside_recording"] = int(outside.sum())
        if outside.any():
            log.warning(
                "%s: %d of %d %s fall outside the %.1f s recording of %s after trigger alignment",
                path,
                int(outside.sum()),
                len(table),
                key.replace("_", " "),
                duration,
                name,
            )
        require(
            not outside.all(),
            path,
            f"every event falls outside the {duration:.1f} s recording of {name} after trigger alignment",
        )
        table.attrs["path"] = path
        tables.append(table)  # kept: events without data in this recording are dropped when binned (counted)
    return SeegTrial(
        recording=recording,
        labels=labels,
        channels=channels,
        localization=localization,
        corrupted=corrupted,
        words=tables[0],
        scene_cuts=tables[1],
        subject=subject,
        trial=trial,
        movie=movie,
        counts=counts,
        reference_channels=references,
    )


# ------------------------------------------------------------------------------------------------ BIDS iEEG
def read_bids_ieeg(
    bids_root: str | Path, subject: str, task: str, session: str | None = None, run: str | None = None
) -> tuple[mne.io.BaseRaw, pd.DataFrame]:  # noqa: F821
    """Read a BIDS iEEG recording with mne-bids: the Raw (channel types and positions from the sidecars) and
    its events table (``events.tsv``: onset s, duration s, trial_type, ...; empty when absent)."""
    import mne_bids

    path = mne_bids.BIDSPath(root=bids_root, subject=subject, session=session, task=task, run=run, datatype="ieeg")
    matches = path.match()
    require(bool(matches), bids_root, f"no iEEG recording for {path.basename}")
    try:
        raw = mne_bids.read_raw_bids(path, verbose="error")
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        raise DataError(bids_root, f"cannot read {path.basename} as BIDS iEEG ({exc})") from None
    events_path = path.copy().update(suffix="events", extension=".tsv")
    events = (
        pd.read_csv(events_path.fpath, sep="\t")
        if events_path.fpath.exists()
        else pd.DataFrame(columns=["onset", "duration", "trial_type"])
    )
    require(bool(np.isfinite(raw.get_data()).all()), events_path.fpath.parent, "NaN samples in the recording")
    return raw, events
