"""Ridge regression with per-target alphas chosen by grouped cross-validation: the hot path of the family.

Plain functions over himalaya's backend switch (``numpy``, ``torch``, ``torch_cuda``): the same code runs on CPU
or GPU. One decomposition of the training features per fold serves every alpha and every target; targets are
processed in batches so memory stays bounded. Groups are contiguous blocks of the movie: folds never split a
block, so autocorrelated neighbouring samples never sit on both sides of a split (never leave-one-out).

Shapes: ``X`` (samples, features), ``Y`` (samples, targets); targets are electrodes x time bins flattened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 7, 10))


def contiguous_groups(n_samples: int, n_blocks: int) -> np.ndarray:
    """(samples,) block index of each sample when the (time-ordered) samples are cut into ``n_blocks`` runs."""
    return np.minimum(np.arange(n_samples) * n_blocks // max(n_samples, 1), n_blocks - 1)


def grouped_folds(groups: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs from scikit-learn's ``GroupKFold``: whole groups are held out together.

    Raises ValueError when there are fewer distinct groups than folds.
    """
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < n_folds:
        raise ValueError(f"{n_groups} groups cannot make {n_folds} grouped folds")
    return [
        (np.asarray(tr), np.asarray(te))
        for tr, te in GroupKFold(n_splits=n_folds).split(np.zeros(len(groups)), groups=groups)
    ]


def get_backend(name: str = "numpy") -> Any:
    """himalaya backend by name (``numpy``, ``torch``, ``torch_cuda``)."""
    from himalaya.backend import set_backend

    return set_backend(name, on_error="raise")


