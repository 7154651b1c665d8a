"""The variants table (one row per model and seed: accuracies, robustness, ceiled V4/IT scores), the family's
statistics read from it and its figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["summary_row", "variant_statistics", "plot_variants", "CEILING_FLOOR", "CHANCE_SE"]


def summary_row(variant: str, seed: int, robustness: pd.DataFrame | None, neural: pd.DataFrame) -> dict[str, Any]:
    """One row of the variants table: accuracies, robustness and ceiled V4/IT scores (``robustness`` None:
    scored from precomputed activations, no accuracies). With several time bins scored (a ``time_bin_start``
    column), a region's entries are the means over bins and ``<region>_n_bins`` says how many."""
    acc = robustness.groupby("condition")["accuracy"].mean() if robustness is not None else pd.Series(dtype=float)
    row: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "clean_accuracy": acc.get("clean"),
        "pgd_accuracy": acc.get("pgd"),
        "rotation_accuracy": acc.get("rotation"),
    }
    for name in ("noise", "blur", "contrast"):
        row[f"{name}_accuracy"] = acc.get(name)
    for region, part in neural.groupby("region", sort=False):
        row[f"{region}_ceiled"] = float(part["ceiled"].mean())
        row[f"{region}_sem"] = float(part["ceiled_sem"].mean())
        row[f"{region}_raw"] = float(part["raw"].mean())
        row[f"{region}_layer"] = "|".join(dict.fromkeys(part["layer"].astype(str)))
        row[f"{region}_ceiling"] = float(part["ceiling"].mean())
        row[f"{region}_ceiling_se"] = (
            float(part["ceiling_bootstrap_se"].mean()) if "ceiling_bootstrap_se" in part else float("nan")
        )
        row[f"{region}_n_stimuli"] = int(part["n_stimuli"].iloc[0])
        if len(part) > 1:
            row[f"{region}_n_bins"] = int(len(part))
    ceiled = [row[f"{r}_ceiled"] for r in dict.fromkeys(neural["region"])]
    row["neural_average"] = float(np.mean(ceiled)) if ceiled else float("nan")
    return row


# A ceiled score divides by the split-half ceiling: below this reliability the division is not a measurement.
CEILING_FLOOR = 0.1
# A classifier within this many standard errors of chance has learnt nothing to attack: its PGD accuracy (a
# constant classifier keeps chance accuracy under any attack) is degenerate, not robustness.
CHANCE_SE = 2.0


def _region_key(region: str) -> str:
    return str(region).lower()


