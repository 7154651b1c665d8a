"""The decoding benchmark runs at the tiny size and writes a complete record."""

from __future__ import annotations

import json

from neuromodels.decoding.bench import run_benchmark


def test_bench_writes_samples_per_second_and_environment(tmp_path):
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "decoding.json"
    run_benchmark(out, sizes=["tiny"], steps=2, device="cpu")
    rec = json.loads(out.read_text())
    (row,) = rec["results"]
    assert row["size"] == "tiny" and row["precision"] == "fp32"
    assert row["mindbridge_samples_per_s"] > 0 and row["linear_samples_per_s"] > 0
    assert row["ratio_mindbridge_over_linear"] == row["mindbridge_samples_per_s"] / row["linear_samples_per_s"]
    assert row["mindbridge_timing"]["repeats"] == 2
    assert rec["environment"]["device"] == "cpu" and "torch" in rec["environment"]
