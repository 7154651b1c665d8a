"""Declared models as OAT's object tokens (gaze.models, issue 24): with none declared OAT and its image-blind
control give the numbers they gave before the setting existed; a small CNN defined here, declared as a user
would, gives an OAT variant trained and scored as OAT is, whose rows and statistics carry its name; its crop
features are computed once and cached; bad names are one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.cli import main
from neuromodels.core.errors import ConfigError, DataError
from neuromodels.gaze.data import object_crops, read_dataset, split_trials
from neuromodels.gaze.declared import ObjectFeatures, check_names, compute_object_features, declared_object_features
from neuromodels.gaze.evaluate import evaluate_split, seed_summary
from neuromodels.gaze.presets import get_preset
from neuromodels.gaze.simulate import SimulationSettings, simulate_dataset
from neuromodels.gaze.train import load_model, save_model, train_oat
from neuromodels.networks.declared import build_model, lookup

CNN_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(4 * width, 6)

    def forward(self, x):
        x = self.act(self.conv3(self.act(self.conv2(self.act(self.conv1(x))))))
        return self.head(x.mean((2, 3)))


def build(width=4):
    return Net(width)
"""

# the settings the numbers below were recorded with, by the code before gaze.models existed
PRESET = get_preset("tiny", {"displays_per_layout": 3, "viewers": 2, "epochs": 2, "pe_fit_steps": 300, "n_samples": 3})
BEFORE = {
    False: {
        "loss": [3.3289514780044556, 3.231637954711914],
        "weights": 5139.074395412757,
        "rows": {
            "oat_greedy": [0.0, 7.0, 0.8493442041829138],
            "oat_sampled": [0.12901849612375926, 11.0, 0.4719838933797952],
            "random": [0.09090909090909091, 10.583333333333332, 0.5493908468441575],
            "centre_bias": [0.08333333333333333, 10.416666666666666, 0.42794799993441757],
            "nearest": [0.22727272727272727, 10.25, 0.7922013470400566],
            "similarity": [0.1893939393939394, 9.583333333333334, 0.7922013470400566],
            "guided_walk": [0.22310606060606059, 14.333333333333332, 0.5209571413306558],
            "human_ceiling": [0.4357142857142857, 5.5, 0.32394323952788806],
        },
    },
    True: {
        "loss": [3.3242627382278442, 3.23496675491333],
        "weights": 5138.593179347819,
        "rows": {
            "image_blind_greedy": [0.0, 7.0, 0.8493442041829138],
            "image_blind": [0.12901849612375926, 11.0, 0.4719838933797952],
        },
    },
}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gaze_declared")
    simulate_dataset(
        folder / "d", SimulationSettings(displays_per_layout=3, viewers=2, cell_px=12, n_products=30), seed=1
    )
    (folder / "cnn.py").write_text(CNN_FILE)
    return folder


def _user(folder: Path) -> dict:
    return {"tinycnn": {"kind": "vision", "builder": f"{folder / 'cnn.py'}:build", "image_size": 16}}


@pytest.mark.parametrize("blind", [False, True], ids=["oat", "image_blind"])
def test_without_declared_models_oat_gives_the_numbers_it_gave_before(small: Path, blind: bool) -> None:
    """No model declared: OAT (and its image-blind control) train and score exactly as before gaze.models
    existed (numbers recorded with the earlier code on the same data, seed and settings)."""
    dataset = read_dataset(small / "d")
    split = split_trials(dataset, "trials", 0)
    trained = train_oat(dataset, split, PRESET, seed=0, progress=False, image_blind=blind)
    assert trained.features is None and not hasattr(trained.model, "project")
    assert trained.config.object_features == 0 and "object_features" not in trained.meta
    table, _ = evaluate_split(trained, dataset, "trials", split, 3, PRESET.max_length, 2, seed=0)
    before = BEFORE[blind]
    assert [h["loss"] for h in trained.meta["train"]["history"]] == pytest.approx(before["loss"], rel=1e-6)
    weights = sum(float(v.double().abs().sum()) for v in trained.model.state_dict().values())
    assert weights == pytest.approx(before["weights"], rel=1e-6)
    rows = {r["model"]: [r["sequence_score"], r["edit_distance"], r["delta"]] for r in table.to_dict("records")}
    assert list(rows) == list(before["rows"])
    for name, values in before["rows"].items():
        assert rows[name] == pytest.approx(values, rel=1e-6, abs=1e-9), name


