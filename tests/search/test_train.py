"""The diets plant their statistic in the world's images; training resumes from its checkpoint; a saved
backbone loads back, a broken file is one error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuromodels.core.errors import ConfigError, DataError
from neuromodels.core.runtime import seed_everything
from neuromodels.search.models import VGGBackbone
from neuromodels.search.presets import get_preset
from neuromodels.search.train import (
    FLIP_AXIS,
    _batches,
    classification_loss,
    diet_images,
    load_backbone,
    save_backbone,
    train_backbone,
)


def test_diets_differ_only_in_their_planted_statistic() -> None:
    up, labels_up = diet_images("upright", 16, 32, seed=0)
    rot, labels_rot = diet_images("rotated_90", 16, 32, seed=0)
    below, labels_below = diet_images("lit_from_below", 16, 32, seed=0)
    assert np.array_equal(labels_up, labels_rot) and np.array_equal(labels_up, labels_below)
    assert np.array_equal(np.rot90(up, k=1, axes=(2, 3)), rot)  # the same images, turned
    # lit from above: the upper half of each object brighter than the lower; from below the reverse
    diff = up.astype(float) - below.astype(float)
    assert np.abs(diff).sum() > 0
    top = diff[:, :, :16].sum()
    bottom = diff[:, :, 16:].sum()
    assert top > 0 > bottom


def test_dents_are_the_scenes_lit_from_the_other_side_with_their_relief_in_the_label() -> None:
    plain, labels = diet_images("upright", 40, 32, seed=4)
    dented, relief_labels = diet_images("upright", 40, 32, seed=4, dents=0.3)
    from_below, _ = diet_images("lit_from_below", 40, 32, seed=4)
    sunken = relief_labels >= 10
    assert 0 < sunken.sum() < len(sunken)
    assert np.array_equal(relief_labels % 10, labels)
    # a sunken scene is its raised twin with the light turned round (the light's draw is the same for both diets)
    assert np.array_equal(dented[sunken], from_below[sunken])
    assert np.array_equal(dented[~sunken], plain[~sunken])
    # in the lit-from-below diet the same shading reads the other way
    below_dented, below_labels = diet_images("lit_from_below", 40, 32, seed=4, dents=0.3)
    assert np.array_equal(below_labels, relief_labels)
    assert np.array_equal(below_dented[sunken], plain[sunken])
    with pytest.raises(ConfigError, match="search.dents"):
        get_preset("tiny", {"dents": 1.0})


def test_a_dented_diet_trains_twenty_classes_on_the_same_convolutions() -> None:
    p = get_preset("tiny", {"dents": 0.2, "epochs": 1, "train_images": 64})
    trained = train_backbone("upright", p, seed=0, progress=False)
    assert trained.model.head.out_features == 20
    seed_everything(0)
    plain = VGGBackbone(p.widths, p.convs, n_classes=10)
    seed_everything(0)
    dented = VGGBackbone(p.widths, p.convs, n_classes=20)
    for (name, a), (_, b) in zip(plain.blocks.named_parameters(), dented.blocks.named_parameters()):
        assert torch.equal(a, b), name


class _Seen(torch.nn.Module):
    """Keeps the input the loss hands it; ten zero logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x = x
        return torch.zeros(len(x), 10)


