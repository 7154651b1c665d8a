"""Preprocessing (notch, Laplacian, high gamma, bins) and statistics (bootstrap r, FDR) against references."""

import mne
import numpy as np
import pytest
from scipy.stats import false_discovery_control

from neuromodels.core.errors import ConfigError
from neuromodels.seeg import stats
from neuromodels.seeg.preprocess import (PreprocessSettings, bin_edges, event_bins, laplacian_matrix,
                                         line_harmonics, preprocess)
from neuromodels.seeg.ridge import pearson_r


def _raw(data, sfreq, names):
    return mne.io.RawArray(data, mne.create_info(names, sfreq, "seeg"), verbose="error")


def test_laplacian_uses_shaft_neighbours():
    op = laplacian_matrix(["LA1", "LA2", "LA3", "LB1"])
    np.testing.assert_allclose(op, [[1, -1, 0, 0], [-0.5, 1, -0.5, 0], [0, -1, 1, 0], [0, 0, 0, 1]])


def test_line_harmonics_below_nyquist():
    np.testing.assert_allclose(line_harmonics(60, 512), [60, 120, 180, 240])
    np.testing.assert_allclose(line_harmonics(50, 2048), np.arange(50, 1001, 50))


def test_high_gamma_recovers_planted_modulation_and_removes_line_noise():
    sfreq, n = 512.0, 512 * 60
    gen = np.random.default_rng(0)
    t = np.arange(n) / sfreq
    modulation = 1 + 0.8 * np.sin(2 * np.pi * 0.5 * t)  # slow 0.5 Hz change of high-gamma amplitude
    spec = np.fft.rfft(gen.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sfreq)
    spec[(f < 80) | (f > 230)] = 0
    carrier = np.fft.irfft(spec, n)
    common = gen.standard_normal(n).cumsum() * 0.05
    line = 5 * carrier.std() * np.sin(2 * np.pi * 60 * t)
    data = np.stack([modulation * carrier + common + line, carrier + common + line, carrier + common]) * 1e-6
    raw = _raw(data, sfreq, ["LA1", "LA2", "LA3"])
    out = preprocess(raw, PreprocessSettings(line_freq=60, reference="none", high_gamma=True))
    assert out.info["sfreq"] == 100.0
    env = out.get_data()
    slow = 1 + 0.8 * np.sin(2 * np.pi * 0.5 * out.times)
    assert np.corrcoef(env[0], slow)[0, 1] > 0.7
    assert abs(np.corrcoef(env[1], slow)[0, 1]) < 0.2
    np.testing.assert_allclose(env.mean(1), 0, atol=1e-6)
    np.testing.assert_allclose(env.std(1), 1, atol=1e-3)
    # A bare notch (no envelope) removes the 60 Hz line.
    plain = preprocess(raw, PreprocessSettings(line_freq=60, reference="none", high_gamma=False))
    before = raw.compute_psd(fmin=40, fmax=80, verbose="error")
    after = plain.compute_psd(fmin=40, fmax=80, verbose="error")
    at60 = np.argmin(abs(before.freqs - 60))
    at50 = np.argmin(abs(before.freqs - 50))
    ratio = (after.get_data()[1] / after.get_data()[1][at50]) / (before.get_data()[1] / before.get_data()[1][at50])
    assert ratio[at60] < 1e-3
    with pytest.raises(ConfigError, match="needs a sampling rate above 500 Hz"):
        preprocess(_raw(data[:, ::2], 256.0, ["LA1", "LA2", "LA3"]), PreprocessSettings())


def test_event_bins_average_the_right_samples():
    sfreq = 100.0
    ramp = np.tile(np.arange(2000, dtype=float), (2, 1))
    raw = _raw(ramp, sfreq, ["LA1", "LA2"])
    onsets = np.array([1.0, 5.0, 19.95])  # the last epoch runs past the end and is dropped
    bins, kept, edges = event_bins(raw, onsets, window=(-0.1, 0.3), width=0.1, step=0.05)
    np.testing.assert_array_equal(kept, [0, 1])
    np.testing.assert_allclose(edges, bin_edges((-0.1, 0.3), 0.1, 0.05))
    # Samples at 100 Hz in [onset + lo, onset + hi): mean of the ramp there.
    expected = [np.mean(np.arange(int(o * 100 + lo * 100 + 1e-6), int(o * 100 + hi * 100 + 1e-6)))
                for o in onsets[:2] for lo, hi in edges]
    np.testing.assert_allclose(bins[:, 0, :].ravel(), expected, atol=1e-4)


def test_bootstrap_r_matches_direct_resampling():
    gen = np.random.default_rng(0)
    Y = gen.standard_normal((60, 4))
    P = Y + gen.standard_normal((60, 4))
    W = stats.bootstrap_weights(60, 20, seed=1)
    boot = stats.bootstrap_r(Y, P, W)
    for b in range(20):
        idx = np.repeat(np.arange(60), W[b].astype(int))
        np.testing.assert_allclose(boot[b], pearson_r(Y[idx], P[idx]), atol=1e-5)
    assert W.sum(1).tolist() == [60.0] * 20


def test_fdr_matches_scipy_and_significance_counts_bins():
    p = np.random.default_rng(0).uniform(0, 0.1, size=(3, 7))
    np.testing.assert_allclose(stats.fdr_bh(p, axis=1), np.stack([false_discovery_control(r) for r in p]))
    diff = np.concatenate([np.full((200, 5), 0.1), np.random.default_rng(1).normal(0, 1, (200, 5))], axis=1)
    sig = stats.significant_bins(diff, n_electrodes=2)
    assert sig[0].all() and sig[1].sum() <= 1
    np.testing.assert_array_equal(stats.passes(diff, 2, min_bins=4), [True, False])
