"""Running the models over the trials and the analysis of their fixations (tables, figures, the summary the
registry reads). The formulas live in :mod:`.asymmetry`, the figures in :mod:`.figures`; both are re-exported
here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.errors import ConfigError, DataError
from ..core.runtime import get_logger
from .asymmetry import (
    MIN_SLOPE_MS_PER_ITEM,
    RT_MS_PER_FIXATION,
    RT_OFFSET_MS,
    agreement_table,
    asymmetry_index,
    chance_comparison,
    condition_slopes,
    correlation_interval,
    fit_slope,
    index_floor,
    index_table,
    mean_index,
    reaction_time_ms,
    slope_correlation,
    slope_resolution,
)
from .data import TrialSet
from .figures import plot_diets, plot_fixations, plot_indices, plot_rt
from .models import (
    MODEL_KINDS,
    EccentricitySettings,
    EccNet,
    chance_fixations,
    eccnet_fixation_count,
    grid_cells,
    pixel_priority,
    run_search,
)

__all__ = [
    "RT_MS_PER_FIXATION",
    "RT_OFFSET_MS",
    "MIN_SLOPE_MS_PER_ITEM",
    "reaction_time_ms",
    "fit_slope",
    "slope_resolution",
    "condition_slopes",
    "asymmetry_index",
    "index_table",
    "mean_index",
    "index_floor",
    "slope_correlation",
    "run_model",
    "plot_rt",
    "plot_indices",
    "plot_fixations",
    "plot_diets",
    "summary_statistics",
    "agreement_table",
    "chance_comparison",
    "correlation_interval",
]

log = get_logger(__name__)


# ------------------------------------------------------------------------------------------- running
def _extent(trials: TrialSet, rows: np.ndarray) -> float:
    t = trials.table.iloc[rows]
    return float(np.max(np.maximum(t["target_x1"] - t["target_x0"], t["target_y1"] - t["target_y0"])))


def _grid(value) -> tuple[int, int] | None:
    """A ``grid`` cell of trials.csv (``"rows x cols"``) as (rows, cols); None when empty or unreadable."""
    try:
        rows, cols = (int(v) for v in str(value).lower().split("x"))
    except ValueError:
        return None
    return (rows, cols) if rows > 0 and cols > 0 else None


def run_model(
    kind: str,
    trials: TrialSet,
    backbone: nn.Module | None = None,
    settings: EccentricitySettings = EccentricitySettings(),
    chance_draws: int = 200,
    seed: int = 0,
    batch_size: int = 64,
    naive: bool = False,
    relative_to_background: bool = True,
    recrop: bool = False,
    dog: bool = False,
    empty_cells: bool = False,
    declared=None,
) -> pd.DataFrame:
    """Search every trial with one model (``eccnet``, ``eccnet_no_ecc``, ``eccnet_top_layer``, ``ivsn``,
    ``pixel``, ``chance``, or with ``declared`` a declared model's name); one row per trial with the fixation
    count, whether the target was found and the fixation sequence (JSON ``[[x, y], ...]``).

    ``declared``: a built declared vision model (:func:`~.declared.build_declared`) searched as eccNET on its
    pyramid (:class:`~.declared.DeclaredEccNet`); ``kind`` is then its name, and the table says which layers
    were used (columns ``search_layers``, ``top_down_layers``).

    ``dog``: eccNET's difference-of-Gaussians stage with the experiment's published kernels
    (:data:`~.experiments.DOG_KERNELS`; an experiment of the user's takes the curvature and orientation ones).
    ``empty_cells``: eccNET's search over the display's grid (trials.csv's ``grid``): fixations land on cells,
    empty ones included, at most cells + 1 of them, and a trial counts as eccNET's analysis counts it
    (:func:`~.models.eccnet_fixation_count`: the set size when the target was not found within the cells'
    count); trials without a grid keep the item-by-item search (column ``grid_search`` False). Chance is a
    random order over the items either way (the published chance baseline)."""
    from .experiments import DEFAULT_DOG, DOG_KERNELS

    if declared is None and kind not in MODEL_KINDS:
        raise ConfigError("models", f"unknown model {kind!r}; choose from {', '.join(MODEL_KINDS)}")
    layers = None
    if declared is not None:
        from .declared import search_layers

        layers = search_layers(declared)
    table = trials.table
    n = len(table)
    fix = np.zeros(n, dtype=np.float64)
    found = np.ones(n, dtype=bool)
    on_grid = np.zeros(n, dtype=bool)
    seqs = [""] * n
    if kind == "chance":
        fix = chance_fixations(table["set_size"].to_numpy(), table["target_index"].to_numpy(), chance_draws, seed)
    else:
        if kind != "pixel" and backbone is None and declared is None:
            raise ConfigError("backbone", f"model {kind} needs a backbone")
        for exp, group in table.groupby("experiment", sort=False):
            rows_all = group.index.to_numpy()
            first = trials.image(int(rows_all[0]))
            h, w = first.shape[:2]
            ppd = float(group["px_per_deg"].iloc[0])
            if not np.isfinite(ppd) or ppd <= 0:
                raise DataError(trials.root / "trials.csv", f"experiment {exp}: px_per_deg must be positive")
            model = None
            if declared is not None:
                from .declared import DeclaredEccNet

                model = DeclaredEccNet(
                    declared,
                    (h, w),
                    ppd,
                    layers=layers,
                    settings=settings,
                    relative_to_background=relative_to_background,
                    recrop=recrop,
                    dog=DOG_KERNELS.get(str(exp), DEFAULT_DOG) if dog else None,
                )
            elif kind != "pixel":
                spec = MODEL_KINDS[kind]
                model = EccNet(
                    backbone,
                    (h, w),
                    ppd,
                    layers=spec["layers"],
                    eccentricity=spec["eccentricity"],
                    settings=settings,
                    naive=naive,
                    relative_to_background=relative_to_background,
                    recrop=recrop,
                    dog=DOG_KERNELS.get(str(exp), DEFAULT_DOG) if dog else None,
                )
            grids = [(_grid(table["grid"].iloc[r]) if "grid" in table else None) for r in rows_all]
            for start in range(0, len(rows_all), batch_size):
                rows = rows_all[start : start + batch_size]
                images, targets = _load(trials, rows, (h, w), model)
                extent = _extent(trials, rows)
                if model is None:
                    prio = pixel_priority(targets, ppd)
                else:
                    with torch.no_grad():
                        prio = model.priority_fn(targets, extent)
                cells = [
                    grid_cells((h, w), g) if empty_cells and g is not None else None
                    for g in grids[start : start + batch_size]
                ]
                res = run_search(
                    prio,
                    images,
                    [trials.boxes[r] for r in rows],
                    table["target_index"].to_numpy()[rows],
                    (h, w),
                    cells=cells,
                )
                counts = res.fixations.astype(np.float64)
                gridded = np.array([c is not None for c in cells])
                if gridded.any():
                    n_cells = np.array([len(c) if c is not None else 0 for c in cells])
                    eccnet = eccnet_fixation_count(res, table["set_size"].to_numpy()[rows], n_cells)
                    counts[gridded] = eccnet[gridded]
                fix[rows] = counts
                found[rows] = res.found
                on_grid[rows] = gridded
                for r, s in zip(rows, res.sequences):
                    seqs[r] = json.dumps(np.round(s, 1).tolist())
    out = table[["trial_id", "experiment", "condition", "set_size"]].copy()
    out.insert(0, "model", kind)
    out["fixations"] = fix
    out["found"] = found
    out["grid_search"] = on_grid
    out["sequence"] = seqs
    if layers is not None:
        out["search_layers"] = " ".join(layers.pyramid)
        out["top_down_layers"] = " ".join(layers.top_down)
    return out


def _load(trials: TrialSet, rows: np.ndarray, size: tuple[int, int], model: EccNet | None):
    from .eccnet import _pad_multiple, _pad_to

    h, w = size
    H, W = (model.height, model.width) if model is not None else _pad_multiple(h, w, 2)
    imgs, tgts = [], []
    for r in rows:
        img = trials.image(int(r))
        if img.shape[:2] != (h, w):
            raise DataError(
                trials.root / trials.table["image"].iloc[r],
                f"image is {img.shape[1]}x{img.shape[0]} px but its experiment's first is {w}x{h}",
            )
        imgs.append(img)
        tgts.append(trials.target_image(int(r)))
    images = torch.as_tensor(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0
    shapes = {t.shape for t in tgts}
    if len(shapes) != 1:
        raise DataError(trials.root / "trials.csv", "target images of one experiment differ in size")
    targets = torch.as_tensor(np.stack(tgts)).permute(0, 3, 1, 2).float() / 255.0
    return _pad_to(images, H, W), targets


# ------------------------------------------------------------------------------------------- the analysis
FIRST_DIET = "upright"
# the diet label of a declared model's runs (not one of the family's backbones: compared beside them)
DECLARED_DIET = "declared"


def _declared_layers(runs: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per declared model of the runs: the layers it searched with (its pyramid and the top-down layers)."""
    if "search_layers" not in runs:
        return {}
    out = {}
    for name, g in runs[runs["diet"] == DECLARED_DIET].groupby("model", sort=False):
        used = {}
        for col in ("search_layers", "top_down_layers"):
            values = sorted({str(v) for v in g[col] if isinstance(v, str) and v})
            used[col] = values[0].split() if len(values) == 1 else values
        out[str(name)] = used
    return out


def _measure_model(
    summary,
    seed: int,
    name: str,
    indices: pd.DataFrame,
    slopes: pd.DataFrame,
    human: pd.DataFrame,
    model: str,
    experiments: Sequence[str],
    chance_slopes: pd.DataFrame | None = None,
) -> None:
    """One model's statistics of one seed, under the label ``name``: its index per experiment (undefined with
    the two slopes and the floor when degenerate), mean index over the defined ones and their count, |mean
    index|, the slope correlation with humans and, with ``chance_slopes`` (chance's slopes of that seed), its
    pace against chance (:func:`chance_comparison`)."""
    rows = indices[indices["model"] == model].set_index("experiment")
    values = []
    for exp in experiments:
        if exp not in rows.index:
            values.append(float("nan"))
            summary.measure(seed, f"{name}.index.{exp}", None, undefined="the experiment was not run")
            continue
        r = rows.loc[exp]
        values.append(float(r["index"]))
        if r["index_defined"]:
            summary.measure(seed, f"{name}.index.{exp}", float(r["index"]))
        else:
            summary.measure(
                seed,
                f"{name}.index.{exp}",
                None,
                undefined=f"both slopes at most the floor of {r['floor_ms_per_item']:.2f} ms/item "
                f"({r['slope_hard']:.2f} and {r['slope_easy']:.2f})",
            )
    mean, defined, why = mean_index(values)
    summary.measure(seed, f"{name}.defined_indices", defined)
    summary.measure(
        seed, f"{name}.experiments_with_human_sign", int((np.asarray(values)[np.isfinite(values)] > 0).sum())
    )
    summary.measure(seed, f"{name}.mean_index", None if why else mean, undefined=why)
    summary.measure(seed, f"{name}.abs_mean_index", None if why else abs(mean), undefined=why)
    if chance_slopes is not None and len(chance_slopes):
        pace = chance_comparison(slopes[slopes["model"] == model], chance_slopes).iloc[0]
        summary.measure(seed, f"{name}.conditions_faster_than_chance", int(pace["conditions_faster_than_chance"]))
        ratio = float(pace["slope_ratio_to_chance"])
        summary.measure(
            seed,
            f"{name}.slope_ratio_to_chance",
            ratio if np.isfinite(ratio) else None,
            undefined=None if np.isfinite(ratio) else "no condition shared with chance, or chance's slopes flat",
        )
    r = slope_correlation(slopes[slopes["model"] == model], human, model)
    summary.measure(
        seed,
        f"{name}.slope_correlation",
        None if not np.isfinite(r) else r,
        undefined=None if np.isfinite(r) else "fewer than three conditions, or every slope flat (at most its floor)",
    )
    n = len(slopes[slopes["model"] == model].merge(human, on=["experiment", "condition"]))
    low, high = correlation_interval(r, n)
    for bound, value in (("low", low), ("high", high)):
        summary.measure(
            seed,
            f"{name}.slope_correlation_{bound}",
            value if np.isfinite(value) else None,
            undefined=None
            if np.isfinite(value)
            else "the slope correlation is undefined, or fewer than four conditions",
        )


def summary_statistics(
    summary,
    indices: pd.DataFrame,
    slopes: pd.DataFrame,
    diet_indices: pd.DataFrame,
    diet_slopes: pd.DataFrame,
    human: pd.DataFrame,
) -> None:
    """Every statistic the registry's claims read, per seed (``neuromodels/search/claims.yaml``):
    ``<model>.index.<experiment>``, ``<model>.mean_index``, ``<model>.abs_mean_index``,
    ``<model>.defined_indices`` and ``<model>.slope_correlation`` for each model compared (eccnet and its
    controls), ``<model>.conditions_faster_than_chance`` and ``<model>.slope_ratio_to_chance`` where chance
    ran (:func:`chance_comparison`), and the same under ``eccnet_<diet>`` for eccNET on each training diet."""
    experiments = list(dict.fromkeys(human["experiment"]))
    for seed in sorted(set(indices["seed"]) | set(diet_indices.get("seed", pd.Series(dtype=int)))):
        ind, sl = indices[indices["seed"] == seed], slopes[slopes["seed"] == seed]
        chance = sl[sl["model"] == "chance"]
        for model in dict.fromkeys(ind["model"]):
            vs = chance if model != "chance" else None
            _measure_model(summary, int(seed), model, ind, sl, human, model, experiments, vs)
        if len(diet_indices):
            dind = diet_indices[diet_indices["seed"] == seed].rename(columns={"diet": "model"})
            dsl = diet_slopes[diet_slopes["seed"] == seed]
            for diet in dict.fromkeys(dind["model"]):
                _measure_model(summary, int(seed), f"eccnet_{diet}", dind, dsl, human, diet, experiments, chance)


def _read_runs(runs: Sequence, seed: int) -> pd.DataFrame:
    tables = []
    for path in runs:
        try:
            t = pd.read_csv(path, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, FileNotFoundError) as exc:
            raise DataError(path, f"not a readable run table ({type(exc).__name__})") from None
        missing = [
            c for c in ("model", "diet", "experiment", "condition", "set_size", "fixations", "found") if c not in t
        ]
        if missing:
            raise DataError(path, f"missing columns {missing}")
        if "seed" not in t:  # a table of one seed written before runs carried theirs
            t.insert(2, "seed", int(seed))
        tables.append(t)
    runs_table = pd.concat(tables, ignore_index=True)
    runs_table["found"] = runs_table["found"].astype(str).str.lower().isin(["true", "1"])
    runs_table["seed"] = pd.to_numeric(runs_table["seed"], errors="coerce")
    if runs_table["seed"].isna().any():
        raise DataError(runs[0], "the seed column must hold integers")
    runs_table["seed"] = runs_table["seed"].astype(int)
    duplicated = (
        runs_table.duplicated(["seed", "model", "diet", "trial_id"])
        if "trial_id" in runs_table
        else pd.Series(False, index=runs_table.index)
    )
    if duplicated.any():
        r = runs_table[duplicated].iloc[0]
        raise DataError(
            None, f"run tables: model {r['model']} on diet {r['diet']} with seed {r['seed']} is given twice"
        )
    return runs_table


def _backbone_accuracy(histories: Sequence) -> dict[str, dict[str, float]]:
    """Held-out accuracy per seed and diet from the training step's history files (``{seed: {diet: acc}}``)."""
    from ..core.io import read_json

    out: dict[str, dict[str, float]] = {}
    for path in histories or ():
        meta = read_json(path)
        if not isinstance(meta, dict) or "diet" not in meta or "seed" not in meta:
            raise DataError(path, "not a backbone training history (needs diet and seed)")
        if meta.get("heldout_accuracy") is not None:
            out.setdefault(str(int(meta["seed"])), {})[str(meta["diet"])] = round(float(meta["heldout_accuracy"]), 4)
    return out


def analyze(
    runs: Sequence,
    trials_path,
    out_dir,
    human_path=None,
    preset: str | None = None,
    seed: int = 0,
    histories: Sequence = (),
) -> dict:
    """Every table of the run step, of one seed or several -> slopes.csv, indices.csv (seed x model x
    experiment, human beside), diets.csv (eccNET per diet and seed), the figures (mean over seeds; the RT
    and fixation figures of the first seed) and ``summary.json`` (the statistics per seed).

    The models are compared on the user's backbone (runs labelled ``own``) when present, else on the
    ``upright`` diet's (or the first diet present); eccNET on each diet makes the diet experiment. A declared
    model's runs (labelled ``declared``) are compared beside them under the model's name (its statistics are
    ``<name>.<metric>``; the layers it searched with are in the notes, ``declared_models``).
    ``seed`` labels run tables that carry no seed column. ``histories`` (the training step's JSON files) add
    each backbone's held-out accuracy to the notes and as ``eccnet_<diet>.backbone_heldout_accuracy``.
    """
    from pathlib import Path

    from ..core.findings import Summary, write_summary
    from ..core.io import save_figure, write_table
    from .data import read_human_slopes, read_trials

    out = Path(out_dir)
    runs_table = _read_runs(runs, seed)
    seeds = sorted(set(runs_table["seed"]))
    human = read_human_slopes(human_path)
    diets = [d for d in dict.fromkeys(runs_table["diet"]) if d not in ("none", "own", DECLARED_DIET)]
    first = (
        "own"
        if (runs_table["diet"] == "own").any()
        else (FIRST_DIET if FIRST_DIET in diets else (diets[0] if diets else "none"))
    )
    main = runs_table[runs_table["diet"].isin([first, "none", DECLARED_DIET])]
    models = list(dict.fromkeys(main["model"]))
    slopes = condition_slopes(main)
    indices = index_table(slopes, human)
    indices["human_sign"] = pd.array(
        [bool(v > 0) if d else None for v, d in zip(indices["index"], indices["index_defined"])], dtype="boolean"
    )
    agreement = agreement_table(indices, slopes, human).merge(
        chance_comparison(slopes), on=["seed", "model"], how="left"
    )
    write_table(out / "slopes.csv", slopes)
    # per row: the model's per-experiment index, and per seed and model the agreement over experiments
    write_table(out / "indices.csv", indices.merge(agreement, on=["seed", "model"], how="left"))
    diet_runs = runs_table[(runs_table["model"] == "eccnet") & runs_table["diet"].isin(diets)].copy()
    diet_runs["model"] = diet_runs["diet"]
    diet_slopes = condition_slopes(diet_runs) if len(diet_runs) else pd.DataFrame()
    diet_indices = (
        index_table(diet_slopes, human).rename(columns={"model": "diet"})
        if len(diet_runs)
        else pd.DataFrame(columns=["seed", "diet", "experiment", "index", "human_index"])
    )
    diet_agreement = (
        agreement_table(diet_indices.rename(columns={"diet": "model"}), diet_slopes, human)
        .merge(chance_comparison(diet_slopes, slopes[slopes["model"] == "chance"]), on=["seed", "model"], how="left")
        .rename(columns={"model": "diet"})
        if len(diet_runs)
        else None
    )
    write_table(
        out / "diets.csv",
        diet_indices.merge(diet_agreement, on=["seed", "diet"], how="left")
        if diet_agreement is not None
        else diet_indices,
    )

    trials = read_trials(trials_path)
    first_seed = seeds[0]
    save_figure(
        out / "rt_vs_set_size.png",
        plot_rt(slopes[slopes["seed"] == first_seed], human, [m for m in models if m != "pixel"]),
    )
    save_figure(out / "indices.png", plot_indices(indices, models, agreement=agreement))
    shown = main[(main["model"] == ("eccnet" if "eccnet" in models else models[0])) & (main["seed"] == first_seed)]
    save_figure(out / "fixations.png", plot_fixations(trials, shown))
    if len(diet_runs):
        save_figure(out / "diets.png", plot_diets(diet_indices, diets, diet_agreement))
    else:  # keep the output set fixed: an empty figure says why
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 2))
        ax.text(0.5, 0.5, "no eccNET run per diet", ha="center")
        ax.axis("off")
        save_figure(out / "diets.png", fig)

    summary = Summary("search", preset=preset, seed=first_seed)
    summary_statistics(summary, indices, slopes, diet_indices, diet_slopes, human)
    accuracy = _backbone_accuracy(histories)
    for s_key, by_diet in accuracy.items():
        for diet, acc in by_diet.items():
            summary.measure(int(s_key), f"eccnet_{diet}.backbone_heldout_accuracy", acc)
    human_index = indices.drop_duplicates("experiment").set_index("experiment")["human_index"]
    undefined = {
        str(s): {
            m: sorted(g[~g["index_defined"]]["experiment"])
            for m, g in indices[indices["seed"] == s].groupby("model")
            if (~g["index_defined"]).any()
        }
        for s in seeds
    }
    declared = _declared_layers(main)
    if declared:
        summary.notes["declared_models"] = declared
        for name, used in declared.items():
            log.info(
                "%s (declared): eccNET on %s; top-down from %s",
                name,
                " ".join(used["search_layers"]),
                " ".join(used["top_down_layers"]),
            )
    summary.notes.update(
        {
            "seeds": seeds,
            "models_on_diet": first,
            "backbone_heldout_accuracy": accuracy,
            "human_mean_index": round(float(human_index.mean()), 4),
            "human_index_per_experiment": {e: round(float(v), 4) for e, v in human_index.items()},
            "index_floor_ms_per_item": {
                e: round(float(v), 3) for e, v in indices.groupby("experiment")["floor_ms_per_item"].max().items()
            },
            "undefined_indices": {s: v for s, v in undefined.items() if v},
            "trials_per_model": {m: int((main[main["seed"] == first_seed].model == m).sum()) for m in models},
            "trials_stopped_without_target": {
                str(s): {m: int((~g[g.model == m]["found"]).sum()) for m in models} for s, g in main.groupby("seed")
            },
        }
    )
    write_summary(out / "summary.json", summary)
    stats = summary.statistics
    log.info(
        "mean asymmetry index per seed: %s",
        "; ".join(
            f"seed {s}: " + ", ".join(f"{m} {stats[str(s)].get(m + '.mean_index')}" for m in models) for s in seeds
        ),
    )
    paced = agreement[agreement["model"] != "chance"].dropna(subset=["slope_ratio_to_chance"])
    if len(paced):
        # an index read off searches as slow as chance's is noise: say how often each model beats chance's pace
        log.info(
            "conditions searched faster than chance (median slope / chance's): %s",
            "; ".join(
                f"seed {r.seed} {r.model} {r.conditions_faster_than_chance}/{r.conditions_with_chance} "
                f"({r.slope_ratio_to_chance:.2f})"
                for r in paced.itertuples()
            ),
        )
    return summary.to_dict()