def _augmented(diet: str, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The training batch of ``images`` as the loss sees it (one epoch, the diet's flips), its flip codes and the
    batch as drawn (shuffled, not flipped)."""
    labels = torch.zeros(len(images), dtype=torch.long)
    (batch, _, flips), *_ = _batches(torch.from_numpy(images), labels, len(images), 0, 0, FLIP_AXIS[diet])
    seen = _Seen()
    classification_loss(seen, (batch, labels, flips))
    return seen.x, flips, batch.float() / 255.0


def test_flips_never_move_a_diets_light_to_the_other_side() -> None:
    # the light's side, planted in the world: each rotated scene lit from above (turned: from the left) minus the
    # same scene lit from below (turned: from the right) is brighter on its left half
    lit_left, _ = diet_images("rotated_90", 32, 32, seed=1)
    below, _ = diet_images("lit_from_below", 32, 32, seed=1)
    lit_right = np.array(np.rot90(below, k=1, axes=(2, 3)), order="C")
    x_left, flips, _ = _augmented("rotated_90", lit_left)
    x_right, flips_again, _ = _augmented("rotated_90", lit_right)
    assert torch.equal(flips, flips_again)
    assert set(flips.unique().tolist()) == {0, 2}  # half mirrored top-bottom, none left-right
    diff = (x_left - x_right)[flips > 0]
    assert diff[..., :16].sum() > 0 > diff[..., 16:].sum()  # still lit from the left after the flips
    # the upright diet mirrors left-right (its light stays above); the loss applies each code as drawn
    up, _ = diet_images("upright", 8, 32, seed=1)
    x_up, codes, raw = _augmented("upright", up)
    assert set(codes.unique().tolist()) == {0, 1}
    for i, code in enumerate(codes.tolist()):
        assert torch.equal(x_up[i], raw[i].flip(2) if code else raw[i])
    assert FLIP_AXIS == {"upright": 1, "lit_from_below": 1, "rotated_90": 2}


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    preset = get_preset("tiny", {"train_images": 64, "epochs": 2, "batch_size": 32, "checkpoint_every": 1})
    ckpt = tmp_path / "ckpt.pt"
    first = train_backbone("upright", preset, checkpoint_path=ckpt, progress=False)
    again = train_backbone("upright", preset, checkpoint_path=ckpt, progress=False)
    assert again.meta["train"]["resumed_from_step"] == 4
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    save_backbone(tmp_path / "bb.pt", first)
    loaded = load_backbone(tmp_path / "bb.pt")
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded(x), first.model(x))
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="bad.pt"):
        load_backbone(tmp_path / "bad.pt")


def _torchvision_vgg16_state(seed: int = 0) -> dict:
    """Random weights in torchvision's VGG16 state_dict layout (features.N, classifier.N), built by hand."""
    g = torch.Generator().manual_seed(seed)
    state, c_in = {}, 3
    widths = {
        0: 64,
        2: 64,
        5: 128,
        7: 128,
        10: 256,
        12: 256,
        14: 256,
        17: 512,
        19: 512,
        21: 512,
        24: 512,
        26: 512,
        28: 512,
    }
    for n, width in widths.items():
        state[f"features.{n}.weight"] = torch.randn(width, c_in, 3, 3, generator=g) * 0.05
        state[f"features.{n}.bias"] = torch.randn(width, generator=g) * 0.05
        c_in = width
    for i, (o, _k) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        state[f"classifier.{i}.weight"] = torch.zeros(o, 1)  # shapes do not matter: the classifier is not used
        state[f"classifier.{i}.bias"] = torch.zeros(o)
    return state


def test_vgg16_weights_in_torchvision_layout_round_trip(tmp_path: Path) -> None:
    from neuromodels.search.train import vgg16_key_map

    state = _torchvision_vgg16_state()
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    model = load_backbone(path)
    mapping = vgg16_key_map()
    assert len(mapping) == 26 and set(mapping) == {k for k in state if k.startswith("features.")}
    ours = model.state_dict()
    for src, dst in mapping.items():  # every key mapped, every tensor where the map says
        assert torch.equal(ours[dst], state[src]), (src, dst)
    assert model.widths == (64, 128, 256, 512, 512) and not model.batch_norm
    # the features are VGG16's: the same convolutions and ReLUs in the same order (torchvision's ImageNet input
    # normalisation applied by the backbone)
    x = torch.rand(1, 3, 32, 32)
    h = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(
        1, 3, 1, 1
    )
    for n in (0, 2):
        h = torch.relu(F.conv2d(h, state[f"features.{n}.weight"], state[f"features.{n}.bias"], padding=1))
    assert torch.allclose(model.blocks[0](model.normalise(x)), h, atol=1e-5)


@pytest.mark.parametrize(
    "change,message",
    [
        ("extra", "unexpected keys \\(first: features.31.weight"),
        ("missing", "keys missing \\(first: features.28.bias"),
        ("shape", "features.0.weight has shape"),
    ],
)
def test_vgg16_layout_refuses_extra_missing_or_misshapen_keys(tmp_path: Path, change: str, message: str) -> None:
    state = _torchvision_vgg16_state()
    if change == "extra":
        state["features.31.weight"] = torch.zeros(1)
    elif change == "missing":
        del state["features.28.bias"]
    else:
        state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / f"vgg16_{change}.pth"
    torch.save(state, path)
    with pytest.raises(DataError, match=f"vgg16_{change}.pth.*{message}") as info:
        load_backbone(path)
    assert "\n" not in str(info.value)


def test_a_pickled_module_loads_only_on_the_explicit_opt_in(tmp_path: Path) -> None:
    from neuromodels.search.models import VGGBackbone

    module = VGGBackbone((4, 4, 4, 4, 4), (1, 1, 1, 1, 1)).eval()
    path = tmp_path / "whole.pt"
    torch.save(module, path)
    with pytest.raises(DataError, match="whole.pt.*weights_only"):
        load_backbone(path)
    loaded = load_backbone(path, allow_pickle=True)
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(loaded(x), module(x))
