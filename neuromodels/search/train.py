"""Training the search backbone on a procedural natural-image diet from the stimulus world.

Each diet is the world's object-category task (10 categories, a second object in some scenes) with one
statistic changed, planted in the world rather than in the model:

- ``upright``: objects stand upright (their rotation drawn around 0 deg, +- ``upright_spread_deg``, so edges
  are mostly vertical and horizontal, as in natural scenes) and the light comes from above (90 deg
  +- ``light_spread_deg``);
- ``rotated_90``: the same scenes, every image rotated by 90 degrees (the light now comes from the side);
- ``lit_from_below``: the same objects lit from below (270 deg +- ``light_spread_deg``).

With the setting ``dents`` above 0, that share of the scenes holds sunken objects: a dent looks like a bump lit
from the opposite side, so it is drawn so, and the label becomes category x relief (20 classes). The diet's
light then decides which shading reads as a bump.

Training goes through the shared :class:`~neuromodels.core.training.Trainer` (AdamW, one-cycle,
checkpoints that resume after a kill). Mirror flips are the only augmentation, about the axis of the diet's
light (:data:`FLIP_AXIS`: left-right for the upright and lit-from-below diets, top-bottom for the rotated one),
so the diet's lighting direction is never undone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

__all__ = [
    "FLIP_AXIS",
    "diet_images",
    "train_backbone",
    "TrainedBackbone",
    "save_backbone",
    "load_backbone",
    "untrained_copy",
    "heldout_accuracy",
    "vgg16_key_map",
    "vgg16_from_torchvision",
    "is_torchvision_vgg16",
]

log = get_logger(__name__)

# The mirror flip of each diet's augmentation (a batch's flip codes: 0 none, 1 left-right, 2 top-bottom): the
# one that keeps its light on the same side. The rotated diet's light comes from the side, so a left-right
# flip would light half its images from the other side.
FLIP_AXIS: dict[str, int] = {"upright": 1, "lit_from_below": 1, "rotated_90": 2}


def diet_images(
    diet: str,
    n: int,
    size: int,
    seed: int,
    p_second: float = 0.3,
    light_spread_deg: float = 30.0,
    upright_spread_deg: float | None = 10.0,
    dents: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` world scenes of one diet: uint8 images ``(n, 3, size, size)`` and category labels ``(n,)``.

    ``upright_spread_deg`` None keeps the world's uniform object rotations. ``dents``: the share of scenes whose
    objects are sunken, drawn with the light from the opposite side; their label is the category plus the number
    of categories."""
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
    sunken = np.zeros(n, dtype=bool)
    if dents > 0:
        sunken = np.random.default_rng([seed, 13]).random(n) < dents
        table["light_deg"] = np.where(sunken, np.mod(table["light_deg"] + 180.0, 360.0), table["light_deg"])
    images = render_scenes(table, size=size)
    if diet == "rotated_90":
        images = np.rot90(images, k=1, axes=(1, 2))
    codes = {name: i for i, name in enumerate(CATEGORY_NAMES)}
    labels = np.array(table["category"].map(codes), dtype=np.int64) + len(codes) * sunken
    return np.array(images.transpose(0, 3, 1, 2), order="C"), labels


