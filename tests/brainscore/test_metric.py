"""The neural benchmark: PLS metric against an independent NIPALS written here, the split-half ceiling against
the reliability the simulator planted, layer commitment, and the model interface."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.model_selection import StratifiedShuffleSplit
from torch import nn

from neuromodels.brainscore.data import average_repetitions
from neuromodels.brainscore.evaluate import (
    LayerModel,
    MetricSettings,
    NeuralBenchmark,
    commit_layers,
    pearson_per_column,
    pls_cross_validated,
    public_heldout_split,
    score_model,
    split_half_ceiling,
)
from neuromodels.brainscore.simulate import SimulationSettings, simulate_recordings
from neuromodels.stimuli import render_scenes, sample_scenes


# ---------------------------------------------------------------------------- an independent PLS (NIPALS)
def nipals_pls_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, k: int) -> np.ndarray:
    """PLS2 regression written from the textbook (Wold's NIPALS; each weight vector taken exactly as the first
    left singular vector of X_k' Y_k), centred, unscaled."""
    x_mean, y_mean = x_train.mean(0), y_train.mean(0)
    xk, yk = x_train - x_mean, y_train - y_mean
    w_list, p_list, q_list = [], [], []
    for _ in range(k):
        u, _, _ = np.linalg.svd(xk.T @ yk, full_matrices=False)
        w = u[:, 0]
        t = xk @ w
        tt = t @ t
        p = xk.T @ t / tt
        q = yk.T @ t / tt
        xk = xk - np.outer(t, p)
        yk = yk - np.outer(t, q)
        w_list.append(w), p_list.append(p), q_list.append(q)
    w, p, q = np.array(w_list).T, np.array(p_list).T, np.array(q_list).T
    coef = w @ np.linalg.inv(p.T @ w) @ q.T
    return (x_test - x_mean) @ coef + y_mean


def independent_metric(
    x: np.ndarray, y: np.ndarray, names: np.ndarray, k: int, n_splits: int, seed: int
) -> tuple[float, np.ndarray]:
    splitter = StratifiedShuffleSplit(n_splits=n_splits, train_size=0.9, random_state=seed)
    medians = []
    for train, test in splitter.split(x, names):
        pred = nipals_pls_predict(x[train], y[train], x[test], k)
        r = [stats.pearsonr(pred[:, j], y[test, j])[0] for j in range(y.shape[1])]
        medians.append(np.median(r))
    return float(np.mean(medians)), np.asarray(medians)


def test_pls_metric_agrees_with_independent_nipals() -> None:
    rng = np.random.default_rng(0)
    n, f, m = 120, 40, 12
    names = np.repeat(np.array(list("abcd")), n // 4)
    latent = rng.standard_normal((n, 5))
    x = latent @ rng.standard_normal((5, f)) + 0.5 * rng.standard_normal((n, f))
    y = latent @ rng.standard_normal((5, m)) + 1.0 * rng.standard_normal((n, m))
    settings = MetricSettings(n_components=6, n_splits=4, train_fraction=0.9, seed=3)
    ours = pls_cross_validated(x, y, names, settings)
    theirs, per_split = independent_metric(x, y, names, 6, 4, 3)
    np.testing.assert_allclose(ours["per_split"], per_split, atol=1e-4)
    assert ours["raw"] == pytest.approx(theirs, abs=1e-4)
    assert ours["sem"] == pytest.approx(per_split.std(ddof=1) / 2, abs=1e-4)
    assert 0.3 < ours["raw"] < 0.95  # a real, imperfect signal


def test_pearson_per_column_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((30, 5)), rng.standard_normal((30, 5))
    b[:, 0] += 2 * a[:, 0]
    expected = [stats.pearsonr(a[:, j], b[:, j])[0] for j in range(5)]
    np.testing.assert_allclose(pearson_per_column(a, b), expected, atol=1e-12)
    assert pearson_per_column(a, np.ones((30, 5))).tolist() == [0.0] * 5  # constant column: 0, not NaN


# ---------------------------------------------------------------------------------------- the ceiling
@pytest.fixture(scope="module")
def scenes():
    table = sample_scenes(150, seed=3)
    return table, render_scenes(table, size=32)


@pytest.mark.parametrize("reliability", [0.5, 0.85])
def test_ceiling_recovers_planted_reliability(scenes, reliability: float) -> None:
    table, images = scenes
    settings = SimulationSettings(
        n_stimuli=150,
        image_size=32,
        repetitions=6,
        n_v4=24,
        n_it=24,
        v4_reliability=reliability,
        it_reliability=reliability,
    )
    assembly, truth = simulate_recordings(table, settings, seed=1)
    ceiling = split_half_ceiling(assembly, n_splits=10, seed=0)
    planted = truth["sites"]["reliability"].to_numpy()
    # sampling error of a median of 48 split-half estimates on 150 stimuli is about 0.01-0.02
    assert ceiling["ceiling"] == pytest.approx(np.median(planted), abs=0.05)
    # and per neuroid the estimate follows the planted value
    assert np.corrcoef(ceiling["per_neuroid"], planted)[0, 1] > 0.5
    for region in ("V4", "IT"):
        sub = assembly.isel(neuroid=np.flatnonzero(assembly["region"].values == region))
        mask = truth["sites"]["region"] == region
        assert split_half_ceiling(sub)["ceiling"] == pytest.approx(
            truth["sites"].loc[mask, "reliability"].median(), abs=0.07
        )


def test_ceiling_spearman_brown_on_a_hand_made_case() -> None:
    """Two repetitions: the split is always rep 0 vs rep 1, so the ceiling is exactly SB(r) of those two."""
    from neuromodels.brainscore.data import make_assembly

    rng = np.random.default_rng(0)
    signal = rng.standard_normal((40, 3))
    reps = [signal + rng.standard_normal((40, 3)) for _ in range(2)]
    names = np.repeat(["a", "b"], 20)
    assembly = make_assembly(
        np.concatenate(reps),
        np.tile(np.arange(40), 2),
        np.tile(names, 2),
        np.repeat([0, 1], 40),
        ["x", "y", "z"],
        ["IT"] * 3,
    )
    r = pearson_per_column(reps[0], reps[1])
    expected = np.median(2 * r / (1 + r))
    assert split_half_ceiling(assembly, n_splits=3)["ceiling"] == pytest.approx(expected, abs=1e-6)  # float32 storage


# ------------------------------------------------------------------------- benchmark and commitment
@pytest.fixture(scope="module")
def recording(scenes):
    table, images = scenes
    settings = SimulationSettings(n_stimuli=150, image_size=32, repetitions=6, n_v4=16, n_it=16)
    assembly, truth = simulate_recordings(table, settings, seed=2)
    lookup = dict(zip(table["stimulus_id"].tolist(), images))
    return assembly, truth, lookup


class SignalModel:
    """A non-torch subject: 'records' the simulator's noise-free signal of a region (plus a little noise)."""

    def __init__(self, assembly, truth, noise: float = 0.0) -> None:
        self.signal = truth["signal"]
        self.regions = np.asarray(assembly["region"].values)
        self.ids = np.sort(np.unique(assembly["stimulus_id"].values))
        self.noise = noise
        self.region = None

    def start_recording(self, region: str) -> None:
        self.region = region

    def look_at(self, images: np.ndarray, stimulus_ids):
        import xarray as xr

        rows = pd.Index(self.ids).get_indexer(stimulus_ids)
        values = self.signal[rows][:, self.regions == self.region]
        values = values + self.noise * np.random.default_rng(0).standard_normal(values.shape)
        return xr.DataArray(
            values, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", np.asarray(stimulus_ids))}
        )


def test_any_model_through_the_interface(recording) -> None:
    assembly, truth, lookup = recording
    settings = MetricSettings(n_components=10, n_splits=5)
    bench = NeuralBenchmark(assembly, lookup, "IT", settings=settings)
    good = bench(SignalModel(assembly, truth))
    bad = bench(SignalModel(assembly, truth, noise=10.0))
    assert good["raw"] > 0.7 and good["raw"] > bad["raw"] + 0.3
    assert good["ceiled"] == pytest.approx(good["raw"] / good["ceiling"])
    assert good["ceiled_squared"] == pytest.approx(good["ceiled"] ** 2)


def test_public_heldout_split_is_disjoint_and_stratified(recording) -> None:
    assembly, _, _ = recording
    public, held = public_heldout_split(assembly, 0.5, seed=0)
    assert not set(public) & set(held) and len(public) + len(held) == 150
    _, _, names = average_repetitions(assembly, public)
    assert np.bincount(pd.factorize(names)[0]).min() >= 5  # every object in the public half


class Stub:
    """Activations by layer: 'it' carries the IT signal, 'v4' the V4 signal, 'noise' nothing."""

    def __init__(self, assembly, truth, ids) -> None:
        regions = np.asarray(assembly["region"].values)
        rng = np.random.default_rng(5)
        self.by_id = {
            "it": truth["signal"][:, regions == "IT"],
            "v4": truth["signal"][:, regions == "V4"],
            "noise": rng.standard_normal((len(ids), 16)),
        }
        self.ids = ids

    def activations(self, images: np.ndarray, layers):
        rows = images[:, 0, 0, 0].astype(int)  # each image is painted with its stimulus index
        return {layer: self.by_id[layer][rows] for layer in layers}


def test_layer_commitment_picks_the_layer_carrying_each_region(recording) -> None:
    assembly, truth, _ = recording
    ids = np.sort(np.unique(assembly["stimulus_id"].values))
    painted = {sid: np.full((4, 4, 3), i, np.uint8) for i, sid in enumerate(ids)}
    public, _ = public_heldout_split(assembly, 0.5, seed=0)
    settings = MetricSettings(n_components=10, n_splits=3)
    benches = {r: NeuralBenchmark(assembly, painted, r, public, settings) for r in ("V4", "IT")}
    choice, table = commit_layers(Stub(assembly, truth, ids), ["noise", "v4", "it"], benches)
    assert choice == {"V4": "v4", "IT": "it"}
    assert len(table) == 6 and set(table["layer"]) == {"noise", "v4", "it"}


def test_score_model_with_a_plain_torch_model(recording) -> None:
    """Any nn.Module with named layers can be scored end to end (commit on public, report held out)."""
    assembly, _, lookup = recording
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 10)
    )
    scores, layers = score_model(
        model,
        ["1", "3"],
        assembly,
        lookup,
        image_size=16,
        settings=MetricSettings(n_components=5, n_splits=3),
        device="cpu",
    )
    assert list(scores["region"]) == ["V4", "IT"] and set(scores["layer"]) <= {"1", "3"}
    assert (scores["n_stimuli"] == 75).all()
    assert np.isfinite(scores[["raw", "ceiling", "ceiled"]].to_numpy()).all()


