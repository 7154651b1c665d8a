"""Benchmark utilities and the attention benchmark: a tiny run writes valid JSON; the memory measure sees
memory that is planted; the goal check reads the numbers right."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch

from neuromodels.core import bench_attention
from neuromodels.core.bench_attention import GOAL, fwd_bwd_flops, run
from neuromodels.core.benchmark import (
    environment_info,
    parse_dtype,
    peak_rss_increase,
    run_in_subprocess,
    time_call,
    time_interleaved,
)
from neuromodels.core.commands import register_bench
from neuromodels.core.errors import ConfigError
from neuromodels.core.io import read_json

MiB = 2**20


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="neuromodels")
    sub = parser.add_subparsers(dest="family", required=True)
    bench = sub.add_parser("bench")
    register_bench(bench.add_subparsers(dest="step", required=True))
    return parser.parse_args(["bench", *argv])


def _check_variant(entry: dict, length: int, batch: int, heads: int, head_dim: int) -> None:
    assert entry["time_s"] > 0 and len(entry["times_s"]) >= 1
    assert entry["time_s"] == pytest.approx(sorted(entry["times_s"])[len(entry["times_s"]) // 2])
    assert isinstance(entry["peak_memory_bytes"], int) and entry["peak_memory_bytes"] >= 0
    assert entry["peak_memory_mib"] == pytest.approx(entry["peak_memory_bytes"] / MiB)
    assert entry["tflops"] == pytest.approx(fwd_bwd_flops(batch, heads, length, head_dim) / entry["time_s"] / 1e12)


def test_tiny_cli_run_writes_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bench" / "attention.json"
    args = _parse(
        [
            "attention",
            "--lengths",
            "64,128",
            "--batch",
            "1",
            "--heads",
            "2",
            "--head-dim",
            "16",
            "--device",
            "cpu",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    assert args.lengths == [[64, 128]]
    args.func(args)
    assert "goal at L=2048: not evaluated" in capsys.readouterr().out
    result = read_json(out)  # valid JSON, written where asked
    assert [p.name for p in out.parent.iterdir()] == ["attention.json"]  # no temporary file left
    assert result["benchmark"] == "attention"
    assert result["settings"] == {
        "lengths": [64, 128],
        "batch": 1,
        "heads": 2,
        "head_dim": 16,
        "dtype": "float32",
        "device": "cpu",
        "repeats": 1,
        "warmup": 1,
        "max_reference_length": None,
        "threads": 1,
        "seed": 0,
    }
    env = result["environment"]
    assert env["torch"] == torch.__version__ and env["torch_threads"] == 1 and env["device"] == "cpu"
    assert {"timing", "memory", "flops", "ratios", "ours", "reference"} <= set(result["method"])
    assert "fresh Python interpreter" in result["method"]["memory"]
    assert set(result["sdpa_kernel"]) == {"no_mask", "key_mask", "causal"}
    assert [row["length"] for row in result["results"]] == [64, 128]
    for row in result["results"]:
        ours, ref = row["ours"], row["reference"]
        for entry in (ours, ref):
            _check_variant(entry, row["length"], 1, 2, 16)
            assert len(entry["times_s"]) == 1
        assert row["time_ratio"] == pytest.approx(ref["time_s"] / ours["time_s"])
        assert row["memory_ratio"] == pytest.approx(ours["peak_memory_bytes"] / ref["peak_memory_bytes"])
        assert row["score_matrix_bytes"] == 2 * row["length"] ** 2 * 4
    assert result["goal"]["met"] is None and result["goal"]["length"] == GOAL["length"]


def test_max_reference_length_skips_the_reference_above_it() -> None:
    result = run(
        lengths=(16, 32),
        batch=1,
        heads=1,
        head_dim=8,
        device="cpu",
        repeats=2,
        warmup=0,
        max_reference_length=16,
        threads=1,
    )
    short, long = result["results"]
    assert short["reference"] is not None and short["time_ratio"] > 0
    assert long["reference"] is None and long["time_ratio"] is None and long["memory_ratio"] is None
    assert len(long["ours"]["times_s"]) == 2
    json.dumps(result)  # serialisable as it is


def test_memory_probe_sees_the_score_matrix() -> None:
    """In a fresh process, the reference must hold at least two (B, H, L, L) fp32 matrices at once (scores
    and softmax weights); the fused path must hold far less than one."""
    kwargs = {"length": 512, "batch": 1, "heads": 8, "head_dim": 32, "dtype": "fp32"}
    score_bytes = 8 * 512 * 512 * 4  # 8 MiB
    ref = run_in_subprocess(
        "neuromodels.core.bench_attention:memory_probe", {"variant": "reference", **kwargs}, threads=1
    )
    ours = run_in_subprocess("neuromodels.core.bench_attention:memory_probe", {"variant": "ours", **kwargs}, threads=1)
    assert ref["method"] == ours["method"] == "VmHWM reset"
    assert ref["peak_bytes"] >= 2 * score_bytes
    assert ours["peak_bytes"] < score_bytes / 2


def test_peak_rss_increase_measures_a_planted_allocation() -> None:
    size = 64 * MiB
    planted = peak_rss_increase(lambda: torch.ones(size // 4))  # written, so its pages are resident
    assert planted["method"] in ("VmHWM reset", "getrusage lifetime peak")
    if planted["method"] == "VmHWM reset":
        assert size <= planted["peak_bytes"] < size + 16 * MiB
        assert peak_rss_increase(lambda: None)["peak_bytes"] < 8 * MiB
    else:
        assert planted["peak_bytes"] >= size


def test_run_in_subprocess_returns_json_and_reports_failures() -> None:
    assert run_in_subprocess("json:dumps", {"obj": {"a": [1, 2]}}) == '{"a": [1, 2]}'
    assert run_in_subprocess("torch:get_num_threads", {}, threads=1) == 1
    with pytest.raises(RuntimeError, match="failed in a subprocess"):
        run_in_subprocess("json:loads", {"s": "not json"})
    with pytest.raises(ValueError, match="package.module:function"):
        run_in_subprocess("json.dumps", {})


def test_timers_count_calls_and_interleave() -> None:
    calls: list[str] = []
    timing = time_call(lambda: calls.append("a"), repeats=3, warmup=2)
    assert len(calls) == 5 and timing.repeats == 3 and len(timing.times_s) == 3
    assert timing.min_s <= timing.median_s <= timing.max_s
    calls.clear()
    timings = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] + ["a", "b"] * 3  # warm-ups, then turns
    assert set(timings) == {"a", "b"} and all(len(t.times_s) == 3 for t in timings.values())
    with pytest.raises(ValueError):
        time_call(lambda: None, repeats=0)


def test_goal_block_reads_the_numbers() -> None:
    def rows(speedup: float, memory_ratio: float) -> list[dict]:
        return [{"length": 2048, "reference": {"time_s": 1.0}, "time_ratio": speedup, "memory_ratio": memory_ratio}]

    cpu = torch.device("cpu")
    assert bench_attention._goal_block(rows(3.5, 0.1), cpu)["met"] is True
    missed = bench_attention._goal_block(rows(2.9, 0.1), cpu)
    assert missed["met"] is False and missed["speedup_met"] is False and missed["memory_met"] is True
    assert bench_attention._goal_block(rows(4.0, 0.3), cpu)["memory_met"] is False
    assert bench_attention._goal_block([{"length": 1024, "reference": None}], cpu)["met"] is None


def test_helpers() -> None:
    assert parse_dtype("bf16") is torch.bfloat16 and parse_dtype("float32") is torch.float32
    with pytest.raises(ConfigError, match="dtype"):
        parse_dtype("int8")
    assert fwd_bwd_flops(2, 8, 1024, 64) == 3.5 * 4 * 2 * 8 * 1024 * 1024 * 64
    env = environment_info("cpu")
    assert env["torch_threads"] == torch.get_num_threads() and env["cpu_count"] >= 1
    with pytest.raises(SystemExit):
        _parse(["attention", "--lengths", "0"])
    assert _parse(["attention", "--lengths", "64", "128,256"]).lengths == [[64], [128, 256]]


@pytest.mark.gpu
def test_tiny_cuda_run_reports_allocator_peaks_and_tflops(cuda_device: torch.device, tmp_path: Path) -> None:
    result = run(
        lengths=(128, 256), batch=1, heads=2, head_dim=64, device=cuda_device, repeats=2, out_path=tmp_path / "a.json"
    )
    assert result["settings"]["dtype"] == "bfloat16"
    assert result["environment"]["device_name"] == torch.cuda.get_device_name(cuda_device)
    assert "max_memory_allocated" in result["method"]["memory"]
    for row in result["results"]:
        assert row["reference"]["peak_memory_bytes"] >= 2 * 2 * row["length"] ** 2  # bf16 score matrix x2
        assert math.isfinite(row["ours"]["tflops"]) and row["ours"]["tflops"] > 0