def test_declared_cnn_gives_an_oat_variant_with_its_name(small: Path, tmp_path: Path) -> None:
    dataset = read_dataset(small / "d")
    split = split_trials(dataset, "trials", 0)
    user = _user(small)
    model = build_model(lookup("tinycnn", user), seed=0, user=user)
    frozen = {k: v.clone() for k, v in model.vision.state_dict().items()}
    features = compute_object_features(dataset, model, PRESET.crop_hw)
    # the last layer read (default rule: conv1, conv2, conv3, head), mean-pooled, per crop and the target alone
    assert features.layer == "head" and features.dim == 6
    some = next(iter(dataset.trials))
    crops = object_crops(dataset.trials[some], PRESET.crop_hw)
    direct = model.embed_images(crops.transpose(0, 2, 3, 1))
    np.testing.assert_allclose(features.features[some], direct, rtol=1e-5, atol=1e-6)
    assert features.features[some].shape == (dataset.trials[some].n_objects + 1, 6)
    # the cache reads back as written
    features.save(tmp_path / "f.npz")
    again = ObjectFeatures.load(tmp_path / "f.npz")
    assert again.name == "tinycnn" and again.crop_hw == tuple(PRESET.crop_hw) and again.layer == "head"
    assert all(np.array_equal(again.features[t], features.features[t]) for t in features.features)
    np.testing.assert_array_equal(again.blank, features.blank)

    trained = train_oat(dataset, split, PRESET, seed=0, progress=False, features=again)
    oat = train_oat(dataset, split, PRESET, seed=0, progress=False)
    # the declared network is not part of OAT (frozen, untouched); a learned projection replaces the crop CNN
    assert hasattr(trained.model, "project") and not hasattr(trained.model, "cnn")
    assert not any(k.startswith("cnn.") for k in trained.model.state_dict())
    assert all(torch.equal(v, model.vision.state_dict()[k]) for k, v in frozen.items())
    assert tuple(trained.model.project.weight.shape) == (PRESET.d_feature, 6)
    assert trained.meta["object_features"] == {"model": "tinycnn", "layer": "head", "dim": 6}
    # trained as OAT is: same split, steps and selection
    assert trained.meta["split"] == oat.meta["split"]
    assert trained.meta["train"]["steps"] == oat.meta["train"]["steps"]
    assert trained.meta["selection"]["on"] == oat.meta["selection"]["on"]
    table, generated = evaluate_split(trained, dataset, "trials", split, 3, PRESET.max_length, 2, seed=0)
    assert list(table["model"]) == ["tinycnn_greedy", "tinycnn"]
    assert table[["sequence_score", "edit_distance", "delta", "mm_vector"]].notna().all().all()
    assert set(generated["paths"]) == {"tinycnn_greedy", "tinycnn"}
    # same seed, same numbers; a model file reads back only with its features
    twice = train_oat(dataset, split, PRESET, seed=0, progress=False, features=again)
    assert all(
        torch.equal(a, b) for a, b in zip(trained.model.state_dict().values(), twice.model.state_dict().values())
    )
    save_model(tmp_path / "m.pt", trained)
    with pytest.raises(DataError, match="tinycnn's crop features"):
        load_model(tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt", features=again)
    table2, _ = evaluate_split(loaded, dataset, "trials", split, 3, PRESET.max_length, 2, seed=0)
    pd.testing.assert_frame_equal(table, table2)
    # its statistics carry the name, beside OAT's
    oat_table, _ = evaluate_split(oat, dataset, "trials", split, 3, PRESET.max_length, 2, seed=0)
    both = pd.concat([oat_table, table]).assign(seed=0)
    stats = seed_summary(both, "tiny", {}, declared=["tinycnn"]).to_dict()
    names = json.dumps(stats)
    for name in ("tinycnn.sequence_score.trials", "tinycnn.delta.trials", "tinycnn.ceiling_share.trials"):
        assert name in names
    # features of other crops are refused in one line
    with pytest.raises(DataError, match="crops"):
        train_oat(dataset, split, get_preset("tiny", {"crop_hw": [10, 10]}), seed=0, progress=False, features=again)


def test_names_that_cannot_carry_rows_are_one_line(small: Path) -> None:
    for bad, why in (("oat", "oat_greedy"), ("random", "rows"), ("my.cnn", "dot")):
        with pytest.raises(ConfigError, match=why) as exc:
            check_names([bad])
        assert "gaze.models" in str(exc.value)
    dataset = read_dataset(small / "d")
    with pytest.raises(ConfigError, match="gaze.models.*not a declared model"):
        declared_object_features("nope", _user(small), dataset, PRESET.crop_hw)
    with pytest.raises(ConfigError, match="text model"):
        declared_object_features("minilm", None, dataset, PRESET.crop_hw)
    # <name>-random: the random-init copy, only where the declaration can build the architecture untrained
    with pytest.raises(ConfigError, match="gaze.models.*no random-init copy"):
        declared_object_features("tinycnn-random", _user(small), dataset, PRESET.crop_hw)
    user = {"tinycnn": {**_user(small)["tinycnn"], "untrained_options": {}}}
    trained = declared_object_features("tinycnn", user, dataset, PRESET.crop_hw, seed=0)
    random = declared_object_features("tinycnn-random", user, dataset, PRESET.crop_hw, seed=0)
    again = declared_object_features("tinycnn-random", user, dataset, PRESET.crop_hw, seed=0)
    assert random.name == "tinycnn-random" and random.dim == trained.dim
    some = next(iter(trained.features))
    assert not np.allclose(random.features[some], trained.features[some])
    np.testing.assert_array_equal(random.features[some], again.features[some])


def test_command_line_features_train_and_summary(small: Path, tmp_path: Path, capsys) -> None:
    user = json.dumps(_user(small))
    settings = {"overrides": {"displays_per_layout": 3, "viewers": 2, "epochs": 1, "n_samples": 2, "pe_fit_steps": 300}}
    common = ["--preset", "tiny", "--threads", "1"]
    params = json.dumps({**settings, "splits": ["trials"]})
    data = small / "d"
    feats = tmp_path / "features.npz"
    assert main(["gaze", "features", "--data", str(data), "--model", "tinycnn", "--models", user, "--out", str(feats),
                 "--params", params, *common, "--device", "cpu"]) == 0  # fmt: skip
    runs = {"oat": tmp_path / "oat", "tinycnn": tmp_path / "oat" / "declared" / "tinycnn"}
    for name, run in runs.items():
        extra = ["--features", str(feats)] if name == "tinycnn" else []
        assert main(["gaze", "train", "--data", str(data), "--split", "trials", "--out", str(run / "model.pt"),
                     "--evaluate-dir", str(run), "--params", params, "--device", "cpu", *extra, *common]) == 0  # fmt: skip
    assert main(["gaze", "evaluate", "--model", str(runs["tinycnn"] / "model.pt"), "--data", str(data), "--split",
                 "trials", "--out-dir", str(tmp_path / "again"), "--features", str(feats), "--params", params,
                 "--device", "cpu", *common]) == 0  # fmt: skip
    pd.testing.assert_frame_equal(
        pd.read_csv(runs["tinycnn"] / "metrics.csv"), pd.read_csv(tmp_path / "again" / "metrics.csv")
    )
    summary_params = json.dumps({**settings, "splits": ["trials"], "models": ["tinycnn"]})
    out = tmp_path / "summary"
    assert main(["gaze", "summarize", "--inputs", str(runs["oat"] / "metrics.csv"), str(runs["tinycnn"] / "metrics.csv"),
                 "--scanpaths", str(runs["oat"] / "scanpaths.json"), "--declared-scanpaths",
                 str(runs["tinycnn"] / "scanpaths.json"), "--data", str(data), "--table", str(out / "metrics.csv"),
                 "--figure", str(out / "scanpaths.png"), "--summary", str(out / "summary.json"), "--params",
                 summary_params, "--preset", "tiny"]) == 0  # fmt: skip
    table = pd.read_csv(out / "metrics.csv")
    assert {"oat_sampled", "tinycnn", "tinycnn_greedy", "human_ceiling"} <= set(table["model"])
    text = (out / "summary.json").read_text()
    assert "tinycnn.sequence_score.trials" in text and "oat_sampled.sequence_score.trials" in text
    assert (out / "scanpaths.png").stat().st_size > 0
    capsys.readouterr()
    # a text model, or the image-blind control on declared features: one line each
    assert main(["gaze", "features", "--data", str(data), "--model", "minilm", "--out", str(tmp_path / "x.npz"),
                 "--params", params, *common]) == 2  # fmt: skip
    assert "gaze.models" in capsys.readouterr().err
    assert main(["gaze", "train", "--data", str(data), "--split", "trials", "--out", str(tmp_path / "b.pt"),
                 "--image-blind", "--features", str(feats), "--params", params, *common]) == 2  # fmt: skip
    assert "--features" in capsys.readouterr().err
