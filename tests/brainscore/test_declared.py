"""Declared models in the brainscore family: the CrossViT model files scored through their declaration give the
numbers the family's former path gave (activations, committed layers and scores equal), the declared variants'
random-init copy is the untrained_crossvit control, and a small CNN nobody here trained is scored by name beside
the variants (its rows carry its name; no existing statistic moves)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.brainscore.evaluate import (
    DeclaredLayerModel,
    LayerModel,
    MetricSettings,
    score_model,
    variant_statistics,
)
from neuromodels.brainscore.models import block_output_layers, candidate_layers, checkpoint_declaration
from neuromodels.brainscore.presets import get_preset
from neuromodels.brainscore.simulate import SimulationSettings, simulate_recordings
from neuromodels.brainscore.train import TrainedModel, save_model, untrained_model
from neuromodels.cli import main
from neuromodels.networks.declared import build_model, declarations
from neuromodels.stimuli import render_scenes, sample_scenes

CNN_FILE = """
import torch
from torch import nn


def build(width=8):
    return nn.Sequential(
        nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 5),
    )
"""
USER = {
    "tinycnn": {
        "kind": "vision",
        "builder": "tinycnn.py:build",
        "untrained_options": {},
        "image_size": 24,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
        "layers": ["1", "3", "5"],
    }
}
LABELS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def recording():
    table = sample_scenes(80, seed=3)
    images = render_scenes(table, size=48)  # another side than the model's: the resize is part of the path
    settings = SimulationSettings(n_stimuli=80, image_size=48, repetitions=4, n_v4=8, n_it=8)
    assembly, _ = simulate_recordings(table, settings, seed=2)
    return assembly, dict(zip(table["stimulus_id"].tolist(), images))


def _crossvit_file(path: Path, seed: int) -> TrainedModel:
    """A micro CrossViT's model file as `train` writes it (weights moved away from the initialisation)."""
    data = SimpleNamespace(n_classes=len(LABELS), label_names=LABELS)
    model = untrained_model(data, "tiny", seed=seed)
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed + 100)
        for p in model.model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    model.variant = "base"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, model)
    return model


def test_crossvit_through_its_declaration_reads_what_the_family_reads(tmp_path, recording):
    """The move of the variants' scoring onto their declarations (``brainscore score --model`` reads the file
    through :func:`checkpoint_declaration`, the path of every declared model): the loaded module read directly,
    as the family scored before, and the same file through its declaration give activations equal to float32
    rounding (under 1e-5), hence the same committed layers and scores equal to 1e-4 (PLS carries the rounding to
    about 1e-6). Not bit for bit: a declared model's weights are frozen and its input is a contiguous NCHW batch,
    and torch then takes other kernels (for the CLS fusion's non-contiguous input; for the channels-last batches
    LayerModel resizes)."""
    assembly, lookup = recording
    path = tmp_path / "m.pt"
    trained = _crossvit_file(path, seed=1)
    p = get_preset("tiny")
    declared = build_model(checkpoint_declaration(path, "base"), seed=1)
    layers = candidate_layers(declared)
    assert layers == block_output_layers(trained.model)
    assert declared.image_size == p.image_size
    images = np.stack(list(lookup.values())[:70])  # another side than the model's, more than one batch
    old = LayerModel(trained.model, {}, p.image_size, p.pooling).activations(images, layers)
    new = DeclaredLayerModel(declared, pooling=p.pooling).activations(images, layers)
    assert all(np.allclose(old[k], new[k], rtol=1e-5, atol=1e-5) for k in layers)
    settings = MetricSettings(n_components=5, n_splits=3, seed=1)
    kw = dict(assembly=assembly, images=lookup, settings=settings, device="cpu")
    old_scores, old_layers = score_model(trained.model, layers, image_size=p.image_size, pooling=p.pooling, **kw)
    new_scores, new_layers = score_model(DeclaredLayerModel(declared, pooling=p.pooling), layers, **kw)
    assert list(old_scores["layer"]) == list(new_scores["layer"])
    pd.testing.assert_frame_equal(old_scores, new_scores, check_exact=False, rtol=0, atol=1e-4)
    pd.testing.assert_frame_equal(old_layers, new_layers, check_exact=False, rtol=0, atol=1e-4)