def variant_statistics(
    table: pd.DataFrame,
    truths: Mapping[int, Mapping[str, Any]] | None = None,
    preset: str | None = None,
    data_notes: Mapping[str, Any] | None = None,
    declared: Mapping[str, Any] | None = None,
):
    """The family's statistics per seed (:class:`neuromodels.core.findings.Summary`) from the variants table
    (one row per model and seed: the trained variants and the ``untrained_crossvit`` control alike).

    Per model ``m`` (variant or control) and seed:

    * ``m.clean_accuracy``, ``m.pgd_accuracy``: top-1 on the clean and on the PGD-attacked test images. The
      PGD accuracy is undefined when the clean accuracy is within 2 standard errors of chance (1 / classes):
      a classifier that learnt nothing keeps chance accuracy under any attack, which is not robustness.
    * ``m.ceiled_score.<region>``: the committed layer's held-out score, raw / ceiling (the 2022 board's
      convention; today's board squares it), ``m.raw_score.<region>`` the raw median Pearson r. Undefined when
      the ceiling is under :data:`CEILING_FLOOR`.
    * ``trained_min.ceiled_score.<region>``: the lowest ceiled score among the trained variants of the seed
      (every trained variant above a control <=> this above it); undefined when any of them is.
    * With simulated recordings (``truths``: each seed's ``truth.json``, keyed by seed):
      ``ceiling.<region>`` (the split-half ceiling on the seed's held-out stimuli), ``planted.<region>`` (the
      planted median reliability) and ``ceiling.error_se.<region>`` = ``|ceiling - planted| / bootstrap SE``.

    ``data_notes`` (what the scoring dropped or averaged: time bins used, NaN neuroids, unmapped regions) go
    into the notes under ``assembly``; the notes also count the undefined statistics.

    A declared model (``brainscore.models``; ``declared``: its name -> what it was, kind, layers, input) is a
    row like any other: its ``<name>.ceiled_score.<region>`` and ``<name>.raw_score.<region>`` (no accuracies:
    it is not a classifier of the set's classes); no claim reads them and ``trained_min`` stays over the
    CrossViT variants. The notes list them under ``declared_models`` when there are any.
    """
    from ..core.findings import Summary
    from .presets import VARIANTS

    seeds = sorted(int(s) for s in table["seed"].unique())
    summary = Summary("brainscore", preset=preset, seed=seeds[0] if seeds else None)
    names = list(dict.fromkeys(table["variant"].astype(str)))
    models = [v for v in VARIANTS if v in names] + [v for v in names if v not in VARIANTS]
    trained = [v for v in VARIANTS if v in names]
    regions = [c[: -len("_ceiled")] for c in table.columns if c.endswith("_ceiled")]
    n_test = int(table["n_test"].min()) if "n_test" in table and table["n_test"].notna().any() else 0
    summary.notes.update(
        {
            "models": models,
            "trained_variants": trained,
            "seeds": seeds,
            "n_test_images": n_test,
            "ceiled_score": "raw / ceiling (the 2022 board's convention, not squared)",
        }
    )
    if data_notes:
        summary.notes["assembly"] = dict(data_notes)
    if declared:
        summary.notes["declared_models"] = {str(k): v for k, v in declared.items()}
    truths = dict(truths or {})
    if not truths:
        summary.notes["ceiling_statistics_skipped"] = "no planted reliability (recordings not simulated here)"
    undefined_count = 0

    def number(row: pd.Series, column: str) -> float:
        value = row.get(column) if column in row.index else None
        return float(value) if value is not None and pd.notna(value) else float("nan")

    for seed in seeds:
        rows = table[table["seed"] == seed].drop_duplicates("variant", keep="last").set_index("variant")
        missing = [m for m in models if m not in rows.index]
        if missing:
            summary.notes.setdefault("missing_models", {})[str(seed)] = missing
        for model in [m for m in models if m in rows.index]:
            row = rows.loc[model]
            clean = number(row, "clean_accuracy")
            if np.isfinite(clean):
                summary.measure(seed, f"{model}.clean_accuracy", clean)
                pgd = number(row, "pgd_accuracy")
                n, k = number(row, "n_test"), number(row, "n_classes")
                chance = 1.0 / k if np.isfinite(k) and k > 0 else float("nan")
                floor = (
                    chance + CHANCE_SE * np.sqrt(chance * (1 - chance) / n)
                    if np.isfinite(n) and n > 0
                    else float("nan")
                )
                if not np.isfinite(pgd):
                    summary.measure(seed, f"{model}.pgd_accuracy", None, undefined="no PGD accuracy measured")
                elif np.isfinite(floor) and clean <= floor:
                    summary.measure(
                        seed,
                        f"{model}.pgd_accuracy",
                        None,
                        undefined=f"clean accuracy {clean:.3f} within {CHANCE_SE:g} SE of chance "
                        f"{chance:.3f} on {int(n)} images: nothing learnt to attack",
                    )
                else:
                    summary.measure(seed, f"{model}.pgd_accuracy", pgd)
            for region in regions:
                key = _region_key(region)
                ceiled, ceiling = number(row, f"{region}_ceiled"), number(row, f"{region}_ceiling")
                raw = number(row, f"{region}_raw")
                if not np.isfinite(ceiled):
                    summary.measure(seed, f"{model}.ceiled_score.{key}", None, undefined=f"{region} not scored")
                elif not ceiling >= CEILING_FLOOR:
                    summary.measure(
                        seed,
                        f"{model}.ceiled_score.{key}",
                        None,
                        undefined=f"{region} ceiling {ceiling:.3f} under {CEILING_FLOOR:g}",
                    )
                else:
                    summary.measure(seed, f"{model}.ceiled_score.{key}", ceiled)
                if np.isfinite(raw):
                    summary.measure(seed, f"{model}.raw_score.{key}", raw)
        stats, why = summary.statistics.get(str(seed), {}), summary.undefined.get(str(seed), {})
        for region in regions:
            key = _region_key(region)
            names_ = [f"{v}.ceiled_score.{key}" for v in trained]
            if not trained:
                continue
            absent = [v for v in trained if v not in rows.index]
            if absent:
                summary.measure(
                    seed,
                    f"trained_min.ceiled_score.{key}",
                    None,
                    undefined=f"trained variants missing: {', '.join(absent)}",
                )
            elif any(stats.get(n) is None for n in names_):
                bad = [n for n in names_ if stats.get(n) is None]
                summary.measure(
                    seed,
                    f"trained_min.ceiled_score.{key}",
                    None,
                    undefined="; ".join(f"{n}: {why.get(n, 'undefined')}" for n in bad),
                )
            else:
                summary.measure(seed, f"trained_min.ceiled_score.{key}", min(stats[n] for n in names_))
        truth = truths.get(seed)
        planted = (truth or {}).get("planted_reliability_median") or {}
        first = rows.iloc[0] if len(rows) else None
        for region, rho in planted.items():
            key = _region_key(region)
            ceiling = number(first, f"{region}_ceiling") if first is not None else float("nan")
            se = number(first, f"{region}_ceiling_se") if first is not None else float("nan")
            if not np.isfinite(ceiling):
                summary.notes.setdefault("regions_without_ceiling", []).append(region)
                continue
            summary.measure(seed, f"ceiling.{key}", ceiling)
            summary.measure(seed, f"planted.{key}", float(rho))
            if se > 0:
                summary.measure(seed, f"ceiling.error_se.{key}", abs(ceiling - float(rho)) / se)
            else:
                summary.measure(
                    seed, f"ceiling.error_se.{key}", None, undefined=f"no bootstrap SE of the {region} ceiling ({se})"
                )
        if truths and seed not in truths:
            summary.notes.setdefault("seeds_without_truth", []).append(seed)
        undefined_count += len(summary.undefined.get(str(seed), {}))
    summary.notes["undefined_statistics"] = undefined_count
    return summary


