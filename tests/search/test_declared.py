"""eccNET on a declared model (neuromodels.search.declared): a user's CNN named in search.models, and the family's
own VGG backbone built through its declaration with the numbers unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.cli import main
from neuromodels.core.errors import ConfigError
from neuromodels.search.data import read_trials, write_trials
from neuromodels.search.declared import (
    DeclaredEccNet,
    EccentricityBlur,
    build_declared,
    declared_backbone,
    search_layers,
)
from neuromodels.search.evaluate import analyze, condition_slopes, run_model
from neuromodels.search.experiments import make_trials
from neuromodels.search.models import VGGBackbone
from neuromodels.search.train import load_backbone, save_backbone, untrained_copy

CNN_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(2 * width * 4 * 4, 10)  # takes 32 x 32 images only

    def forward(self, x):
        x = self.act(self.conv3(self.act(self.conv2(self.act(self.conv1(x))))))
        return self.head(x.flatten(1))


def build(width=8):
    return Net(width)
"""


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    root = tmp_path_factory.mktemp("trials")
    write_trials(root, make_trials(["lighting", "curvature"], 1, seed=4, px_per_deg=6.0))
    return read_trials(root)


@pytest.fixture
def user(tmp_path):
    (tmp_path / "cnn.py").write_text(CNN_FILE)
    entry = {"kind": "vision", "builder": f"{tmp_path}/cnn.py:build", "untrained_options": {}, "image_size": 32}
    return {"tinycnn": entry}


def _vgg_file(tmp_path: Path) -> Path:
    from neuromodels.search.train import TrainedBackbone

    torch.manual_seed(3)
    model = VGGBackbone((8, 12, 16, 24, 32), (1, 1, 2, 2, 2)).eval()
    return save_backbone(tmp_path / "upright.pt", TrainedBackbone(model, "upright", {}))


def test_eccnets_backbone_through_the_declaration_gives_the_same_numbers(tmp_path, trials) -> None:
    """The family's own backbone built through ``search_vgg``'s declaration: eccNET, its ablations and the
    untrained-backbone control give per-trial fixations and sequences (so slopes) equal to the backbone loaded
    as before."""
    path = _vgg_file(tmp_path)
    old = load_backbone(path)
    new = declared_backbone(path, seed=0)
    for kind in ("eccnet", "eccnet_no_ecc", "ivsn"):
        a = run_model(kind, trials, old, dog=True, empty_cells=True)
        b = run_model(kind, trials, new, dog=True, empty_cells=True)
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(condition_slopes(a), condition_slopes(b))
    a = run_model("untrained_backbone", trials, untrained_copy(old, 5), dog=True, empty_cells=True)
    b = run_model(
        "untrained_backbone", trials, declared_backbone(path, seed=5, untrained=True), dog=True, empty_cells=True
    )
    pd.testing.assert_frame_equal(a, b)
    trained = run_model("eccnet", trials, new, dog=True, empty_cells=True)
    assert not np.array_equal(a["sequence"], trained["sequence"])  # the copy is another network


def test_a_declared_cnn_searches_on_its_pyramid(user, trials) -> None:
    model = build_declared("tinycnn", user, seed=0)
    layers = search_layers(model)
    assert layers.pyramid == ("conv1", "conv2", "conv3") and layers.strides == (2, 4, 8)
    assert layers.top_down == ("conv1", "conv2", "conv3")
    table = run_model("tinycnn", trials, declared=model, dog=True, empty_cells=True)
    assert (table["model"] == "tinycnn").all() and len(table) == len(trials.table)
    assert (table["search_layers"] == "conv1 conv2 conv3").all()
    assert (table["fixations"] >= 1).all()
    again = run_model("tinycnn", trials, declared=build_declared("tinycnn", user, seed=0), dog=True, empty_cells=True)
    pd.testing.assert_frame_equal(table, again)  # same seed, same numbers
    # the display runs at its own size (not the declared 32 px): the head, which takes 32 px only, never runs
    h, w = trials.image(0).shape[:2]
    assert (h, w) != (32, 32)


def test_the_pyramid_of_the_projects_vgg_is_its_five_blocks(tmp_path, monkeypatch, trials) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "results/search/seed0/backbones"
    path.mkdir(parents=True)
    _vgg_file(path)
    model = build_declared("search_vgg", seed=0)
    layers = search_layers(model)
    assert layers.pyramid == tuple(f"blocks.{i}" for i in range(5)) and layers.strides == (1, 2, 4, 8, 16)
    assert layers.top_down == ("blocks.2", "blocks.3", "blocks.4")  # eccNET's conv3_3, conv4_3, conv5_3
    table = run_model("search_vgg", trials, declared=model)
    assert (table["fixations"] >= 1).all()


