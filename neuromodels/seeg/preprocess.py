"""Preprocessing with MNE: line-noise notch, re-referencing, high-gamma envelope, z-scoring, event-locked bins.

Order (:func:`preprocess`): notch at the line frequency and its harmonics below Nyquist, bad-channel marking
(flat or very high variance, :func:`find_bad_channels`), re-reference (by default a Laplacian over the good
neighbours on the same shaft; or the common average of the good channels), dropping of the bad channels, optional
high-gamma (70-250 Hz) amplitude envelope, down-sampling of the envelope, z-scoring per channel. What each contact
was referenced to is returned as a table (:func:`reference_plan`): ``middle`` (both neighbours), ``edge`` (one
neighbour: a shaft end or a bad neighbour), ``lone`` (no good neighbour: referenced to the common average of the
good channels), ``bad`` (dropped, never part of any reference), and whether it is analysed. :func:`event_bins`
then cuts epochs around events with :class:`mne.Epochs` and averages them in sliding time bins.

Under the Laplacian only ``middle`` contacts are analysed by default (``edge_contacts="drop"``), as the Brain
Treebank's ``clean_laplacian`` channels and BrainBERT's Laplacian electrodes are those with a neighbour on each
side; edge and lone contacts still serve as references of their neighbours. A one-sided Laplacian is a bipolar
derivation: with volume conduction (a contact recording a share ``a`` of its first and ``b`` of its second
neighbour's source) the edge contact minus its one neighbour keeps ``1 - a`` of its own source, ``-(1 - a)`` of
the neighbour's and ``-(a - b)`` of the next one's, so half or more of its signal belongs to other contacts,
while the two-sided Laplacian of a middle contact keeps at most ``(1 + b) / 2 - a`` of any other contact's
source (0.15 against its own 0.6 for ``a, b = 0.4, 0.1``). ``edge_contacts="keep"`` analyses them as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import ConfigError, require
from ..core.runtime import get_logger
from .data import split_label

if TYPE_CHECKING:  # annotations only: mne is imported where it is used
    import mne

log = get_logger(__name__)


@dataclass(frozen=True)
class PreprocessSettings:
    """Preprocessing parameters (frequencies in Hz, times in s)."""

    line_freq: float = 60.0
    reference: str = "laplacian"  # laplacian | car | none
    bad_flat: float = 0.01  # s.d. below this fraction of the median channel s.d.: flat
    bad_variance: float = 8.0  # s.d. above this multiple of the median channel s.d.: noisy
    high_gamma: bool = True
    # Laplacian only: "drop" analyses contacts with a good neighbour on each side (edge and lone contacts are
    # references only), "keep" analyses every good contact
    edge_contacts: str = "drop"
    band: tuple[float, float] = (70.0, 250.0)
    envelope_sfreq: float = 100.0  # rate after the envelope (Hz); bins are >= 10 ms so this loses nothing


def line_harmonics(line_freq: float, sfreq: float) -> np.ndarray:
    """Line frequency and its harmonics strictly below Nyquist (Hz)."""
    return np.arange(line_freq, sfreq / 2.0 - 1e-6, line_freq)


def find_bad_channels(data: np.ndarray, flat: float = 0.01, variance: float = 8.0) -> dict[int, str]:
    """Channels (rows of ``data``) to mark bad: ``flat`` (s.d. below ``flat`` x the median s.d.) or ``noisy``
    (s.d. above ``variance`` x the median s.d.). Returns {row: reason}."""
    return bad_from_sd(np.asarray(data, dtype=float).std(axis=1), flat, variance)


def bad_from_sd(sd: np.ndarray, flat: float = 0.01, variance: float = 8.0) -> dict[int, str]:
    """:func:`find_bad_channels` from each channel's s.d. (computed channel by channel on long recordings)."""
    median = float(np.median(sd))
    bad = {}
    for i, value in enumerate(sd):
        if value <= flat * median or value == 0:
            bad[i] = "flat"
        elif value > variance * median:
            bad[i] = "noisy"
    return bad


