"""A family's measurements, one ``summary.json`` per family: the statistics its claims are judged on, per seed.

Every family ends its DAG with ``results/<family>/summary.json``::

    {"family": "gaze", "preset": "tiny", "seeds": [0, 1],
     "statistics": {"0": {"oat_sampled.sequence_score.trials": 0.41, "guided_walk.sequence_score.trials": 0.38},
                    "1": {...}},
     "undefined": {"1": {"eccnet.mean_index": "both slopes under 1 ms/item in 4 of 6 experiments"}},
     "notes": {"dropped_fixations": 3, ...}}

``statistics`` are named numbers per seed (the family's model and its controls alike); what the numbers must
show is not here but in the family's claims registry (``neuromodels/<family>/claims.yaml``), which
:mod:`neuromodels.core.claims` evaluates over the seeds. A statistic that cannot be computed meaningfully (a
degenerate index, a difference of two chance-level accuracies) is ``None`` with its reason in ``undefined``.
``notes`` holds the run's counts of fallbacks and dropped items, so nothing dropped is silent.

``findings`` (a family's own checks, ``value`` against ``threshold``) is an older, optional list kept for the
checks that are not claims of a paper; ``met`` is computed here, never typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import DataError
from .io import PathLike, read_json, write_json

DIRECTIONS = ("above", "below")


@dataclass(frozen=True)
class Finding:
    """One headline result: ``value`` compared with ``threshold`` (``direction`` "above": value > threshold)."""

    finding: str
    value: float
    threshold: float
    direction: str = "above"
    detail: str = ""

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {self.direction!r}")

    @property
    def met(self) -> bool:
        if not (math.isfinite(self.value) and math.isfinite(self.threshold)):
            return False
        return self.value > self.threshold if self.direction == "above" else self.value < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "value": float(self.value), "threshold": float(self.threshold), "met": self.met}


@dataclass
class Summary:
    """The statistics of one family's run per seed, its own checks, and the counts of what it dropped."""

    family: str
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    seed: int | None = None
    statistics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    undefined: dict[str, dict[str, str]] = field(default_factory=dict)

    def measure(self, seed: int, name: str, value: float | None, undefined: str | None = None) -> None:
        """Record statistic ``name`` of ``seed``. ``undefined`` (a reason) makes it ``None``: a degenerate
        statistic is reported as such, never as a number that looks like a result. A value that is not finite
        needs a reason too."""
        key = str(int(seed))
        if undefined is None and (value is None or not math.isfinite(float(value))):
            raise ValueError(f"statistic {name!r} of seed {seed} is {value!r}: give the reason it is undefined")
        if undefined is not None:
            self.statistics.setdefault(key, {})[name] = None
            self.undefined.setdefault(key, {})[name] = str(undefined)
        else:
            self.statistics.setdefault(key, {})[name] = float(value)
            self.undefined.get(key, {}).pop(name, None)

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.statistics)

    def add(self, finding: str, value: float, threshold: float, direction: str = "above", detail: str = "") -> Finding:
        item = Finding(finding, float(value), float(threshold), direction, detail)
        self.findings.append(item)
        return item

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "preset": self.preset,
            "seed": self.seed,
            "seeds": self.seeds,
            "statistics": {k: self.statistics[k] for k in sorted(self.statistics, key=int)},
            "undefined": {k: v for k, v in sorted(self.undefined.items(), key=lambda kv: int(kv[0])) if v},
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
            "all_met": all(f.met for f in self.findings),
        }


def write_summary(path: PathLike, summary: Summary) -> None:
    write_json(path, summary.to_dict())


def read_summary(path: PathLike) -> dict[str, Any]:
    """Read a ``summary.json``, checking its shape (a family; statistics per seed, each a number or null; each
    finding of the optional list has finding, value, threshold, met)."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("family"), str):
        raise DataError(path, "not a family summary (no 'family')")
    data.setdefault("findings", [])
    data.setdefault("statistics", {})
    data.setdefault("undefined", {})
    if not isinstance(data["findings"], list) or not isinstance(data["statistics"], dict):
        raise DataError(path, "not a family summary ('findings' must be a list, 'statistics' a mapping)")
    for seed, stats in data["statistics"].items():
        if not str(seed).lstrip("-").isdigit() or not isinstance(stats, dict):
            raise DataError(path, f"statistics of seed {seed!r}: not a mapping under an integer seed")
        bad = [k for k, v in stats.items() if v is not None and not isinstance(v, (int, float))]
        if bad:
            raise DataError(path, f"statistics of seed {seed}: not numbers: {', '.join(bad[:3])}")
    for i, item in enumerate(data["findings"]):
        missing = [k for k in ("finding", "value", "threshold", "met") if k not in item]
        if missing:
            raise DataError(path, f"finding {i} lacks {', '.join(missing)}")
    return data


def findings_table(summaries: Iterable[Mapping[str, Any]]):
    """One row per finding of every family (family, finding, value, threshold, direction, met, detail)."""
    import pandas as pd

    rows = [
        {
            "family": s["family"],
            **{k: f.get(k) for k in ("finding", "value", "threshold", "direction", "met", "detail")},
        }
        for s in summaries
        for f in s["findings"]
    ]
    return pd.DataFrame(rows, columns=["family", "finding", "value", "threshold", "direction", "met", "detail"])
