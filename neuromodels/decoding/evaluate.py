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

The family's statistics per seed (:func:`summarise`, ``summary.json``) are what its claims registry
(``neuromodels/decoding/claims.yaml``) is evaluated on: each model's and each control's top-1 retrieval per source
subject and, for the held-out subject, per method and size of the learning curve; a comparison whose methods are
all within 2 binomial SE of chance is undefined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

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


def retrieval_top1(
    pred: np.ndarray, target: np.ndarray, batch: int = 300, draws: int = 30, seed: int = 0
) -> dict[str, float]:
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
    return {"image_retrieval": float(np.mean(fwd)), "brain_retrieval": float(np.mean(bwd)), "chance": 1.0 / k, "k": k}


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


def score(
    pred: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray], batch: int = 300, draws: int = 30, seed: int = 0
) -> dict[str, float]:
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
    cols = [
        "method",
        "subject",
        "seed",
        "top1",
        "image_top1_image",
        "image_top1_brain",
        "image_two_way",
        "image_corr",
        "text_top1_image",
        "text_top1_brain",
        "text_two_way",
        "image_pred_cosine",
        "collapsed",
        "chance_top1",
        "k",
    ]
    return t[[c for c in cols if c in t.columns]].sort_values(["method", "subject", "seed"]).reset_index(drop=True)


def curve_table(table: pd.DataFrame) -> pd.DataFrame:
    """Learning curve of the held-out subject: metrics by method and n_train (mean and sd over the fits: seeds
    and, where a size was fitted several times, its draws of training images and initialisation; ``n_fits``
    counts them; ``collapsed_mean`` is the fraction of fits whose predictions collapsed)."""
    t = table[table["role"] == "heldout"].copy()
    metrics = [
        c
        for c in (
            "top1",
            "image_top1_image",
            "image_top1_brain",
            "image_two_way",
            "image_corr",
            "text_top1_image",
            "text_top1_brain",
            "text_two_way",
            "collapsed",
        )
        if c in t.columns
    ]
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
    "shuffled_stimuli": "reset-tuning on wrongly paired images (control)",
}
METHOD_STYLE = {
    "mindbridge_reset": ("C0", "o", "-"),
    "mindbridge_reset_frozen": ("C1", "o", ":"),
    "mindbridge_finetune": ("C0", "s", "--"),
    "linear_adapter": ("C2", "^", "-"),
    "linear_finetune": ("C2", "v", "--"),
    "scratch": ("C3", "D", "-"),
    "ridge": ("0.4", "x", ":"),
    "shuffled_stimuli": ("0.6", "+", "--"),
}


