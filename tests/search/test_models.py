"""Eccentricity pooling against a direct per-pixel computation and plain pooling inside the fovea; the search
loop (winner-take-all, inhibition of return, stopping) on displays of a second, hand-made generator; the
backbone interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuromodels.core.errors import ConfigError
from neuromodels.search.models import (
    EccentricityPool,
    EccentricitySettings,
    EccNet,
    VGGBackbone,
    chance_fixations,
    naive_eccentricity_pool,
    pixel_priority,
    pool_sizes,
    run_search,
)

S = EccentricitySettings()


def direct_pool(x: torch.Tensor, fix_xy: tuple[float, float], slope: float, ppd: float) -> torch.Tensor:
    """Output pixel by output pixel: its ring's window size from its distance to the fixation, then the mean
    of the window's pixels that lie inside the map (windows centred like plain 2x2 pooling's)."""
    _, c, h, w = x.shape
    fi, fj = int(fix_xy[1] // 2), int(fix_xy[0] // 2)
    out = torch.zeros(c, h // 2, w // 2, dtype=torch.float64)
    for i in range(h // 2):
        for j in range(w // 2):
            ecc = 2 * np.hypot(i - fi, j - fj) / ppd
            ring_outer = (np.floor(ecc / S.ring_step_deg) + 1) * S.ring_step_deg
            k = S.rf_min + max(0, int(np.rint(slope * (2 * ring_outer - S.fovea_deg) * ppd)))
            lo = (k - 1) // 2
            r0, c0 = 2 * i - lo, 2 * j - lo
            if k == 2:
                r0, c0 = 2 * i, 2 * j
            rows = slice(max(r0, 0), min(r0 + k, h))
            cols = slice(max(c0, 0), min(c0 + k, w))
            out[:, i, j] = x[0, :, rows, cols].double().mean(dim=(1, 2))
    return out


@pytest.mark.parametrize("slope,ppd,fix", [(0.16, 4.0, (3.0, 5.0)), (0.32, 2.0, (20.0, 9.0)), (0.07, 8.0, (31.0, 0.0))])
def test_eccentricity_pooling_matches_direct_computation(slope: float, ppd: float, fix) -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 3, 16, 32, dtype=torch.float64)
    pool = EccentricityPool(16, 32, slope, ppd)
    fixation = torch.tensor([fix], dtype=torch.float64)
    fast = pool(x, fixation)[0]
    assert len(pool.sizes) > 1  # the test exercises several window sizes
    assert torch.allclose(fast, direct_pool(x, fix, slope, ppd), atol=1e-10)
    assert torch.allclose(fast, naive_eccentricity_pool(x, fixation, slope, ppd)[0], atol=1e-10)


def test_inside_the_fovea_it_is_plain_average_pooling() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 4, 12, 12, dtype=torch.float64)
    # at 30 px/deg a 12 px map spans 0.4 deg: all of it within the 2 deg fovea radius
    pool = EccentricityPool(12, 12, 0.32, 30.0)
    out = pool(x, torch.tensor([[6.0, 6.0], [0.0, 11.0]], dtype=torch.float64))
    assert pool.sizes == (2,)
    assert torch.equal(out, F.avg_pool2d(x, 2))
    # slope 0 (the first two pools): plain pooling at any eccentricity
    far = EccentricityPool(12, 12, 0.0, 1.0)
    assert torch.equal(far(x, torch.zeros(2, 2, dtype=torch.float64)), F.avg_pool2d(x, 2))


def test_pool_sizes_follow_the_paper_formula() -> None:
    # pool 5 of the paper: 2 px/deg, slope 0.32; ring of outer radius 10 deg -> 2 + round(0.32 * (20 - 4) * 2)
    assert int(pool_sizes(9.8, 0.32, 2.0, S)) == 2 + round(0.32 * 16 * 2)
    assert int(pool_sizes(1.2, 0.32, 2.0, S)) == 2  # inside the fovea
    with pytest.raises(ConfigError):
        EccentricityPool(7, 8, 0.1, 2.0)


# ------------------------------------------------------------------ a second generator: squares at random places
def square_display(rng: np.random.Generator, n: int, size: int = 64, side: int = 6):
    """Grey squares (one bright target) at random non-overlapping places: no grid, no world glyphs."""
    image = np.full((size, size, 3), 0.2, dtype=np.float32)
    boxes = []
    while len(boxes) < n:
        x, y = rng.integers(1, size - side - 1, size=2)
        box = np.array([x, y, x + side, y + side])
        if all(box[2] + 2 <= b[0] or b[2] + 2 <= box[0] or box[3] + 2 <= b[1] or b[3] + 2 <= box[1] for b in boxes):
            boxes.append(box)
    boxes = np.array(boxes)
    target = int(rng.integers(n))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        image[y0:y1, x0:x1] = 0.9 if i == target else 0.5
    alone = np.full((16, 16, 3), 0.2, dtype=np.float32)
    alone[5:11, 5:11] = 0.9
    return image, alone, boxes, target


def test_search_loop_inhibition_of_return_and_stopping() -> None:
    rng = np.random.default_rng(0)
    displays = [square_display(rng, n) for n in (3, 5, 8)]
    images = torch.as_tensor(np.stack([d[0] for d in displays])).permute(0, 3, 1, 2)
    boxes = [d[2] for d in displays]
    targets = np.array([d[3] for d in displays])

    # a map that ranks items by a fixed order, the target last: every distractor once, then the target
    def last_priority(imgs, fix, trials):
        out = torch.zeros(len(trials), 64, 64)
        for row, t in enumerate(trials.tolist()):
            order = [i for i in range(len(boxes[t])) if i != targets[t]] + [int(targets[t])]
            for rank, item in enumerate(order):
                x0, y0, x1, y1 = boxes[t][item]
                out[row, y0:y1, x0:x1] = 100.0 - rank
        return out

    res = run_search(last_priority, images, boxes, targets, (64, 64))
    assert res.fixations.tolist() == [3, 5, 8] and res.found.all()
    # fixations land on the items in the map's order (inhibited ones are never revisited)
    first = res.sequences[2][0]
    x0, y0, x1, y1 = boxes[2][[i for i in range(8) if i != targets[2]][0]]
    assert x0 <= first[0] <= x1 and y0 <= first[1] <= y1
    # a stopping limit ends the search without the target
    capped = run_search(last_priority, images, boxes, targets, (64, 64), max_fixations=[2, 2, 2])
    assert capped.fixations.tolist() == [2, 2, 2] and not capped.found[1:].any()
    # pixel matching finds the bright target at once on this generator
    alone = torch.as_tensor(np.stack([d[1] for d in displays])).permute(0, 3, 1, 2)
    pix = run_search(pixel_priority(alone, 6), images, boxes, targets, (64, 64))
    assert pix.fixations.tolist() == [1, 1, 1]


def test_chance_is_uniform_over_the_items() -> None:
    sizes = np.array([1, 4, 9, 16])
    mean = chance_fixations(sizes, np.zeros(4, dtype=int), draws=4000, seed=0)
    assert np.allclose(mean, (sizes + 1) / 2, atol=0.15)


class OwnBackbone(nn.Module):
    """A user's backbone: five blocks, nothing else (no normalise, no head)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3 if i == 0 else 4, 4, 3, padding=1), nn.ReLU()) for i in range(5)]
        )