def test_layer_model_requires_a_committed_region() -> None:
    from neuromodels.core.errors import ConfigError

    subject = LayerModel(nn.Identity(), {"IT": "x"}, image_size=8)
    with pytest.raises(ConfigError, match="V4"):
        subject.start_recording("V4")


# ------------------------------------------------------------------------------- statistics for the claims
MODELS = ("base", "rotation", "adversarial", "rotation_adversarial", "untrained_crossvit")


def _variants_table(
    seeds=(0, 1), clean=0.7, pgd=None, ceiled=None, ceiling=0.8, n_test=400, n_classes=4
) -> pd.DataFrame:
    """One row per model and seed, as the score step writes them (clean accuracy of the untrained model at
    chance)."""
    pgd = pgd or {}
    ceiled = ceiled or {}
    rows = []
    for seed in seeds:
        for i, model in enumerate(MODELS):
            acc = 0.25 if model == "untrained_crossvit" else clean
            row = {
                "variant": model,
                "seed": seed,
                "clean_accuracy": acc,
                "pgd_accuracy": pgd.get(model, 0.2),
                "n_test": n_test,
                "n_classes": n_classes,
            }
            for region in ("V4", "IT"):
                row.update(
                    {
                        f"{region}_ceiled": ceiled.get(model, 0.5 + 0.01 * i + 0.1 * seed),
                        f"{region}_raw": 0.4,
                        f"{region}_ceiling": ceiling,
                        f"{region}_ceiling_se": 0.01,
                        f"{region}_n_stimuli": 100,
                    }
                )
            rows.append(row)
    return pd.DataFrame(rows)


