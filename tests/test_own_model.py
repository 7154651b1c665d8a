"""Bring your own model: a small CNN nobody here trained, declared once (with the packaged MiniLM as its text
side), named in every family's model list, found in every family's results.

The CNN below is what the declaration builds (``builder: tests/test_own_model.py:build``); the tiny DAG of
``tests/conftest.py`` declares it (:data:`OWN_MODEL`) and names it in the SEEG, Brain-Score, search and gaze
lists, so the one end-to-end run of the fast suite covers it; decoding takes it as its targets in a run of its
own here (targets change every decoding number, so the shared run keeps the project's CLIP targets).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve()
NAME = "owncnn"


class SmallCNN(nn.Module):
    """Three strided convolutions and a linear head: spatial maps at three sizes, a 16-d output."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(4 * width, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv3(self.act(self.conv2(self.act(self.conv1(x))))))
        return self.head(x.mean((2, 3)))


def build(width: int = 8) -> nn.Module:
    return SmallCNN(width)


# The declaration (the tiny DAG's config and the decoding run below): untrained_options make its random-init
# copy available (an untrained CNN is the "trained" model here; the copy draws other weights).
OWN_MODEL = {
    NAME: {
        "kind": "vision_text",
        "builder": f"{HERE}:build",
        "options": {"width": 8},
        "untrained_options": {"width": 8},
        "text": "minilm",
        "image_size": 32,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
}


def test_the_check_command_lists_the_layers_of_the_declared_model(tmp_path, capsys):
    import yaml

    from neuromodels.cli import main

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"models": OWN_MODEL}))
    report = tmp_path / "check.json"
    rc = main(["models", "check", NAME, "--models", str(config), "--spatial", "--device", "cpu", "--out", str(report)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "encoder.layer.5" in out and "search reads: conv1, conv2, conv3" in out
    got = json.loads(report.read_text())
    image = [r for r in got["layers"] if r["tower"] == "image"]
    assert [r["layer"] for r in image] == ["conv1", "conv2", "conv3", "head"]
    assert [r["shape"] for r in image] == [[8, 16, 16], [16, 8, 8], [32, 4, 4], [16]]
    assert got["deterministic"] and got["random_init_copy"]
    # what cannot work: one line naming the key
    bad = {NAME: {**OWN_MODEL[NAME], "layers": ["conv9"]}}
    config.write_text(yaml.safe_dump({"models": bad}))
    assert main(["models", "check", NAME, "--models", str(config), "--device", "cpu"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line[:2].isdigit()]  # log lines aside
    assert len(err) == 1 and f"models.{NAME}.layers" in err[0] and "conv9" in err[0], err


def test_every_family_of_the_tiny_dag_has_the_declared_models_rows(tiny_run):
    import pandas as pd

    from tests.conftest import TINY_SEEDS

    results = tiny_run / "results"
    # SEEG: the model and its random-init copy encoded and evaluated like the project's networks
    seeg = pd.read_csv(results / "seeg" / f"seed{TINY_SEEDS[0]}" / "models.csv")
    assert {NAME, f"{NAME}-random"} <= set(seeg["model"]), sorted(set(seeg["model"]))
    # Brain-Score: its rows among the variants (and its random-init copy), scored on V4 and IT
    variants = pd.read_csv(results / "brainscore" / "variants.csv")
    assert {NAME, f"{NAME}-random"} <= set(variants["variant"]), sorted(set(variants["variant"]))
    for seed in TINY_SEEDS:
        neural = pd.read_csv(results / "brainscore" / NAME / f"seed{seed}" / "neural.csv")
        assert set(neural["variant"]) == {NAME} and {"V4", "IT"} <= set(neural["region"])
    # search: eccNET on its spatial layers, indices per experiment
    indices = pd.read_csv(results / "search" / "indices.csv")
    assert NAME in set(indices["model"])
    # gaze: OAT with its crop features as object tokens, on every split
    metrics = pd.read_csv(results / "gaze" / "metrics.csv")
    assert NAME in set(metrics["model"])
    # and its per-seed numbers in every family's summary (beside the claims' statistics, read by no claim)
    for family in ("seeg", "brainscore", "search", "gaze"):
        summary = json.loads((results / family / "summary.json").read_text())
        for seed in TINY_SEEDS:
            names = summary["statistics"][str(seed)]
            assert any(k.startswith(f"{NAME}.") for k in names), (family, seed, sorted(names)[:10])


def test_decoding_takes_the_declared_model_as_its_targets(tmp_path):
    """`decoding.targets.image: owncnn`: the targets job embeds every stimulus with the declared CNN (its 16-d
    output), names it in the file the summary's notes read, and needs no project encoder (none is trained).
    The targets job is run alone: everything after it reads the file as it reads CLIP's (the tiny DAG)."""
    import yaml

    from neuromodels.decoding.targets import read_targets
    from tests.conftest import ROOT, run_snakemake, scratch_workdir

    work = scratch_workdir(tmp_path)
    config = work / "own.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "preset": "tiny",
                "device": "cpu",
                "seeds": [0],
                "models": OWN_MODEL,
                "decoding": {"targets": {"image": NAME, "text": "minilm"}, "methods": ["linear_adapter", "ridge"]},
            }
        )
    )
    out = run_snakemake(
        "--profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        "--cores",
        "2",
        "data/decoding/targets.h5",
        "--configfile",
        str(config),
        cwd=work,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    targets = read_targets(work / "data" / "decoding" / "targets.h5")
    assert (targets.meta["image_encoder"], targets.meta["text_encoder"]) == (NAME, "minilm")
    assert targets.image.shape[1] == 16 and targets.text is not None and targets.text.shape[1] == 384
    assert len(targets.stimulus_id) == targets.image.shape[0] > 0
    assert not (work / "results" / "networks").exists()  # no project encoder was needed