def test_the_declared_variants_and_their_random_copy(tmp_path, monkeypatch):
    """crossvit_base ... are declared in the package (files of the run's seed); crossvit_base-random drawn from
    the run's seed is the untrained_crossvit control of that seed."""
    monkeypatch.chdir(tmp_path)
    known = declarations()
    names = ["crossvit_base", "crossvit_rotation", "crossvit_adversarial", "crossvit_rotation_adversarial"]
    assert all(known[n].kind == "vision" and known[n].can_randomise for n in names)
    assert known["crossvit_rotation"].files(4) == ["results/brainscore/rotation/seed4/model.pt"]
    trained = _crossvit_file(tmp_path / "results/brainscore/base/seed4/model.pt", seed=9)
    model = build_model(known["crossvit_base"], seed=4)
    ref = trained.model.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.vision.state_dict().items())
    random = build_model(known["crossvit_base"], seed=4, untrained=True)
    control = untrained_model(SimpleNamespace(n_classes=len(LABELS), label_names=LABELS), "tiny", seed=4).model
    control_state = control.state_dict()
    assert all(torch.equal(v, control_state[k]) for k, v in random.vision.state_dict().items())
    assert not torch.equal(random.vision.head_small.weight, model.vision.head_small.weight)


def _run(*args: str) -> int:
    params = json.dumps({"overrides": {"n_stimuli": 60}})
    return main(["brainscore", *args, "--preset", "tiny", "--params", params, "--threads", "1"])


