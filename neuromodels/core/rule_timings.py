"""Where the DAG's time goes: Snakemake's per-job ``benchmark:`` files summed per rule.

Every rule writes ``results/benchmarks/rules/<rule>[_<wildcards>].tsv`` (Snakemake's benchmark format: ``s``,
``h:m:s``, ``max_rss``, ``cpu_time``, ...). :func:`rule_table` sums them per rule; :func:`dag_timing` adds the
run's wall time (from the first job's start to the last job's end, the start being the file's modification
time less its ``s``) and the share of the cores the jobs kept busy.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataError
from .io import PathLike


def read_benchmark(path: PathLike) -> dict[str, Any]:
    """One Snakemake benchmark TSV (one row per repeat; the first is taken) with its end time."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(path, f"not a Snakemake benchmark file ({exc})") from None
    if table.empty or "s" not in table.columns:
        raise DataError(path, "not a Snakemake benchmark file (no 's' column)")
    row = table.iloc[0]
    end = os.path.getmtime(path)
    return {
        "job": path.stem,
        "s": float(row["s"]),
        "cpu_time": float(row.get("cpu_time", float("nan"))),
        "max_rss_mb": float(row.get("max_rss", float("nan"))),
        "start": end - float(row["s"]),
        "end": end,
    }


def rule_of(job: str, rules: Iterable[str]) -> str:
    """The rule a job file stem belongs to: the longest rule name it starts with (stems are
    ``<rule>`` or ``<rule>_<wildcards>``)."""
    matches = [r for r in rules if job == r or job.startswith(f"{r}_")]
    return max(matches, key=len) if matches else job


def rule_table(paths: Iterable[PathLike], rules: Iterable[str] = ()) -> pd.DataFrame:
    """Per rule: jobs, summed and longest wall seconds, summed CPU seconds, peak RSS, share of all job time."""
    rules = list(rules)
    jobs = pd.DataFrame([read_benchmark(p) for p in paths])
    if jobs.empty:
        return pd.DataFrame(columns=["rule", "jobs", "seconds", "longest_s", "cpu_seconds", "max_rss_mb", "share"])
    jobs["rule"] = [rule_of(j, rules) for j in jobs["job"]]
    table = jobs.groupby("rule").agg(
        jobs=("job", "size"),
        seconds=("s", "sum"),
        longest_s=("s", "max"),
        cpu_seconds=("cpu_time", "sum"),
        max_rss_mb=("max_rss_mb", "max"),
    )
    table["share"] = table["seconds"] / table["seconds"].sum()
    return table.sort_values("seconds", ascending=False).reset_index()


def dag_timing(paths: Iterable[PathLike], rules: Iterable[str] = (), cores: int | None = None) -> dict[str, Any]:
    """The run as a whole: wall seconds (first start to last end), summed job seconds, busy share of the cores."""
    paths = list(paths)
    jobs = [read_benchmark(p) for p in paths]
    table = rule_table(paths, rules)
    if not jobs:
        return {"jobs": 0, "wall_seconds": 0.0, "job_seconds": 0.0, "rules": []}
    wall = max(j["end"] for j in jobs) - min(j["start"] for j in jobs)
    job_seconds = sum(j["s"] for j in jobs)
    out = {
        "jobs": len(jobs),
        "wall_seconds": wall,
        "job_seconds": job_seconds,
        "cpu_seconds": float(table["cpu_seconds"].sum()),
        "cores": cores,
        "core_busy_share": (job_seconds / (wall * cores)) if cores and wall > 0 else None,
        "rules": table.to_dict(orient="records"),
    }
    return out
