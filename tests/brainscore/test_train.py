"""Training pieces: the rotation scheme, fast FGSM and PGD stay in their budgets and raise the loss, corruptions,
variants train through the core Trainer and resume from their checkpoint, model files round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuromodels.brainscore.data import world_image_dataset
from neuromodels.brainscore.evaluate import gaussian_blur, gaussian_noise, pgd_attack, reduce_contrast, robustness_table
from neuromodels.brainscore.presets import VARIANTS, get_preset, variant_flags
from neuromodels.brainscore.train import (
    augment,
    classification_loss,
    fgsm_example,
    load_model,
    random_rotation,
    save_model,
    train_variant,
)
from neuromodels.core.errors import ConfigError


def test_rotation_scheme_quarter_turns_with_equal_probability() -> None:
    g = torch.Generator().manual_seed(0)
    n = 4000
    images = torch.arange(4.0).view(1, 1, 2, 2).repeat(n, 1, 1, 1)  # [[0, 1], [2, 3]]: each turn is unique
    out = random_rotation(images, g)
    turns = [torch.rot90(images[0], k, dims=(1, 2)) for k in range(4)]
    which = torch.stack([(out == t).flatten(1).all(1) for t in turns], dim=1)
    assert which.sum(1).eq(1).all()  # every output is exactly one of the four rotations
    freq = which.float().mean(0).numpy()
    assert np.all(np.abs(freq - 0.25) < 0.03), freq  # 1/4 each (binomial sd 0.007)


def test_augment_keeps_shape_and_range() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, 16, 16)
    y = augment(x, g, rotation=True)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


class Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3 * 8 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_fgsm_within_budget_and_raises_the_loss() -> None:
    model = Linear()
    x, y = torch.rand(64, 3, 8, 8), torch.randint(0, 4, (64,))
    eps, step = 2 / 255, 2.5 / 255
    adv = fgsm_example(model, x, y, eps, step, torch.Generator().manual_seed(1))
    assert (adv - x).abs().max() <= eps + 1e-7 and adv.min() >= 0 and adv.max() <= 1
    assert not adv.requires_grad and all(p.grad is None for p in model.parameters())
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)


def test_pgd_stronger_than_fgsm_and_within_budget() -> None:
    model = Linear()
    x, y = torch.rand(64, 3, 8, 8), torch.randint(0, 4, (64,))
    eps = 4 / 255
    adv = pgd_attack(model, x, y, eps, eps / 4, 10, torch.Generator().manual_seed(0))
    fgsm = fgsm_example(model, x, y, eps, 1.25 * eps, torch.Generator().manual_seed(0))
    assert (adv - x).abs().max() <= eps + 1e-7 and adv.min() >= 0 and adv.max() <= 1
    with torch.no_grad():
        assert F.cross_entropy(model(adv), y) >= F.cross_entropy(model(fgsm), y) - 1e-6


def test_corruptions() -> None:
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(reduce_contrast(x, 1.0), x) and reduce_contrast(x, 0.0).std(dim=(1, 2, 3)).max() < 1e-6
    blurred = gaussian_blur(x, 1.0)
    assert blurred.shape == x.shape and blurred.std() < x.std()
    assert torch.allclose(gaussian_blur(torch.full_like(x, 0.3), 1.5), torch.full_like(x, 0.3), atol=1e-6)
    noisy = gaussian_noise(torch.full_like(x, 0.5), 0.1, torch.Generator().manual_seed(0))
    assert abs(float((noisy - 0.5).std()) - 0.1) < 0.01


def test_variant_names() -> None:
    assert [variant_flags(v) for v in VARIANTS] == [(False, False), (True, False), (False, True), (True, True)]
    with pytest.raises(ConfigError, match="variant"):
        variant_flags("adv")


def test_loss_is_deterministic_given_the_batch_seed() -> None:
    torch.manual_seed(0)
    from neuromodels.brainscore.models import build_crossvit

    model = build_crossvit("crossvit_micro", n_classes=10)
    batch = (torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), torch.tensor([0, 1, 2, 3]), 123)
    loss_fn = classification_loss(rotation=True, adversarial=True)
    a, _ = loss_fn(model, batch)
    b, _ = loss_fn(model, batch)
    c, _ = loss_fn(model, (*batch[:2], 124))
    assert a.item() == b.item() and a.item() != c.item()


@pytest.fixture(scope="module")
def tiny_data():
    return world_image_dataset(96, 32, 32, seed=0)


def test_train_resume_and_model_file(tiny_data, tmp_path: Path) -> None:
    preset = get_preset("tiny", {"n_train": 96, "batch_size": 32, "epochs": 2, "checkpoint_every": 1})
    ckpt = tmp_path / "ckpt.pt"
    trained = train_variant(tiny_data, "rotation_adversarial", preset, seed=0, checkpoint_path=ckpt, progress=False)
    assert trained.meta["steps"] == 6 and len(trained.meta["history"]) == 2
    assert "test_accuracy" in trained.meta["history"][-1]
    # a second run finds the finished checkpoint and returns the same weights without training again
    again = train_variant(tiny_data, "rotation_adversarial", preset, seed=0, checkpoint_path=ckpt, progress=False)
    assert again.meta["resumed_from_step"] == 6
    for (k, v), (_, w) in zip(trained.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(v, w), k
    loaded = load_model(save_model(tmp_path / "m.pt", trained))
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), trained.model.eval()(x))
    assert loaded.variant == "rotation_adversarial" and loaded.label_names == tiny_data.label_names
    # another variant (another loss, same model and data) does not take that checkpoint for its own
    other = train_variant(tiny_data, "base", preset, seed=0, checkpoint_path=ckpt, progress=False)
    assert other.meta["resumed_from_step"] == 0 and other.meta["steps"] == 6


class Killed(Exception):
    pass


def test_killed_run_resumes_to_the_same_weights(tiny_data, tmp_path: Path) -> None:
    preset = get_preset("tiny", {"n_train": 96, "batch_size": 32, "epochs": 2, "checkpoint_every": 1})
    straight = train_variant(tiny_data, "adversarial", preset, seed=1, progress=False)

    def kill_at_4(step: int, metrics) -> None:
        if step == 4:  # mid second epoch, right after the step-4 checkpoint
            raise Killed

    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(Killed):
        train_variant(
            tiny_data, "adversarial", preset, seed=1, checkpoint_path=ckpt, progress=False, on_step_end=kill_at_4
        )
    resumed = train_variant(tiny_data, "adversarial", preset, seed=1, checkpoint_path=ckpt, progress=False)
    assert resumed.meta["resumed_from_step"] == 4 and resumed.meta["steps"] == 6
    for (k, v), (_, w) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=0, atol=1e-6, msg=k)


def test_checkpoint_of_other_settings_is_not_resumed(tiny_data, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pt"
    one = get_preset("tiny", {"n_train": 96, "batch_size": 32, "epochs": 1})
    train_variant(tiny_data, "base", one, seed=0, checkpoint_path=ckpt, progress=False)
    two = get_preset("tiny", {"n_train": 96, "batch_size": 32, "epochs": 2})
    trained = train_variant(tiny_data, "base", two, seed=0, checkpoint_path=ckpt, progress=False)
    assert trained.meta["resumed_from_step"] == 0 and trained.meta["steps"] == 6


def test_adam_beta2_and_warmup_reach_the_optimizer(tiny_data) -> None:
    """The preset's optimizer settings are the ones training runs: the same settings give the same weights,
    another second-moment decay or warm-up gives other weights."""

    def weights(**overrides):
        preset = get_preset("tiny", {"n_train": 96, "batch_size": 16, "epochs": 1, **overrides})
        model = train_variant(tiny_data, "base", preset, seed=0, progress=False).model
        return torch.cat([t.flatten() for t in model.state_dict().values()])

    reference = weights(adam_beta2=0.95)
    assert torch.equal(reference, weights(adam_beta2=0.95))
    assert not torch.allclose(reference, weights(adam_beta2=0.999))
    assert not torch.allclose(reference, weights(adam_beta2=0.95, warmup_fraction=0.5))


def test_robustness_table_shape(tiny_data) -> None:
    torch.manual_seed(0)
    model = Linear32()
    x, y = tiny_data.part("test")
    table = robustness_table(model, x, y, eps=2 / 255, step=1 / 255, steps=2)
    assert list(table.columns) == ["condition", "severity", "accuracy"]
    assert set(table["condition"]) == {"clean", "rotation", "pgd", "noise", "blur", "contrast"}
    assert table["accuracy"].between(0, 1).all()
    clean = table.loc[table["condition"] == "clean", "accuracy"].item()
    assert table.loc[table["condition"] == "pgd", "accuracy"].item() <= clean


class Linear32(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1) - 0.5)