def test_eccentricity_blur_is_identity_in_the_fovea_and_averages_outside() -> None:
    x = torch.randn(1, 2, 20, 20)
    assert torch.equal(EccentricityBlur(20, 20, 0.0, 4.0)(x, torch.tensor([[10.0, 10.0]])), x)
    blur = EccentricityBlur(20, 20, 0.32, 4.0)
    assert blur.sizes[0] == 1 and max(blur.sizes) > 1 and all(k % 2 for k in blur.sizes)
    out = blur(x, torch.tensor([[10.0, 10.0]]))
    assert torch.equal(out[..., 10, 10], x[..., 10, 10])  # the fixated pixel is in the fovea
    assert not torch.allclose(out[..., 0, 0], x[..., 0, 0])
    flat = torch.full((1, 1, 20, 20), 0.7)
    assert torch.allclose(blur(flat, torch.tensor([[3.0, 15.0]])), flat)  # an average keeps a uniform map


def test_normalisation_follows_the_declaration(user) -> None:
    user["tinycnn"].update({"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.5], "colour": "bgr"})
    net = DeclaredEccNet(build_declared("tinycnn", user), (40, 40), 6.0)
    x = torch.rand(1, 3, 40, 40)
    want = (x.flip(1) - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.5]).view(
        1, 3, 1, 1
    )
    assert torch.allclose(net._normalise(x), want)
    assert (net.height, net.width) == (40, 40)  # padded to the deepest stride (8)


def test_unknown_or_text_or_flat_models_are_one_line(tmp_path, user) -> None:
    with pytest.raises(ConfigError, match="search.models.*not a declared model"):
        build_declared("nosuch", user)
    with pytest.raises(ConfigError, match="no dot"):
        build_declared("eccnet_mine", user)
    with pytest.raises(ConfigError, match="search needs a vision model"):
        build_declared("minilm", user)
    (tmp_path / "flat.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))\n"
    )
    user["flat"] = {"kind": "vision", "builder": f"{tmp_path}/flat.py:build", "image_size": 32}
    with pytest.raises(ConfigError, match="spatial map"):
        search_layers(build_declared("flat", user))


def test_cli_run_and_analyze_carry_the_declared_name(tmp_path, user, capsys) -> None:
    """The run step takes a declared name beside the family's models; the analysis's tables carry its rows and
    the summary its statistics (``<name>.<metric>``) and the layers it used (notes)."""
    tiny = ["--preset", "tiny", "--threads", "1"]
    trials = tmp_path / "trials"
    settings = json.dumps({"n_trials": 1})
    assert main(["search", "stimuli", "--out-dir", str(trials), "--params", settings, *tiny]) == 0
    outs = [tmp_path / "tinycnn_declared.csv", tmp_path / "chance_none.csv"]
    code = main(
        [
            "search",
            "run",
            "--model",
            "tinycnn",
            "chance",
            "--trials",
            str(trials),
            "--diet",
            "declared",
            "none",
            "--out",
            *map(str, outs),
            "--models",
            json.dumps(user),
            "--params",
            settings,
            *tiny,
        ]
    )
    assert code == 0
    assert "pyramid conv1 (stride 2), conv2 (stride 4), conv3 (stride 8)" in capsys.readouterr().err
    summary = analyze(outs, trials, tmp_path / "out")
    indices = pd.read_csv(tmp_path / "out" / "indices.csv")
    assert set(indices["model"]) == {"tinycnn", "chance"}
    assert "tinycnn.mean_index" in summary["statistics"]["0"]
    assert summary["notes"]["declared_models"]["tinycnn"]["search_layers"] == ["conv1", "conv2", "conv3"]
    # the declared model adds its rows and statistics; every other statistic is what it is without it
    alone = analyze(outs[1:], trials, tmp_path / "alone")
    assert "declared_models" not in alone["notes"]
    assert {k: v for k, v in summary["statistics"]["0"].items() if not k.startswith("tinycnn.")} == alone["statistics"][
        "0"
    ]
    capsys.readouterr()
    code = main(["search", "run", "--model", "nosuch", "--trials", str(trials), "--out", str(outs[0]), *tiny])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nosuch" in err


def test_default_models_give_no_declared_notes(tmp_path) -> None:
    """Without a declared model the analysis's tables have no layer columns and its notes no declared_models."""
    runs = tmp_path / "chance_none.csv"
    pd.DataFrame(
        {
            "model": "chance",
            "diet": "none",
            "seed": 0,
            "trial_id": np.arange(4),
            "experiment": "lighting",
            "condition": ["top_down", "top_down", "bottom_up", "bottom_up"],
            "set_size": [1, 6, 1, 6],
            "fixations": [1.0, 3.0, 1.0, 3.5],
            "found": True,
        }
    ).to_csv(runs, index=False)
    from neuromodels.search.evaluate import _declared_layers, _read_runs

    assert _declared_layers(_read_runs([runs], 0)) == {}