def test_statistics_per_seed_for_every_model_and_the_control() -> None:
    from neuromodels.brainscore.evaluate import variant_statistics

    truths = {
        0: {"planted_reliability_median": {"V4": 0.80, "IT": 0.83}},
        1: {"planted_reliability_median": {"V4": 0.78, "IT": 0.80}},
    }
    summary = variant_statistics(_variants_table(), truths, preset="tiny").to_dict()
    assert summary["seeds"] == [0, 1] and summary["findings"] == []
    for seed in ("0", "1"):
        stats = summary["statistics"][seed]
        for model in MODELS:
            assert {
                f"{model}.clean_accuracy",
                f"{model}.pgd_accuracy",
                f"{model}.ceiled_score.v4",
                f"{model}.ceiled_score.it",
                f"{model}.raw_score.v4",
            } <= set(stats), (seed, model)
        # every trained variant above a control <=> the lowest of them above it
        assert stats["trained_min.ceiled_score.v4"] == pytest.approx(0.5 + 0.1 * int(seed))
        assert stats["ceiling.v4"] == pytest.approx(0.8)
    assert summary["statistics"]["0"]["ceiling.error_se.it"] == pytest.approx(3.0)  # |0.80 - 0.83| / 0.01
    assert summary["statistics"]["1"]["ceiling.error_se.v4"] == pytest.approx(2.0)
    assert summary["statistics"]["1"]["base.ceiled_score.it"] == pytest.approx(0.6)


