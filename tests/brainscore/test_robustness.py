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


def test_attack_steps_survive_fp16_underflow() -> None:
    """Under fp16 autocast a small input gradient underflows to zero, so FGSM/PGD would not move at all; the
    attacks scale the loss first and keep the fp32 gradient's sign."""
    import torch
    import torch.nn.functional as F

    from neuromodels.brainscore.evaluate import input_gradient_sign

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 16), torch.nn.Linear(16, 4))
    with torch.no_grad():
        for layer in (model[1], model[2]):
            layer.weight.mul_(1e-3)
    images, labels = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])

    def gradient(dtype, scaled):
        delta = torch.zeros_like(images, requires_grad=True)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(images + delta).float(), labels)
        if scaled:
            return input_gradient_sign(loss, delta)
        (grad,) = torch.autograd.grad(loss, delta)
        return grad.sign()

    reference = gradient(None, scaled=False)
    assert (reference != 0).float().mean() > 0.99
    assert (gradient(torch.float16, scaled=False) != 0).float().mean() < 0.05  # the failure being guarded
    assert (gradient(torch.float16, scaled=True) == reference).float().mean() > 0.9
