"""The search itself: winner-take-all fixations with inhibition of return over a model's map
(:func:`run_search`, its :data:`PriorityFn` and :class:`SearchResult`), over items or over a display's grid cells
(:func:`grid_cells`), the count of fixations as eccNET's analysis makes it (:func:`eccnet_fixation_count`), and a
display's background colour (:func:`border_colour`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "PriorityFn",
    "SearchResult",
    "run_search",
    "grid_cells",
    "owner_maps",
    "eccnet_fixation_count",
    "border_colour",
]

# (images (n, 3, H, W), fixations (n, 2), trials (n,) indices into the batch) -> map (n, H, W)
PriorityFn = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass
class SearchResult:
    """Per trial: fixations made until the target was found (``found``) or the search stopped; the fixation
    sequence as ``(x, y)`` image pixels (the start at the display's centre not included)."""

    fixations: np.ndarray
    found: np.ndarray
    sequences: list[np.ndarray] = field(default_factory=list)


def owner_maps(boxes: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """``(B, height, width)`` index of the item whose box centre is nearest each pixel (the item a fixation
    there lands on); pixels outside the ``image_sizes`` are set by the caller."""
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((len(boxes), height, width), dtype=np.int64)
    for b, box in enumerate(boxes):
        cx = (box[:, 0] + box[:, 2]) / 2.0
        cy = (box[:, 1] + box[:, 3]) / 2.0
        d = (xx[None] + 0.5 - cx[:, None, None]) ** 2 + (yy[None] + 0.5 - cy[:, None, None]) ** 2
        out[b] = d.argmin(axis=0)
    return out


def grid_cells(image_size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """``(rows * cols, 4)`` boxes ``x0, y0, x1, y1`` of a display's grid cells, row-major (the display's pixels
    split as evenly as whole pixels allow)."""
    h, w = image_size
    rows, cols = grid
    ys = np.rint(np.linspace(0, h, rows + 1)).astype(np.int64)
    xs = np.rint(np.linspace(0, w, cols + 1)).astype(np.int64)
    return np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]] for r in range(rows) for c in range(cols)], dtype=np.int64)


