"""From fixations to the paper's numbers: reaction times, RT slopes, asymmetry indices, model-vs-human
correlation, and the figures.

- RT (ms) = 252.359 x fixations + 376.271 (the paper's linear map from fixations to key-press times).
- Slope (ms/item) = least-squares line of the mean RT per set size against set size, per condition.
- Asymmetry index of an experiment = (s_H - s_L) / (s_H + s_L), slopes clipped at 0, where H is the condition
  humans find harder (higher human slope): a model with the human asymmetry scores positive, a reversed one
  negative; 0 when both clipped slopes are 0.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.errors import ConfigError, DataError
from ..core.runtime import get_logger
from .data import TrialSet
from .models import MODEL_KINDS, EccNet, EccentricitySettings, chance_fixations, pixel_priority, run_search

__all__ = ["RT_MS_PER_FIXATION", "RT_OFFSET_MS", "reaction_time_ms", "fit_slope", "condition_slopes",
           "asymmetry_index", "index_table", "slope_correlation", "run_model", "plot_rt", "plot_indices",
           "plot_fixations", "plot_diets"]

RT_MS_PER_FIXATION = 252.359
RT_OFFSET_MS = 376.271
log = get_logger(__name__)


def reaction_time_ms(fixations: np.ndarray | float) -> np.ndarray:
    return RT_MS_PER_FIXATION * np.asarray(fixations, dtype=np.float64) + RT_OFFSET_MS


def fit_slope(set_sizes: Sequence[float], rts: Sequence[float]) -> float:
    """Least-squares slope of ``rts`` against ``set_sizes`` (ms per item)."""
    x, y = np.asarray(set_sizes, dtype=float), np.asarray(rts, dtype=float)
    if len(np.unique(x)) < 2:
        raise DataError(None, "an RT slope needs at least two set sizes")
    return float(np.polyfit(x, y, 1)[0])


def condition_slopes(fixations: pd.DataFrame) -> pd.DataFrame:
    """Per model, experiment and condition: the slope of mean RT vs set size (and mean RT per set size).

    ``fixations`` has one row per trial: model, experiment, condition, set_size, fixations.
    """
    rows = []
    for (model, exp, cond), g in fixations.groupby(["model", "experiment", "condition"], sort=False):
        mean = g.groupby("set_size")["fixations"].mean()
        rt = reaction_time_ms(mean.to_numpy())
        rows.append({"model": model, "experiment": exp, "condition": cond,
                     "slope_ms_per_item": fit_slope(mean.index.to_numpy(), rt),
                     "set_sizes": json.dumps([int(s) for s in mean.index]), "mean_rt_ms": json.dumps(rt.round(1).tolist())})
    return pd.DataFrame(rows)


def asymmetry_index(slope_hard: float, slope_easy: float) -> float:
    """(s_H - s_L) / (s_H + s_L) with both slopes clipped at 0 (0 when both are 0)."""
    h, e = max(float(slope_hard), 0.0), max(float(slope_easy), 0.0)
    return 0.0 if h + e == 0 else (h - e) / (h + e)


def _hard_easy(human: pd.DataFrame, experiment: str) -> tuple[str, str]:
    h = human[human["experiment"] == experiment].sort_values("slope_ms_per_item")
    if len(h) != 2:
        raise DataError(None, f"human slopes lack experiment {experiment!r}")
    return str(h["condition"].iloc[1]), str(h["condition"].iloc[0])


def index_table(slopes: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """One row per model and experiment: the model's and the humans' slopes of the hard and easy
    conditions and both asymmetry indices."""
    rows = []
    for (model, exp), g in slopes.groupby(["model", "experiment"], sort=False):
        hard, easy = _hard_easy(human, exp)
        by = g.set_index("condition")["slope_ms_per_item"]
        hb = human[human["experiment"] == exp].set_index("condition")["slope_ms_per_item"]
        if hard not in by or easy not in by:
            raise DataError(None, f"model {model}, experiment {exp}: needs conditions {hard} and {easy}")
        rows.append({"model": model, "experiment": exp, "hard_condition": hard, "easy_condition": easy,
                     "slope_hard": by[hard], "slope_easy": by[easy], "index": asymmetry_index(by[hard], by[easy]),
                     "human_slope_hard": hb[hard], "human_slope_easy": hb[easy],
                     "human_index": asymmetry_index(hb[hard], hb[easy])})
    return pd.DataFrame(rows)


def slope_correlation(slopes: pd.DataFrame, human: pd.DataFrame, model: str) -> float:
    """Pearson correlation between a model's and the humans' slopes over every condition."""
    m = slopes[slopes["model"] == model].merge(human, on=["experiment", "condition"], suffixes=("", "_human"))
    if len(m) < 3 or m["slope_ms_per_item"].std() == 0:
        return float("nan")
    return float(np.corrcoef(m["slope_ms_per_item"], m["slope_ms_per_item_human"])[0, 1])


# ------------------------------------------------------------------------------------------- running
def _extent(trials: TrialSet, rows: np.ndarray) -> float:
    t = trials.table.iloc[rows]
    return float(np.max(np.maximum(t["target_x1"] - t["target_x0"], t["target_y1"] - t["target_y0"])))


def run_model(kind: str, trials: TrialSet, backbone: nn.Module | None = None,
              settings: EccentricitySettings = EccentricitySettings(), chance_draws: int = 200, seed: int = 0,
              batch_size: int = 64, naive: bool = False, relative_to_background: bool = True,
              recrop: bool = False) -> pd.DataFrame:
    """Search every trial with one model (``eccnet``, ``eccnet_no_ecc``, ``eccnet_top_layer``, ``ivsn``,
    ``pixel``, ``chance``); one row per trial with the fixation count, whether the target was found and
    the fixation sequence (JSON ``[[x, y], ...]``)."""
    if kind not in MODEL_KINDS:
        raise ConfigError("models", f"unknown model {kind!r}; choose from {', '.join(MODEL_KINDS)}")
    table = trials.table
    n = len(table)
    fix = np.zeros(n, dtype=np.float64)
    found = np.ones(n, dtype=bool)
    seqs = [""] * n
    if kind == "chance":
        fix = chance_fixations(table["set_size"].to_numpy(), table["target_index"].to_numpy(), chance_draws, seed)
    else:
        if kind != "pixel" and backbone is None:
            raise ConfigError("backbone", f"model {kind} needs a backbone")
        for exp, group in table.groupby("experiment", sort=False):
            rows_all = group.index.to_numpy()
            first = trials.image(int(rows_all[0]))
            h, w = first.shape[:2]
            ppd = float(group["px_per_deg"].iloc[0])
            if not np.isfinite(ppd) or ppd <= 0:
                raise DataError(trials.root / "trials.csv", f"experiment {exp}: px_per_deg must be positive")
            model = None
            if kind != "pixel":
                spec = MODEL_KINDS[kind]
                model = EccNet(backbone, (h, w), ppd, layers=spec["layers"], eccentricity=spec["eccentricity"],
                               settings=settings, naive=naive, relative_to_background=relative_to_background,
                               recrop=recrop)
            for start in range(0, len(rows_all), batch_size):
                rows = rows_all[start:start + batch_size]
                images, targets = _load(trials, rows, (h, w), model)
                extent = _extent(trials, rows)
                if model is None:
                    prio = pixel_priority(targets, extent)
                else:
                    with torch.no_grad():
                        prio = model.priority_fn(targets, extent)
                res = run_search(prio, images, [trials.boxes[r] for r in rows],
                                 table["target_index"].to_numpy()[rows], (h, w))
                fix[rows] = res.fixations
                found[rows] = res.found
                for r, s in zip(rows, res.sequences):
                    seqs[r] = json.dumps(np.round(s, 1).tolist())
    out = table[["trial_id", "experiment", "condition", "set_size"]].copy()
    out.insert(0, "model", kind)
    out["fixations"] = fix
    out["found"] = found
    out["sequence"] = seqs
    return out


def _load(trials: TrialSet, rows: np.ndarray, size: tuple[int, int], model: EccNet | None):
    from .models import _pad_multiple, _pad_to

    h, w = size
    H, W = (model.height, model.width) if model is not None else _pad_multiple(h, w, 2)
    imgs, tgts = [], []
    for r in rows:
        img = trials.image(int(r))
        if img.shape[:2] != (h, w):
            raise DataError(trials.root / trials.table["image"].iloc[r],
                            f"image is {img.shape[1]}x{img.shape[0]} px but its experiment's first is {w}x{h}")
        imgs.append(img)
        tgts.append(trials.target_image(int(r)))
    images = torch.as_tensor(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0
    shapes = {t.shape for t in tgts}
    if len(shapes) != 1:
        raise DataError(trials.root / "trials.csv", "target images of one experiment differ in size")
    targets = torch.as_tensor(np.stack(tgts)).permute(0, 3, 1, 2).float() / 255.0
    return _pad_to(images, H, W), targets


# ------------------------------------------------------------------------------------------- figures
def plot_rt(slopes: pd.DataFrame, human: pd.DataFrame, models: Sequence[str]):
    """RT vs set size per experiment: each model's two conditions, and the human slopes as lines through the
    model's mean RT at the smallest set size (the human intercepts are not part of the reference)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(slopes["experiment"]))
    fig, axes = plt.subplots(1, len(exps), figsize=(3.2 * len(exps), 3.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, exp in zip(axes[0], exps):
        for ci, model in enumerate(models):
            for li, (_, row) in enumerate(slopes[(slopes.model == model) & (slopes.experiment == exp)].iterrows()):
                ax.plot(json.loads(row.set_sizes), json.loads(row.mean_rt_ms), marker="o", color=colours[ci % 10],
                        linestyle="-" if li == 0 else "--", label=f"{model}: {row.condition}")
        for li, (_, row) in enumerate(human[human.experiment == exp].iterrows()):
            ref = slopes[(slopes.experiment == exp)].iloc[0]
            xs = np.asarray(json.loads(ref.set_sizes), dtype=float)
            ax.plot(xs, RT_OFFSET_MS + RT_MS_PER_FIXATION + row.slope_ms_per_item * (xs - xs[0]), color="k",
                    linestyle="-" if li == 0 else "--", label=f"human: {row.condition}")
        ax.set_title(exp, fontsize=9)
        ax.set_xlabel("set size")
        ax.legend(fontsize=5)
    axes[0][0].set_ylabel("RT (ms)")
    fig.tight_layout()
    return fig


def plot_indices(indices: pd.DataFrame, models: Sequence[str], title: str = "asymmetry index", by: str = "model"):
    """Grouped bars: index per experiment for each model (or diet), the human index in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(indices["experiment"]))
    groups = [*models, "human"]
    width = 0.8 / len(groups)
    fig, ax = plt.subplots(figsize=(1.3 * len(exps) + 2, 3.4))
    x = np.arange(len(exps) + 1)
    for gi, name in enumerate(groups):
        if name == "human":
            sub = indices.drop_duplicates("experiment").set_index("experiment")["human_index"]
        else:
            sub = indices[indices[by] == name].set_index("experiment")["index"]
        vals = [sub.get(e, np.nan) for e in exps]
        vals.append(np.nanmean(vals))
        ax.bar(x + (gi - (len(groups) - 1) / 2) * width, vals, width, label=name,
               color="k" if name == "human" else None)
    ax.set_xticks(x, [*exps, "mean"], rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel(title)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def plot_fixations(trials: TrialSet, fixations: pd.DataFrame, per_experiment: int = 1):
    """Example fixation sequences (numbered) over search images, one row per experiment; the target's box
    in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exps = list(dict.fromkeys(fixations["experiment"]))
    fig, axes = plt.subplots(per_experiment, len(exps), figsize=(2.6 * len(exps), 2.8 * per_experiment),
                             squeeze=False)
    for ci, exp in enumerate(exps):
        sub = fixations[fixations.experiment == exp]
        # the largest set size of the harder-looking condition shows the most fixations
        sub = sub.sort_values(["set_size", "fixations"], ascending=False).head(per_experiment)
        for ri, (_, row) in enumerate(sub.iterrows()):
            ax = axes[ri][ci]
            r = int(trials.table.index[trials.table.trial_id == row.trial_id][0])
            ax.imshow(trials.image(r))
            t = trials.table.iloc[r]
            ax.add_patch(plt.Rectangle((t.target_x0, t.target_y0), t.target_x1 - t.target_x0,
                                       t.target_y1 - t.target_y0, fill=False, color="red", lw=1))
            seq = np.asarray(json.loads(row.sequence) if row.sequence else [], dtype=float).reshape(-1, 2)
            h, w = trials.image(r).shape[:2]
            path = np.vstack([[w / 2, h / 2], seq]) if len(seq) else np.array([[w / 2, h / 2]])
            ax.plot(path[:, 0], path[:, 1], "-o", color="yellow", ms=3, lw=1)
            for k, (fx, fy) in enumerate(seq, start=1):
                ax.text(fx, fy, str(k), color="magenta", fontsize=6)
            ax.set_title(f"{exp}\n{row.condition}, n={row.set_size}: {int(row.fixations)} fix.", fontsize=6)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_diets(indices: pd.DataFrame, diets: Sequence[str]):
    return plot_indices(indices, diets, title="asymmetry index (eccNET)", by="diet")


# ------------------------------------------------------------------------------------------- the analysis
FIRST_DIET = "upright"


def analyze(runs: Sequence, trials_path, out_dir, human_path=None, preset: str | None = None,
            seed: int = 0, margin: float = 0.05, chance_margin: float = 0.1) -> dict:
    """Every table of the run step -> slopes.csv, indices.csv (model x experiment, human beside),
    diets.csv (eccNET per diet), the figures and ``summary.json``.

    The models are compared on the user's backbone (runs labelled ``own``) when present, else on the
    ``upright`` diet's (or the first diet present); eccNET on each diet makes the diet experiment.
    """
    from pathlib import Path

    from ..core.findings import Summary, write_summary
    from ..core.io import save_figure, write_table
    from .data import read_human_slopes, read_trials

    out = Path(out_dir)
    tables = []
    for path in runs:
        try:
            t = pd.read_csv(path, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, FileNotFoundError) as exc:
            raise DataError(path, f"not a readable run table ({type(exc).__name__})") from None
        missing = [c for c in ("model", "diet", "experiment", "condition", "set_size", "fixations", "found")
                   if c not in t]
        if missing:
            raise DataError(path, f"missing columns {missing}")
        tables.append(t)
    runs_table = pd.concat(tables, ignore_index=True)
    runs_table["found"] = runs_table["found"].astype(str).str.lower().isin(["true", "1"])
    human = read_human_slopes(human_path)
    diets = [d for d in dict.fromkeys(runs_table["diet"]) if d not in ("none", "own")]
    first = "own" if (runs_table["diet"] == "own").any() else (
        FIRST_DIET if FIRST_DIET in diets else (diets[0] if diets else "none"))
    main = runs_table[runs_table["diet"].isin([first, "none"])]
    models = list(dict.fromkeys(main["model"]))
    slopes = condition_slopes(main)
    indices = index_table(slopes, human)
    write_table(out / "slopes.csv", slopes)
    write_table(out / "indices.csv", indices)
    diet_runs = runs_table[(runs_table["model"] == "eccnet") & runs_table["diet"].isin(diets)].copy()
    diet_runs["model"] = diet_runs["diet"]
    diet_indices = index_table(condition_slopes(diet_runs), human).rename(columns={"model": "diet"}) \
        if len(diet_runs) else pd.DataFrame(columns=["diet", "experiment", "index", "human_index"])
    write_table(out / "diets.csv", diet_indices)

    trials = read_trials(trials_path)
    save_figure(out / "rt_vs_set_size.png", plot_rt(slopes, human, [m for m in models if m != "pixel"]))
    save_figure(out / "indices.png", plot_indices(indices, models))
    shown = main[main["model"] == ("eccnet" if "eccnet" in models else models[0])]
    save_figure(out / "fixations.png", plot_fixations(trials, shown))
    if len(diet_runs):
        save_figure(out / "diets.png", plot_diets(diet_indices, diets))
    else:  # keep the output set fixed: an empty figure says why
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no eccNET run per diet", ha="center")
        ax.axis("off")
        save_figure(out / "diets.png", fig)

    mean = indices.groupby("model")["index"].mean()
    human_mean = float(indices.drop_duplicates("experiment")["human_index"].mean())
    summary = Summary("search", preset=preset, seed=seed)
    if "eccnet" in mean:
        e = float(mean["eccnet"])
        summary.add("eccNET mean asymmetry index is positive (the human direction on average)", e, margin,
                    detail=f"human mean {human_mean:.3f}; published eccNET 0.513; margin {margin}")
        if "ivsn" in mean:
            summary.add("eccNET mean asymmetry index above IVSN's", e - float(mean["ivsn"]), margin,
                        detail=f"eccNET {e:.3f}, IVSN {float(mean['ivsn']):.3f} (published 0.513 vs 0.316)")
        if "chance" in mean:
            summary.add("eccNET mean asymmetry index above chance's", e - float(mean["chance"]), chance_margin,
                        detail=f"eccNET {e:.3f}, chance {float(mean['chance']):.3f}; margin {chance_margin}")
    per_exp = {m: {r.experiment: round(float(r["index"]), 4) for _, r in indices[indices.model == m].iterrows()}
               for m in models}
    lighting = {d: float(diet_indices[(diet_indices.diet == d) & (diet_indices.experiment == "lighting")]["index"]
                         .iloc[0]) for d in diets
                if ((diet_indices.diet == d) & (diet_indices.experiment == "lighting")).any()}
    diet_means = {d: float(diet_indices[diet_indices.diet == d]["index"].mean()) for d in diets}
    summary.notes.update({
        "models_on_diet": first,
        "mean_index": {m: round(float(v), 4) for m, v in mean.items()},
        "human_mean_index": round(human_mean, 4),
        "index_per_experiment": per_exp,
        "human_index_per_experiment": {r.experiment: round(float(r.human_index), 4)
                                       for _, r in indices.drop_duplicates("experiment").iterrows()},
        "slope_correlation_with_humans": {m: round(slope_correlation(slopes, human, m), 4) for m in models},
        "diet_lighting_index": {d: round(v, 4) for d, v in lighting.items()},
        "diet_lighting_effect_vs_upright": {d: round(v - lighting[FIRST_DIET], 4) for d, v in lighting.items()
                                            if FIRST_DIET in lighting and d != FIRST_DIET},
        "diet_mean_index": {d: round(v, 4) for d, v in diet_means.items()},
        "trials_per_model": {m: int((main.model == m).sum()) for m in models},
        "trials_stopped_without_target": {m: int((~main[main.model == m]["found"]).sum()) for m in models},
    })
    write_summary(out / "summary.json", summary)
    log.info("mean asymmetry index: %s (human %.3f); lighting index per diet: %s",
             ", ".join(f"{m} {v:.3f}" for m, v in mean.items()), human_mean,
             ", ".join(f"{d} {v:.3f}" for d, v in lighting.items()))
    return summary.to_dict()
