"""Preprocessing (notch, bad channels, Laplacian, high gamma, bins) and statistics (block bootstrap r, FDR)
against references and hand-computed values."""

import mne
import numpy as np
import pytest
from scipy.stats import false_discovery_control

from neuromodels.core.errors import ConfigError
from neuromodels.seeg import stats
from neuromodels.seeg.preprocess import (
    PreprocessSettings,
    bin_edges,
    event_bins,
    find_bad_channels,
    laplacian_matrix,
    line_harmonics,
    preprocess,
    preprocess_with_log,
    reference_plan,
)
from neuromodels.seeg.ridge import pearson_r


def _raw(data, sfreq, names):
    return mne.io.RawArray(data, mne.create_info(names, sfreq, "seeg"), verbose="error")


def test_laplacian_uses_shaft_neighbours():
    op = laplacian_matrix(["LA1", "LA2", "LA3", "LB1"])
    # LB1 has no neighbour on its shaft: a lone contact, referenced to the common average
    np.testing.assert_allclose(op, [[1, -1, 0, 0], [-0.5, 1, -0.5, 0], [0, -1, 1, 0], [-0.25, -0.25, -0.25, 0.75]])


def test_bad_channels_stay_out_of_every_reference_and_the_log_says_what_each_contact_got():
    labels = ["LA1", "LA2", "LA3", "LA4", "LB1", "LB2"]
    data = np.random.default_rng(0).standard_normal((6, 1000))
    data[1] *= 0.0  # flat
    data[4] *= 50.0  # very high variance
    bad = find_bad_channels(data)
    assert bad == {1: "flat", 4: "noisy"}
    op, table = reference_plan(labels, bad, "laplacian")
    assert not op[:, [1, 4]].any()  # no contact is referenced to a bad one, and bad rows are zero
    assert table.set_index("Electrode")["kind"].to_dict() == {
        "LA1": "lone",
        "LA2": "bad",
        "LA3": "edge",
        "LA4": "edge",
        "LB1": "bad",
        "LB2": "lone",
    }
    assert table.set_index("Electrode").loc["LA3", "reference"] == "LA4"
    good = [0, 2, 3, 5]
    np.testing.assert_allclose(op[0, good], [0.75, -0.25, -0.25, -0.25])  # lone: the good channels' average
    op_car, table_car = reference_plan(labels, bad, "car")
    assert not op_car[:, [1, 4]].any() and set(table_car["kind"]) == {"average", "bad"}


def test_edge_contacts_serve_only_as_references_under_the_laplacian():
    """A one-sided Laplacian is a bipolar derivation: with volume conduction it carries as much of its neighbour's
    source as of its own and half that of the next one, where a two-sided Laplacian keeps a quarter at most. By
    default only contacts with a good neighbour on each side are analysed; the others remain references."""
    labels = [f"LA{c}" for c in range(1, 7)] + ["LB1"]
    a, b = 0.4, 0.1  # shares of the first and second neighbour's source a contact records (hand-built)
    conduction = np.eye(7)
    for i in range(6):
        for k, share in ((1, a), (2, b)):
            for j in (i - k, i + k):
                if 0 <= j < 6:
                    conduction[i, j] = share
    op, table = reference_plan(labels, {}, "laplacian", "keep")
    seen = op @ conduction  # each referenced contact as a mixture of the local sources
    np.testing.assert_allclose(seen[5, [5, 4, 3]], [1 - a, -(1 - a), -(a - b)])  # LA6: LA5's and LA4's sources
    middle = seen[1:5, :6].copy()
    np.testing.assert_allclose(middle[np.arange(4), np.arange(1, 5)], 1 - a)
    middle[np.arange(4), np.arange(1, 5)] = 0.0
    assert np.abs(middle).max() <= (1 + b) / 2 - a + 1e-12  # 0.15 against its own 0.6
    assert table["analysed"].all()
    op_drop, table = reference_plan(labels, {}, "laplacian")
    np.testing.assert_array_equal(op_drop, op)  # the same references; only what is analysed differs
    assert table.loc[table["analysed"], "Electrode"].tolist() == ["LA2", "LA3", "LA4", "LA5"]
    # next to a bad contact a contact has one neighbour: an edge, a reference only
    _, table = reference_plan(labels, {2: "flat"}, "laplacian")
    assert table.loc[table["analysed"], "Electrode"].tolist() == ["LA5"]
    assert reference_plan(labels, {2: "flat"}, "car")[1]["analysed"].sum() == 6
    with pytest.raises(ConfigError, match="seeg.edge_contacts"):
        reference_plan(labels, {}, "laplacian", "sometimes")
    # the whole-recording path keeps the analysed contacts only
    data = np.random.default_rng(0).standard_normal((7, 512 * 4)) * 1e-6
    out, table = preprocess_with_log(_raw(data, 512.0, labels), PreprocessSettings(high_gamma=False))
    assert out.ch_names == ["LA2", "LA3", "LA4", "LA5"] and len(table) == 7
    out = preprocess(_raw(data, 512.0, labels), PreprocessSettings(high_gamma=False, edge_contacts="keep"))
    assert out.ch_names == labels