def reference_plan(
    labels: list[str], bad: dict[int, str] | None = None, method: str = "laplacian", edge_contacts: str = "drop"
) -> tuple[np.ndarray, pd.DataFrame]:  # noqa: F821
    """Re-referencing operator (channels, channels) and what each contact was referenced to.

    ``laplacian``: each good contact minus the mean of its good neighbours (the contacts numbered one below and
    one above on the same shaft); a contact with no good neighbour ("lone") is referenced to the common average of
    the good channels. ``car``: every good contact minus the common average of the good channels. ``none``: as
    recorded. Bad channels get a zero row and are never part of a reference. ``edge_contacts="drop"`` (Laplacian
    only): edge and lone contacts are referenced but not analysed (see the module's note).

    Returns the operator and a table with Electrode, status (``good``, ``flat``, ``noisy``), kind (``middle``,
    ``edge``, ``lone``, ``average``, ``none``, ``bad``), reference (the labels or ``common average``) and
    analysed (bool).
    """
    import pandas as pd

    if edge_contacts not in ("drop", "keep"):
        raise ConfigError("seeg.edge_contacts", f"unknown value {edge_contacts!r} (drop or keep)")
    bad = dict(bad or {})
    n = len(labels)
    good = [i for i in range(n) if i not in bad]
    op = np.zeros((n, n))
    rows = []
    parsed = [split_label(x) for x in labels]
    where = {p: i for i, p in enumerate(parsed)}

    def average(i: int) -> None:
        op[i, i] += 1.0
        for j in good:
            op[i, j] -= 1.0 / len(good)

    for i, label in enumerate(labels):
        if i in bad:
            rows.append({"Electrode": label, "status": bad[i], "kind": "bad", "reference": ""})
            continue
        if method == "none":
            op[i, i] = 1.0
            rows.append({"Electrode": label, "status": "good", "kind": "none", "reference": ""})
        elif method == "car":
            average(i)
            rows.append({"Electrode": label, "status": "good", "kind": "average", "reference": "common average"})
        else:
            shaft, contact = parsed[i]
            nbrs = [
                where[(shaft, c)]
                for c in (contact - 1, contact + 1)
                if (shaft, c) in where and where[(shaft, c)] not in bad
            ]
            if nbrs:
                op[i, i] = 1.0
                for j in nbrs:
                    op[i, j] = -1.0 / len(nbrs)
                rows.append(
                    {
                        "Electrode": label,
                        "status": "good",
                        "kind": "middle" if len(nbrs) == 2 else "edge",
                        "reference": " ".join(labels[j] for j in nbrs),
                    }
                )
            else:
                average(i)
                rows.append({"Electrode": label, "status": "good", "kind": "lone", "reference": "common average"})
    table = pd.DataFrame(rows, columns=["Electrode", "status", "kind", "reference"])
    analysed = table["status"] == "good"
    if method == "laplacian" and edge_contacts == "drop":
        analysed &= table["kind"] == "middle"
    return op, table.assign(analysed=analysed.to_numpy(bool))


def laplacian_matrix(labels: list[str]) -> np.ndarray:
    """Laplacian operator (channels, channels) with every channel good (see :func:`reference_plan`)."""
    return reference_plan(labels, {}, "laplacian")[0]


def rereference(
    raw: mne.io.BaseRaw,
    method: str = "laplacian",
    bad: dict[int, str] | None = None,  # noqa: F821
    edge_contacts: str = "drop",
) -> pd.DataFrame:  # noqa: F821
    """Re-reference ``raw`` in place (``laplacian``, ``car`` or ``none``; bad channels, by index, excluded from
    every reference and zeroed); returns the reference table of :func:`reference_plan`."""
    if method not in ("laplacian", "car", "none"):
        raise ConfigError("seeg.reference", f"unknown reference {method!r} (laplacian, car or none)")
    op, table = reference_plan(raw.ch_names, bad, method, edge_contacts)
    raw.apply_function(lambda data: op @ data, channel_wise=False, verbose="error")
    return table


