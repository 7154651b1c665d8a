"""Scoring scanpath models on held-out trials: one metrics table per split (OAT, its controls, the baselines and
the human ceiling), the example-scanpath figure, and the statistics per seed that the claims registry judges.

Model paths are object sequences; for MultiMatch each fixation is placed at its object's box centre with the
training set's mean duration (models predict objects, not pixels or times). Humans keep their own fixations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.findings import Summary
from ..core.runtime import get_logger
from .baselines import BASELINES, WALK_FEATURES, baseline_paths, centre_bias_map, fit_guided_walk
from .data import ScanpathDataset, Trial, object_crops
from .metrics import (
    BEHAVIOUR,
    MULTIMATCH,
    behaviour_delta,
    behaviour_table,
    edit_distance,
    human_ceiling,
    human_ceiling_delta,
    mean_agreement,
    multimatch,
    sequence_score,
)
from .train import TrainedOAT, trial_tensors

__all__ = [
    "model_paths",
    "score_paths",
    "evaluate_split",
    "plot_scanpaths",
    "measure_seed",
    "seed_summary",
    "HUMAN",
    "GUIDED_WALK",
    "IMAGE_BLIND",
]

log = get_logger(__name__)
HUMAN = "human_ceiling"
GUIDED_WALK = "guided_walk"
IMAGE_BLIND = "image_blind"


def model_paths(
    trained: TrainedOAT,
    dataset: ScanpathDataset,
    trial_ids: Sequence[str],
    n_samples: int,
    seed: int,
    max_length: int,
    device: torch.device | str = "cpu",
    batch_size: int = 64,
) -> tuple[dict[str, list[list[int]]], dict[str, list[list[int]]]]:
    """Greedy and sampled OAT scanpaths per trial (object indices)."""
    tensors = trial_tensors(dataset, trial_ids, trained.config.crop_hw, trained.config.mark_target, trained.features)
    gen = torch.Generator().manual_seed(seed)
    greedy: dict[str, list[list[int]]] = {}
    sampled: dict[str, list[list[int]]] = {}
    model = trained.model.to(device).eval()
    for i in range(0, len(trial_ids), batch_size):
        rows = list(range(i, min(i + batch_size, len(trial_ids))))
        batch = {k: v.to(device) for k, v in tensors.select(rows).items()}
        g = model.generate(batch, 0, max_length)
        s = model.generate(batch, n_samples, max_length, generator=gen)
        for j, r in enumerate(rows):
            greedy[trial_ids[r]] = g[j]
            sampled[trial_ids[r]] = s[j]
    return greedy, sampled


def _human_paths(dataset: ScanpathDataset, trial_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {t: {} for t in trial_ids}
    for s in dataset.scanpaths_of(trial_ids):
        out[s.trial][s.viewer] = s
    return out


def _objects(path: Any) -> list[int]:
    return [int(o) for o in path.object_sequence()] if hasattr(path, "object_sequence") else list(path)


def _mm_columns(values: list[np.ndarray], short: list[bool]) -> dict[str, Any]:
    """MultiMatch means over every pair (short paths padded as OAT pads them) and, as ``<measure>_dropped``,
    over the pairs where both paths have at least 3 fixations; the pair counts."""
    all_pairs = np.asarray(values, dtype=float).reshape(-1, 5)
    kept = all_pairs[~np.asarray(short, dtype=bool)] if len(short) else all_pairs
    mean = lambda a: np.nanmean(a, axis=0) if len(a) else np.full(5, np.nan)  # noqa: E731
    return {
        **dict(zip(MULTIMATCH, mean(all_pairs))),
        **{f"{m}_dropped": v for m, v in zip(MULTIMATCH, mean(kept))},
        "mm_pairs": len(values),
        "mm_pairs_short": int(sum(short)),
    }


def score_paths(
    name: str,
    paths: dict[str, list[list[int]]],
    humans: dict[str, dict[str, Any]],
    trials: dict[str, Trial],
    mean_duration: float,
    mm_samples: int,
) -> dict[str, Any]:
    """Sequence Score, edit distance, MultiMatch and behaviour of one model's paths. MultiMatch compares each
    of the first ``mm_samples`` paths of every test trial (the greedy path, or samples) with every viewer's
    scanpath; a path of fewer than 3 fixations is padded as OAT pads it (the ``_dropped`` columns leave such
    pairs out)."""
    ss = mean_agreement(paths, humans, lambda m, h: sequence_score(m, _objects(h)))
    ed = mean_agreement(paths, humans, lambda m, h: edit_distance(m, _objects(h)))
    mm_values, short = [], []
    for t in paths:
        trial = trials[t]
        c = trial.centres
        for m in paths[t][: max(1, mm_samples)]:
            for h in humans[t].values():
                mm_values.append(
                    multimatch(
                        c[m, 0],
                        c[m, 1],
                        np.full(len(m), mean_duration),
                        h.x,
                        h.y,
                        h.duration,
                        (trial.width, trial.height),
                        pad=True,
                    )
                )
                short.append(len(m) < 3 or len(h) < 3)
    beh = behaviour_table(
        [p for t in paths for p in paths[t]], [trials[t].target_index for t in paths for _ in paths[t]]
    ).mean()
    return {
        "model": name,
        "sequence_score": ss,
        "edit_distance": ed,
        **_mm_columns(mm_values, short),
        **{k: float(beh[k]) for k in BEHAVIOUR},
    }


def evaluate_split(
    trained: TrainedOAT,
    dataset: ScanpathDataset,
    split_name: str,
    split: dict[str, list[str]],
    n_samples: int,
    max_length: int,
    mm_samples: int,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The metrics table of one split and the generated paths (for figures).

    For OAT: OAT greedy and sampled, each baseline, the guided walk (its weights fitted on the split's training
    trials only) and the human ceiling. For the image-blind control (a model trained with ``image_blind``): its
    own two rows (``image_blind_greedy``, ``image_blind``), its delta against the same viewers. For OAT on a
    declared model's crop features (``gaze.models``): its own two rows, ``<name>_greedy`` and ``<name>``."""
    blind = bool(getattr(trained.config, "image_blind", False))
    declared = str(getattr(trained.config, "features_of", "") or "")
    test = list(split["test"])
    humans = _human_paths(dataset, test)
    trials = dataset.trials
    train_paths = dataset.scanpaths_of(split["train"])
    mean_len = float(np.mean([len(s.object_sequence()) for s in train_paths if len(s.object_sequence())]))
    length = max(1, int(round(mean_len)))
    mean_duration = float(np.mean(np.concatenate([s.duration for s in train_paths])))
    rng = np.random.default_rng([seed, 29])

    greedy, sampled = model_paths(trained, dataset, test, n_samples, seed, max_length, device)
    names = ("image_blind_greedy", "image_blind") if blind else ("oat_greedy", "oat_sampled")
    if declared and not blind:
        names = (f"{declared}_greedy", declared)
    own = not blind and not declared  # OAT itself: the baselines, the guided walk and the ceiling beside it
    generated: dict[str, dict[str, list[list[int]]]] = {names[0]: greedy, names[1]: sampled}
    walk = None
    if own:
        density = centre_bias_map(trials, train_paths)
        tensors = trial_tensors(dataset, test, trained.config.crop_hw, trained.config.mark_target)
        for name in BASELINES:
            generated[name] = {
                t: baseline_paths(name, trials[t], length, n_samples, rng, density=density, crops=tensors.crops_np[i])
                for i, t in enumerate(test)
            }
        # the guided walk: fitted on the training trials' scanpaths and crops only, sampled on the test trials
        train_ids = sorted({s.trial for s in train_paths})
        train_crops = {t: object_crops(trials[t], trained.config.crop_hw) for t in train_ids}
        walk = fit_guided_walk(trials, train_paths, train_crops)
        walk_rng = np.random.default_rng([seed, 31])
        generated[GUIDED_WALK] = {
            t: walk.paths(trials[t], tensors.crops_np[i], n_samples, max_length, walk_rng) for i, t in enumerate(test)
        }
    rows = [score_paths(name, paths, humans, trials, mean_duration, mm_samples) for name, paths in generated.items()]

    human_beh = behaviour_table(
        [_objects(s) for t in test for s in humans[t].values()],
        [trials[t].target_index for t in test for _ in humans[t]],
    )
    human_beh["viewer"] = [v for t in test for v in humans[t]]
    human_means = {k: float(human_beh[k].mean()) for k in BEHAVIOUR}
    for row in rows:
        row["delta"] = behaviour_delta(row, human_means)
    if own:
        # the human ceiling: viewers against each other, every pair once, never a scanpath with itself; MultiMatch
        # over every test trial, short paths padded as for the models
        mm_pairs, short = [], []
        for t in test:
            hs = list(humans[t].values())
            for i in range(len(hs)):
                for j in range(i + 1, len(hs)):
                    mm_pairs.append(
                        multimatch(
                            hs[i].x,
                            hs[i].y,
                            hs[i].duration,
                            hs[j].x,
                            hs[j].y,
                            hs[j].duration,
                            (trials[t].width, trials[t].height),
                            pad=True,
                        )
                    )
                    short.append(len(hs[i]) < 3 or len(hs[j]) < 3)
        ceiling = {
            "model": HUMAN,
            "sequence_score": human_ceiling(humans, lambda a, b: sequence_score(_objects(a), _objects(b))),
            "edit_distance": human_ceiling(humans, lambda a, b: edit_distance(_objects(a), _objects(b))),
            **_mm_columns(mm_pairs, short),
            **human_means,
            "delta": human_ceiling_delta(human_beh),
        }
        rows.append(ceiling)
    table = pd.DataFrame(rows)
    table.insert(0, "split", split_name)
    table.insert(2, "n_trials", len(test))
    table["baseline_length"] = [length if r["model"] in BASELINES else np.nan for r in rows]
    out: dict[str, Any] = {"split": split_name, "seed": seed, "test": test, "paths": generated}
    if walk is not None:
        out["guided_walk"] = {
            "weights": dict(zip(WALK_FEATURES, walk.weights)),
            "n_choices": walk.n_choices,
            "mean_log_likelihood": walk.log_likelihood,
            "fitted_on_trials": len(walk.fitted_on),
        }
    return table, out