def _cell_owners(cells: np.ndarray, boxes: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixel -> cell index map ``(height, width)``, -1 outside every cell; cell -> item index, -1 empty)."""
    owners = np.full((height, width), -1, dtype=np.int64)
    for c, (x0, y0, x1, y1) in enumerate(cells):
        owners[y0:y1, x0:x1] = c
    items = np.full(len(cells), -1, dtype=np.int64)
    cx = ((boxes[:, 0] + boxes[:, 2]) / 2.0).astype(np.int64)
    cy = ((boxes[:, 1] + boxes[:, 3]) / 2.0).astype(np.int64)
    for i, (x, y) in enumerate(zip(cx, cy)):
        c = owners[min(max(y, 0), height - 1), min(max(x, 0), width - 1)]
        if c >= 0:
            items[c] = i
    return owners, items


@torch.no_grad()
def run_search(
    priority_fn: PriorityFn,
    images: Tensor,
    boxes: Sequence[np.ndarray],
    target_index: np.ndarray,
    image_size: tuple[int, int],
    max_fixations: Sequence[int] | None = None,
    cells: Sequence[np.ndarray | None] | None = None,
) -> SearchResult:
    """Winner-take-all search with inhibition of return, for a batch of trials of one image size.

    Parameters
    ----------
    priority_fn : the model's map over the (padded) images given the current fixations.
    images : ``(B, 3, H, W)`` float in [0, 1], padded to the model's size (the display at the top left).
    boxes : per trial ``(n, 4)`` item boxes ``x0, y0, x1, y1`` in pixels.
    target_index : per trial, the target's row in ``boxes``.
    image_size : ``(h, w)`` of the displays before padding (fixations stay inside).
    max_fixations : per trial the stopping limit (default: set size + 1, or cells + 1 with ``cells``: the paper's).
    cells : per trial the grid cells' boxes (:func:`grid_cells`), or None for that trial: eccNET's search over
        the grid, where a fixation lands on the cell it falls in, empty or not.

    Each fixation goes to the maximum of the map over pixels not yet inhibited. Without cells it lands on the
    item whose centre is nearest; with cells, on the cell holding it. The target ends the search (the paper's
    oracle recognition); any other item is blanked (its box filled with the background) and its region (the
    item's nearest-pixels, or its cell, empty cells included) inhibited for the rest of the trial.
    """
    b, _, H, W = images.shape
    h, w = image_size
    images = images.clone()
    item_owners = owner_maps(boxes, H, W)
    owners = np.empty((b, H, W), dtype=np.int64)
    unit_items: list[np.ndarray] = []
    use_cells = [cells is not None and cells[i] is not None for i in range(b)]
    for i in range(b):
        if use_cells[i]:
            owners[i], items = _cell_owners(np.asarray(cells[i]), np.asarray(boxes[i]), H, W)
            unit_items.append(items)
        else:
            owners[i] = item_owners[i]
            unit_items.append(np.arange(len(boxes[i])))
    owners_t = torch.as_tensor(owners)
    allowed = torch.zeros(b, H, W, dtype=torch.bool)
    allowed[:, :h, :w] = True
    allowed &= owners_t >= 0
    background = border_colour(images[:, :, :h, :w])
    if max_fixations is None:
        limits = np.array([len(unit_items[i]) + 1 if use_cells[i] else len(boxes[i]) + 1 for i in range(b)])
    else:
        limits = np.asarray(max_fixations)
    fix = torch.tensor([[w / 2, h / 2]], dtype=images.dtype).repeat(b, 1)
    counts = np.zeros(b, dtype=np.int64)
    found = np.zeros(b, dtype=bool)
    sequences: list[list[tuple[float, float]]] = [[] for _ in range(b)]
    while True:
        active = np.flatnonzero(~found & (counts < limits) & allowed.flatten(1).any(1).numpy())
        if len(active) == 0:
            break
        idx = torch.as_tensor(active)
        prio = priority_fn(images[idx], fix[idx], idx)
        prio = prio.masked_fill(~allowed[idx], float("-inf"))
        flat = prio.reshape(len(active), -1).argmax(dim=1)
        ys, xs = (flat // W), (flat % W)
        for row, trial in enumerate(active):
            y, x = int(ys[row]), int(xs[row])
            unit = int(owners[trial, y, x])
            item = int(unit_items[trial][unit])
            counts[trial] += 1
            sequences[trial].append((x + 0.5, y + 0.5))
            fix[trial] = torch.tensor([x + 0.5, y + 0.5], dtype=fix.dtype)
            if item == int(target_index[trial]):
                found[trial] = True
                continue
            if item >= 0:
                x0, y0, x1, y1 = (int(v) for v in boxes[trial][item])
                images[trial, :, y0:y1, x0:x1] = background[trial].view(3, 1, 1)
            allowed[trial] &= owners_t[trial] != unit
    return SearchResult(fixations=counts, found=found, sequences=[np.asarray(s) for s in sequences])


def eccnet_fixation_count(result: SearchResult, set_sizes: np.ndarray, n_cells: np.ndarray) -> np.ndarray:
    """Fixations as eccNET's analysis counts them on its grid: the fixation that found the target when it came
    within the cells' count, else (never found, or found only at fixation cells + 1) the set size."""
    counts = np.asarray(result.fixations, dtype=np.float64).copy()
    late = ~np.asarray(result.found) | (counts > np.asarray(n_cells))
    counts[late] = np.asarray(set_sizes, dtype=np.float64)[late]
    return counts


def border_colour(images: Tensor) -> Tensor:
    """``(B, 3)`` median colour of each image's outermost rows and columns (the display's background)."""
    border = torch.cat([images[:, :, 0, :], images[:, :, -1, :], images[:, :, :, 0], images[:, :, :, -1]], dim=2)
    return border.median(dim=2).values