def test_a_users_cnn_is_scored_by_name(tmp_path, monkeypatch, capsys):
    """A CNN defined here, declared in the config's models: section, scored by name (and its random-init copy):
    rows carrying its name in neural.csv, layers.csv (its declared layers the candidates) and the variants table;
    its statistics beside the others'; a name that is not declared, or a text model, is one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tinycnn.py").write_text(CNN_FILE)
    assert _run("simulate", "--out-dir", "neural", "--seed", "0") == 0
    common = ["--assembly", "neural/assembly.nc", "--stimuli", "neural/stimuli", "--models", json.dumps(USER)]
    for name in ("tinycnn", "tinycnn-random"):
        assert _run("score", "--declared", name, *common, "--out-dir", f"s/{name}", "--seed", "0") == 0
        neural = pd.read_csv(f"s/{name}/neural.csv")
        assert list(neural["region"]) == ["V4", "IT"] and (neural["variant"] == name).all()
        layers = pd.read_csv(f"s/{name}/layers.csv")
        assert set(layers["layer"].astype(str)) == {"1", "3", "5"}
        assert not Path(f"s/{name}/robustness.csv").exists()
    row = json.loads(Path("s/tinycnn/summary.json").read_text())
    assert row["model"]["candidate_layers"] == ["1", "3", "5"] and row["model"]["image_size"] == 24
    assert row["clean_accuracy"] is None
    again = "s/again"
    assert _run("score", "--declared", "tinycnn", *common, "--out-dir", again, "--seed", "0") == 0
    first = pd.read_csv("s/tinycnn/neural.csv")
    assert pd.read_csv(f"{again}/neural.csv").equals(first)  # same seed, same numbers
    # the copy's weights come from another seed than the one the builder drew the "trained" CNN from
    assert not pd.read_csv("s/tinycnn-random/neural.csv")["raw"].equals(first["raw"])
    assert json.loads(Path("s/tinycnn-random/summary.json").read_text())["model"]["init_seed"] not in (None, 0)

    args = ["--table", "v.csv", "--figure", "v.png", "--findings", "summary.json", "--truth", "neural/truth.json"]
    inputs = ["s/tinycnn/summary.json", "s/tinycnn-random/summary.json"]
    assert main(["brainscore", "summarize", "--inputs", *inputs, *args, "--preset", "tiny"]) == 0
    table = pd.read_csv("v.csv")
    assert list(table["variant"]) == ["tinycnn", "tinycnn-random"] and "model" not in table
    summary = json.loads(Path("summary.json").read_text())
    stats = summary["statistics"]["0"]
    assert {"tinycnn.ceiled_score.v4", "tinycnn-random.ceiled_score.it", "tinycnn.raw_score.v4"} <= set(stats)
    assert "tinycnn.clean_accuracy" not in stats
    assert summary["notes"]["declared_models"]["tinycnn"]["declared"] == "tinycnn"

    capsys.readouterr()
    assert _run("score", "--declared", "nosuch", *common, "--out-dir", "x") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("neuromodels: error: config key 'brainscore.models'") and "nosuch" in err
    assert _run("score", "--declared", "minilm", *common, "--out-dir", "x") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("neuromodels: error:") and "text model" in err


def test_a_declared_row_adds_statistics_and_changes_none():
    """A declared model's row beside the variants adds its own statistics; every other statistic (the claims'
    inputs, the lowest trained score, the ceilings) is what it was without it."""
    rows = []
    for seed in (0, 1):
        for i, model in enumerate(("base", "rotation", "adversarial", "rotation_adversarial", "untrained_crossvit")):
            row = {"variant": model, "seed": seed, "clean_accuracy": 0.7, "pgd_accuracy": 0.3}
            row |= {"n_test": 400, "n_classes": 4}
            for region in ("V4", "IT"):
                row |= {f"{region}_ceiled": 0.5 + 0.01 * i, f"{region}_raw": 0.4, f"{region}_ceiling": 0.8}
                row |= {f"{region}_ceiling_se": 0.01}
            rows.append(row)
    table = pd.DataFrame(rows)
    user = pd.DataFrame(
        [
            {"variant": "tinycnn", "seed": s, "V4_ceiled": 0.9, "V4_raw": 0.7, "V4_ceiling": 0.8, "IT_ceiled": 0.1}
            | {"IT_raw": 0.08, "IT_ceiling": 0.8, "V4_ceiling_se": 0.01, "IT_ceiling_se": 0.01}
            for s in (0, 1)
        ]
    )
    truths = {s: {"planted_reliability_median": {"V4": 0.8, "IT": 0.8}} for s in (0, 1)}
    before = variant_statistics(table, truths, preset="tiny").to_dict()
    after = variant_statistics(pd.concat([table, user], ignore_index=True), truths, preset="tiny").to_dict()
    for seed in ("0", "1"):
        added = set(after["statistics"][seed]) - set(before["statistics"][seed])
        assert added == {f"tinycnn.{m}.{r}" for m in ("ceiled_score", "raw_score") for r in ("v4", "it")}
        assert all(after["statistics"][seed][k] == v for k, v in before["statistics"][seed].items())
        assert after["statistics"][seed]["tinycnn.ceiled_score.v4"] == pytest.approx(0.9)


def test_the_table_keeps_counts_as_integers_beside_a_declared_row(tmp_path):
    """variants.csv writes a variant's counts as before (600, not 600.0) when a declared model's row, which has
    none, stands beside it."""
    variant = {"variant": "base", "seed": 0, "clean_accuracy": 0.5, "n_test": 600, "n_classes": 4, "V4_ceiled": 0.2}
    declared = {"variant": "tinycnn", "seed": 0, "clean_accuracy": None, "V4_ceiled": 0.3, "model": {"name": "x"}}
    paths = []
    for row in (variant, declared):
        paths.append(tmp_path / f"{row['variant']}.json")
        paths[-1].write_text(json.dumps({**row, "V4_sem": 0.01}))
    out = tmp_path / "v.csv"
    assert (
        main(
            [
                "brainscore",
                "summarize",
                "--inputs",
                *map(str, paths),
                "--table",
                str(out),
                "--figure",
                str(tmp_path / "v.png"),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:5] == ["variant", "seed", "clean_accuracy", "n_test", "n_classes"]
    assert lines[1].startswith("base,0,0.5,600,4,") and lines[2].startswith("tinycnn,0,,,,")