def test_eccnet_runs_on_a_users_backbone_and_ours() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    image, alone, boxes, target = square_display(rng, 6, size=60)
    images = torch.as_tensor(image).permute(2, 0, 1)[None]
    targets = torch.as_tensor(alone).permute(2, 0, 1)[None]
    for backbone in (OwnBackbone(), VGGBackbone(convs=(1, 1, 1, 1, 1))):
        model = EccNet(backbone, (60, 60), px_per_deg=8.0)
        assert (model.height, model.width) == (64, 64)
        padded = F.pad(images, (0, 4, 0, 4), value=0.2)
        res = run_search(model.priority_fn(targets, 6.0), padded, [boxes], np.array([target]), (60, 60))
        assert 1 <= res.fixations[0] <= 6 and res.found[0]
    with pytest.raises(ConfigError, match="blocks"):
        EccNet(nn.Linear(2, 2), (32, 32), 8.0)
    with pytest.raises(ConfigError, match="layers"):
        EccNet(OwnBackbone(), (32, 32), 8.0, layers=(5,))


def test_the_same_seed_gives_the_same_fixations(tmp_path) -> None:
    from neuromodels.search.data import read_trials, write_trials
    from neuromodels.search.evaluate import run_model
    from neuromodels.search.experiments import make_trials

    write_trials(tmp_path, make_trials(["lighting"], 1, seed=4, px_per_deg=4.0))
    trials = read_trials(tmp_path)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        backbone = VGGBackbone(convs=(1, 1, 1, 1, 1)).eval()
        runs.append(run_model("eccnet", trials, backbone))
    assert runs[0]["fixations"].tolist() == runs[1]["fixations"].tolist()
    assert runs[0]["sequence"].tolist() == runs[1]["sequence"].tolist()
    assert (runs[0]["fixations"] >= 1).all() and (runs[0]["fixations"] <= trials.table["set_size"]).all()


def test_recrop_features_follow_the_fixation_not_the_display_border() -> None:
    """Re-cropping centres the input on the fixation: shifting a display's content and its fixation by the
    deepest stride (16 px) shifts the display's features by the same amount at every layer, exactly; without
    re-cropping the network's borders stay put and the features differ."""
    torch.manual_seed(0)
    backbone = VGGBackbone((4, 4, 4, 4, 4), (1, 1, 1, 1, 1)).eval()
    a = torch.full((1, 3, 64, 64), 0.9)
    a[:, :, 10:22, 12:16] = 0.1  # one dark bar near the top-left corner
    b = torch.full_like(a, 0.9)
    b[:, :, 16:, 16:] = a[:, :, :48, :48]
    fa, fb = torch.tensor([[20.0, 20.0]]), torch.tensor([[36.0, 36.0]])
    for recrop, equal in ((True, True), (False, False)):
        model = EccNet(backbone, (64, 64), px_per_deg=8.0, recrop=recrop, relative_to_background=False)
        with torch.no_grad():
            feats_a, feats_b = model.display_features(a, fa), model.display_features(b, fb)
        for layer, x, y in zip(model.layers, feats_a, feats_b):
            k = 16 // 2**layer
            same = torch.allclose(x[..., : x.shape[2] - k, : x.shape[3] - k], y[..., k:, k:], atol=1e-5)
            assert same == equal, (recrop, layer)