def plot_learning_curve(
    curve: pd.DataFrame,
    path: str | Path,
    chance: float,
    n_all: int,
    metrics: Sequence[str] = ("top1", "image_top1_image", "text_top1_image", "image_two_way"),
) -> Path:
    """Held-out subject: metric vs number of training images, one line per method (error bars: sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if f"{m}_mean" in curve.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.8), squeeze=False)
    titles = {
        "top1": "top-1 retrieval (mean: both ways, image and text)",
        "image_top1_image": "top-1 retrieval, image embeddings",
        "text_top1_image": "top-1 retrieval, text embeddings",
        "image_top1_brain": "top-1 brain retrieval",
        "image_two_way": "2-way identification",
        "image_corr": "embedding correlation",
    }
    for ax, m in zip(axes[0], metrics):
        for method, g in curve.groupby("method"):
            colour, marker, ls = METHOD_STYLE.get(method, ("k", ".", "-"))
            ax.errorbar(
                g["n_train"],
                g[f"{m}_mean"],
                yerr=g[f"{m}_sd"],
                color=colour,
                marker=marker,
                ls=ls,
                capsize=2,
                label=METHOD_LABELS.get(method, method),
            )
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


ADAPTATION_METHODS = (
    "mindbridge_reset",
    "mindbridge_reset_frozen",
    "mindbridge_finetune",
    "linear_adapter",
    "linear_finetune",
)
# The named controls of the adaptation claims: the same network trained on the new subject alone, ridge, and the
# published reset-tuning on the new subject's betas paired with the wrong images. ``best_control`` is, per seed,
# whichever of them retrieves best at the smallest n.
CONTROL_METHODS = ("scratch", "ridge", "shuffled_stimuli")
SINGLE_SUBJECT_METHODS = ("scratch", "ridge")
JOINT_METHODS = ("mindbridge_joint", "linear_joint")
CHANCE_SE = 2.0  # a top-1 within this many binomial SE of chance is "at chance"


def binomial_se(chance: float, n_items: int) -> float:
    """The binomial standard error of a top-1 accuracy at chance over ``n_items`` test stimuli."""
    return float(np.sqrt(chance * (1.0 - chance) / max(int(n_items), 1)))


def at_chance(value: float, chance: float, se: float, times: float = CHANCE_SE) -> bool:
    """Whether ``value`` lies within ``times`` standard errors of chance."""
    return abs(float(value) - float(chance)) <= times * se


def _n_label(rows: pd.DataFrame) -> pd.Series:
    """The learning-curve size of each held-out row as the run named it ('all' or a number)."""
    if "n_train_arg" in rows:
        return rows["n_train_arg"].fillna(rows["n_train"]).astype(str).str.replace(r"\.0$", "", regex=True)
    return rows["n_train"].astype(int).astype(str)


def summarise(table: pd.DataFrame, preset: str | None = None, seed: int | None = None, metric: str = "top1"):
    """The family's statistics per seed (:class:`neuromodels.core.findings.Summary`) from the collected runs
    (:func:`collect`); what they must show is the registry's (``neuromodels/decoding/claims.yaml``).

    Per seed of the runs (every statistic is ``metric``, top-1 retrieval; a held-out method's is the mean over the
    draws of that seed):

    - ``chance.top1``: chance (1/k);
    - source subjects: ``<model>.top1.<subject>`` for the joint models (``mindbridge_joint``, ``linear_joint``)
      and the single-subject ones (``scratch``, ``ridge``), ``single_subject_best.top1.<subject>`` (the better of
      the single-subject models), ``mindbridge_joint.top1.min_source`` (its lowest source subject), and the
      subject where the joint model falls furthest below its best single-subject model:
      ``mindbridge_joint.top1.worst_source`` and ``single_subject_best.top1.worst_source``;
    - held-out subject: ``<method>.top1.n<n>`` at every size of the learning curve (``nall``: every image) and
      ``<method>.top1.smallest_n``; ``best_control.top1.smallest_n`` (the best of :data:`CONTROL_METHODS`, named
      per seed in ``notes["best_control"]``); and for each adaptation method M and control C the control's value
      as compared with M, ``<C>.top1.smallest_n.vs_<M>``.

    Degenerate comparisons are not findings: where the model and the control compared are both within
    :data:`CHANCE_SE` binomial standard errors of chance (over the test stimuli), the control's statistic of that
    comparison (``...worst_source``, ``...vs_<M>``) is undefined with the reason, so the claim's difference is.

    ``notes`` counts the runs, the collapsed ones (named, and logged as a warning), missing inputs, the smallest n,
    the fits per seed of each method there, and the undefined comparisons.
    """
    from neuromodels.core.findings import Summary
    from neuromodels.core.runtime import get_logger

    summary = Summary("decoding", preset=preset, seed=seed)
    chance_all = float(table["chance_top1"].max()) if "chance_top1" in table and len(table) else float("nan")
    notes: dict = {
        "runs": int(len(table)),
        "metric": metric,
        "chance": chance_all,
        "k": int(table["k"].max()) if "k" in table and len(table) else 0,
        "missing": [],
        "degenerate": 0,
        "at_chance_rule": f"within {CHANCE_SE:g} binomial SE of chance over the test "
        "stimuli (model and control both: the difference is undefined)",
    }
    collapsed = table[table["collapsed"] > 0] if "collapsed" in table and len(table) else table.iloc[:0]
    notes["collapsed"] = int(len(collapsed))
    notes["collapsed_runs"] = [
        f"{r['method']} {r['subject']} n={r['n_train']} seed={r['seed']}" for _, r in collapsed.iterrows()
    ]
    if len(collapsed):
        get_logger(__name__).warning(
            "%d run(s) gave collapsed predictions (near-identical outputs for every test stimulus): %s",
            len(collapsed),
            "; ".join(notes["collapsed_runs"]),
        )
    if not len(table):
        notes["missing"].append("no runs")
        summary.notes.update(notes)
        return summary
    held_all = table[table["role"] == "heldout"]
    n_min = int(held_all["n_train"].min()) if len(held_all) else None
    best_by_seed: dict[str, str] = {}
    for s in sorted(table["seed"].dropna().astype(int).unique()):
        rows = table[table["seed"] == s]
        chance = float(rows["chance_top1"].max())
        n_items = (
            int(rows["n_test"].max()) if "n_test" in rows and rows["n_test"].notna().any() else int(rows["k"].max())
        )
        se = binomial_se(chance, n_items)
        summary.measure(s, "chance.top1", chance)

        def compare(
            name: str,
            control: float,
            model: float,
            model_name: str,
            s: int = s,
            chance: float = chance,
            se: float = se,
            n_items: int = n_items,
        ) -> None:
            if at_chance(control, chance, se) and at_chance(model, chance, se):
                notes["degenerate"] += 1
                summary.measure(
                    s,
                    name,
                    None,
                    undefined=(
                        f"{model_name} {model:.4f} and the control {control:.4f} both within {CHANCE_SE:g} SE "
                        f"({se:.4f}, {n_items} test stimuli) of chance {chance:.4f}: their difference is not a finding"
                    ),
                )
            else:
                summary.measure(s, name, control)

        # source subjects: the joint models against single-subject models
        src = rows[rows["role"] == "source"]
        by = {
            m: src[src["method"] == m].groupby("subject")[metric].mean() for m in JOINT_METHODS + SINGLE_SUBJECT_METHODS
        }
        for m, values in by.items():
            for subject, v in values.items():
                summary.measure(s, f"{m}.top1.{subject}", v)
        single = (
            pd.concat([by[m] for m in SINGLE_SUBJECT_METHODS], axis=1).max(axis=1)
            if any(len(by[m]) for m in SINGLE_SUBJECT_METHODS)
            else pd.Series(dtype=float)
        )
        for subject, v in single.items():
            summary.measure(s, f"single_subject_best.top1.{subject}", v)
        joint = by["mindbridge_joint"]
        if len(joint):
            summary.measure(s, "mindbridge_joint.top1.min_source", float(joint.min()))
            both = sorted(set(joint.index) & set(single.index))
            if both:
                worst = min(both, key=lambda subj: (joint[subj] - single[subj], subj))
                summary.measure(s, "mindbridge_joint.top1.worst_source", joint[worst])
                compare(
                    "single_subject_best.top1.worst_source",
                    float(single[worst]),
                    float(joint[worst]),
                    f"mindbridge_joint ({worst})",
                )
                notes.setdefault("worst_source", {})[str(s)] = worst
                notes.setdefault("sources_compared", {})[str(s)] = both
            else:
                why = "no source subject has single-subject baselines (decoding.source_baselines)"
                summary.measure(s, "mindbridge_joint.top1.worst_source", None, undefined=why)
                summary.measure(s, "single_subject_best.top1.worst_source", None, undefined=why)
        else:
            notes["missing"].append(f"seed {s}: no joint MindBridge run")
        # the held-out subject: every method at every size, and the comparisons at the smallest n
        held = rows[rows["role"] == "heldout"]
        if not len(held):
            notes["missing"].append(f"seed {s}: no held-out runs")
            continue
        held = held.assign(n_label=_n_label(held))
        for (method, label), g in held.groupby(["method", "n_label"]):
            summary.measure(s, f"{method}.top1.n{label}", float(g[metric].mean()))
        at = held[held["n_train"] == n_min].groupby("method")[metric].mean()
        for method, v in at.items():
            summary.measure(s, f"{method}.top1.smallest_n", float(v))
        controls = {m: float(at[m]) for m in CONTROL_METHODS if m in at.index}
        if controls:
            best = max(controls, key=lambda m: (controls[m], m))
            controls["best_control"] = controls[best]
            best_by_seed[str(s)] = best
            summary.measure(s, "best_control.top1.smallest_n", controls[best])
        for method in [m for m in ADAPTATION_METHODS if m in at.index]:
            for control, v in controls.items():
                compare(f"{control}.top1.smallest_n.vs_{method}", v, float(at[method]), method)
        missing = [m for m in CONTROL_METHODS if m not in at.index]
        if missing:
            notes["missing"].append(f"seed {s}: no {', '.join(missing)} at n = {n_min}")
    if n_min is not None:
        at_min = held_all[held_all["n_train"] == n_min]
        notes["smallest_n"] = n_min
        # fits per seed of each method (the draws of training images and initialisation)
        notes["fits_at_smallest_n"] = {m: int(g.groupby("seed").size().max()) for m, g in at_min.groupby("method")}
        notes["best_control"] = best_by_seed
    summary.notes.update(notes)
    return summary


def write_report(
    metric_paths: Sequence[str | Path], out_dir: str | Path, preset: str | None = None, seed: int | None = None
) -> dict[str, Path]:
    """Tables (CSV), figures (PNG) and ``summary.json`` of the family from the training steps' metrics JSONs."""
    from neuromodels.core.findings import write_summary

    out_dir = Path(out_dir)
    table = collect(metric_paths)
    write_table(out_dir / "all_runs.csv", table)
    sources = source_table(table)
    curve = curve_table(table)
    paths = {
        "all_runs": out_dir / "all_runs.csv",
        "sources": write_table(out_dir / "source_subjects.csv", sources),
        "curve": write_table(out_dir / "learning_curve.csv", curve),
    }
    chance = float(table["chance_top1"].max()) if "chance_top1" in table else 0.0
    held = table[table["role"] == "heldout"]
    n_all = int(held["n_train"].max()) if len(held) else 0
    paths["curve_png"] = plot_learning_curve(curve, out_dir / "learning_curve.png", chance, n_all)
    paths["sources_png"] = plot_sources(sources, out_dir / "source_subjects.png", chance)
    paths["summary"] = out_dir / "summary.json"
    write_summary(paths["summary"], summarise(table, preset, seed))
    return paths