# ---------------------------------------------------------------------------------------- statistics
# the metrics a statistic is emitted for (per model and split), and why each can be undefined
METRICS: dict[str, str] = {
    "sequence_score": "no test scanpath to compare with",
    "edit_distance": "no test scanpath to compare with",
    "delta": "every behaviour's human mean is 0 or undefined",
    **{m: "no pair of a model path and a viewer's scanpath on the test trials" for m in MULTIMATCH},
}
# models whose Sequence Score is also reported as a share of the human ceiling
CEILING_SHARE = ("oat_sampled", "oat_greedy", IMAGE_BLIND, GUIDED_WALK)


def measure_seed(summary: Summary, seed: int, table: pd.DataFrame, declared: Sequence[str] = ()) -> None:
    """Record one seed's statistics from its metrics table (every split, model and control):
    ``<model>.<metric>.<split>`` for Sequence Score, edit distance, delta and the five MultiMatch means;
    ``<model>.ceiling_share.<split>`` (Sequence Score / the human ceiling's) for OAT, its controls and the
    ``declared`` models' OAT variants (``gaze.models``); ``best_baseline.sequence_score`` and
    ``best_baseline.delta`` (the best of the paper's baselines, per split). A value that cannot be computed is
    recorded as undefined with its reason."""
    for split in [s for s in ("trials", "layouts", "targets") if s in set(table["split"])]:
        part = table[table["split"] == split].drop_duplicates("model", keep="last").set_index("model")
        for model, row in part.iterrows():
            for metric, why in METRICS.items():
                value = float(row.get(metric, float("nan")))
                name = f"{model}.{metric}.{split}"
                if np.isfinite(value):
                    summary.measure(seed, name, value)
                else:
                    summary.measure(seed, name, None, undefined=why)
        ceiling = float(part.loc[HUMAN, "sequence_score"]) if HUMAN in part.index else float("nan")
        for model in [m for m in (*CEILING_SHARE, *declared) if m in part.index]:
            value = float(part.loc[model, "sequence_score"])
            name = f"{model}.ceiling_share.{split}"
            if np.isfinite(value) and np.isfinite(ceiling) and ceiling > 0:
                summary.measure(seed, name, value / ceiling)
            else:
                summary.measure(seed, name, None, undefined="the human ceiling's Sequence Score is 0 or undefined")
        base = part.loc[[b for b in BASELINES if b in part.index]]
        if len(base):
            for metric, best in (("sequence_score", base["sequence_score"].max()), ("delta", base["delta"].min())):
                name = f"best_baseline.{metric}.{split}"
                if np.isfinite(best):
                    summary.measure(seed, name, float(best))
                else:
                    summary.measure(seed, name, None, undefined=METRICS[metric])


