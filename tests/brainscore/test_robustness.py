"""The paper's robustness result at a small scale: fast-FGSM training makes CrossViT more robust to PGD."""

from __future__ import annotations

import pytest

from neuromodels.brainscore.data import world_image_dataset
from neuromodels.brainscore.evaluate import robustness_table
from neuromodels.brainscore.presets import get_preset
from neuromodels.brainscore.train import train_variant


@pytest.mark.slow
def test_adversarial_training_is_more_robust_under_pgd() -> None:
    preset = get_preset("default", {"n_train": 1536, "n_test": 384, "epochs": 8, "train_eps_255": 4.0,
                                    "train_step_255": 5.0})
    data = world_image_dataset(preset.n_train, preset.n_test, preset.image_size, seed=0)
    x, y = data.part("test")
    pgd = {}
    for variant in ("base", "adversarial"):
        trained = train_variant(data, variant, preset, seed=0, progress=False)
        table = robustness_table(trained.model, x, y, eps=4 / 255, step=1 / 255, steps=10)
        acc = table.set_index("condition")["accuracy"]
        assert acc["clean"] > 0.15  # above chance (0.1): both models learned something
        pgd[variant] = acc["pgd"]
    assert pgd["adversarial"] > pgd["base"] + 0.03