def high_gamma_envelope(
    raw: mne.io.BaseRaw,
    band: tuple[float, float] = (70.0, 250.0),  # noqa: F821
) -> mne.io.BaseRaw:  # noqa: F821
    """Band-pass to ``band`` (Hz) and replace each channel by its analytic amplitude (in place)."""
    sfreq = raw.info["sfreq"]
    if sfreq <= 2 * band[1]:
        raise ConfigError(
            "seeg.high_gamma",
            f"the {band[0]:g}-{band[1]:g} Hz band needs a sampling rate above {2 * band[1]:g} Hz; "
            f"this recording has {sfreq:g} Hz (lower the band or turn high_gamma off)",
        )
    raw.filter(band[0], band[1], picks="seeg", phase="zero", verbose="error")
    raw.apply_hilbert(picks="seeg", envelope=True, verbose="error")
    return raw


def zscore(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:  # noqa: F821
    """Z-score every channel over the whole recording (in place)."""

    def _z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / max(float(x.std()), 1e-12)

    raw.apply_function(_z, picks="seeg", channel_wise=True, verbose="error")
    return raw


def preprocess(
    raw: mne.io.BaseRaw,
    settings: PreprocessSettings = PreprocessSettings(),  # noqa: F821
) -> mne.io.BaseRaw:  # noqa: F821
    """Notch, bad channels, re-reference, optional high-gamma envelope (then down-sample), z-score; a new Raw
    holding the analysed channels only (good, and under the Laplacian with ``edge_contacts="drop"`` a neighbour
    on each side; see :func:`preprocess_with_log` for what each contact was referenced to)."""
    return preprocess_with_log(raw, settings)[0]


def preprocess_with_log(
    raw: mne.io.BaseRaw,
    settings: PreprocessSettings = PreprocessSettings(),  # noqa: F821
) -> tuple[mne.io.BaseRaw, pd.DataFrame]:  # noqa: F821
    """:func:`preprocess` and the reference table of :func:`reference_plan` (one row per input channel)."""
    raw = raw.copy().load_data(verbose="error")
    freqs = line_harmonics(settings.line_freq, raw.info["sfreq"])
    if freqs.size:
        raw.notch_filter(freqs, picks="seeg", verbose="error")
    bad = find_bad_channels(raw.get_data(), settings.bad_flat, settings.bad_variance)
    table = rereference(raw, settings.reference, bad, settings.edge_contacts)
    if bad:
        log.warning(
            "%d bad channel(s) dropped before referencing: %s",
            len(bad),
            ", ".join(f"{table.loc[i, 'Electrode']} ({reason})" for i, reason in sorted(bad.items())),
        )
    _log_references_only(table)
    if not table["analysed"].all():
        raw.drop_channels([raw.ch_names[i] for i in np.flatnonzero(~table["analysed"].to_numpy())])
    if settings.high_gamma:
        high_gamma_envelope(raw, settings.band)
        if raw.info["sfreq"] > settings.envelope_sfreq:
            raw.resample(settings.envelope_sfreq, verbose="error")
    zscore(raw)
    kinds = table["kind"].value_counts().to_dict()
    log.info(
        "preprocessed %d channels: notch %s Hz, %s reference (%s), high gamma %s, now %.0f Hz",
        len(raw.ch_names),
        freqs.tolist(),
        settings.reference,
        kinds,
        settings.high_gamma,
        raw.info["sfreq"],
    )
    return raw, table


def _log_references_only(table: pd.DataFrame, analysed: np.ndarray | None = None) -> None:  # noqa: F821
    """Log the good contacts that serve only as references (no neighbour on each side)."""
    wanted = np.ones(len(table), bool) if analysed is None else analysed
    only = table[(table["status"] == "good") & ~table["analysed"] & wanted]
    if len(only):
        log.info(
            "%d contact(s) without a good neighbour on each side serve only as references (edge_contacts=drop): %s",
            len(only),
            ", ".join(f"{e} ({k})" for e, k in zip(only["Electrode"], only["kind"])),
        )


def _raw(x_volts: np.ndarray, sfreq: float) -> mne.io.RawArray:  # noqa: F821
    import mne

    names = [f"c{i}" for i in range(len(x_volts))]
    return mne.io.RawArray(x_volts, mne.create_info(names, sfreq, ch_types="seeg"), verbose="error")


def preprocess_channels(
    read: Callable[[int], np.ndarray],
    labels: list[str],
    sfreq: float,
    settings: PreprocessSettings = PreprocessSettings(),
    group_bytes: int = 256 * 2**20,
    analyse: Sequence[int] | None = None,
) -> tuple[np.ndarray, float, pd.DataFrame, list[int]]:  # noqa: F821
    """:func:`preprocess_with_log` a few channels at a time: the whole recording is never in memory.

    ``read(i)`` returns channel ``i`` (microvolts, any float dtype). Two passes over groups of channels holding
    at most ``group_bytes`` of float64 samples: the s.d. of each notched channel (bad channels), then for each
    good channel its re-referenced signal (from the few channels its reference needs, or the common average
    accumulated once), notch, high-gamma envelope, down-sampling and z-scoring: the steps of the whole-recording
    path, each acting on every channel separately (the notch, a linear filter, commutes with the linear
    re-reference), so the result equals that path's. Peak memory: a group at the input rate plus the output.

    ``analyse``: the channels that may be analysed (default all); the others serve only as references (e.g. the
    channels a release's ``clean_laplacian.json`` leaves out, which are still neighbours on their shaft).

    Returns the (analysed channels, samples) float32 output, its rate, the reference table of
    :func:`reference_plan` (``analysed`` false for the channels of the reference only) and the indices of the
    analysed channels.
    """
    n = len(labels)
    freqs = line_harmonics(settings.line_freq, sfreq)
    if settings.high_gamma and sfreq <= 2 * settings.band[1]:
        raise ConfigError(
            "seeg.high_gamma",
            f"the {settings.band[0]:g}-{settings.band[1]:g} Hz band needs a sampling rate above "
            f"{2 * settings.band[1]:g} Hz; this recording has {sfreq:g} Hz (lower the band or turn "
            f"high_gamma off)",
        )
    if settings.reference not in ("laplacian", "car", "none"):
        raise ConfigError("seeg.reference", f"unknown reference {settings.reference!r} (laplacian, car or none)")
    first = np.asarray(read(0))
    n_samples = len(first)
    size = max(1, int(group_bytes // (8 * n_samples)))
    groups = [list(range(lo, min(n, lo + size))) for lo in range(0, n, size)]

    def notched(rows_uv: list[np.ndarray]) -> mne.io.RawArray:  # noqa: F821
        x = np.empty((len(rows_uv), n_samples))
        for k, row in enumerate(rows_uv):
            np.multiply(row, 1e-6, out=x[k])
        raw = _raw(x, sfreq)
        if freqs.size:
            raw.notch_filter(freqs, picks="seeg", verbose="error")
        return raw

    sd = np.concatenate([notched([read(i) for i in group]).get_data().std(axis=1) for group in groups])
    bad = bad_from_sd(sd, settings.bad_flat, settings.bad_variance)
    op, table = reference_plan(labels, bad, settings.reference, settings.edge_contacts)
    good = [i for i in range(n) if i not in bad]
    wanted = np.zeros(n, bool)
    wanted[list(range(n)) if analyse is None else list(analyse)] = True
    _log_references_only(table, wanted)
    table["analysed"] &= wanted
    out_rows = [i for i in good if table.loc[i, "analysed"]]
    average = None
    if table["kind"].isin(["lone", "average"]).any():
        average = np.zeros(n_samples, dtype=np.float64)
        for j in good:
            average += read(j)
        average /= len(good)

    def referenced(i: int) -> np.ndarray:
        if table.loc[i, "kind"] in ("lone", "average"):
            return read(i) - average
        y = np.zeros(n_samples, dtype=np.float64)
        for j in np.flatnonzero(op[i]):
            y += op[i, j] * np.asarray(read(j), dtype=np.float64)
        return y

    out, out_sfreq, row = None, sfreq, 0
    for lo in range(0, len(out_rows), size):
        raw = notched([referenced(i) for i in out_rows[lo : lo + size]])
        if settings.high_gamma:
            high_gamma_envelope(raw, settings.band)
            if raw.info["sfreq"] > settings.envelope_sfreq:
                raw.resample(settings.envelope_sfreq, verbose="error")
        zscore(raw)
        out_sfreq = raw.info["sfreq"]
        values = raw.get_data()
        if out is None:
            out = np.empty((len(out_rows), values.shape[1]), dtype=np.float32)
        out[row : row + len(values)] = values
        row += len(values)
        del raw, values
    if bad:
        log.warning(
            "%d bad channel(s) dropped before referencing: %s",
            len(bad),
            ", ".join(f"{labels[i]} ({reason})" for i, reason in sorted(bad.items())),
        )
    log.info(
        "preprocessed %d channels, %d at a time: notch %s Hz, %s reference (%s), high gamma %s, now %.0f Hz",
        len(out_rows),
        size,
        freqs.tolist(),
        settings.reference,
        table["kind"].value_counts().to_dict(),
        settings.high_gamma,
        out_sfreq,
    )
    return (out if out is not None else np.zeros((0, 0), np.float32)), out_sfreq, table, out_rows


def bin_edges(window: tuple[float, float], width: float, step: float) -> np.ndarray:
    """(bins, 2) start and end times (s) of sliding bins covering ``window``."""
    require(
        width > 0 and step > 0 and window[1] - window[0] >= width,
        None,
        f"bins of {width} s every {step} s do not fit the window {window}",
    )
    starts = np.arange(window[0], window[1] - width + 1e-9, step)
    return np.stack([starts, starts + width], axis=1)


def event_bins(
    raw: mne.io.BaseRaw,
    onsets: np.ndarray,
    window: tuple[float, float] = (-0.1, 0.6),  # noqa: F821
    width: float = 0.1,
    step: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activity averaged in sliding time bins around each event (:func:`event_bins_array` of a Raw's seeg
    channels)."""
    data = raw.get_data(picks="seeg").astype(np.float32)
    return event_bins_array(data, raw.info["sfreq"], onsets, window, width, step)


def event_bins_array(
    data: np.ndarray,
    sfreq: float,
    onsets: np.ndarray,
    window: tuple[float, float] = (-0.1, 0.6),
    width: float = 0.1,
    step: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activity averaged in sliding time bins around each event.

    Parameters
    ----------
    data : (channels, samples) preprocessed activity at ``sfreq``
    onsets : (events,) event times in s (recording time)
    window : (start, end) s relative to each onset; the epoch holds the samples from round(start x sfreq) to
        round(end x sfreq) around the onset's sample (as :class:`mne.Epochs` cuts them)
    width, step : bin width and step (s)

    Returns
    -------
    bins : (kept events, channels, bins) float32 mean activity in each bin
    kept : (kept events,) indices into ``onsets`` of the events whose epoch fits in the recording (a repeated
        onset sample keeps its first event)
    edges : (bins, 2) bin start and end (s, relative to onset)
    """
    edges = bin_edges(window, width, step)
    offsets = np.arange(int(round(window[0] * sfreq)), int(round(window[1] * sfreq)) + 1)
    times = offsets / sfreq
    samples = np.round(np.asarray(onsets, dtype=float) * sfreq).astype(np.int64)
    fits = (samples + offsets[0] >= 0) & (samples + offsets[-1] < data.shape[1])
    _, first = np.unique(samples, return_index=True)
    unique = np.zeros(len(samples), bool)
    unique[first] = True
    kept = np.flatnonzero(fits & unique)
    out = np.empty((len(kept), data.shape[0], len(edges)), dtype=np.float32)
    for b, (lo, hi) in enumerate(edges):
        sel = offsets[(times >= lo - 1e-9) & (times < hi - 1e-9)]
        idx = samples[kept][:, None] + sel[None, :]  # (events, samples in bin)
        out[:, :, b] = data[:, idx].mean(axis=2, dtype=np.float64).T
    return out, kept, edges