def plot_variants(table: pd.DataFrame):
    """Bars per variant (mean over seeds): clean, PGD and corruption accuracy, and ceiled V4 / IT scores,
    laid out like the paper's table (one group per measure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [
        ("clean_accuracy", "clean acc."),
        ("pgd_accuracy", "PGD acc."),
        ("rotation_accuracy", "rotated acc."),
        ("noise_accuracy", "noise acc."),
        ("blur_accuracy", "blur acc."),
        ("contrast_accuracy", "contrast acc."),
        ("V4_ceiled", "V4 (ceiled)"),
        ("IT_ceiled", "IT (ceiled)"),
    ]
    measures = [(c, label) for c, label in measures if c in table]
    from .presets import VARIANTS

    known = [v for v in VARIANTS if v in set(table["variant"])]  # the paper's order, then any others
    crossvit = {*VARIANTS, "untrained_crossvit"}  # the family's own rows; a declared model keeps its name
    order = known + [v for v in dict.fromkeys(table["variant"]) if v not in known]
    mean = table.groupby("variant")[[c for c, _ in measures]].mean().loc[order]
    sem_cols = {c: c.replace("_ceiled", "_sem") for c, _ in measures if c.endswith("_ceiled")}
    fig, ax = plt.subplots(figsize=(1.3 * len(measures) + 2, 3.6))
    width = 0.8 / max(len(mean), 1)
    xs = np.arange(len(measures))
    for i, (variant, values) in enumerate(mean.iterrows()):
        errors = [
            table.loc[table["variant"] == variant, sem_cols[c]].mean() if c in sem_cols else np.nan for c, _ in measures
        ]
        ax.bar(
            xs + (i - (len(mean) - 1) / 2) * width,
            values.to_numpy(float),
            width,
            yerr=errors,
            label=variant.replace("_", " + ") if variant in crossvit else variant,
            capsize=2,
        )
    ax.set_xticks(xs, [label for _, label in measures], rotation=20)
    ax.set_ylabel("accuracy / ceiled score")
    ax.set_ylim(0, max(1.0, float(np.nanmax(mean.to_numpy(float))) * 1.05))
    ax.axvline(len([c for c, _ in measures if not c.endswith("_ceiled")]) - 0.5, color="grey", lw=0.8)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    others = [v for v in order if v not in crossvit]
    ax.set_title(
        "CrossViT variants" + (" and declared models" if others else "") + ": accuracy, robustness and neural "
        "predictivity"
    )
    fig.tight_layout()
    return fig