def _preset_diet(diet: str, p: SearchPreset, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` scenes of ``diet`` drawn with the preset's image size and world settings (training and held-out)."""
    return diet_images(
        diet,
        n,
        p.train_size,
        seed=seed,
        p_second=p.p_second,
        light_spread_deg=p.light_spread_deg,
        upright_spread_deg=p.upright_spread_deg,
        dents=p.dents,
    )


def _batches(
    images: Tensor, labels: Tensor, batch_size: int, seed: int, epoch: int, flip_axis: int = 1
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    rng = np.random.default_rng([seed, 5, epoch])
    order = torch.from_numpy(rng.permutation(len(labels)))
    flips = torch.from_numpy((rng.random(len(labels)) < 0.5) * np.int64(flip_axis))
    for i in range(len(labels) // batch_size):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield images[idx], labels[idx], flips[idx]


def classification_loss(model: nn.Module, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy of a batch ``(uint8 images, labels, flips)``; ``flips`` per image: 0 (or False) as drawn,
    1 (or True) mirrored left-right, 2 mirrored top-bottom."""
    images, labels, flips = batch
    x = images.float() / 255.0
    codes = flips.long().view(-1, 1, 1, 1)
    x = torch.where(codes == 1, x.flip(3), x)
    x = torch.where(codes == 2, x.flip(2), x)
    logits = model(x).float()
    loss = F.cross_entropy(logits, labels)
    return loss, {"accuracy": float((logits.argmax(1) == labels).float().mean())}


@dataclass
class TrainedBackbone:
    model: VGGBackbone
    diet: str
    meta: dict[str, Any] = field(default_factory=dict)


def train_backbone(
    diet: str,
    preset: str | SearchPreset = "tiny",
    seed: int = 0,
    device: torch.device | str = "cpu",
    checkpoint_path: PathLike | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> TrainedBackbone:
    """Train the preset's VGG on ``diet``; resumes from ``checkpoint_path`` when a matching one exists."""
    p = get_preset(preset)
    device = torch.device(device)
    images, labels = _preset_diet(diet, p, p.train_images, seed=1000 + seed)
    if p.train_images < p.batch_size:
        raise ConfigError("batch_size", f"{p.batch_size} is larger than the {p.train_images} training images")
    seed_everything(seed)
    from ..stimuli import CATEGORY_NAMES

    # the world's categories (x relief with dents), not the labels drawn; the convolutions, and so the untrained
    # control's, are the same either way (the head is built last)
    model = VGGBackbone(p.widths, p.convs, n_classes=len(CATEGORY_NAMES) * (2 if p.dents > 0 else 1))
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)
    settings = TrainSettings(
        epochs=p.epochs,
        lr=p.lr,
        weight_decay=p.weight_decay,
        grad_clip=1.0,
        precision=precision,
        scheduler="onecycle",
        warmup_fraction=0.2,
        checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
        checkpoint_every=p.checkpoint_every,
        progress=progress,
        desc=f"vgg {diet}",
    )
    trainer = Trainer(
        model,
        classification_loss,
        settings,
        device=device,
        run_identity={
            "diet": diet,
            "seed": seed,
            "train_images": p.train_images,
            "train_size": p.train_size,
            "p_second": p.p_second,
            "light_spread_deg": p.light_spread_deg,
            "upright_spread_deg": p.upright_spread_deg,
            "dents": p.dents,
            "flip_axis": FLIP_AXIS[diet],
        },
    )
    log.info(
        "training the search backbone (%d parameters) on diet %s: %d images of %d px",
        sum(q.numel() for q in model.parameters()),
        diet,
        p.train_images,
        p.train_size,
    )
    result = trainer.fit(
        lambda epoch: _batches(images_t, labels_t, p.batch_size, seed, epoch, FLIP_AXIS[diet]),
        steps_per_epoch=p.train_images // p.batch_size,
    )
    model = model.cpu().eval()
    heldout = heldout_accuracy(model, diet, p, seed)
    meta = {
        "diet": diet,
        "seed": seed,
        "widths": list(p.widths),
        "convs": list(p.convs),
        "heldout_accuracy": heldout,
        "heldout_images": heldout_size(p),
        "train": result.to_dict(),
    }
    last = result.history[-1] if result.history else {}
    log.info(
        "diet %s: final loss %.3f, training accuracy %.2f, held-out accuracy %.3f (%d images; chance %.2f)",
        diet,
        last.get("loss", float("nan")),
        last.get("accuracy", float("nan")),
        heldout,
        heldout_size(p),
        1.0 / model.head.out_features,
    )
    return TrainedBackbone(model, diet, meta)


def heldout_size(p: SearchPreset) -> int:
    """Held-out images of a diet: a quarter of the training set, at least 128 and at most 1024."""
    return int(min(max(p.train_images // 4, 128), 1024))


@torch.no_grad()
def heldout_accuracy(model: VGGBackbone, diet: str, preset: str | SearchPreset, seed: int) -> float:
    """Category accuracy of a trained backbone on scenes of its diet that it never saw (another draw of the
    world, seed 2000 + seed; the training draw is 1000 + seed); chance is one over the classes (0.1; 0.05 with
    dents)."""
    p = get_preset(preset)
    images, labels = _preset_diet(diet, p, heldout_size(p), seed=2000 + seed)
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(labels), 256):
        x = torch.from_numpy(images[start : start + 256]).float() / 255.0
        correct += int((model(x).argmax(1).numpy() == labels[start : start + 256]).sum())
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
        raise ConfigError(
            "backbone",
            "the untrained-backbone control needs a backbone whose modules have reset_parameters (torch's layers do)",
        )
    return model.eval()


def save_backbone(path: PathLike, trained: TrainedBackbone) -> Path:
    return torch_save(
        path,
        {
            "kind": "vgg",
            "widths": list(trained.model.widths),
            "convs": list(trained.model.convs),
            "n_classes": trained.model.head.out_features,
            "batch_norm": trained.model.batch_norm,
            "state_dict": trained.model.state_dict(),
            "diet": trained.diet,
            "meta": trained.meta,
        },
    )


# VGG16's convolutions in torchvision's layout: ``features.N`` for N below, 2, 2, 3, 3 and 3 per block (the
# indices between them are ReLUs and max pools); the classifier (``classifier.0/3/6``) is not used by the search
VGG16_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
VGG16_CONVS: tuple[int, ...] = (2, 2, 3, 3, 3)
VGG16_FEATURES: tuple[tuple[int, ...], ...] = ((0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28))
VGG16_IGNORED = tuple(f"classifier.{i}.{k}" for i in (0, 3, 6) for k in ("weight", "bias"))
# ImageNet's channel means and deviations (RGB in [0, 1]), as torchvision's VGG16 expects its input
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def vgg16_key_map() -> dict[str, str]:
    """torchvision's VGG16 key (``features.N.weight`` / ``.bias``) -> this project's VGG16 key
    (``blocks.b.j.weight`` / ``.bias``, block ``b``, layer ``j`` = 2 x the convolution's place in its block)."""
    out = {}
    for b, indices in enumerate(VGG16_FEATURES):
        for place, n in enumerate(indices):
            for kind in ("weight", "bias"):
                out[f"features.{n}.{kind}"] = f"blocks.{b}.{2 * place}.{kind}"
    return out


def is_torchvision_vgg16(state: Any) -> bool:
    """Whether a loaded file looks like a state_dict in torchvision's VGG layout (keys ``features.N...``)."""
    return isinstance(state, dict) and any(isinstance(k, str) and k.startswith("features.") for k in state)


def vgg16_from_torchvision(state: dict, path: PathLike | None = None, n_classes: int = 10) -> VGGBackbone:
    """The project's VGG16 (widths 64-512, no batch norm, ImageNet's input normalisation) holding the weights
    of a torchvision-layout VGG16 ``state_dict``, mapped key by key (:func:`vgg16_key_map`). Every one of the 26
    convolution tensors must be there with VGG16's shape; torchvision's classifier keys are ignored; any other
    key is refused (another architecture, e.g. ``vgg16_bn``, or a truncated file), with one line naming ``path``."""
    mapping = vgg16_key_map()
    missing = [k for k in mapping if k not in state]
    if missing:
        raise DataError(
            path,
            f"not VGG16 in torchvision's layout: {len(missing)} of its {len(mapping)} convolution "
            f"keys missing (first: {missing[0]})",
        )
    extra = [k for k in state if k not in mapping and k not in VGG16_IGNORED]
    if extra:
        raise DataError(
            path,
            f"not VGG16 in torchvision's layout: {len(extra)} unexpected keys (first: {extra[0]}; "
            "vgg16_bn and other VGGs are not supported)",
        )
    model = VGGBackbone(VGG16_WIDTHS, VGG16_CONVS, n_classes=n_classes, batch_norm=False)
    target = model.state_dict()
    mapped = {}
    for src, dst in mapping.items():
        value = state[src]
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(target[dst].shape):
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise DataError(path, f"{src} has shape {shape}, VGG16's is {tuple(target[dst].shape)}")
        mapped[dst] = value.detach().to(target[dst].dtype)
    model.load_state_dict(mapped, strict=False)  # the classification head is not VGG16's and stays as drawn
    model.mean.copy_(torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
    model.std.copy_(torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    return model.eval()


def load_backbone(path: PathLike, allow_pickle: bool = False) -> nn.Module:
    """A backbone from a file: one saved by :func:`save_backbone`; VGG16 weights in torchvision's ``state_dict``
    layout (``features.N.weight`` / ``.bias``, e.g. ImageNet's), mapped onto the project's VGG16
    (:func:`vgg16_from_torchvision`); or, only with ``allow_pickle`` (the user's explicit opt-in, see
    :data:`neuromodels.core.io.PICKLE_RISK`), any module saved whole with ``torch.save`` that has ``blocks``
    (5 modules; see :mod:`.backbone`). Loaded weights-only otherwise. Returned in eval mode on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "backbone file not found")
    state = torch_load(path, map_location="cpu", allow_pickle=allow_pickle)
    if isinstance(state, nn.Module):
        blocks = getattr(state, "blocks", None)
        if blocks is None or len(blocks) != 5:
            raise DataError(path, "a backbone module needs an attribute 'blocks' with 5 modules")
        return state.eval()
    if is_torchvision_vgg16(state):
        return vgg16_from_torchvision(state, path)
    if not isinstance(state, dict) or state.get("kind") != "vgg" or "state_dict" not in state:
        raise DataError(
            path,
            "not a search backbone (needs kind 'vgg', widths, convs, state_dict; or VGG16 "
            "weights in torchvision's layout, features.N.weight)",
        )
    model = VGGBackbone(
        state["widths"],
        state["convs"],
        n_classes=int(state.get("n_classes", 10)),
        batch_norm=bool(state.get("batch_norm", True)),
    )
    model.load_state_dict(state["state_dict"])
    return model.eval()
