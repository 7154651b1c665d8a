"""Declared models (neuromodels.networks.declared): one path for the project's encoders and a user's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuromodels.core.errors import ConfigError
from neuromodels.networks import image_layer_features, text_layer_features
from neuromodels.networks.declared import (
    build_model,
    check_model,
    declarations,
    lookup,
    parse_declaration,
    spatial_pyramid,
)
from neuromodels.networks.encoders import save_encoder
from neuromodels.networks.text import CaptionEncoder, build_vocab
from neuromodels.networks.vit import VisionTransformer

IMAGES = np.random.default_rng(0).integers(0, 256, size=(6, 40, 40, 3), dtype=np.uint8)
TEXTS = ["a red ball", "a blue cube", "red", "cube", "a ball", "blue"]

CNN_FILE = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.head = nn.Linear(2 * width, 5)

    def forward(self, x):
        x = self.act(self.conv2(self.act(self.conv1(x))))
        return self.head(x.mean((2, 3)))


def build(width=8):
    return Net(width)


def broken():
    return Net(8).conv1.weight.new_full((1,), float("nan"))
"""


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mycnn.py").write_text(CNN_FILE)
    return tmp_path


@pytest.fixture
def clip_bundle(in_tmp):
    torch.manual_seed(0)
    vision = VisionTransformer(image_size=32, patch_size=8, dim=32, depth=2, num_heads=2, embed_dim=16)
    text = CaptionEncoder(vocab=build_vocab(TEXTS), dim=32, depth=1, num_heads=2, embed_dim=16)
    path = in_tmp / "results/networks/clip/seed3/encoder.pt"
    path.parent.mkdir(parents=True)
    save_encoder(path, vision, text, {"objective": "clip"})
    return path


def test_the_projects_encoders_give_the_same_numbers_through_the_declaration(clip_bundle):
    """The move to one path changes nothing: the CLIP bundle's layers, text layers and random-init copy equal
    what the networks family's own functions give."""
    decl = declarations()["clip"]
    model = build_model(decl, seed=3)
    assert model.layers == ["patch_embed", "blocks.0", "blocks.1", "norm", "head"]
    ours = model.image_layer_features(IMAGES)
    ref = image_layer_features(clip_bundle, IMAGES)
    assert all(np.array_equal(ours[k], ref[k]) for k in ref)
    text = model.text_layer_features(TEXTS)
    ref_text = text_layer_features(TEXTS, str(clip_bundle))
    assert all(np.array_equal(text[k], ref_text[k]) for k in ref_text)
    random = build_model(decl, seed=3, init_seed=11, untrained=True)
    ref_random = image_layer_features(clip_bundle, IMAGES, random_init=True, seed=11)
    got = random.image_layer_features(IMAGES)
    assert all(np.array_equal(got[k], ref_random[k]) for k in ref_random)
    assert not np.allclose(got["head"], ref["head"])  # the copy is another network
    assert model.output_layers() == ("head", "head")


