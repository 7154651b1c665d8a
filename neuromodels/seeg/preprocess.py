"""Preprocessing with MNE: line-noise notch, re-referencing, high-gamma envelope, z-scoring, event-locked bins.

Order (:func:`preprocess`): notch at the line frequency and its harmonics below Nyquist, re-reference
(Laplacian over shaft neighbours, or common average), optional high-gamma (70-250 Hz) amplitude envelope,
down-sampling of the envelope, z-scoring per channel. :func:`event_bins` then cuts epochs around events
with :class:`mne.Epochs` and averages them in sliding time bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import ConfigError, require
from ..core.runtime import get_logger
from .data import split_label

log = get_logger(__name__)


@dataclass(frozen=True)
class PreprocessSettings:
    """Preprocessing parameters (frequencies in Hz, times in s)."""

    line_freq: float = 60.0
    reference: str = "car"  # car | laplacian | none
    high_gamma: bool = True
    band: tuple[float, float] = (70.0, 250.0)
    envelope_sfreq: float = 100.0  # rate after the envelope (Hz); bins are >= 10 ms so this loses nothing


def line_harmonics(line_freq: float, sfreq: float) -> np.ndarray:
    """Line frequency and its harmonics strictly below Nyquist (Hz)."""
    return np.arange(line_freq, sfreq / 2.0 - 1e-6, line_freq)


def laplacian_matrix(labels: list[str]) -> np.ndarray:
    """Re-referencing operator (channels, channels): each contact minus the mean of its shaft neighbours.

    Neighbours are the contacts numbered one below and one above on the same shaft, when present; a contact with
    no neighbour is left as is.
    """
    parsed = [split_label(x) for x in labels]
    where = {p: i for i, p in enumerate(parsed)}
    op = np.eye(len(labels))
    for i, (shaft, contact) in enumerate(parsed):
        nbrs = [where[(shaft, c)] for c in (contact - 1, contact + 1) if (shaft, c) in where]
        for j in nbrs:
            op[i, j] = -1.0 / len(nbrs)
    return op


def rereference(raw: "mne.io.BaseRaw", method: str = "laplacian") -> "mne.io.BaseRaw":  # noqa: F821
    """Re-reference in place: ``laplacian`` (shaft neighbours), ``car`` (common average) or ``none``."""
    if method == "none":
        return raw
    if method == "car":
        raw.set_eeg_reference("average", ch_type="seeg", projection=False, verbose="error")
        return raw
    if method != "laplacian":
        raise ConfigError("seeg.reference", f"unknown reference {method!r} (laplacian, car or none)")
    op = laplacian_matrix(raw.ch_names)
    raw.apply_function(lambda data: op @ data, channel_wise=False, verbose="error")
    return raw


def high_gamma_envelope(raw: "mne.io.BaseRaw", band: tuple[float, float] = (70.0, 250.0),  # noqa: F821
                        ) -> "mne.io.BaseRaw":  # noqa: F821
    """Band-pass to ``band`` (Hz) and replace each channel by its analytic amplitude (in place)."""
    sfreq = raw.info["sfreq"]
    if sfreq <= 2 * band[1]:
        raise ConfigError("seeg.high_gamma",
                          f"the {band[0]:g}-{band[1]:g} Hz band needs a sampling rate above {2 * band[1]:g} Hz; "
                          f"this recording has {sfreq:g} Hz (lower the band or turn high_gamma off)")
    raw.filter(band[0], band[1], picks="seeg", phase="zero", verbose="error")
    raw.apply_hilbert(picks="seeg", envelope=True, verbose="error")
    return raw


def zscore(raw: "mne.io.BaseRaw") -> "mne.io.BaseRaw":  # noqa: F821
    """Z-score every channel over the whole recording (in place)."""
    def _z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / max(float(x.std()), 1e-12)

    raw.apply_function(_z, picks="seeg", channel_wise=True, verbose="error")
    return raw


def preprocess(raw: "mne.io.BaseRaw", settings: PreprocessSettings = PreprocessSettings(),  # noqa: F821
               ) -> "mne.io.BaseRaw":  # noqa: F821
    """Notch, re-reference, optional high-gamma envelope (then down-sample), z-score; returns a new Raw."""
    raw = raw.copy().load_data(verbose="error")
    freqs = line_harmonics(settings.line_freq, raw.info["sfreq"])
    if freqs.size:
        raw.notch_filter(freqs, picks="seeg", verbose="error")
    rereference(raw, settings.reference)
    if settings.high_gamma:
        high_gamma_envelope(raw, settings.band)
        if raw.info["sfreq"] > settings.envelope_sfreq:
            raw.resample(settings.envelope_sfreq, verbose="error")
    zscore(raw)
    log.info("preprocessed %d channels: notch %s Hz, %s reference, high gamma %s, now %.0f Hz",
             len(raw.ch_names), freqs.tolist(), settings.reference, settings.high_gamma, raw.info["sfreq"])
    return raw


def bin_edges(window: tuple[float, float], width: float, step: float) -> np.ndarray:
    """(bins, 2) start and end times (s) of sliding bins covering ``window``."""
    require(width > 0 and step > 0 and window[1] - window[0] >= width, None,
            f"bins of {width} s every {step} s do not fit the window {window}")
    starts = np.arange(window[0], window[1] - width + 1e-9, step)
    return np.stack([starts, starts + width], axis=1)


def event_bins(raw: "mne.io.BaseRaw", onsets: np.ndarray, window: tuple[float, float] = (-0.1, 0.6),  # noqa: F821
               width: float = 0.1, step: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Activity averaged in sliding time bins around each event.

    Parameters
    ----------
    raw : preprocessed Raw (channels of type seeg)
    onsets : (events,) event times in s (recording time)
    window : (start, end) s relative to each onset
    width, step : bin width and step (s)

    Returns
    -------
    bins : (kept events, channels, bins) mean activity in each bin
    kept : (kept events,) indices into ``onsets`` of the events whose epoch fits in the recording
    edges : (bins, 2) bin start and end (s, relative to onset)
    """
    import mne

    sfreq = raw.info["sfreq"]
    edges = bin_edges(window, width, step)
    samples = np.round(np.asarray(onsets) * sfreq).astype(int) + raw.first_samp
    events = np.stack([samples, np.zeros_like(samples), np.ones_like(samples)], axis=1)
    epochs = mne.Epochs(raw, events, tmin=window[0], tmax=window[1], baseline=None, picks="seeg", preload=True,
                        reject_by_annotation=False, event_repeated="drop", verbose="error")
    kept = epochs.selection
    data = epochs.get_data(copy=False)  # (events, channels, times)
    times = epochs.times
    out = np.empty((data.shape[0], data.shape[1], len(edges)), dtype=np.float32)
    for b, (lo, hi) in enumerate(edges):
        sel = (times >= lo - 1e-9) & (times < hi - 1e-9)
        out[:, :, b] = data[:, :, sel].mean(axis=2)
    return out, np.asarray(kept), edges
