"""Decoding metrics, tables and figures.

- Top-1 retrieval both ways in random ``k``-way batches (k = 300, or all test stimuli when fewer), averaged
  over draws: *image retrieval* (a brain prediction picks its stimulus's embedding among k) and *brain
  retrieval* (a stimulus's embedding picks its brain prediction among k). Cosine similarity; a hit needs the
  correct candidate to be strictly more similar than every other one (ties count as misses). Chance is 1/k.
- 2-way identification: for each stimulus, the fraction of other stimuli j for which
  corr(pred_i, target_i) > corr(pred_i, target_j); chance 0.5.
- Embedding correlation: mean over stimuli of Pearson r between predicted and target embedding.
- ``top1``: the mean of the top-1 accuracies both ways over every embedding kind present (image and text):
  the one retrieval number the headline findings use (averaging four estimates halves their noise on small
  test sets).
- Collapse guard (:func:`collapse_check`): a decoder that gives nearly the same output for every test stimulus
  (the mean pairwise cosine of its predictions above :data:`COLLAPSE_COSINE` while the targets' is lower, or
  the predictions' variance across stimuli below :data:`COLLAPSE_VARIANCE` of the targets') retrieves at
  chance whatever its loss says; ``{kind}_pred_cosine``, ``{kind}_spread`` and ``collapsed`` (1.0 or 0.0) go
  into every metrics record, a warning is logged, and the summary's notes count and name collapsed runs.

The family's headline findings (:func:`summarise`, ``summary.json``): the joint MindBridge model retrieves
above ``k`` x chance for every source subject, and each adaptation method beats the same network trained
from scratch on the new subject at the smallest n of the learning curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from neuromodels.core.io import read_json, save_figure, write_table


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _centred_unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return _unit(x - x.mean(axis=1, keepdims=True))


def top1_hits(similarity: np.ndarray) -> np.ndarray:
    """bool (n,): row i's diagonal entry is strictly larger than every other entry of row i."""
    s = np.asarray(similarity, dtype=np.float64)
    off = s.copy()
    np.fill_diagonal(off, -np.inf)
    return np.diag(s) > off.max(axis=1)


def retrieval_top1(pred: np.ndarray, target: np.ndarray, batch: int = 300, draws: int = 30,
                   seed: int = 0) -> dict[str, float]:
    """Top-1 retrieval accuracy both ways (fractions), averaged over ``draws`` random ``batch``-way sets.

    Parameters
    ----------
    pred, target:
        (n, d) predicted and true embeddings of the same n stimuli (row i pairs with row i).
    batch:
        Candidates per retrieval; when ``n <= batch`` all n are used once (``draws`` is ignored).

    Returns
    -------
    ``{"image_retrieval", "brain_retrieval", "chance", "k"}``.
    """
    n = len(pred)
    if n < 2:
        raise ValueError("retrieval needs at least 2 stimuli")
    p, t = _unit(pred), _unit(target)
    rng = np.random.default_rng(seed)
    if n <= batch:
        sets = [np.arange(n)]
    else:
        sets = [rng.choice(n, size=batch, replace=False) for _ in range(draws)]
    fwd, bwd = [], []
    for idx in sets:
        sim = p[idx] @ t[idx].T  # rows: brain predictions, columns: stimulus embeddings
        fwd.append(top1_hits(sim).mean())
        bwd.append(top1_hits(sim.T).mean())
    k = len(sets[0])
    return {"image_retrieval": float(np.mean(fwd)), "brain_retrieval": float(np.mean(bwd)),
            "chance": 1.0 / k, "k": k}


