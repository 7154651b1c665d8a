"""The crops a model sees of a display (:func:`object_crops`): each object's box cropped and resized, then the
target alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .scanpaths import Trial

__all__ = ["object_crops"]


def _load_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise DataError(path, "image not found") from None
    except OSError as exc:
        raise DataError(path, f"not a readable image ({exc})") from None


def _resize(patch: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.array(patch, dtype=np.float32)).permute(2, 0, 1)[None]
    out = F.interpolate(t, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return out[0].round().clamp(0, 255).to(torch.uint8).numpy()


def object_crops(trial: Trial, hw: tuple[int, int], image: np.ndarray | None = None) -> np.ndarray:
    """uint8 (n + 1, 3, h, w): each object's box cropped and resized, then the target alone (its own image
    when the trial has one, else its box; blank on a target-absent display)."""
    image = _load_image(trial.image) if image is None else image
    crops = []
    for x0, y0, x1, y1 in trial.boxes:
        xa, ya = int(np.floor(x0)), int(np.floor(y0))
        xb, yb = max(int(np.ceil(x1)), xa + 1), max(int(np.ceil(y1)), ya + 1)
        crops.append(_resize(image[ya:yb, xa:xb], hw))
    if trial.target_image is not None and trial.target_image.is_file():
        crops.append(_resize(_load_image(trial.target_image), hw))
    elif trial.target_present:
        crops.append(crops[trial.target_index])
    else:  # target absent: no target to show, a blank crop
        crops.append(np.zeros((3, *hw), dtype=np.uint8))
    return np.stack(crops)
