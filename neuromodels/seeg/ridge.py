"""Ridge regression with per-target alphas chosen by grouped cross-validation: the hot path of the family.

Plain functions over himalaya's backend switch (``numpy``, ``torch``, ``torch_cuda``): the same code runs on CPU
or GPU. One decomposition of the training features per fold serves every alpha and every target; targets are
processed in batches so memory stays bounded. Groups are contiguous blocks of the movie: folds never split a
block, so autocorrelated neighbouring samples never sit on both sides of a split (never leave-one-out).

Shapes: ``X`` (samples, features), ``Y`` (samples, targets); targets are electrodes x time bins flattened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-2, 7, 10))


def contiguous_groups(n_samples: int, n_blocks: int) -> np.ndarray:
    """(samples,) block index of each sample when the (time-ordered) samples are cut into ``n_blocks`` runs."""
    return np.minimum(np.arange(n_samples) * n_blocks // max(n_samples, 1), n_blocks - 1)


def grouped_folds(groups: np.ndarray, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs; whole groups are held out together, groups spread over folds in order.

    Raises ValueError when there are fewer distinct groups than folds.
    """
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    if len(uniq) < n_folds:
        raise ValueError(f"{len(uniq)} groups cannot make {n_folds} grouped folds")
    fold_of_group = {g: i * n_folds // len(uniq) for i, g in enumerate(uniq)}
    fold = np.array([fold_of_group[g] for g in groups])
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]


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
            Ytr, Yva = Yb[tr_i, b0:b0 + batch], Yb[va_i, b0:b0 + batch]
            ym = Ytr.mean(0)
            VtXtY = V.T @ (Xtr.T @ Ytr)  # (rank, targets); X_tr is centred so Y needs no centring here
            Yc = Yva - ym
            sst = ((Yva - Yva.mean(0)) ** 2).sum(0)
            for a in range(len(alphas)):
                resid = Yc - XvV @ (d[a][:, None] * VtXtY)
                scores[a, b0:b0 + batch] += 1.0 - (resid * resid).sum(0) / (sst + 1e-12)
    scores = scores / len(folds)
    best = bk.argmax(scores, 0)
    best_np = bk.to_numpy(best).astype(int)
    scores_np = bk.to_numpy(scores).astype(np.float64)
    best_score = scores_np[best_np, np.arange(T)]
    alpha_per_target = np.asarray(alphas, dtype=np.float64)[best_np]
    if not refit:
        return RidgeFit(np.zeros((X.shape[1], T), np.float32), np.zeros(T, np.float32), alpha_per_target,
                        scores_np, best_score)
    xm = Xb.mean(0)
    Xc = Xb - xm
    V, s = _decompose(bk, Xc)
    coef = bk.zeros((X.shape[1], T), dtype=dt)
    d = 1.0 / (s[None, :] ** 2 + al[:, None])
    for b0 in range(0, T, batch):
        VtXtY = V.T @ (Xc.T @ Yb[:, b0:b0 + batch])
        dsel = d[best[b0:b0 + batch]].T  # (rank, targets): each target's own alpha
        coef[:, b0:b0 + batch] = V @ (dsel * VtXtY)
    coef_np = bk.to_numpy(coef)
    intercept = bk.to_numpy(Yb.mean(0)) - bk.to_numpy(xm) @ coef_np
    return RidgeFit(coef_np, intercept, alpha_per_target, scores_np, best_score)


def pearson_r(Y: np.ndarray, Yhat: np.ndarray) -> np.ndarray:
    """(targets,) Pearson correlation of each column of ``Y`` with the same column of ``Yhat``."""
    Y = Y - Y.mean(0)
    Yhat = Yhat - Yhat.mean(0)
    den = np.sqrt((Y ** 2).sum(0) * (Yhat ** 2).sum(0))
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
    names = list(features)
    n, T = Y.shape
    outer = grouped_folds(groups, n_outer)
    preds = np.zeros((n, T), np.float32)
    layer_preds = np.zeros((len(names), n, T), np.float32)
    chosen = np.zeros((n_outer, T), int)
    for k, (tr, te) in enumerate(outer):
        inner = grouped_folds(groups[tr], n_inner)
        inner_scores = np.zeros((len(names), T))
        for li, name in enumerate(names):
            X = np.asarray(features[name], dtype=np.float32)
            fit = ridge_cv(X[tr], Y[tr], inner, alphas, backend, n_targets_batch)
            inner_scores[li] = fit.best_score
            layer_preds[li, te] = fit.predict(X[te])
        chosen[k] = inner_scores.argmax(0)
        preds[te] = np.take_along_axis(layer_preds[:, te], chosen[k][None, None, :], 0)[0]
    layer_r = np.stack([pearson_r(Y, layer_preds[li]) for li in range(len(names))])
    return LayerEncoding(preds, layer_r, chosen, names)


def linear_combination(pred_a: np.ndarray, pred_b: np.ndarray, Y: np.ndarray, groups: np.ndarray,
                       n_folds: int = 5) -> np.ndarray:
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