def test_laplacian_keeps_non_responsive_contacts_clean_where_the_common_average_does_not():
    """Shaft-wide drift and strongly driven contacts: under the common average a non-responsive contact picks up
    the driven contacts' response (and keeps its shaft's drift); under the shaft Laplacian it does not."""
    sfreq, n = 512.0, 512 * 60
    gen = np.random.default_rng(1)
    t = np.arange(n) / sfreq
    onsets = np.arange(1.0, 59.0, 0.5)
    drive = gen.uniform(0, 1, len(onsets))
    envelope = np.ones(n)
    for on, d in zip(onsets, drive):
        sel = (t >= on + 0.1) & (t < on + 0.3)
        envelope[sel] += 4 * d

    def band():
        spec = np.fft.rfft(gen.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sfreq)
        spec[(f < 80) | (f > 230)] = 0
        return np.fft.irfft(spec, n)

    labels = [f"{s}{c}" for s in "ABCD" for c in range(1, 5)]
    driven_source = envelope * band()  # one local source shared (volume-conducted) by the driven contacts
    data = np.stack([band() for _ in labels])
    for i, label in enumerate(labels):
        if label[0] in "ABC" and label[1] in "12":  # two driven contacts on each of three shafts
            data[i] += 3 * driven_source
    for s in "ABCD":  # broadband drift shared by each shaft's contacts
        drift = 5 * np.cumsum(gen.standard_normal(n)) / np.sqrt(n) + 2 * band()
        data[[i for i, x in enumerate(labels) if x[0] == s]] += drift
    raw = _raw(data * 1e-6, sfreq, labels)

    def driven_r(reference):
        out, table = preprocess_with_log(raw, PreprocessSettings(reference=reference, high_gamma=True))
        env = out.get_data()[out.ch_names.index("D3")]
        slow = np.interp(out.times, t, envelope)
        return np.corrcoef(env, slow)[0, 1], table

    r_car, _ = driven_r("car")
    r_lap, table = driven_r("laplacian")
    assert r_car > 0.3
    assert abs(r_lap) < 0.1
    # D3: a non-responsive contact between non-responsive neighbours
    assert table.set_index("Electrode").loc["D3", "reference"] == "D2 D4"


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
    expected = [
        np.mean(np.arange(int(o * 100 + lo * 100 + 1e-6), int(o * 100 + hi * 100 + 1e-6)))
        for o in onsets[:2]
        for lo, hi in edges
    ]
    np.testing.assert_allclose(bins[:, 0, :].ravel(), expected, atol=1e-4)


def test_bootstrap_r_matches_direct_resampling():
    gen = np.random.default_rng(0)
    Y = gen.standard_normal((60, 4))
    P = Y + gen.standard_normal((60, 4))
    W = stats.bootstrap_weights(60, 20, seed=1, block=1)
    boot = stats.bootstrap_r(Y, P, W)
    for b in range(20):
        idx = np.repeat(np.arange(60), W[b].astype(int))
        np.testing.assert_allclose(boot[b], pearson_r(Y[idx], P[idx]), atol=1e-5)
    assert W.sum(1).tolist() == [60.0] * 20


def test_block_bootstrap_resamples_contiguous_blocks():
    W = stats.bootstrap_weights(100, 50, seed=2, block=10)
    assert W.sum(1).tolist() == [100.0] * 50
    # every resample is made of whole runs of 10 consecutive events: counts change only at run boundaries, so a
    # resample touches few distinct starts; single-event resampling would scatter counts over ~63 events
    touched = (W > 0).sum(1)
    single = (stats.bootstrap_weights(100, 50, seed=2, block=1) > 0).sum(1)
    assert touched.mean() < single.mean()
    gen = np.random.default_rng(3)
    for b in range(5):
        starts = np.flatnonzero(np.diff(np.r_[0, (W[b] > 0).astype(int)]) == 1)
        runs = np.diff(np.r_[starts, 100])
        assert (W[b] > 0).sum() >= 10 and runs.min() >= 1
    # autocorrelated errors: the block bootstrap's spread of r is wider than the single-event bootstrap's
    n = 400
    x = gen.standard_normal(n)
    noise = np.convolve(gen.standard_normal(n + 39), np.ones(40) / 40, "valid") * 6
    Y, P = (x + noise)[:, None], x[:, None]
    wide = stats.bootstrap_r(Y, P, stats.bootstrap_weights(n, 400, seed=4, block=40)).std()
    narrow = stats.bootstrap_r(Y, P, stats.bootstrap_weights(n, 400, seed=4, block=1)).std()
    assert wide > 1.3 * narrow
    assert stats.default_block(400) == 20


def test_fdr_is_scipy_over_every_electrode_and_bin():
    diff = np.concatenate([np.full((200, 5), 0.1), np.random.default_rng(1).normal(0, 1, (200, 5))], axis=1)
    sig = stats.significant_bins(diff, n_electrodes=2)
    p = stats.p_greater(diff)
    np.testing.assert_array_equal(sig.ravel(), false_discovery_control(p) < 0.05)
    assert sig[0].all() and sig[1].sum() <= 1
    np.testing.assert_array_equal(stats.passes(diff, 2, min_bins=4), [True, False])
