"""Benchmark of preprocessing at real scale: peak memory and time of the targets step on a long recording.

A simulated recording is written to disk in the Brain Treebank release layout (one chunked float32 H5 dataset per
channel, written piece by piece so the writer never holds a channel of the whole recording twice), with its words,
scene cuts, triggers and labels. The targets step (channel-by-channel preprocessing, both alignments) then runs in
a fresh interpreter; its peak resident memory is the kernel's lifetime peak of that process
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which counts numpy, h5py and MNE buffers, unlike tracemalloc).
The baseline is the whole-recording path (every channel in one float64 MNE Raw, as before): too large to run at
full size (it would need the float64 recording several times over), so both paths are measured on a short
recording of the same channel count in the same process, and the full-size need of the whole path is
extrapolated from its measured peak per byte of float64 data.
"""

from __future__ import annotations

import json
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.runtime import get_logger

log = get_logger(__name__)
GIB = 1024**3
PIECE = 1 << 22  # samples generated and written at a time


def write_long_recording(
    root: str | Path,
    n_channels: int = 130,
    duration: float = 7200.0,
    sfreq: float = 2048.0,
    contacts_per_shaft: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """One subject, one trial of ``duration`` s in the release layout (no rate attribute when ``sfreq`` is
    2048 Hz); returns sizes. Signal: white noise with a 60 Hz line, and high gamma that rises after word onsets on
    every tenth channel."""
    import h5py

    from ..core.io import write_json, write_table

    root = Path(root)
    gen = np.random.default_rng(seed)
    n = int(duration * sfreq)
    labels = [f"S{c // contacts_per_shaft:02d}x{c % contacts_per_shaft + 1}" for c in range(n_channels)]
    movie = "long-movie"
    starts = np.cumsum(gen.uniform(0.3, 0.5, int(duration / 0.4) + 10)) + 2.0
    starts = starts[starts < duration - 3.0]
    sentence = np.cumsum(gen.random(len(starts)) < 0.15)
    words = pd.DataFrame(
        {
            "text": "word",
            "start": np.round(starts, 4),
            "end": np.round(starts + 0.25, 4),
            "is_onset": np.r_[1, np.diff(sentence) > 0].astype(int),
        }
    )
    cuts = pd.DataFrame({"time": np.round(np.arange(0.5, duration - 3.0, 3.5), 4)})
    write_table(root / "transcripts" / movie / "manual" / "word-times-stanford.csv", words)
    write_table(root / "transcripts" / movie / "scene-cuts.csv", cuts)
    write_json(root / "electrode_labels" / "sub_1" / "electrode_labels.json", labels)
    write_table(
        root / "localization" / "sub_1" / "depth-wm.csv",
        pd.DataFrame(
            {
                "Electrode": labels,
                "DesikanKilliany": "ctx-lh-superiortemporal",
                "MNI_x": -50.0,
                "MNI_y": np.linspace(-40, 0, n_channels),
                "MNI_z": 5.0,
            }
        ),
    )
    trig = np.arange(0.0, duration - 1.0, 10.0)
    write_table(
        root / "subject_timings" / "sub_1_trial000_timings.csv",
        pd.DataFrame({"movie_time": trig, "index": np.round(trig * sfreq).astype(int)}),
    )
    write_json(root / "subject_metadata" / "sub_1_trial000_metadata.json", {"filename": movie})
    onset_samples = np.round(starts * sfreq).astype(np.int64)
    t0 = time.perf_counter()
    path = root / "all_subject_data" / "sub_1_trial000.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        if sfreq != 2048.0:
            h5.attrs["sampling_rate"] = float(sfreq)
        group = h5.create_group("data")
        for c in range(n_channels):
            ds = group.create_dataset(f"electrode_{c}", shape=(n,), dtype=np.float32, chunks=(1 << 16,))
            for lo in range(0, n, PIECE):
                hi = min(n, lo + PIECE)
                x = gen.standard_normal(hi - lo, dtype=np.float32) * 10.0
                x += (5.0 * np.sin(2 * np.pi * 60.0 * np.arange(lo, hi) / sfreq)).astype(np.float32)
                if c % 10 == 0:  # high gamma doubles for 0.3 s after each word onset
                    for on in onset_samples[(onset_samples >= lo - int(0.4 * sfreq)) & (onset_samples < hi)]:
                        a, b = max(on + int(0.1 * sfreq), lo), min(on + int(0.4 * sfreq), hi)
                        if a < b:
                            x[a - lo : b - lo] *= 2.0
                ds[lo:hi] = x
    return {
        "channels": n_channels,
        "samples": n,
        "duration_s": duration,
        "sfreq": sfreq,
        "file_bytes": path.stat().st_size,
        "float32_bytes": n * n_channels * 4,
        "float64_bytes": n * n_channels * 8,
        "write_seconds": round(time.perf_counter() - t0, 1),
        "words": len(words),
        "scene_cuts": len(cuts),
    }


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def measure_chunked(root: str) -> dict[str, Any]:
    """The targets step as the pipeline runs it (both alignments); run in a fresh interpreter."""
    from .preprocess import PreprocessSettings
    from .targets import build_all_targets

    before = _peak_rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    built = build_all_targets(root, ("language", "vision"), PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05)
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "peak_rss_bytes": _peak_rss_bytes(),
        "rss_after_imports_bytes": before,
        "events": {a: int(len(t.events)) for a, t in built.items()},
        "electrodes": int(built["language"].Y.shape[1]),
    }