def two_way_identification(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over i of the fraction of j != i with corr(pred_i, target_i) > corr(pred_i, target_j)."""
    r = _centred_unit(pred) @ _centred_unit(target).T
    n = len(r)
    wins = (np.diag(r)[:, None] > r).sum(axis=1)  # the diagonal never beats itself
    return float(np.mean(wins / (n - 1)))


def embedding_correlation(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean over stimuli of Pearson r between the predicted and the target embedding."""
    return float(np.mean(np.sum(_centred_unit(pred) * _centred_unit(target), axis=1)))


COLLAPSE_COSINE = 0.99
COLLAPSE_VARIANCE = 1e-3


def mean_pairwise_cosine(x: np.ndarray) -> float:
    """Mean cosine similarity over the pairs of distinct rows of ``x`` (n, d)."""
    u = _unit(x)
    n = len(u)
    if n < 2:
        return float("nan")
    total = float(np.square(u.sum(axis=0)).sum())  # sum over all (i, j) of u_i . u_j, diagonal included
    return (total - float(np.square(u).sum())) / (n * (n - 1))


def collapse_check(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Whether predictions (n, d) collapsed to nearly one output for every stimulus.

    Returns ``pred_cosine`` (mean pairwise cosine of the predictions), ``target_cosine`` (the same of the
    targets), ``spread`` (total variance of the predictions across stimuli over that of the targets) and
    ``collapsed``: 1.0 when ``pred_cosine > COLLAPSE_COSINE`` and above ``target_cosine`` (targets that all
    point one way, such as raw CLIP embeddings, do not flag a decoder that follows them), or when ``spread <
    COLLAPSE_VARIANCE``; else 0.0.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    p_cos, t_cos = mean_pairwise_cosine(pred), mean_pairwise_cosine(target)
    t_var = float(target.var(axis=0).sum())
    spread = float(pred.var(axis=0).sum()) / t_var if t_var > 0 else float("nan")
    collapsed = (p_cos > COLLAPSE_COSINE and p_cos > t_cos) or spread < COLLAPSE_VARIANCE
    return {"pred_cosine": p_cos, "target_cosine": t_cos, "spread": spread, "collapsed": float(collapsed)}


def score(pred: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray], batch: int = 300, draws: int = 30,
          seed: int = 0) -> dict[str, float]:
    """All metrics for each embedding kind present in both (``image``, ``text``), keys ``{kind}_{metric}``,
    plus ``collapsed`` (1.0 when any kind's predictions collapsed: :func:`collapse_check`)."""
    out: dict[str, float] = {}
    for kind in ("image", "text"):
        if kind not in pred or kind not in target or pred[kind] is None:
            continue
        r = retrieval_top1(pred[kind], target[kind], batch, draws, seed)
        out[f"{kind}_top1_image"] = r["image_retrieval"]
        out[f"{kind}_top1_brain"] = r["brain_retrieval"]
        out[f"{kind}_two_way"] = two_way_identification(pred[kind], target[kind])
        out[f"{kind}_corr"] = embedding_correlation(pred[kind], target[kind])
        c = collapse_check(pred[kind], target[kind])
        out[f"{kind}_pred_cosine"] = c["pred_cosine"]
        out[f"{kind}_spread"] = c["spread"]
        out["collapsed"] = max(out.get("collapsed", 0.0), c["collapsed"])
        out["chance_top1"] = r["chance"]
        out["k"] = r["k"]
    top1 = [v for k, v in out.items() if k.endswith(("_top1_image", "_top1_brain"))]
    if top1:
        out["top1"] = float(np.mean(top1))
    return out


# ------------------------------------------------------------------------------------------------ tables
def collect(paths: Sequence[str | Path]) -> pd.DataFrame:
    """One row per metrics JSON written by a training step (keys: model, method, subject, n_train, seed,
    role, metrics...)."""
    rows = []
    for p in paths:
        rec = read_json(p)
        for r in rec.get("records", [rec]):  # a joint model's file holds one record per source subject
            rows.append({k: v for k, v in r.items() if not isinstance(v, (dict, list))})
    return pd.DataFrame(rows)


def source_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per-subject results of the source subjects: multi-subject models vs single-subject ones."""
    t = table[table["role"] == "source"].copy()
    cols = ["method", "subject", "seed", "top1", "image_top1_image", "image_top1_brain", "image_two_way",
            "image_corr", "text_top1_image", "text_top1_brain", "text_two_way", "image_pred_cosine", "collapsed",
            "chance_top1", "k"]
    return t[[c for c in cols if c in t.columns]].sort_values(["method", "subject", "seed"]).reset_index(drop=True)


def curve_table(table: pd.DataFrame) -> pd.DataFrame:
    """Learning curve of the held-out subject: metrics by method and n_train (mean and sd over the fits: seeds
    and, where a size was fitted several times, its draws of training images and initialisation; ``n_fits``
    counts them; ``collapsed_mean`` is the fraction of fits whose predictions collapsed)."""
    t = table[table["role"] == "heldout"].copy()
    metrics = [c for c in ("top1", "image_top1_image", "image_top1_brain", "image_two_way", "image_corr",
                           "text_top1_image", "text_top1_brain", "text_two_way", "collapsed") if c in t.columns]
    g = t.groupby(["method", "n_train"])[metrics]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=0).add_suffix("_sd")).join(g.size().rename("n_fits"))
    return out.reset_index().sort_values(["method", "n_train"]).reset_index(drop=True)


METHOD_LABELS = {
    "mindbridge_reset": "MindBridge reset-tuning (all parts, source images)",
    "mindbridge_reset_frozen": "MindBridge reset-tuning, shared parts frozen",
    "mindbridge_finetune": "MindBridge fine-tuned on the new subject alone",
    "linear_adapter": "linear adapter (shared decoder frozen)",
    "linear_finetune": "linear adapter + decoder fine-tuned",
    "scratch": "same network, this subject only",
    "ridge": "ridge",
}
METHOD_STYLE = {"mindbridge_reset": ("C0", "o", "-"), "mindbridge_reset_frozen": ("C1", "o", ":"),
                "mindbridge_finetune": ("C0", "s", "--"),
                "linear_adapter": ("C2", "^", "-"), "linear_finetune": ("C2", "v", "--"),
                "scratch": ("C3", "D", "-"), "ridge": ("0.4", "x", ":")}


def plot_learning_curve(curve: pd.DataFrame, path: str | Path, chance: float, n_all: int,
                        metrics: Sequence[str] = ("top1", "image_top1_image", "text_top1_image",
                                                  "image_two_way")) -> Path:
    """Held-out subject: metric vs number of training images, one line per method (error bars: sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if f"{m}_mean" in curve.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.8), squeeze=False)
    titles = {"top1": "top-1 retrieval (mean: both ways, image and text)",
              "image_top1_image": "top-1 retrieval, image embeddings",
              "text_top1_image": "top-1 retrieval, text embeddings", "image_top1_brain": "top-1 brain retrieval",
              "image_two_way": "2-way identification", "image_corr": "embedding correlation"}
    for ax, m in zip(axes[0], metrics):
        for method, g in curve.groupby("method"):
            colour, marker, ls = METHOD_STYLE.get(method, ("k", ".", "-"))
            ax.errorbar(g["n_train"], g[f"{m}_mean"], yerr=g[f"{m}_sd"], color=colour, marker=marker, ls=ls,
                        capsize=2, label=METHOD_LABELS.get(method, method))
        ax.axhline(chance if "top1" in m else (0.5 if "two_way" in m else 0.0), color="k", lw=0.8, ls=":")
        ax.set_xscale("log")
        ns = sorted(curve["n_train"].unique())
        ax.set_xticks(ns, [str(int(n)) for n in ns])
        ax.minorticks_off()
        ax.set_xlabel("training images of the new subject")
        ax.set_title(titles.get(m, m), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out test set")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"New subject learning curve (all = {n_all} images; dotted: chance)", fontsize=10)
    return save_figure(path, fig)


def plot_sources(table: pd.DataFrame, path: str | Path, chance: float) -> Path:
    """Source subjects: top-1 image retrieval per subject, one bar per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = "top1" if "top1" in table.columns else "image_top1_image"
    g = table.groupby(["subject", "method"])[metric].mean().unstack("method")
    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(g), 3.6))
    width = 0.8 / max(len(g.columns), 1)
    x = np.arange(len(g))
    for i, method in enumerate(g.columns):
        ax.bar(x + i * width - 0.4 + width / 2, g[method], width, label=METHOD_LABELS.get(method, method))
    ax.axhline(chance, color="k", lw=0.8, ls=":")
    ax.set_xticks(x, g.index)
    ax.set_ylabel("top-1 retrieval" + (" (mean both ways, image and text)" if metric == "top1" else ""))
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Source subjects (dotted: chance)", fontsize=10)
    return save_figure(path, fig)


ADAPTATION_METHODS = ("mindbridge_reset", "mindbridge_reset_frozen", "mindbridge_finetune", "linear_adapter",
                      "linear_finetune")
TOP1_TIMES_CHANCE = 5.0


def paired_differences(rows: pd.DataFrame, method: str, baseline: str, metric: str = "top1") -> pd.Series:
    """``metric`` of ``method`` minus that of ``baseline`` for each fit they share (the same seed and draw: the
    same training images), indexed by (seed, draw); fits that only one of them has are left out."""
    def by_fit(name: str) -> pd.Series:
        r = rows[rows["method"] == name]
        draw = r["draw"].fillna(0) if "draw" in r else pd.Series(0, index=r.index)
        seed = r["seed"] if "seed" in r else pd.Series(0, index=r.index)
        return pd.Series(r[metric].to_numpy(), index=pd.MultiIndex.from_arrays(
            [seed.astype(int).to_numpy(), draw.astype(int).to_numpy()], names=["seed", "draw"]))
    return (by_fit(method) - by_fit(baseline)).dropna()


def summarise(table: pd.DataFrame, preset: str | None = None, seed: int | None = None,
              times_chance: float = TOP1_TIMES_CHANCE, metric: str = "top1"):
    """The family's headline findings from the collected runs (:func:`collect`).

    - For every source subject: the joint MindBridge model's ``metric`` (mean over seeds) above
      ``times_chance`` x chance (one finding per subject; value and threshold as fractions).
    - For every adaptation method run on the held-out subject: its ``metric`` minus that of ``scratch`` (the
      same network trained on the new subject alone) at the smallest n of the learning curve, above 0: the
      mean of the differences paired by fit (seed and draw: the same training images), with their sd, standard
      error and the number of fits where the method is above scratch in the detail.

    Returns a :class:`neuromodels.core.findings.Summary`; a finding whose runs are missing is written with a
    NaN value (not met) and counted in ``notes``; runs whose predictions collapsed (:func:`collapse_check`)
    are counted and named in ``notes`` (``collapsed``, ``collapsed_runs``), logged as a warning, and a
    finding that rests on one says so in its detail.
    """
    from neuromodels.core.findings import Summary
    from neuromodels.core.runtime import get_logger

    summary = Summary("decoding", preset=preset, seed=seed)
    chance = float(table["chance_top1"].max()) if "chance_top1" in table and len(table) else float("nan")
    notes: dict = {"runs": int(len(table)), "metric": metric, "chance": chance,
                   "k": int(table["k"].max()) if "k" in table and len(table) else 0, "missing": 0}
    collapsed = table[table["collapsed"] > 0] if "collapsed" in table and len(table) else table.iloc[:0]
    notes["collapsed"] = int(len(collapsed))
    notes["collapsed_runs"] = [f"{r['method']} {r['subject']} n={r['n_train']} seed={r['seed']}"
                               for _, r in collapsed.iterrows()]
    if len(collapsed):
        get_logger(__name__).warning("%d run(s) gave collapsed predictions (near-identical outputs for every "
                                     "test stimulus): %s", len(collapsed), "; ".join(notes["collapsed_runs"]))

    def flag(rows) -> str:
        n = int((rows["collapsed"] > 0).sum()) if "collapsed" in rows else 0
        return f"; COLLAPSED predictions in {n} run(s)" if n else ""
    src = table[(table["role"] == "source") & (table["method"] == "mindbridge_joint")] if len(table) else table
    for subject, g in src.groupby("subject") if len(src) else []:
        value = float(g[metric].mean())
        summary.add(f"joint MindBridge: top-1 retrieval of source subject {subject} above {times_chance:g}x chance",
                    value, times_chance * chance,
                    detail=f"{metric} (mean of top-1 both ways over image and text embeddings), {len(g)} seed(s); "
                           f"chance {chance:.4f} ({notes['k']}-way), ratio {value / chance:.1f}x{flag(g)}")
    if not len(src):
        notes["missing"] += 1
        summary.add("joint MindBridge: top-1 retrieval of every source subject above "
                    f"{times_chance:g}x chance", float("nan"), times_chance * chance, detail="no joint MindBridge run")
    held = table[table["role"] == "heldout"] if len(table) else table
    if len(held):
        n_min = int(held["n_train"].min())
        rows = held[held["n_train"] == n_min]
        at = rows.groupby("method")[metric].mean()
        scratch = float(at.get("scratch", float("nan")))
        notes["smallest_n"] = n_min
        notes["fits_at_smallest_n"] = {m: int(n) for m, n in rows.groupby("method").size().items()}
        for method in [m for m in ADAPTATION_METHODS if m in at.index]:
            diff = paired_differences(rows, method, "scratch", metric)
            # rounded: top-1 values are fractions of the test set, so a tie must read 0 (not +-1e-17, which would
            # make "above" a matter of float rounding)
            value = round(float(diff.mean()) if len(diff) else float(at[method]) - scratch, 12)
            spread = ""
            if len(diff) > 1:
                sd = float(diff.std(ddof=1))
                spread = (f"; {len(diff)} paired fits (seeds x draws of training images and initialisation): "
                          f"difference sd {sd:.3f}, standard error {sd / np.sqrt(len(diff)):.3f}, above scratch "
                          f"in {int((diff > 0).sum())} of {len(diff)}")
            summary.add(f"{method} above scratch on the new subject at n = {n_min}", value, 0.0,
                        detail=f"{metric}: {method} {float(at[method]):.3f} - scratch {scratch:.3f} "
                               f"(chance {chance:.4f}){spread}"
                               f"{flag(rows[rows['method'].isin([method, 'scratch'])])}")
        if "scratch" not in at.index:
            notes["missing"] += 1
    summary.notes.update(notes)
    return summary


def write_report(metric_paths: Sequence[str | Path], out_dir: str | Path, preset: str | None = None,
                 seed: int | None = None) -> dict[str, Path]:
    """Tables (CSV), figures (PNG) and ``summary.json`` of the family from the training steps' metrics JSONs."""
    from neuromodels.core.findings import write_summary

    out_dir = Path(out_dir)
    table = collect(metric_paths)
    write_table(out_dir / "all_runs.csv", table)
    sources = source_table(table)
    curve = curve_table(table)
    paths = {"all_runs": out_dir / "all_runs.csv",
             "sources": write_table(out_dir / "source_subjects.csv", sources),
             "curve": write_table(out_dir / "learning_curve.csv", curve)}
    chance = float(table["chance_top1"].max()) if "chance_top1" in table else 0.0
    held = table[table["role"] == "heldout"]
    n_all = int(held["n_train"].max()) if len(held) else 0
    paths["curve_png"] = plot_learning_curve(curve, out_dir / "learning_curve.png", chance, n_all)
    paths["sources_png"] = plot_sources(sources, out_dir / "source_subjects.png", chance)
    paths["summary"] = out_dir / "summary.json"
    write_summary(paths["summary"], summarise(table, preset, seed))
    return paths
