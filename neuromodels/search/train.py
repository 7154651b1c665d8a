"""Training the search backbone on a procedural natural-image diet from the stimulus world.

Each diet is the world's object-category task (10 categories, a second object in some scenes) with one
statistic changed, planted in the world rather than in the model:

- ``upright``: objects stand upright (their rotation drawn around 0 deg, +- ``upright_spread_deg``, so edges
  are mostly vertical and horizontal, as in natural scenes) and the light comes from above (90 deg
  +- ``light_spread_deg``);
- ``rotated_90``: the same scenes, every image rotated by 90 degrees (the light now comes from the side);
- ``lit_from_below``: the same objects lit from below (270 deg +- ``light_spread_deg``).

Training goes through the shared :class:`~neuromodels.core.training.Trainer` (AdamW, one-cycle,
checkpoints that resume after a kill). Horizontal flips are the only augmentation, so the diet's lighting
direction is never undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.errors import ConfigError, DataError
from ..core.io import PathLike, torch_load, torch_save
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings
from .models import VGGBackbone
from .presets import DIETS, SearchPreset, get_preset

__all__ = ["diet_images", "train_backbone", "TrainedBackbone", "save_backbone", "load_backbone", "untrained_copy",
           "heldout_accuracy"]

log = get_logger(__name__)


def diet_images(diet: str, n: int, size: int, seed: int, p_second: float = 0.3,
                light_spread_deg: float = 30.0, upright_spread_deg: float | None = 10.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` world scenes of one diet: uint8 images ``(n, 3, size, size)`` and category labels ``(n,)``.

    ``upright_spread_deg`` None keeps the world's uniform object rotations."""
    from ..stimuli import CATEGORY_NAMES, render_scenes, sample_scenes

    if diet not in DIETS:
        raise ConfigError("diets", f"unknown diet {diet!r}; choose from {', '.join(DIETS)}")
    light = 270.0 if diet == "lit_from_below" else 90.0
    # the same scenes (same seed) for every diet: only the planted statistic differs
    table = sample_scenes(n, seed=seed, p_second=p_second, light_prior=(light, light_spread_deg))
    if upright_spread_deg is not None:
        rng = np.random.default_rng([seed, 11])
        for column in [c for c in table.columns if c.endswith("rotation_deg")]:
            present = table[column].notna().to_numpy()
            values = table[column].to_numpy(dtype=float).copy()
            values[present] = np.mod(upright_spread_deg * rng.standard_normal(int(present.sum())), 360.0)
            table[column] = values
    images = render_scenes(table, size=size)
    if diet == "rotated_90":
        images = np.rot90(images, k=1, axes=(1, 2))
    codes = {name: i for i, name in enumerate(CATEGORY_NAMES)}
    labels = np.array(table["category"].map(codes), dtype=np.int64)
    return np.array(images.transpose(0, 3, 1, 2), order="C"), labels


