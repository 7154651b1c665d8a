"""Claims registries: each family's headline claims, fixed before measuring, evaluated over seeds.

A family's registry is ``neuromodels/<family>/claims.yaml``::

    family: gaze
    claims:
      - id: oat_beats_guided_walk_layouts
        claim: "..."            # the paper's own wording
        source: "Fang et al., ECCV 2024 (OAT), Table 2"
        statistic: "Sequence Score of OAT minus the control's, held-out layouts"
        value: oat_sampled.sequence_score.layouts      # a statistic the family's summary.json measures
        control: guided_walk                           # the strongest control, by name (null: none)
        control_value: guided_walk.sequence_score.layouts
        difference: model_minus_control                # or control_minus_model (for lower-is-better metrics)
        direction: above                               # the claim holds when the difference is above the margin
        margin: 0.02
        margin_why: "..."

Per seed the evaluator takes the claim's value (minus the control's, or the control's minus it), then the mean
over seeds and its 95% t-interval. ``reproduced``: the whole interval clears the margin on the claim's side;
``not reproduced``: the whole interval lies on the other side; ``inconclusive`` otherwise, always with one seed
(no interval) and when fewer than two seeds give a defined value. A claim whose statistic the run did not
measure reads ``not measured`` with the statistic named. The evaluator knows nothing of the expected answer: it
reads the registry and the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DataError

FAMILIES = ("decoding", "seeg", "brainscore", "gaze", "search")
STATUSES = ("reproduced", "not reproduced", "inconclusive", "not measured")
DIFFERENCES = ("model_minus_control", "control_minus_model")
DIRECTIONS = ("above", "below")
REQUIRED = ("id", "claim", "source", "statistic", "value", "direction", "margin", "margin_why")
OPTIONAL = ("control", "control_value", "difference", "note")
COLUMNS = [
    "family",
    "id",
    "claim",
    "source",
    "statistic",
    "control",
    "mean",
    "ci_low",
    "ci_high",
    "n_seeds",
    "margin",
    "direction",
    "status",
    "detail",
    "preset",
]
SEED_COLUMNS = ["family", "id", "seed", "value", "control_value", "difference", "undefined"]


@dataclass(frozen=True)
class Claim:
    """One registry entry (see the module's docstring)."""

    family: str
    id: str
    claim: str
    source: str
    statistic: str
    value: str
    direction: str
    margin: float
    margin_why: str
    control: str | None = None
    control_value: str | None = None
    difference: str = "model_minus_control"
    note: str = ""

    @property
    def comparative(self) -> bool:
        return self.control_value is not None


def registry_path(family: str) -> Path:
    return Path(__file__).resolve().parent.parent / family / "claims.yaml"


def load_registry(family: str, path: str | Path | None = None) -> list[Claim]:
    """The claims of ``family`` from its ``claims.yaml``, each checked: the required keys, no unknown key, a known
    direction and difference, a finite margin, a control named with its statistic, ids unique."""
    import yaml

    path = Path(path) if path is not None else registry_path(family)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DataError(path, f"no claims registry for family {family!r}") from None
    except yaml.YAMLError as exc:
        raise DataError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or data.get("family") != family or not isinstance(data.get("claims"), list):
        raise DataError(path, f"a registry needs 'family: {family}' and a 'claims' list")
    claims, seen = [], set()
    for i, item in enumerate(data["claims"]):
        where = f"claim {i} ({item.get('id', '?') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict):
            raise DataError(path, f"{where}: not a mapping")
        missing = [k for k in REQUIRED if item.get(k) in (None, "")]
        unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
        if missing:
            raise DataError(path, f"{where}: missing {', '.join(missing)}")
        if unknown:
            raise DataError(path, f"{where}: unknown key(s) {', '.join(unknown)}")
        if item["direction"] not in DIRECTIONS:
            raise DataError(path, f"{where}: direction must be one of {DIRECTIONS}")
        if item.get("difference", DIFFERENCES[0]) not in DIFFERENCES:
            raise DataError(path, f"{where}: difference must be one of {DIFFERENCES}")
        try:
            margin = float(item["margin"])
        except (TypeError, ValueError):
            raise DataError(path, f"{where}: margin {item['margin']!r} is not a number") from None
        if not math.isfinite(margin):
            raise DataError(path, f"{where}: margin must be finite")
        if bool(item.get("control")) != bool(item.get("control_value")):
            raise DataError(path, f"{where}: a control needs its statistic (control_value) and vice versa")
        if item["id"] in seen:
            raise DataError(path, f"{where}: id {item['id']!r} used twice")
        seen.add(item["id"])
        claims.append(
            Claim(
                family=family,
                margin=margin,
                **{k: item.get(k) for k in REQUIRED if k != "margin"},
                control=item.get("control") or None,
                control_value=item.get("control_value") or None,
                difference=item.get("difference", DIFFERENCES[0]),
                note=item.get("note", "") or "",
            )
        )
    return claims


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two-sided ``level`` t-interval of the mean; (mean, nan, nan) for fewer than two values."""
    import numpy as np
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def status_of(ci_low: float, ci_high: float, margin: float, direction: str) -> str:
    """``reproduced`` when the interval clears the margin on the claim's side, ``not reproduced`` when it lies
    wholly on the other side, else ``inconclusive`` (also for an undefined interval)."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high)):
        return "inconclusive"
    if direction == "above":
        return "reproduced" if ci_low > margin else "not reproduced" if ci_high < margin else "inconclusive"
    return "reproduced" if ci_high < margin else "not reproduced" if ci_low > margin else "inconclusive"


def per_seed(claim: Claim, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The claim's numbers per seed of a family's summary: value, control value, difference (None when undefined,
    with the reason)."""
    rows = []
    stats_by_seed = summary.get("statistics", {}) or {}
    undefined_by_seed = summary.get("undefined", {}) or {}
    for seed in sorted(stats_by_seed, key=int):
        stats, why = stats_by_seed[seed] or {}, undefined_by_seed.get(seed, {}) or {}
        names = [claim.value] + ([claim.control_value] if claim.comparative else [])
        if not all(n in stats for n in names):
            continue
        value = stats[claim.value]
        control = stats[claim.control_value] if claim.comparative else None
        reasons = [f"{n}: {why.get(n, 'undefined')}" for n in names if stats[n] is None]
        diff = None
        if not reasons:
            diff = (
                value
                if not claim.comparative
                else (value - control if claim.difference == "model_minus_control" else control - value)
            )
        rows.append(
            {
                "family": claim.family,
                "id": claim.id,
                "seed": int(seed),
                "value": value,
                "control_value": control,
                "difference": diff,
                "undefined": "; ".join(reasons),
            }
        )
    return rows


def evaluate(claim: Claim, summary: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One row of ``findings.csv`` for ``claim`` (see COLUMNS) and its per-seed rows."""
    row = {
        "family": claim.family,
        "id": claim.id,
        "claim": claim.claim,
        "source": claim.source,
        "statistic": claim.statistic,
        "control": claim.control or "",
        "mean": float("nan"),
        "ci_low": float("nan"),
        "ci_high": float("nan"),
        "n_seeds": 0,
        "margin": claim.margin,
        "direction": claim.direction,
        "status": "not measured",
        "detail": "",
        "preset": (summary or {}).get("preset") or "",
    }
    seeds = per_seed(claim, summary) if summary else []
    if not seeds:
        wanted = claim.value + (f" and {claim.control_value}" if claim.comparative else "")
        row["detail"] = f"this run did not measure {wanted}"
        return row, seeds
    defined = [r for r in seeds if r["difference"] is not None]
    mean, low, high = t_interval([r["difference"] for r in defined])
    status = status_of(low, high, claim.margin, claim.direction)
    parts = []
    for r in seeds:
        if r["difference"] is None:
            parts.append(f"seed {r['seed']} undefined ({r['undefined']})")
        elif claim.comparative:
            parts.append(f"seed {r['seed']} {r['difference']:+.4g} ({r['value']:.4g} vs {r['control_value']:.4g})")
        else:
            parts.append(f"seed {r['seed']} {r['difference']:.4g}")
    side = ">" if claim.direction == "above" else "<"
    how = (
        ("model minus control" if claim.difference == "model_minus_control" else "control minus model")
        if claim.comparative
        else "value"
    )
    lead = f"{how} {side} {claim.margin:g} needed; 95% t-interval over {len(defined)} seed(s)"
    if len(defined) < 2:
        lead += " (fewer than two defined seeds: no interval)"
    row.update(
        mean=mean, ci_low=low, ci_high=high, n_seeds=len(defined), status=status, detail=lead + "; " + "; ".join(parts)
    )
    return row, seeds


def claims_table(
    summaries: Iterable[Mapping[str, Any]],
    families: Iterable[str] | None = None,
    registries: Mapping[str, list[Claim]] | None = None,
):
    """``findings.csv`` (one row per registry claim of every family) and the per-seed table behind it. A family
    with a registry but no summary gets its claims as ``not measured``."""
    import pandas as pd

    by_family = {s["family"]: s for s in summaries}
    families = list(families) if families is not None else [f for f in FAMILIES if f in by_family]
    rows, seed_rows = [], []
    for family in families:
        claims = registries[family] if registries and family in registries else load_registry(family)
        for claim in claims:
            row, seeds = evaluate(claim, by_family.get(family))
            rows.append(row)
            seed_rows.extend(seeds)
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(seed_rows, columns=SEED_COLUMNS)


def replace_family_rows(table, family: str, other, source: str | Path = ""):
    """``table`` with the rows of ``family`` taken from ``other`` (another run's findings table), in the place
    the family's rows held (appended when ``table`` has none)."""
    import pandas as pd

    rows = other[other["family"] == family]
    if rows.empty:
        raise DataError(source or "findings table", f"has no rows of the family {family!r}")
    families = list(dict.fromkeys([*table["family"], family]))
    parts = [rows if f == family else table[table["family"] == f] for f in families]
    return pd.concat(parts, ignore_index=True)


def markdown_table(table, commit: str = "", date: str = "", family_commits: Mapping[str, str] | None = None) -> str:
    """The findings as a Markdown table for the README: one row per claim with its status and numbers.
    ``family_commits`` names the commit of the families whose rows come from another run than ``commit``'s."""
    import pandas as pd

    presets = sorted({str(p) for p in table.get("preset", pd.Series(dtype=str)).dropna() if str(p)})
    seeds = int(table["n_seeds"].max()) if len(table) else 0
    runs = len({commit, *(family_commits or {}).values()})
    source = f"the findings tables of {runs} runs" if runs > 1 else "`results/findings.csv`"
    others = "".join(f"; {family}'s rows at commit {c}" for family, c in (family_commits or {}).items())
    lines = [
        f"Generated by `neuromodels findings readme` from {source}"
        f"{' (preset ' + ', '.join(presets) + ')' if presets else ''}, up to {seeds} seed(s)"
        f"{', commit ' + commit if commit else ''}{', ' + date if date else ''}{others}. "
        "Mean and 95% interval over seeds of the claim's statistic (model minus control where a control "
        "is named); the margin is fixed in the family's `claims.yaml`.",
        "",
        "| family | claim | control | mean [95% CI] | margin | seeds | status |",
        "|---|---|---|---|---|---|---|",
    ]

    def num(x: float) -> str:
        return "n/a" if not math.isfinite(float(x)) else f"{float(x):+.3f}"

    for r in table.itertuples():
        interval = f"{num(r.mean)} [{num(r.ci_low)}, {num(r.ci_high)}]" if r.n_seeds else "n/a"
        side = ">" if r.direction == "above" else "<"
        text = str(r.claim).replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r.family} | {text} | {r.control or '-'} | {interval} | {side} {r.margin:g} | "
            f"{r.n_seeds} | {r.status} |"
        )
    counts = table["status"].value_counts()
    lines += ["", ", ".join(f"{int(counts.get(s, 0))} {s}" for s in STATUSES) + "."]
    return "\n".join(lines)


START, END = "<!-- findings:start -->", "<!-- findings:end -->"


def replace_block(text: str, block: str, path: str | Path = "README.md") -> str:
    """``text`` with what lies between the findings markers replaced by ``block``."""
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise DataError(path, f"no '{START}' ... '{END}' block to write the findings table into")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"
