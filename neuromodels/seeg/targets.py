"""Event-locked targets from recordings: the ``targets`` step of the family.

For every trial (one subject watching one movie) the preprocessed activity is averaged in sliding bins around
each event; the events of every movie are concatenated (movie by movie, each in movie order) and the electrodes
of all subjects are stacked, so a target is one electrode in one time bin. Alignments: ``language`` (word onsets)
and ``vision`` (scene cuts). The movies of ``seeg.movies`` (default: every movie) are used; trials of other movies
are skipped (counted). Channels the reader leaves out (trigger, corrupted, unlocalized) and electrodes marked bad
in any of their trials are counted, and an event missing from some recording (at a recording edge, or a movie a
subject did not watch) is dropped (counted); the counts and what each contact was referenced to are saved with
the targets. Under the Laplacian, contacts without a good neighbour on each side serve as references only
(``seeg.edge_contacts``, see :mod:`neuromodels.seeg.preprocess`; counted as
``electrodes_without_two_neighbours``). Each trial is read and preprocessed once for both alignments, a few
channels at a time.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import require
from ..core.runtime import get_logger
from .data import DEFAULT_SFREQ, list_trials, read_movie_name, read_trial, trial_name
from .preprocess import PreprocessSettings, event_bins_array, preprocess_channels
from .simulate import shown_image

log = get_logger(__name__)
ALIGNMENTS = ("language", "vision")


@dataclass
class Targets:
    """Binned activity of one alignment: ``Y`` (events, electrodes, bins), the events and the electrodes.

    ``references``: one row per (subject, trial, contact): what it was referenced to (see
    :func:`neuromodels.seeg.preprocess.reference_plan`); ``counts``: events and electrodes dropped, by reason.
    """

    Y: np.ndarray
    events: pd.DataFrame  # movie, time (movie s), stimulus_id (shown), text (utterance)
    electrodes: pd.DataFrame  # subject, Electrode, Region, MNI_x, MNI_y, MNI_z
    edges: np.ndarray  # (bins, 2) s relative to the event
    references: pd.DataFrame = field(default_factory=pd.DataFrame)
    counts: dict = field(default_factory=dict)


def movie_events(trial, alignment: str) -> pd.DataFrame:
    """Events of one alignment with the image on screen (``""`` when the scene cuts name none) and the utterance."""
    words, cuts = trial.words, trial.scene_cuts
    if alignment == "language":
        ev = pd.DataFrame(
            {
                "time": words["start"].to_numpy(float),
                "onset": words["onset"].to_numpy(float),
                "text": words["utterance"].astype(str).to_numpy(),
            }
        )
    else:
        first = words.groupby("sentence").agg(start=("start", "first"), text=("utterance", "first"))
        first = first.sort_values("start")
        # The utterance of a scene is the first one that starts after its cut (and before the next cut).
        pos = np.searchsorted(first["start"].to_numpy(float), cuts["time"].to_numpy(float))
        texts = first["text"].to_numpy()[np.clip(pos, 0, len(first) - 1)]
        ev = pd.DataFrame({"time": cuts["time"].to_numpy(float), "onset": cuts["onset"].to_numpy(float), "text": texts})
    ev["stimulus_id"] = shown_image(ev["time"].to_numpy(float), cuts)
    return ev


def build_targets(
    root: str | Path,
    alignment: str,
    settings: PreprocessSettings,
    window: tuple[float, float],
    width: float,
    step: float,
    **options,
) -> Targets:
    """Preprocess every trial of the dataset and bin the activity around the events of every movie."""
    return build_all_targets(root, (alignment,), settings, window, width, step, **options)[alignment]


def build_all_targets(
    root: str | Path,
    alignments: tuple[str, ...],
    settings: PreprocessSettings,
    window: tuple[float, float],
    width: float,
    step: float,
    sfreq: float = DEFAULT_SFREQ,
    movies: list[str] | None = None,
    scene_cuts: str | Path | None = None,
) -> dict[str, Targets]:
    """:func:`build_targets` of several alignments, preprocessing each trial once (channel by channel).

    ``movies``: the movies analysed (None or empty: every movie); trials of other movies are skipped (counted).
    ``sfreq``: the rate of recordings without a ``sampling_rate`` attribute. ``scene_cuts``: a CSV of every
    movie's cuts (``movie``, ``time``) instead of each movie's ``scene-cuts.csv``.
    """
    for alignment in alignments:
        require(alignment in ALIGNMENTS, None, f"alignment must be one of {ALIGNMENTS}")
    trials = list_trials(root)
    chosen = []
    skipped = 0
    for subject, trial_id in trials:
        movie = read_movie_name(root, subject, trial_id)
        if movies and movie not in movies:
            skipped += 1
            log.warning(
                "%s: movie %r is not among seeg.movies %s; trial skipped", trial_name(subject, trial_id), movie, movies
            )
        else:
            chosen.append((subject, trial_id))
    require(bool(chosen), Path(root) / "subject_metadata", f"no trial of the movies {movies}")
    # events are kept where every subject's recording has them: movies not watched by every subject add nothing
    watched: dict[int, set] = {}
    for subject, trial_id in chosen:
        watched.setdefault(subject, set()).add(read_movie_name(root, subject, trial_id))
    common = set.intersection(*watched.values())
    require(
        bool(common),
        Path(root) / "subject_metadata",
        f"the subjects watched no movie in common ({ {s: sorted(m) for s, m in sorted(watched.items())} }); "
        f"set seeg.movies to movies every analysed subject watched (trials of other movies are skipped)",
    )
    partial = sorted(set.union(*watched.values()) - common)
    if partial:
        log.warning(
            "movies %s were not watched by every subject: their events will be dropped (only events every "
            "subject's recording has are kept); seeg.movies can leave them out",
            partial,
        )
    by_subject: dict[str, dict[int, dict[str, object]]] = {a: {} for a in alignments}
    events_of: dict[str, dict[str, pd.DataFrame]] = {a: {} for a in alignments}
    edges = None
    references = []
    left_out: dict[str, int] = {"trials_of_other_movies": skipped}
    seen: dict[int, set] = {}
    for subject, trial_id in chosen:
        trial = read_trial(root, subject, trial_id, sfreq=sfreq, scene_cuts=scene_cuts)
        require(
            trial.movie not in seen.get(subject, set()),
            Path(root) / "subject_metadata",
            f"subject {subject} has two trials of movie {trial.movie}",
        )
        seen.setdefault(subject, set()).add(trial.movie)
        for key, value in trial.counts.items():
            left_out[key] = left_out.get(key, 0) + int(value)
        labels = trial.localization["Electrode"].tolist()
        rec = trial.recording
        # every usable channel of the shaft may be a reference; only the localized (clean) ones are analysed
        rows = trial.reference_channels or trial.channels
        ref_labels = [trial.labels[i] for i in rows]
        position = {label: k for k, label in enumerate(labels)}
        data, out_sfreq, table, out_rows = preprocess_channels(
            lambda i, rec=rec, rows=rows: rec.channel(rows[i]),
            ref_labels,
            rec.sfreq,
            settings,
            analyse=[k for k, label in enumerate(ref_labels) if label in position],
        )
        rec.close()
        require(
            len(out_rows) > 0,
            Path(root) / "electrode_labels" / f"sub_{subject}",
            f"{trial_name(subject, trial_id)}: no channel left to analyse ({table['kind'].value_counts().to_dict()}"
            f" references); contacts need a good neighbour on each side of the shaft under seeg.edge_contacts: "
            f"drop (set it to keep, or seeg.reference to car)",
        )
        good = [position[ref_labels[i]] for i in out_rows]
        references.append(table.assign(subject=subject, trial=trial_id))
        for alignment in alignments:
            ev = movie_events(trial, alignment)
            events_of[alignment].setdefault(trial.movie, ev.drop(columns="onset"))
            bins, kept, edges = event_bins_array(data, out_sfreq, ev["onset"].to_numpy(), window, width, step)
            full = np.full((len(ev), len(labels), bins.shape[2]), np.nan, np.float32)
            full[np.ix_(kept, good)] = bins
            by_subject[alignment].setdefault(subject, {})[trial.movie] = (full, trial.localization)
        del data
    references = pd.concat(references, ignore_index=True)
    return {a: _stack(a, by_subject[a], events_of[a], edges, references, len(chosen), left_out) for a in alignments}


def _stack(
    alignment: str,
    by_subject: dict,
    events_of: dict[str, pd.DataFrame],
    edges: np.ndarray,
    references: pd.DataFrame,
    n_trials: int,
    left_out: dict | None = None,
) -> Targets:
    """Events of every movie one after the other, electrodes of every subject side by side."""
    movies = sorted(events_of)
    blocks, electrodes = [], []
    missing_movies = 0
    for subject, watched in sorted(by_subject.items()):
        localization = next(iter(watched.values()))[1]
        parts = []
        for movie in movies:
            if movie in watched:
                parts.append(watched[movie][0])
            else:
                missing_movies += 1
                log.warning("subject %d did not watch %s: its events are missing for this subject", subject, movie)
                parts.append(np.full((len(events_of[movie]), len(localization), len(edges)), np.nan, np.float32))
        blocks.append(np.concatenate(parts, axis=0))
        electrodes.append(localization.assign(subject=subject))
    Y = np.concatenate(blocks, axis=1)
    electrodes = pd.concat(electrodes, ignore_index=True)
    events = pd.concat([events_of[m].assign(movie=m) for m in movies], ignore_index=True)
    # electrodes bad in some trial (or without a neighbour on each side): NaN in every event of that movie
    dropped = np.isnan(Y).all(axis=(0, 2)) | (np.isnan(Y).mean(axis=(0, 2)) > 0.5)
    reference_only = set()
    if len(references) and "analysed" in references:
        only = references[
            (references["status"] == "good")
            & ~references["analysed"].astype(bool)
            & references["kind"].isin(["edge", "lone"])
        ]
        reference_only = set(zip(only["subject"], only["Electrode"]))
    edge = dropped & np.array(
        [key in reference_only for key in zip(electrodes["subject"], electrodes["Electrode"])], bool
    )
    bad_el = dropped & ~edge
    Y, electrodes = Y[:, ~dropped], electrodes[~dropped].reset_index(drop=True)
    ok = np.isfinite(Y).all(axis=(1, 2))  # events whose epoch fits in every recording that has them
    require(
        int(ok.sum()) >= 10,
        None,
        f"{alignment} alignment: {int(ok.sum())} of {len(ok)} events have data in "
        f"every recording of every subject ({len(electrodes)} electrodes); choose movies every subject watched "
        f"(seeg.movies)",
    )
    counts = {
        "movies": len(movies),
        "trials": n_trials,
        "events": int(len(ok)),
        "events_dropped": int((~ok).sum()),
        "electrodes": int(len(electrodes)),
        "electrodes_dropped_bad": int(bad_el.sum()),
        "electrodes_without_two_neighbours": int(edge.sum()),
        "subject_movies_missing": missing_movies,
        "contacts_by_reference": references["kind"].value_counts().to_dict(),
        **(left_out or {}),
    }
    log.info(
        "%s alignment: %d movies, %d events (%d dropped), %d electrodes (%d bad, %d without a neighbour on "
        "each side, references only), %d bins; references %s",
        alignment,
        len(movies),
        ok.sum(),
        (~ok).sum(),
        Y.shape[1],
        bad_el.sum(),
        edge.sum(),
        Y.shape[2],
        counts["contacts_by_reference"],
    )
    return Targets(Y[ok], events[ok].reset_index(drop=True), electrodes, edges, references, counts)


def save_targets(path: str | Path, t: Targets) -> None:
    from ..core.io import write_npz

    write_npz(
        path,
        Y=t.Y,
        edges=t.edges,
        events=t.events.to_json(orient="split"),
        electrodes=t.electrodes.to_json(orient="split"),
        references=t.references.to_json(orient="split"),
        counts=json.dumps(t.counts),
    )


def load_targets(path: str | Path) -> Targets:
    require(Path(path).exists(), path, "file not found")
    with np.load(path) as z:
        refs = (
            pd.read_json(io.StringIO(str(z["references"])), orient="split")
            if "references" in z.files
            else pd.DataFrame()
        )
        counts = json.loads(str(z["counts"])) if "counts" in z.files else {}
        # stimulus ids are names: read as text, or pandas would turn "0012" into 12
        return Targets(
            z["Y"],
            pd.read_json(io.StringIO(str(z["events"])), orient="split", dtype={"stimulus_id": str}),
            pd.read_json(io.StringIO(str(z["electrodes"])), orient="split"),
            z["edges"],
            refs,
            counts,
        )
