"""Training image encoders with SimCLR, CLIP or SLIP through the package's one training loop.

:func:`fit_encoder` trains on images and captions held in memory; :func:`train_image_encoder` reads a
stimulus set from disk, trains, and saves the bundle. Both go through
:class:`neuromodels.core.training.Trainer`, so a run with a checkpoint path resumes after a kill to the same
weights: batches are a deterministic function of (seed, epoch) and every batch carries its own augmentation
seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuromodels.core.errors import ConfigError
from neuromodels.core.runtime import get_logger, seed_everything
from neuromodels.core.training import Trainer, TrainSettings

from .encoders import ImageEncoder
from .objectives import OBJECTIVES, ContrastiveModel, contrastive_step
from .presets import NetworkPreset, get_preset
from .text import CaptionEncoder, build_vocab, split_words
from .vit import VisionTransformer, prepare_images

__all__ = [
    "fit_encoder",
    "train_image_encoder",
    "retrieval_accuracy",
    "retrieval_chance",
    "load_training_set",
    "stimulus_captions",
    "split_indices",
    "validation_metrics",
]

log = get_logger(__name__)
PathLike = str | os.PathLike


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train / validation split of ``n`` stimuli (at least 8 held out when ``n`` allows)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0:
        n_val = min(max(n_val, 8), n // 2)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def retrieval_accuracy(a: Tensor, b: Tensor, labels: Sequence[Any] | None = None) -> float:
    """Top-1 accuracy of finding row i of ``b`` from row i of ``a`` by cosine similarity.

    With ``labels`` (one per row), retrieving any row with the same label counts as a hit (e.g. two images
    with the identical caption cannot be told apart by that caption); see :func:`retrieval_chance`.
    """
    a = torch.nn.functional.normalize(a.float(), dim=-1)
    b = torch.nn.functional.normalize(b.float(), dim=-1)
    best = (a @ b.t()).argmax(dim=1).cpu()
    if labels is None:
        hits = best == torch.arange(a.shape[0])
    else:
        codes = torch.as_tensor(_label_codes(labels))
        hits = codes[best] == codes
    return float(hits.float().mean())


def retrieval_chance(n: int, labels: Sequence[Any] | None = None) -> float:
    """Expected top-1 accuracy of :func:`retrieval_accuracy` for a random pick among ``n`` rows."""
    if labels is None:
        return 1.0 / max(n, 1)
    codes = _label_codes(labels)
    counts = np.bincount(codes)
    return float((counts[codes] / len(codes)).mean())


def _label_codes(labels: Sequence[Any]) -> np.ndarray:
    return np.unique(np.asarray([str(x) for x in labels]), return_inverse=True)[1]


def _to_uint8(images: np.ndarray | Tensor, size: int) -> Tensor:
    """Stimuli as compact uint8 ``(N, 3, size, size)``; augmentation happens later, on the device."""
    chunks = []
    x = torch.as_tensor(np.asarray(images))
    for start in range(0, x.shape[0], 512):
        f = prepare_images(x[start : start + 512], size)
        chunks.append((f * 255.0).round().to(torch.uint8))
    return torch.cat(chunks) if chunks else torch.zeros(0, 3, size, size, dtype=torch.uint8)


# purposes of derived seeds, so shuffling, augmentation and validation never share a random stream
_SHUFFLE, _AUGMENT, _VALIDATE = 0, 1, 2


def _derived_seed(seed: int, purpose: int, epoch: int = 0, index: int = 0) -> int:
    """One seed per (run seed, purpose, epoch, batch), independent of how many batches ran before."""
    return int(np.random.SeedSequence([seed, purpose, epoch, index]).generate_state(1)[0])


def fit_encoder(
    images: np.ndarray | Tensor,
    captions: Sequence[str] | None,
    objective: str,
    preset: str | NetworkPreset = "tiny",
    seed: int = 0,
    device: torch.device | str = "cpu",
    checkpoint_path: PathLike | None = None,
    precision: str = "auto",
    overrides: Mapping[str, Any] | None = None,
    on_step_end: Callable[[int, Mapping[str, float]], None] | None = None,
    progress: bool = True,
) -> ImageEncoder:
    """Train an image encoder (and, for CLIP/SLIP, a caption encoder) on stimuli held in memory.

    Parameters
    ----------
    images:
        uint8 ``(N, H, W, 3)`` (or ``(N, 3, H, W)``); resized to the preset's ``image_size``.
    captions:
        One caption per image (needed for CLIP and SLIP; ignored by SimCLR).
    objective:
        ``simclr``, ``clip`` or ``slip``.
    preset:
        A preset name (tiny, default, full) or a :class:`NetworkPreset`; ``overrides`` replace single settings.
    checkpoint_path:
        Where the Trainer keeps its checkpoint; an existing one is resumed.
    on_step_end:
        Passed to the Trainer (``f(step, metrics)``), e.g. to watch progress.

    Returns
    -------
    ImageEncoder
        The trained encoders in eval mode (on ``device``), with ``meta`` holding the settings, the per-epoch
        history (loss terms, held-out retrieval accuracy) and the final metrics.
    """
    if objective not in OBJECTIVES:
        raise ConfigError("objective", f"must be one of {list(OBJECTIVES)}; got {objective!r}")
    settings = (preset if isinstance(preset, NetworkPreset) else get_preset(preset)).with_overrides(overrides)
    needs_text = objective in ("clip", "slip")
    n = len(images)
    if needs_text and (captions is None or len(captions) != n):
        raise ConfigError(
            "objective",
            f"{objective} needs one caption per image ({n} images, "
            f"{0 if captions is None else len(captions)} captions)",
        )
    train_idx, val_idx = split_indices(n, settings.val_fraction, seed)
    batch_size = min(settings.batch_size, len(train_idx))
    if batch_size < 2:
        raise ConfigError("networks", f"{len(train_idx)} training images: contrastive training needs >= 2")
    device = torch.device(device)

    seed_everything(seed)
    pixels = _to_uint8(images, settings.image_size)
    vision = VisionTransformer(
        settings.image_size,
        settings.patch_size,
        settings.dim,
        settings.depth,
        settings.num_heads,
        settings.mlp_ratio,
        settings.embed_dim,
        stem=settings.stem,
    )
    text, tokens = None, None
    if needs_text:
        assert captions is not None
        vocab = build_vocab(captions)
        max_words = max((len(split_words(c)) for c in captions), default=1)
        text = CaptionEncoder(
            vocab,
            settings.text_dim,
            settings.text_depth,
            settings.text_heads,
            embed_dim=settings.embed_dim,
            max_len=max(max_words, 8),
            mlp_ratio=settings.mlp_ratio,
        )
        tokens, _ = text.tokenize(list(captions))
    model = ContrastiveModel(
        vision,
        text,
        objective,
        ssl_dim=settings.ssl_dim,
        temperature=settings.temperature,
        ssl_temperature=settings.ssl_temperature,
        ssl_weight=settings.ssl_weight,
    )

    train_pixels = pixels[train_idx]
    train_tokens = tokens[train_idx] if tokens is not None else None
    steps_per_epoch = len(train_idx) // batch_size  # full batches only: contrastive losses compare within one

    def data(epoch: int) -> list[dict[str, Tensor]]:
        shuffle = torch.Generator().manual_seed(_derived_seed(seed, _SHUFFLE, epoch))
        order = torch.randperm(len(train_idx), generator=shuffle)
        batches = []
        for i in range(steps_per_epoch):
            idx = order[i * batch_size : (i + 1) * batch_size]
            batch = {"images": train_pixels[idx], "seed": torch.tensor([_derived_seed(seed, _AUGMENT, epoch, i)])}
            if train_tokens is not None:
                batch["tokens"] = train_tokens[idx]
            batches.append(batch)
        return batches

    val_pixels = pixels[val_idx]
    val_tokens = tokens[val_idx] if tokens is not None else None
    val_captions = [captions[i] for i in val_idx] if needs_text and captions is not None else None

    def evaluate(m: ContrastiveModel, epoch: int) -> dict[str, float]:
        return validation_metrics(m, val_pixels, val_tokens, device, seed, val_captions)

    # one-cycle warm-up over 10 % of the steps, but at least two steps (the schedule needs them)
    total_steps = settings.epochs * steps_per_epoch
    warmup = min(max(0.1, 2.0 / max(total_steps, 1)), 0.5)
    trainer = Trainer(
        model,
        contrastive_step,
        TrainSettings(
            epochs=settings.epochs,
            lr=settings.lr,
            weight_decay=settings.weight_decay,
            precision=precision,
            scheduler="onecycle",
            warmup_fraction=warmup,
            checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
            checkpoint_every=settings.checkpoint_every,
            progress=progress,
            desc=f"{objective} encoder",
        ),
        device=device,
        on_epoch_end=evaluate if len(val_idx) >= 2 else None,
        on_step_end=on_step_end,
    )
    log.info(
        "training %s encoder (%s preset): %d train / %d held-out images, %d steps/epoch x %d epochs on %s",
        objective,
        preset if isinstance(preset, str) else "custom",
        len(train_idx),
        len(val_idx),
        steps_per_epoch,
        settings.epochs,
        device,
    )
    result = trainer.fit(data, steps_per_epoch=steps_per_epoch)
    final = dict(result.history[-1]) if result.history else {}
    meta = {
        "objective": objective,
        "preset": preset if isinstance(preset, str) else "custom",
        "settings": settings.to_dict(),
        "seed": seed,
        "n_train": int(len(train_idx)),
        "n_val": int(len(val_idx)),
        "augmentation": {"ssl": model.ssl_augment.to_dict(), "clip": model.clip_augment.to_dict()},
        "history": result.history,
        "metrics": {k: v for k, v in final.items() if k not in ("epoch",)},
        "steps": result.steps,
        "samples_per_second": result.samples_per_second,
        "resumed_from_step": result.resumed_from_step,
        "device": str(device),
    }
    bundle = ImageEncoder(model.vision, model.text, meta).eval()
    return bundle


@torch.no_grad()
def validation_metrics(
    model: ContrastiveModel,
    pixels: Tensor,
    tokens: Tensor | None,
    device: torch.device,
    seed: int,
    captions: Sequence[str] | None = None,
) -> dict[str, float]:
    """Held-out top-1 retrieval accuracies with their chance levels.

    ``val_caption_to_image`` / ``val_image_to_caption`` (CLIP, SLIP): matched pairs among the held-out set
    (an image or caption with the identical caption text counts as a match; chance ``val_caption_chance``).
    ``val_view_retrieval`` (SimCLR, SLIP): finding one augmented view of an image among the other image's
    views (chance ``val_chance`` = 1 / n_val).
    """
    images = pixels.to(device).float() / 255.0
    generator = torch.Generator(device=device)
    generator.manual_seed(_derived_seed(seed, _VALIDATE))  # the same views every epoch
    out: dict[str, float] = {}
    if model.text is not None and tokens is not None:
        tokens = tokens.to(device)
        img = model.vision(images)
        txt = model.text(tokens)
        out["val_caption_to_image"] = retrieval_accuracy(txt, img, captions)
        out["val_image_to_caption"] = retrieval_accuracy(img, txt, captions)
        out["val_caption_chance"] = retrieval_chance(len(pixels), captions)
    if model.ssl_head is not None:
        v1 = model.vision(model.ssl_augment(images, generator))
        v2 = model.vision(model.ssl_augment(images, generator))
        out["val_view_retrieval"] = retrieval_accuracy(v1, v2)
    out["val_chance"] = 1.0 / max(len(pixels), 1)
    return out


def load_training_set(
    stimulus_dir: PathLike, image_size: int | None = None, captions: str = "full"
) -> tuple[list[str], np.ndarray, list[str]]:
    """Stimulus ids, uint8 images ``(N, H, W, 3)`` (resized to ``image_size`` when given) and captions of a
    stimulus set written by ``neuromodels stimuli generate`` (``captions``: the caption diet, see
    :func:`stimulus_captions`)."""
    from neuromodels.stimuli import read_stimulus_set

    stimuli = read_stimulus_set(stimulus_dir)
    ids = [str(i) for i in stimuli.stimulus_ids]
    images = stimuli.images(size=image_size)
    return ids, images, stimulus_captions(stimuli.table, captions, stimulus_dir)


def stimulus_captions(table: Any, captions: str = "full", source: PathLike | None = None) -> list[str]:
    """The captions of a stimulus table: ``full``, its ``caption`` column (else generated from the
    attributes); ``category``, only each object's category from its ``category`` columns
    (:func:`~neuromodels.stimuli.captions.category_caption`)."""
    if captions == "category":
        from neuromodels.stimuli import category_caption

        if "category" not in table.columns:
            where = f"{source}'s stimulus table" if source is not None else "the stimulus table"
            raise ConfigError("networks.captions", f"'category' captions need a 'category' column in {where}")
        return [category_caption(row) for _, row in table.iterrows()]
    if "caption" in table.columns:
        return [str(c) for c in table["caption"]]
    from neuromodels.stimuli import captions as world_captions

    return world_captions(table)


def train_image_encoder(
    stimulus_dir: PathLike,
    objective: str,
    preset: str = "default",
    seed: int = 0,
    device: torch.device | str = "cpu",
    checkpoint_path: PathLike | None = None,
    out_path: PathLike | None = None,
    precision: str = "auto",
    overrides: Mapping[str, Any] | None = None,
    on_step_end: Callable[[int, Mapping[str, float]], None] | None = None,
    progress: bool = True,
) -> ImageEncoder:
    """Train an encoder on the stimulus set in ``stimulus_dir`` and (when ``out_path`` is given) save it.

    See :func:`fit_encoder` for the parameters. The bundle's ``meta`` also records the stimulus folder and
    the held-out stimulus ids.
    """
    settings = get_preset(preset).with_overrides(overrides)
    diet = settings.captions if objective in ("clip", "slip") else "full"
    ids, images, captions = load_training_set(stimulus_dir, settings.image_size, diet)
    if diet == "category":
        log.info("training captions name only the category (networks.captions: category), e.g. %r", captions[0])
    bundle = fit_encoder(
        images, captions, objective, preset, seed, device, checkpoint_path, precision, overrides, on_step_end, progress
    )
    _, val_idx = split_indices(len(ids), settings.val_fraction, seed)
    bundle.meta["stimuli"] = str(stimulus_dir)
    bundle.meta["val_stimulus_ids"] = [ids[i] for i in val_idx]
    if out_path is not None:
        bundle.save(out_path)
        log.info("saved %s encoder to %s", objective, out_path)
    return bundle
