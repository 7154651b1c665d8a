"""Every family's trainer step, timed per device by ``neuromodels bench trainers``."""

from __future__ import annotations

import json
import math

import pytest
import torch

from neuromodels.bench_trainers import TRAINERS, run
from neuromodels.core.errors import ConfigError


@pytest.fixture(scope="module")
def cpu_record(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "trainers.json"
    record = run(out, devices=["cpu"], preset="tiny", steps=1, warmup=1)
    return record, out


def test_every_trainer_steps_on_the_cpu_and_the_record_is_written(cpu_record):
    record, out = cpu_record
    assert json.loads(out.read_text())["trainers"].keys() == TRAINERS.keys()
    for name, entry in record["trainers"].items():
        cpu = entry["configs"]["cpu/fp32"]
        assert cpu["samples_per_second"] > 0, name
        assert math.isfinite(cpu["first_loss"]) and cpu["first_loss"] > 0, name
        assert "speedup_over_cpu" not in cpu


def test_the_same_seed_gives_the_same_first_loss(cpu_record):
    record, _ = cpu_record
    again = run(None, devices=["cpu"], preset="tiny", steps=1, warmup=1, trainers=["search.vgg", "gaze.oat"])
    for name, entry in again["trainers"].items():
        assert (
            entry["configs"]["cpu/fp32"]["first_loss"] == record["trainers"][name]["configs"]["cpu/fp32"]["first_loss"]
        ), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback on machines without a GPU")
def test_cuda_without_a_gpu_is_noted_not_an_error():
    record = run(None, devices=["cpu", "cuda"], preset="tiny", steps=1, warmup=1, trainers=["search.vgg"])
    assert list(record["trainers"]["search.vgg"]["configs"]) == ["cpu/fp32"]
    assert any("cuda" in note for note in record["notes"])
    assert record["gpu"] is None


def test_an_unknown_trainer_is_one_config_error():
    with pytest.raises(ConfigError, match="unknown"):
        run(None, devices=["cpu"], trainers=["nope"])


@pytest.mark.gpu
def test_every_trainer_runs_on_cuda_in_fp32_and_bf16(cuda_device, tmp_path):
    """Each trainer's step runs on the GPU in fp32 and under bf16 autocast, from the same initial weights and
    batch as on the CPU; its first loss stays close to the CPU's (not equal: TF32 convolutions, bf16, and the
    random draws some losses make on the device's own generator)."""
    record = run(tmp_path / "trainers.json", devices=["cpu", "cuda"], preset="tiny", steps=2, warmup=1)
    assert record["gpu"] == torch.cuda.get_device_name(cuda_device)
    for name, entry in record["trainers"].items():
        for key in ("cuda/fp32", "cuda/bf16"):
            cfg = entry["configs"][key]
            assert math.isfinite(cfg["first_loss"]), (name, key)
            assert cfg["first_loss_relative_difference_to_cpu"] < 0.25, (name, key, cfg["first_loss"])