def test_degenerate_statistics_are_undefined_with_their_reason() -> None:
    from neuromodels.brainscore.evaluate import variant_statistics

    # the untrained control sits at chance (0.25 of 4 classes): its PGD accuracy is no robustness
    summary = variant_statistics(_variants_table(pgd={"untrained_crossvit": 0.25})).to_dict()
    assert summary["statistics"]["0"]["untrained_crossvit.pgd_accuracy"] is None
    assert "chance" in summary["undefined"]["0"]["untrained_crossvit.pgd_accuracy"]
    assert summary["statistics"]["0"]["untrained_crossvit.clean_accuracy"] == pytest.approx(0.25)
    # a trained variant just above chance but within 2 SE of it on 400 images (SE 0.022): undefined too
    stuck = variant_statistics(_variants_table(clean=0.27)).to_dict()
    assert stuck["statistics"]["1"]["adversarial.pgd_accuracy"] is None
    learnt = variant_statistics(_variants_table(clean=0.40)).to_dict()
    assert learnt["statistics"]["1"]["adversarial.pgd_accuracy"] == pytest.approx(0.2)
    # a ceiling under the floor: no ceiled score, and the lowest trained score is undefined with it
    low = variant_statistics(_variants_table(ceiling=0.05)).to_dict()
    assert low["statistics"]["0"]["base.ceiled_score.v4"] is None
    assert "ceiling" in low["undefined"]["0"]["base.ceiled_score.v4"]
    assert low["statistics"]["0"]["trained_min.ceiled_score.v4"] is None
    assert low["notes"]["undefined_statistics"] > 0


def test_no_planted_truth_no_ceiling_statistics() -> None:
    """Real recordings: nothing planted, so the ceiling claims are not measured, and the notes say why."""
    from neuromodels.brainscore.evaluate import variant_statistics

    real = variant_statistics(_variants_table(), None).to_dict()
    assert not [k for k in real["statistics"]["0"] if k.startswith("ceiling.")]
    assert "ceiling_statistics_skipped" in real["notes"]


def test_a_missing_variant_leaves_the_lowest_trained_score_undefined() -> None:
    from neuromodels.brainscore.evaluate import variant_statistics

    table = _variants_table()
    table = table[~((table["variant"] == "rotation") & (table["seed"] == 1))]
    summary = variant_statistics(table).to_dict()
    assert summary["statistics"]["0"]["trained_min.ceiled_score.it"] is not None
    assert summary["statistics"]["1"]["trained_min.ceiled_score.it"] is None
    assert summary["notes"]["missing_models"] == {"1": ["rotation"]}
