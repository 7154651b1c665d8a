"""The benchmark's two search loops make the very same fixations; its JSON carries the ratio (never asserted)."""

from __future__ import annotations

from pathlib import Path

from neuromodels.core.io import read_json
from neuromodels.search.bench import run_benchmark
from neuromodels.search.presets import get_preset


def test_bench_writes_both_variants_with_identical_fixations(tmp_path: Path) -> None:
    preset = get_preset("tiny", {"px_per_deg": 3.0, "bench_repeats": 1, "bench_trials": 1})
    run_benchmark(tmp_path / "search.json", preset=preset, experiments=("lighting",))
    result = read_json(tmp_path / "search.json")
    assert result["same_fixations"] is True
    assert set(result["variants"]) == {"vectorised", "per_ring"}
    assert result["speedup_vectorised_over_per_ring"] > 0 and result["fixations"] > 0
