"""Data-parallel training under torchrun (2 CPU processes, gloo) equals a single-process run on the same global
batches, resumes on another world size, and only rank 0 writes.

Tolerance: 1e-5 absolute on the trained model's outputs for fixed inputs and on the per-epoch losses after 10
AdamW steps (the ranks' gradients are summed in another order than one process sums its batch; measured
differences are ~1e-7). Weights are not compared one by one: the attention's key bias has an exactly zero
gradient (softmax ignores a shift shared by all keys), so Adam turns its rounding noise into steps of either sign.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuromodels.core.distributed import shard, shard_range

SCRIPT = Path(__file__).with_name("ddp_script.py")
ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5


def _run(out: Path, checkpoint: Path, max_steps: int = 0, procs: int = 1) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if procs == 1:
        cmd = [sys.executable, str(SCRIPT)]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}", str(SCRIPT)]
    done = subprocess.run(
        [*cmd, str(out), str(checkpoint), str(max_steps)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _close(a: dict, b: dict) -> None:
    """The two trained models give the same outputs on fixed inputs."""
    sys.path.insert(0, str(SCRIPT.parent))
    from ddp_script import Regressor

    x = torch.randn(64, 6, 4, generator=torch.Generator().manual_seed(5))
    outputs = []
    for state in (a, b):
        model = Regressor()
        model.load_state_dict(state)
        with torch.no_grad():
            outputs.append(model.eval()(x))
    torch.testing.assert_close(outputs[0], outputs[1], atol=TOLERANCE, rtol=0)


def test_shards_cover_the_batch_once():
    assert [shard_range(10, 3, i) for i in range(3)] == [(0, 4), (4, 7), (7, 10)]
    batch = {"x": torch.arange(10), "seed": 7, "other": torch.arange(3)}
    parts = [shard(batch, 10, 3, i) for i in range(3)]
    assert torch.cat([p["x"] for p in parts]).tolist() == list(range(10))
    assert all(p["seed"] == 7 and p["other"].tolist() == [0, 1, 2] for p in parts)


@pytest.mark.timeout(600)
def test_two_gloo_processes_equal_one_and_resume_on_another_world_size(tmp_path):
    _run(tmp_path / "single.pt", tmp_path / "single_ckpt.pt")
    _run(tmp_path / "ddp.pt", tmp_path / "ddp_ckpt.pt", procs=2)
    single, ddp = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "ddp.pt")
    assert ddp["world"] == 2
    _close(single["model"], ddp["model"])
    for a, b in zip(single["history"], ddp["history"]):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
    # only rank 0 wrote: no stray temporary files beside the outputs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # 4 steps on two processes (the kill), then the rest on one: the same weights as the uninterrupted run
    _run(tmp_path / "part.pt", tmp_path / "resume_ckpt.pt", max_steps=4, procs=2)
    _run(tmp_path / "resumed.pt", tmp_path / "resume_ckpt.pt")
    _close(single["model"], torch.load(tmp_path / "resumed.pt")["model"])
