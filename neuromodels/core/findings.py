"""A family's headline findings, one ``summary.json`` per family: what was found, against which threshold.

Every family ends its DAG with ``results/<family>/summary.json``::

    {"family": "gaze", "preset": "tiny", "seed": 0,
     "findings": [{"finding": "OAT above the best baseline on Sequence Score (held-out trials)",
                   "value": 0.41, "threshold": 0.35, "met": true,
                   "detail": "best baseline: similarity 0.35; margin 0.02 required"}, ...],
     "notes": {"dropped_fixations": 3, ...}}

``value`` is the measured quantity and ``threshold`` the line it must pass (``direction`` says which side:
"above" by default, "below" for e.g. a delta that must be small). ``met`` is computed here, never typed by
hand. ``notes`` holds the run's counts of fallbacks and dropped items, so nothing dropped is silent. The
report's findings table and CI's findings test read these files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

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
    """The findings of one family's run and the counts of what it dropped or replaced."""

    family: str
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    preset: str | None = None
    seed: int | None = None

    def add(self, finding: str, value: float, threshold: float, direction: str = "above",
            detail: str = "") -> Finding:
        item = Finding(finding, float(value), float(threshold), direction, detail)
        self.findings.append(item)
        return item

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "preset": self.preset, "seed": self.seed,
                "findings": [f.to_dict() for f in self.findings], "notes": self.notes,
                "all_met": all(f.met for f in self.findings)}


def write_summary(path: PathLike, summary: Summary) -> None:
    write_json(path, summary.to_dict())


def read_summary(path: PathLike) -> dict[str, Any]:
    """Read a ``summary.json``, checking its shape (each finding has finding, value, threshold, met)."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise DataError(path, "not a findings summary (no 'findings' list)")
    for i, item in enumerate(data["findings"]):
        missing = [k for k in ("finding", "value", "threshold", "met") if k not in item]
        if missing:
            raise DataError(path, f"finding {i} lacks {', '.join(missing)}")
    return data


def findings_table(summaries: Iterable[Mapping[str, Any]]):
    """One row per finding of every family (family, finding, value, threshold, direction, met, detail)."""
    import pandas as pd

    rows = [{"family": s["family"], **{k: f.get(k) for k in ("finding", "value", "threshold", "direction", "met",
                                                              "detail")}}
            for s in summaries for f in s["findings"]]
    return pd.DataFrame(rows, columns=["family", "finding", "value", "threshold", "direction", "met", "detail"])
