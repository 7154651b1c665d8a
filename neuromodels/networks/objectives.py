"""Self-supervised and image-text objectives: SimCLR, CLIP and SLIP (SimCLR + CLIP on one image encoder).

* SimCLR (Chen et al., 2020): two augmented views of each image; the projection of each view must pick out
  its partner among the ``2B - 1`` other views of the batch (NT-Xent).
* CLIP (Radford et al., 2021): symmetric InfoNCE between image and caption embeddings of the same stimuli
  (:func:`neuromodels.core.losses.clip_loss`).
* SLIP (Mu et al., 2022): the CLIP loss plus ``ssl_weight`` times the SimCLR loss, the SimCLR views passing
  through their own projection head on top of the same image encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromodels.core.losses import clip_loss

from .augment import Augmentation, caption_safe_augmentation, simclr_augmentation
from .text import CaptionEncoder
from .vit import VisionTransformer

__all__ = ["Objective", "OBJECTIVES", "simclr_loss", "ContrastiveModel", "contrastive_step"]

Objective = Literal["simclr", "clip", "slip"]
OBJECTIVES: tuple[str, ...] = ("simclr", "clip", "slip")


def simclr_loss(z1: Tensor, z2: Tensor, temperature: float = 0.1) -> Tensor:
    """NT-Xent loss of SimCLR between two views ``z1``, ``z2`` ``(B, D)`` (row i of each is the same image).

    Each of the ``2B`` views is classified against the other ``2B - 1`` by cosine similarity / temperature;
    the target is its partner view. Returns the mean cross-entropy (a scalar; ``log(2B - 1)`` at chance).
    """
    if z1.shape != z2.shape:
        raise ValueError(f"views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=-1)
    logits = z @ z.t() / temperature
    # a view is never its own negative
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, target)


class ContrastiveModel(nn.Module):
    """The trainable parts for one objective: the image encoder, the caption encoder (CLIP, SLIP) and the
    SimCLR projection head (SimCLR, SLIP; discarded after training, as in SimCLR).

    The SimCLR head is an MLP on top of the image embedding, so the image embedding (``vision(x)``) is the
    representation every objective shapes and the one :func:`~neuromodels.networks.embed_images` returns.
    """

    def __init__(
        self,
        vision: VisionTransformer,
        text: CaptionEncoder | None,
        objective: str,
        ssl_dim: int = 128,
        temperature: float = 0.1,
        ssl_temperature: float = 0.1,
        ssl_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if objective in ("clip", "slip") and text is None:
            raise ValueError(f"objective {objective!r} needs a caption encoder")
        self.objective = objective
        self.vision = vision
        self.text = text if objective in ("clip", "slip") else None
        e = vision.embed_dim
        self.ssl_head = (
            nn.Sequential(nn.Linear(e, e), nn.GELU(), nn.Linear(e, ssl_dim))
            if objective in ("simclr", "slip")
            else None
        )
        self.temperature, self.ssl_temperature, self.ssl_weight = temperature, ssl_temperature, ssl_weight
        self.ssl_augment: Augmentation = simclr_augmentation()
        self.clip_augment: Augmentation = caption_safe_augmentation()

    def losses(
        self, images: Tensor, tokens: Tensor | None, generator: torch.Generator | None, augment: bool = True
    ) -> dict[str, Tensor]:
        """The objective's loss terms for a batch.

        Parameters
        ----------
        images:
            float ``(B, 3, H, W)`` in [0, 1].
        tokens:
            caption token ids ``(B, L)`` (CLIP, SLIP), from :meth:`CaptionEncoder.tokenize`.
        generator:
            draws the augmentations (on the images' device).
        augment:
            False evaluates CLIP on the images as they are (SimCLR always needs two views).
        """
        out: dict[str, Tensor] = {}
        if self.ssl_head is not None:
            v1 = self.ssl_augment(images, generator)
            v2 = self.ssl_augment(images, generator)
            z = self.ssl_head(self.vision(torch.cat([v1, v2])))
            out["simclr"] = simclr_loss(*z.chunk(2), temperature=self.ssl_temperature)
        if self.text is not None:
            if tokens is None:
                raise ValueError("CLIP needs caption tokens")
            seen = self.clip_augment(images, generator) if augment else images
            out["clip"] = clip_loss(self.vision(seen), self.text(tokens), temperature=self.temperature)
        out["loss"] = out.get("clip", 0.0) + self.ssl_weight * out["simclr"] if "simclr" in out else out["clip"]
        return out


def contrastive_step(model: ContrastiveModel, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
    """``loss_fn`` for :class:`neuromodels.core.training.Trainer`.

    ``batch``: ``images`` uint8 ``(B, 3, H, W)``, ``seed`` (a one-element LongTensor: the batch's
    augmentation seed, so a resumed run draws the same views) and, for CLIP/SLIP, ``tokens`` ``(B, L)``.
    """
    images = batch["images"]
    images = images.float() / 255.0 if images.dtype == torch.uint8 else images
    generator = torch.Generator(device=images.device)
    generator.manual_seed(int(batch["seed"].reshape(-1)[0]))
    terms = model.losses(images, batch.get("tokens"), generator)
    metrics = {k: float(v.detach()) for k, v in terms.items() if k != "loss"}
    return terms["loss"], metrics
