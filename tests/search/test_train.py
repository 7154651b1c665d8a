"""The diets plant their statistic in the world's images; training resumes from its checkpoint; a saved
backbone loads back, a broken file is one error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuromodels.core.errors import DataError
from neuromodels.search.presets import get_preset
from neuromodels.search.train import diet_images, load_backbone, save_backbone, train_backbone


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