def _batches(images: Tensor, labels: Tensor, batch_size: int, seed: int, epoch: int
             ) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    rng = np.random.default_rng([seed, 5, epoch])
    order = torch.from_numpy(rng.permutation(len(labels)))
    flips = torch.from_numpy(rng.random(len(labels)) < 0.5)
    for i in range(len(labels) // batch_size):
        idx = order[i * batch_size:(i + 1) * batch_size]
        yield images[idx], labels[idx], flips[idx]


def classification_loss(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
    images, labels, flips = batch
    x = images.float() / 255.0
    x = torch.where(flips.view(-1, 1, 1, 1), x.flip(3), x)
    logits = model(x).float()
    loss = F.cross_entropy(logits, labels)
    return loss, {"accuracy": float((logits.argmax(1) == labels).float().mean())}


@dataclass
class TrainedBackbone:
    model: VGGBackbone
    diet: str
    meta: dict[str, Any] = field(default_factory=dict)


def train_backbone(diet: str, preset: str | SearchPreset = "tiny", seed: int = 0,
                   device: torch.device | str = "cpu", checkpoint_path: PathLike | None = None,
                   precision: str = "auto", progress: bool = True) -> TrainedBackbone:
    """Train the preset's VGG on ``diet``; resumes from ``checkpoint_path`` when a matching one exists."""
    p = get_preset(preset)
    device = torch.device(device)
    images, labels = diet_images(diet, p.train_images, p.train_size, seed=1000 + seed, p_second=p.p_second,
                                 light_spread_deg=p.light_spread_deg, upright_spread_deg=p.upright_spread_deg)
    if p.train_images < p.batch_size:
        raise ConfigError("batch_size", f"{p.batch_size} is larger than the {p.train_images} training images")
    seed_everything(seed)
    from ..stimuli import CATEGORY_NAMES

    # the world's categories, not the labels drawn: the architecture (and so the untrained control's) is fixed
    model = VGGBackbone(p.widths, p.convs, n_classes=len(CATEGORY_NAMES))
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)
    settings = TrainSettings(epochs=p.epochs, lr=p.lr, weight_decay=p.weight_decay, grad_clip=1.0,
                             precision=precision, scheduler="onecycle", warmup_fraction=0.2,
                             checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
                             checkpoint_every=p.checkpoint_every, progress=progress, desc=f"vgg {diet}")
    trainer = Trainer(model, classification_loss, settings, device=device,
                      run_identity={"diet": diet, "seed": seed, "train_images": p.train_images,
                                    "train_size": p.train_size, "p_second": p.p_second,
                                    "light_spread_deg": p.light_spread_deg,
                                    "upright_spread_deg": p.upright_spread_deg})
    log.info("training the search backbone (%d parameters) on diet %s: %d images of %d px",
             sum(q.numel() for q in model.parameters()), diet, p.train_images, p.train_size)
    result = trainer.fit(lambda epoch: _batches(images_t, labels_t, p.batch_size, seed, epoch),
                         steps_per_epoch=p.train_images // p.batch_size)
    model = model.cpu().eval()
    heldout = heldout_accuracy(model, diet, p, seed)
    meta = {"diet": diet, "seed": seed, "widths": list(p.widths), "convs": list(p.convs),
            "heldout_accuracy": heldout, "heldout_images": heldout_size(p), "train": result.to_dict()}
    last = result.history[-1] if result.history else {}
    log.info("diet %s: final loss %.3f, training accuracy %.2f, held-out accuracy %.3f (%d images; chance 0.1)",
             diet, last.get("loss", float("nan")), last.get("accuracy", float("nan")), heldout, heldout_size(p))
    return TrainedBackbone(model, diet, meta)


def heldout_size(p: SearchPreset) -> int:
    """Held-out images of a diet: a quarter of the training set, at least 128 and at most 1024."""
    return int(min(max(p.train_images // 4, 128), 1024))


@torch.no_grad()
def heldout_accuracy(model: VGGBackbone, diet: str, preset: str | SearchPreset, seed: int) -> float:
    """Category accuracy of a trained backbone on scenes of its diet that it never saw (another draw of the
    world, seed 2000 + seed; the training draw is 1000 + seed); chance is 0.1."""
    p = get_preset(preset)
    images, labels = diet_images(diet, heldout_size(p), p.train_size, seed=2000 + seed, p_second=p.p_second,
                                 light_spread_deg=p.light_spread_deg, upright_spread_deg=p.upright_spread_deg)
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(labels), 256):
        x = torch.from_numpy(images[start:start + 256]).float() / 255.0
        correct += int((model(x).argmax(1).numpy() == labels[start:start + 256]).sum())
    model.train(was_training)
    return correct / max(len(labels), 1)


def untrained_copy(backbone: nn.Module, seed: int) -> nn.Module:
    """The untrained-backbone control: a copy of ``backbone`` (the same architecture) with every parameter
    drawn afresh by its modules' own initialisation under ``seed``, and batch-norm statistics reset; never
    trained. For :class:`VGGBackbone` this is exactly the initialisation that :func:`train_backbone` starts
    from with the same seed (modules re-initialised in construction order). Returned in eval mode."""
    import copy

    model = copy.deepcopy(backbone).cpu()
    seed_everything(seed)
    reset = 0
    for module in model.modules():
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
            reset += 1
    if not reset:
        raise ConfigError("backbone", "the untrained-backbone control needs a backbone whose modules have "
                                      "reset_parameters (torch's layers do)")
    return model.eval()


def save_backbone(path: PathLike, trained: TrainedBackbone) -> Path:
    return torch_save(path, {"kind": "vgg", "widths": list(trained.model.widths),
                             "convs": list(trained.model.convs), "n_classes": trained.model.head.out_features,
                             "state_dict": trained.model.state_dict(), "diet": trained.diet,
                             "meta": trained.meta})


def load_backbone(path: PathLike) -> nn.Module:
    """A backbone saved by :func:`save_backbone`, or any module saved whole with ``torch.save`` that has
    ``blocks`` (5 modules; see :mod:`.models`). Returned in eval mode on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "backbone file not found")
    try:
        state = torch_load(path, map_location="cpu")
    except Exception as exc:  # a truncated file, or a pickle of classes this interpreter cannot import
        raise DataError(path, f"not a readable torch file ({type(exc).__name__})") from None
    if isinstance(state, nn.Module):
        blocks = getattr(state, "blocks", None)
        if blocks is None or len(blocks) != 5:
            raise DataError(path, "a backbone module needs an attribute 'blocks' with 5 modules")
        return state.eval()
    if not isinstance(state, dict) or state.get("kind") != "vgg" or "state_dict" not in state:
        raise DataError(path, "not a search backbone (needs kind 'vgg', widths, convs, state_dict)")
    model = VGGBackbone(state["widths"], state["convs"], n_classes=int(state.get("n_classes", 10)))
    model.load_state_dict(state["state_dict"])
    return model.eval()
