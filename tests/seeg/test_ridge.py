"""The grouped-CV ridge solver agrees with scikit-learn and recovers planted weights."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from neuromodels.seeg.ridge import (
    contiguous_groups,
    encode_layers,
    grouped_folds,
    linear_combination,
    pearson_r,
    ridge_cv,
)


def _data(n=120, p=15, t=6, seed=0):
    gen = np.random.default_rng(seed)
    X = gen.standard_normal((n, p))
    W = gen.standard_normal((p, t))
    Y = X @ W + gen.standard_normal((n, t)) * np.linspace(0.1, 5.0, t)
    return X, Y


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ridge_matches_sklearn_per_target_alpha(backend):
    X, Y = _data()
    groups = contiguous_groups(len(X), 6)
    folds = grouped_folds(groups, 3)
    alphas = [0.1, 10.0, 1000.0]
    fit = ridge_cv(X, Y, folds, alphas, backend=backend, dtype="float64", n_targets_batch=4)
    for t in range(Y.shape[1]):
        # The CV score of every alpha matches scikit-learn's Ridge fit fold by fold.
        for a, alpha in enumerate(alphas):
            r2 = []
            for tr, va in folds:
                pred = Ridge(alpha=alpha).fit(X[tr], Y[tr, t]).predict(X[va])
                yv = Y[va, t]
                r2.append(1 - ((yv - pred) ** 2).sum() / ((yv - yv.mean()) ** 2).sum())
            assert fit.cv_scores[a, t] == pytest.approx(np.mean(r2), abs=1e-8)
        ref = Ridge(alpha=fit.alphas[t]).fit(X, Y[:, t])
        np.testing.assert_allclose(fit.coef[:, t], ref.coef_, atol=1e-8)
        assert fit.intercept[t] == pytest.approx(ref.intercept_, abs=1e-8)
    # Noisier targets get stronger regularisation.
    assert fit.alphas[-1] >= fit.alphas[0]


def test_float32_ridge_agrees_with_a_float64_reference():
    """The solver runs in float32 (its default); it matches a float64 scikit-learn reference within float32
    precision on realistically scaled data (features of very different scales, thousands of samples)."""
    gen = np.random.default_rng(5)
    n, p, t = 2000, 64, 30
    X = gen.standard_normal((n, p)) * np.logspace(-2, 2, p)
    Y = X @ gen.standard_normal((p, t)) * 0.01 + gen.standard_normal((n, t))
    folds = grouped_folds(contiguous_groups(n, 10), 5)
    alphas = [1.0, 100.0, 1e4]
    f32 = ridge_cv(X, Y, folds, alphas, backend="torch")  # float32
    f64 = ridge_cv(X, Y, folds, alphas, backend="numpy", dtype="float64")
    assert f32.coef.dtype == np.float32
    # X^T X squares the features' condition number (1e4 here): float32 keeps CV R^2 to about 1e-3
    np.testing.assert_allclose(f32.cv_scores, f64.cv_scores, atol=2e-3)
    assert (f32.alphas == f64.alphas).mean() > 0.9
    same = f32.alphas == f64.alphas
    for j in np.flatnonzero(same)[:10]:
        ref = Ridge(alpha=f64.alphas[j]).fit(X, Y[:, j])
        np.testing.assert_allclose(f32.coef[:, j], ref.coef_, rtol=1e-2, atol=1e-2 * np.abs(ref.coef_).max())
    pred32, pred64 = f32.predict(X), f64.predict(X)
    assert np.abs(pred32 - pred64).max() < 1e-2 * np.abs(pred64).max()


def test_grouped_folds_hold_out_whole_blocks():
    groups = contiguous_groups(100, 10)
    folds = grouped_folds(groups, 5)
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(100))
    for tr, te in folds:
        assert not set(groups[tr]) & set(groups[te])
        assert len(set(groups[te])) == 2  # scikit-learn's GroupKFold: 10 equal groups over 5 folds
    with pytest.raises(ValueError, match="groups"):
        grouped_folds(contiguous_groups(10, 2), 5)


def test_encode_layers_picks_informative_layer_and_lincomb():
    gen = np.random.default_rng(1)
    n = 400
    za, zb = gen.standard_normal((n, 3)), gen.standard_normal((n, 3))
    Y = np.c_[za @ [1, -1, 0.5], zb @ [0.5, 1, 1], za[:, 0] + zb[:, 0]] + 0.5 * gen.standard_normal((n, 3))
    feats = {"noise": gen.standard_normal((n, 5)), "a": za, "b": zb}
    groups = contiguous_groups(n, 10)
    enc = encode_layers(feats, Y, groups, alphas=[0.1, 10, 1000], n_outer=5, n_inner=4)
    assert (enc.chosen[:, 0] == 1).all() and (enc.chosen[:, 1] == 2).all()
    r = pearson_r(Y, enc.predictions)
    assert r[0] > 0.8 and r[1] > 0.8
    pa = encode_layers({"a": za}, Y, groups, alphas=[1.0], n_outer=5, n_inner=4).predictions
    pb = encode_layers({"b": zb}, Y, groups, alphas=[1.0], n_outer=5, n_inner=4).predictions
    comb = linear_combination(pa, pb, Y, groups)
    # The additive target needs both models; the combination beats either one alone.
    assert pearson_r(Y, comb)[2] > max(pearson_r(Y, pa)[2], pearson_r(Y, pb)[2]) + 0.1


@pytest.mark.gpu
def test_cuda_float32_ridge_agrees_with_the_cpu_and_a_float64_reference(cuda_device):
    """Under ``device: cuda`` the encoder fits run in float32 on the GPU (himalaya's torch_cuda backend); the fit
    agrees with the same float32 fit on the CPU and with a float64 reference as closely as float32 allows."""
    gen = np.random.default_rng(7)
    n, p, t = 2000, 64, 500
    X = gen.standard_normal((n, p)) * np.logspace(-1, 1, p)
    Y = X @ gen.standard_normal((p, t)) * 0.05 + gen.standard_normal((n, t))
    folds = grouped_folds(contiguous_groups(n, 10), 5)
    alphas = [1.0, 100.0, 1e4]
    gpu = ridge_cv(X, Y, folds, alphas, backend="torch_cuda")
    cpu = ridge_cv(X, Y, folds, alphas, backend="torch")
    f64 = ridge_cv(X, Y, folds, alphas, backend="numpy", dtype="float64")
    assert gpu.coef.dtype == np.float32
    np.testing.assert_allclose(gpu.cv_scores, cpu.cv_scores, atol=1e-4)
    np.testing.assert_allclose(gpu.cv_scores, f64.cv_scores, atol=2e-3)
    assert (gpu.alphas == f64.alphas).mean() > 0.95
    pred, ref = gpu.predict(X), f64.predict(X)
    assert np.abs(pred - ref).max() < 1e-2 * np.abs(ref).max()