def measure_whole(root: str) -> dict[str, Any]:
    """The whole-recording path (every channel in one float64 MNE Raw); run in a fresh interpreter."""
    from .data import read_trial
    from .preprocess import PreprocessSettings, event_bins, preprocess_with_log
    from .targets import movie_events

    before = _peak_rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    trial = read_trial(root, 1, 0)
    raw, _ = preprocess_with_log(trial.raw, PreprocessSettings())
    for alignment in ("language", "vision"):
        event_bins(raw, movie_events(trial, alignment)["onset"].to_numpy())
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "peak_rss_bytes": _peak_rss_bytes(),
        "rss_after_imports_bytes": before,
    }


def run_memory_benchmark(
    out: str | Path,
    workdir: str | Path,
    n_channels: int = 130,
    duration: float = 7200.0,
    sfreq: float = 2048.0,
    baseline_duration: float = 120.0,
    seed: int = 0,
    keep: bool = False,
) -> dict[str, Any]:
    """Write the long recording, measure the targets step on it, and both paths on a short one; write JSON."""
    from ..core.benchmark import environment_info, run_in_subprocess, write_result

    workdir = Path(workdir)
    full, short = workdir / "full", workdir / "short"
    for folder in (full, short):
        shutil.rmtree(folder, ignore_errors=True)
    log.info("writing a %.0f s, %d-channel recording at %.0f Hz under %s", duration, n_channels, sfreq, full)
    sizes = write_long_recording(full, n_channels, duration, sfreq, seed=seed)
    log.info(
        "written in %.0f s (%.2f GiB); preprocessing it channel by channel",
        sizes["write_seconds"],
        sizes["file_bytes"] / GIB,
    )
    target = "neuromodels.seeg.memory_bench"
    chunked = run_in_subprocess(f"{target}:measure_chunked", {"root": str(full)}, threads=1, timeout_s=7200)
    log.info("channel by channel: %.0f s, peak %.2f GiB", chunked["seconds"], chunked["peak_rss_bytes"] / GIB)
    small = write_long_recording(short, n_channels, baseline_duration, sfreq, seed=seed)
    base_chunked = run_in_subprocess(f"{target}:measure_chunked", {"root": str(short)}, threads=1, timeout_s=3600)
    base_whole = run_in_subprocess(f"{target}:measure_whole", {"root": str(short)}, threads=1, timeout_s=3600)
    per_byte = (base_whole["peak_rss_bytes"] - base_whole["rss_after_imports_bytes"]) / max(small["float64_bytes"], 1)
    whole_estimate = base_whole["rss_after_imports_bytes"] + per_byte * sizes["float64_bytes"]
    report = {
        "benchmark": "seeg targets step (preprocessing + event bins, both alignments) at real scale",
        "recording": sizes,
        "channel_by_channel": {**chunked, "peak_gib": round(chunked["peak_rss_bytes"] / GIB, 3)},
        "limit_gib": 4.0,
        "within_limit": bool(chunked["peak_rss_bytes"] <= 4 * GIB),
        "baseline_short_recording": {
            "duration_s": baseline_duration,
            "recording": small,
            "channel_by_channel": base_chunked,
            "whole_recording": base_whole,
            "peak_ratio_whole_over_channel_by_channel": round(
                base_whole["peak_rss_bytes"] / max(base_chunked["peak_rss_bytes"], 1), 2
            ),
        },
        "whole_recording_estimate_at_full_size_gib": round(whole_estimate / GIB, 1),
        "whole_recording_estimate_method": "peak above imports per byte of float64 data on the short recording, "
        "times the float64 size of the full recording",
        "memory_method": "resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh interpreter per measurement",
        "machine": {**environment_info(), "machine": platform.machine()},
    }
    write_result(out, report)
    log.info(
        "%s",
        json.dumps(
            {k: report[k] for k in ("channel_by_channel", "within_limit", "whole_recording_estimate_at_full_size_gib")}
        ),
    )
    if not keep:
        shutil.rmtree(full, ignore_errors=True)
        shutil.rmtree(short, ignore_errors=True)
    return report