def seed_summary(
    table: pd.DataFrame, preset: str | None, notes: dict[str, Any], declared: Sequence[str] = ()
) -> Summary:
    """The family's summary: :func:`measure_seed` for every seed of ``table`` (a ``seed`` column)."""
    summary = Summary("gaze", notes=dict(notes), preset=preset)
    for seed in sorted(int(s) for s in table["seed"].unique()):
        measure_seed(summary, seed, table[table["seed"] == seed], declared)
    return summary


# ---------------------------------------------------------------------------------------- figure
def plot_scanpaths(
    dataset: ScanpathDataset,
    generated: dict[str, Any],
    n_trials: int = 3,
    viewer: str | None = None,
    models: Sequence[str] = ("oat_greedy", "oat_sampled"),
):
    """Example scanpaths drawn over displays: per trial, one human viewer beside the paths of ``models`` (OAT's,
    and the declared models' OAT variants when named; each panel is titled with its row's name). Numbers give
    the fixation order (colours run from red, first, to yellow, last); the target's box is outlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    test = generated["test"][:n_trials]
    cols = 1 + len(models)
    aspect = max(dataset.trials[t].height / dataset.trials[t].width for t in test) if test else 0.5
    fig, axes = plt.subplots(
        len(test), cols, figsize=(4.2 * cols, (4.2 * aspect + 0.45) * max(len(test), 1)), squeeze=False
    )
    for r, t in enumerate(test):
        trial = dataset.trials[t]
        with Image.open(trial.image) as img:
            image = np.asarray(img.convert("RGB"))
        humans = [s for s in dataset.scanpaths if s.trial == t]
        human = next((s for s in humans if s.viewer == viewer), humans[0]) if humans else None
        panels = [("human " + (human.viewer if human else ""), human.object_sequence() if human else [])]
        panels += [
            (m.replace("_", " "), generated["paths"][m][t][0] if generated["paths"][m][t] else []) for m in models
        ]
        for c, (title, path) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(image)
            if trial.target_present:
                x0, y0, x1, y1 = trial.boxes[trial.target_index]
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="yellow", lw=2))
            pts = trial.centres[np.asarray(path, dtype=int)] if len(path) else np.zeros((0, 2))
            if c == 0 and human is not None:
                pts = np.stack([human.x, human.y], 1)[human.objects >= 0]
            ax.plot(pts[:, 0], pts[:, 1], "-", color="white", lw=1.2, alpha=0.8)
            ax.scatter(pts[:, 0], pts[:, 1], s=28, c=np.arange(len(pts)), cmap="autumn", zorder=3)
            for k, (px, py) in enumerate(pts[:12]):
                ax.annotate(str(k + 1), (px, py), color="black", fontsize=6, ha="center", va="center", zorder=4)
            ax.set_title(f"{t}: {title} ({len(path)} fix.)", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return fig