def test_a_users_cnn_with_weights_normalisation_and_a_random_copy(in_tmp):
    torch.manual_seed(1)
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("mycnn_ref", in_tmp / "mycnn.py")
    ref_mod = module_from_spec(spec)
    spec.loader.exec_module(ref_mod)
    net = ref_mod.build(8)
    torch.save(net.state_dict(), in_tmp / "mycnn.pt")
    entry = {
        "kind": "vision",
        "builder": "mycnn.py:build",
        "options": {"width": 8},
        "weights": "mycnn.pt",
        "image_size": 24,
        "mean": [0.5, 0.4, 0.3],
        "std": [0.2, 0.25, 0.3],
        "colour": "bgr",
    }
    user = {"mycnn": entry}
    model = build_model(lookup("mycnn", user), seed=0)
    assert model.layers == ["conv1", "conv2", "head"]  # the default rule: top-level modules with parameters
    feats = model.image_layer_features(IMAGES)
    # the same numbers by hand: resize, BGR, normalise, the saved weights
    x = (
        torch.nn.functional.interpolate(
            torch.as_tensor(IMAGES).permute(0, 3, 1, 2).float() / 255,
            size=(24, 24),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        .clamp(0, 1)
        .flip(1)
    )
    x = (x - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = net(x).numpy()
        conv1 = net.conv1(x).mean((2, 3)).numpy()
    np.testing.assert_allclose(feats["head"], expected, atol=1e-5)
    np.testing.assert_allclose(feats["conv1"], conv1, atol=1e-5)
    np.testing.assert_allclose(model.embed_images(IMAGES), expected, atol=1e-5)
    random = build_model(lookup("mycnn", user), untrained=True, seed=0, init_seed=5)
    again = build_model(lookup("mycnn", user), untrained=True, seed=0, init_seed=5)
    r1, r2 = random.image_layer_features(IMAGES)["head"], again.image_layer_features(IMAGES)["head"]
    assert np.array_equal(r1, r2) and not np.allclose(r1, expected, atol=1e-3)
    maps = spatial_pyramid(model, IMAGES)
    assert maps == ["conv1", "conv2"]  # one layer per spatial size, shallow to deep
    report = check_model(lookup("mycnn", user), IMAGES, TEXTS, user=user, require_spatial=True)
    assert report["deterministic"] and report["random_init_copy"]
    assert [r["shape"] for r in report["layers"]] == [[8, 24, 24], [16, 12, 12], [5]]


def test_a_vision_text_model_takes_minilm_as_its_text_side(in_tmp):
    pytest.importorskip("sentence_transformers")
    user = {
        "mycnn": {
            "kind": "vision_text",
            "builder": "mycnn.py:build",
            "image_size": 16,
            "text": "minilm",
            "untrained_options": {},
        },
    }
    from neuromodels.networks.features import minilm_encoder

    minilm_encoder.cache_clear()
    model = build_model(lookup("mycnn", user), seed=0, user=user)
    model.image_layer_features(IMAGES[:2], ["conv1"])
    # a family that reads only the vision side (search, gaze, Brain-Score) never loads the text side's MiniLM
    assert minilm_encoder.cache_info().currsize == 0
    feats = model.text_layer_features(TEXTS)
    assert minilm_encoder.cache_info().currsize == 1
    ref = text_layer_features(TEXTS, "minilm")
    assert all(np.array_equal(feats[k], ref[k]) for k in ref)
    assert model.output_layers() == ("head", "encoder.layer.5")


@pytest.mark.parametrize(
    ("entry", "key", "message"),
    [
        ({"kind": "vision", "builder": "nofile.py:build"}, "models.m.builder", "nofile.py: file not found"),
        ({"kind": "vision", "builder": "mycnn.py:nothing"}, "models.m.builder", "no callable 'nothing'"),
        ({"kind": "vision", "builder": "mycnn.py:build", "layers": ["conv9"]}, "models.m.layers", "no layer 'conv9'"),
        ({"kind": "visual", "builder": "mycnn.py:build"}, "models.m.kind", "is not one of"),
        ({"kind": "vision", "builder": "mycnn.py:build", "colours": "rgb"}, "models.m.colours", "unknown setting"),
        ({"kind": "vision", "builder": "mycnn.py:build", "weights": "w.pt"}, "w.pt", "file not found"),
        ({"kind": "vision", "builder": "mycnn.py:broken"}, "models.m.builder", "not a torch.nn.Module"),
    ],
)
def test_what_cannot_work_is_one_line_naming_the_key(in_tmp, entry, key, message):
    with pytest.raises((ConfigError, Exception)) as err:
        user = {"m": entry}
        check_model(lookup("m", user), IMAGES, TEXTS, user=user)
    text = str(err.value)
    assert key in text and message in text and "\n" not in text


def test_a_spatial_map_is_required_where_search_needs_one(in_tmp):
    (in_tmp / "flat.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4))\n"
    )
    user = {"flat": {"kind": "vision", "builder": "flat.py:build", "image_size": 16}}
    with pytest.raises(ConfigError, match="no layer gives a spatial map"):
        check_model(lookup("flat", user), IMAGES, TEXTS, user=user, require_spatial=True)


def test_nan_outputs_are_refused(in_tmp):
    (in_tmp / "nan.py").write_text(
        "import torch\nfrom torch import nn\n\nclass N(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.lin = nn.Linear(3, 2)\n\n"
        "    def forward(self, x):\n        return self.lin(x.mean((2, 3))) * float('nan')\n\n"
        "def build():\n    return N()\n"
    )
    user = {"n": {"kind": "vision", "builder": "nan.py:build", "image_size": 16}}
    with pytest.raises(ConfigError, match="NaN"):
        check_model(lookup("n", user), IMAGES, TEXTS, user=user)


def test_a_pickled_module_as_weights_is_refused_without_the_opt_in(in_tmp):
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("mycnn", in_tmp / "mycnn.py")
    mod = module_from_spec(spec)
    import sys

    sys.modules["mycnn"] = mod
    spec.loader.exec_module(mod)
    torch.save(mod.build(), in_tmp / "whole.pt")
    user = {"m": {"kind": "vision", "builder": "mycnn.py:build", "weights": "whole.pt", "image_size": 16}}
    with pytest.raises(Exception, match="weights_only|not loaded"):
        build_model(lookup("m", user))
    user["m"]["allow_pickle"] = True
    assert build_model(lookup("m", user)).layers == ["conv1", "conv2", "head"]
    del sys.modules["mycnn"]


def test_user_names_may_not_shadow_the_projects_models():
    with pytest.raises(ConfigError, match="built-in"):
        declarations({"clip": {"kind": "vision", "builder": "x.py:f"}})
    with pytest.raises(ConfigError, match="not a declared text model"):
        declarations({"m": {"kind": "vision_text", "builder": "x.py:f", "text": "simclr"}})
    assert parse_declaration("m", {"kind": "text", "builder": "pkg.mod:f"}).kind == "text"
    assert Path(declarations()["simclr"].files(2)[0]) == Path("results/networks/simclr/seed2/encoder.pt")