@dataclass
class RidgeFit:
    """A fitted ridge model for many targets.

    Attributes
    ----------
    coef : (features, targets)
    intercept : (targets,)
    alphas : (targets,) chosen alpha of each target
    cv_scores : (n_alphas, targets) mean cross-validated R^2 of every alpha
    best_score : (targets,) cross-validated R^2 at the chosen alpha (the score used to choose layers)
    """

    coef: np.ndarray
    intercept: np.ndarray
    alphas: np.ndarray
    cv_scores: np.ndarray
    best_score: np.ndarray

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(samples, targets) predictions for features ``X`` (samples, features)."""
        return np.asarray(X, dtype=self.coef.dtype) @ self.coef + self.intercept


def _decompose(bk: Any, X: Any) -> tuple[Any, Any]:
    """Right singular vectors and singular values of ``X`` from the eigendecomposition of ``X^T X``.

    Cheaper than a thin SVD of ``X`` (features x features instead of samples x features) and all the solver
    needs, since ``U^T Y = diag(1/s) V^T X^T Y``. Null directions (rank-deficient features) are dropped.
    """
    evals, V = bk.eigh(X.T @ X)
    keep = evals > evals.max() * 1e-10
    return V[:, keep], bk.sqrt(evals[keep])


def ridge_cv(
    X: np.ndarray,
    Y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    backend: str = "numpy",
    n_targets_batch: int | None = None,
    dtype: str = "float32",
    refit: bool = True,
) -> RidgeFit:
    """Choose one alpha per target by grouped CV (R^2), then refit on all samples.

    Per fold: centre with the training means, one decomposition ``X_tr = U diag(s) V^T`` (from the
    eigendecomposition of ``X_tr^T X_tr``), then for every alpha the validation predictions
    ``X_va V diag(s / (s^2 + alpha)) U^T Y_tr`` for a batch of targets at once, with
    ``U^T Y_tr = diag(1/s) V^T X_tr^T Y_tr``.

    Parameters
    ----------
    X : (samples, features); Y : (samples, targets)
    folds : (train, validation) index pairs (see :func:`grouped_folds`)
    alphas : candidate regularisation strengths
    backend : himalaya backend name
    n_targets_batch : targets per batch (None: all at once)
    dtype : ``float32`` (fast) or ``float64``
    refit : when False, return zero coefficients (only the CV scores and alphas are wanted)
    """
    bk = get_backend(backend)
    dt = getattr(bk, dtype)
    Xb = bk.asarray(np.ascontiguousarray(X, dtype=dtype))
    Yb = bk.asarray(np.ascontiguousarray(Y, dtype=dtype))
    al = bk.asarray(np.asarray(alphas, dtype=dtype))
    n, T = Y.shape
    batch = n_targets_batch or T
    scores = bk.zeros((len(alphas), T), dtype=dt)
    for tr, va in folds:
        tr_i, va_i = bk.asarray(np.asarray(tr)), bk.asarray(np.asarray(va))
        Xtr, Xva = Xb[tr_i], Xb[va_i]
        xm = Xtr.mean(0)
        Xtr = Xtr - xm
        V, s = _decompose(bk, Xtr)
        XvV = (Xva - xm) @ V  # (validation, rank)
        d = 1.0 / (s[None, :] ** 2 + al[:, None])  # (alphas, rank); s/(s^2+a) times the 1/s of U^T Y
        for b0 in range(0, T, batch):
            Ytr, Yva = Yb[tr_i, b0 : b0 + batch], Yb[va_i, b0 : b0 + batch]
            ym = Ytr.mean(0)
            VtXtY = V.T @ (Xtr.T @ Ytr)  # (rank, targets); X_tr is centred so Y needs no centring here
            Yc = Yva - ym
            sst = ((Yva - Yva.mean(0)) ** 2).sum(0)
            for a in range(len(alphas)):
                resid = Yc - XvV @ (d[a][:, None] * VtXtY)
                scores[a, b0 : b0 + batch] += 1.0 - (resid * resid).sum(0) / (sst + 1e-12)
    scores = scores / len(folds)
    best = bk.argmax(scores, 0)
    best_np = bk.to_numpy(best).astype(int)
    scores_np = bk.to_numpy(scores).astype(np.float64)
    best_score = scores_np[best_np, np.arange(T)]
    alpha_per_target = np.asarray(alphas, dtype=np.float64)[best_np]
    if not refit:
        return RidgeFit(
            np.zeros((X.shape[1], T), np.float32), np.zeros(T, np.float32), alpha_per_target, scores_np, best_score
        )
    xm = Xb.mean(0)
    Xc = Xb - xm
    V, s = _decompose(bk, Xc)
    coef = bk.zeros((X.shape[1], T), dtype=dt)
    d = 1.0 / (s[None, :] ** 2 + al[:, None])
    for b0 in range(0, T, batch):
        VtXtY = V.T @ (Xc.T @ Yb[:, b0 : b0 + batch])
        dsel = d[best[b0 : b0 + batch]].T  # (rank, targets): each target's own alpha
        coef[:, b0 : b0 + batch] = V @ (dsel * VtXtY)
    coef_np = bk.to_numpy(coef)
    intercept = bk.to_numpy(Yb.mean(0)) - bk.to_numpy(xm) @ coef_np
    return RidgeFit(coef_np, intercept, alpha_per_target, scores_np, best_score)


def pearson_r(Y: np.ndarray, Yhat: np.ndarray) -> np.ndarray:
    """(targets,) Pearson correlation of each column of ``Y`` with the same column of ``Yhat``."""
    Y = Y - Y.mean(0)
    Yhat = Yhat - Yhat.mean(0)
    den = np.sqrt((Y**2).sum(0) * (Yhat**2).sum(0))
    return np.where(den > 0, (Y * Yhat).sum(0) / np.maximum(den, 1e-30), 0.0)


@dataclass
class LayerEncoding:
    """Held-out predictions of one network (best layer per target chosen on training folds only).

    Attributes
    ----------
    predictions : (samples, targets) out-of-fold predictions from each target's chosen layer
    layer_r : (layers, targets) held-out Pearson r of every layer (for r-by-layer figures; not for selection)
    chosen : (outer folds, targets) index of the layer chosen in each outer fold
    layers : layer names
    """

    predictions: np.ndarray
    layer_r: np.ndarray
    chosen: np.ndarray
    layers: list[str]


def encode_layers(
    features: dict[str, np.ndarray],
    Y: np.ndarray,
    groups: np.ndarray,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    n_outer: int = 5,
    n_inner: int = 5,
    backend: str = "numpy",
    n_targets_batch: int | None = None,
) -> LayerEncoding:
    """Nested grouped CV: per outer fold fit every layer (alphas by inner grouped CV), pick each target's layer
    by its inner CV score, predict the held-out block."""
    return encode_sets(
        features, {"all": list(features)}, Y, groups, alphas, n_outer, n_inner, backend, n_targets_batch
    )["all"]


def encode_sets(
    features: dict[str, np.ndarray],
    sets: dict[str, Sequence[str]],
    Y: np.ndarray,
    groups: np.ndarray,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    n_outer: int = 5,
    n_inner: int = 5,
    backend: str = "numpy",
    n_targets_batch: int | None = None,
) -> dict[str, LayerEncoding]:
    """:func:`encode_layers` for several candidate sets of layers that share layers, fitting each layer once.

    ``sets`` maps a set name (a model, a baseline) to the names of its candidate layers in ``features``. For
    every set, each target's layer is chosen per outer fold by its inner CV score among the set's layers only.
    """
    names = [n for n in features if any(n in members for members in sets.values())]
    missing = sorted({m for members in sets.values() for m in members} - set(features))
    if missing:
        raise KeyError(f"candidate layers without features: {missing}")
    n, T = Y.shape
    outer = grouped_folds(groups, n_outer)
    inner = [grouped_folds(groups[tr], n_inner) for tr, _ in outer]
    best = {s: np.full((n_outer, T), -np.inf) for s in sets}
    preds = {s: np.zeros((n, T), np.float32) for s in sets}
    chosen = {s: np.zeros((n_outer, T), int) for s in sets}
    layer_r = {s: np.zeros((len(members), T)) for s, members in sets.items()}
    for name in names:
        X = np.asarray(features[name], dtype=np.float32)
        layer_pred = np.zeros((n, T), np.float32)
        for k, (tr, te) in enumerate(outer):
            fit = ridge_cv(X[tr], Y[tr], inner[k], alphas, backend, n_targets_batch)
            pred = fit.predict(X[te])
            layer_pred[te] = pred
            for s, members in sets.items():
                if name in members:
                    better = fit.best_score > best[s][k]
                    best[s][k] = np.where(better, fit.best_score, best[s][k])
                    chosen[s][k] = np.where(better, list(members).index(name), chosen[s][k])
                    preds[s][te] = np.where(better[None, :], pred, preds[s][te])
        r = pearson_r(Y, layer_pred)
        for s, members in sets.items():
            if name in members:
                layer_r[s][list(members).index(name)] = r
    return {s: LayerEncoding(preds[s], layer_r[s], chosen[s], list(members)) for s, members in sets.items()}


def linear_combination(
    pred_a: np.ndarray, pred_b: np.ndarray, Y: np.ndarray, groups: np.ndarray, n_folds: int = 5
) -> np.ndarray:
    """Held-out predictions of ``w_a * pred_a + w_b * pred_b + c`` per target, weights fit on the other folds.

    ``pred_a`` and ``pred_b`` are out-of-fold predictions (samples, targets) of two unimodal models.
    """
    out = np.zeros_like(Y, dtype=np.float32)
    for tr, te in grouped_folds(groups, n_folds):
        A = np.stack([pred_a[tr], pred_b[tr], np.ones_like(pred_a[tr])], axis=-1)  # (n, T, 3)
        A = A.transpose(1, 0, 2)  # (T, n, 3)
        y = Y[tr].T[:, :, None]
        AtA = A.transpose(0, 2, 1) @ A + 1e-6 * np.eye(3)
        w = np.linalg.solve(AtA, A.transpose(0, 2, 1) @ y)[:, :, 0]  # (T, 3)
        out[te] = pred_a[te] * w[:, 0] + pred_b[te] * w[:, 1] + w[:, 2]
    return out
