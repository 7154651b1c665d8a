"""OAT's parts: the fitted Gaussian-similarity table, the sinusoids, shapes and masks, the end of a scanpath, and
the same numbers through the reference attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuromodels.core.attention import get_default_backend, set_default_backend
from neuromodels.gaze.bench import synthetic_batch
from neuromodels.gaze.models import OAT, OATConfig, fit_gaussian_table, gaussian_target, sinusoidal_table
from tests.gaze.conftest import SMALL_OAT_DROPOUT

SMALL = SMALL_OAT_DROPOUT


def test_gaussian_table_fits_its_target() -> None:
    table = fit_gaussian_table(12, 16, 2.0, 600)
    unit = F.normalize(table, dim=1)
    err = (unit @ unit.T - gaussian_target(12, 2.0)).abs()
    assert err.mean() < 0.05
    # neighbours are similar, far indices nearly orthogonal
    assert (unit[3] @ unit[4]) > 0.8 and abs(float(unit[0] @ unit[11])) < 0.25
    assert torch.equal(table, fit_gaussian_table(12, 16, 2.0, 600))  # deterministic (cached or refitted)


def test_sinusoidal_table() -> None:
    table = sinusoidal_table(5, 8)
    assert table.shape == (5, 8)
    assert torch.allclose(table[0, 0::2], torch.zeros(4)) and torch.allclose(table[0, 1::2], torch.ones(4))


def _batch():
    return synthetic_batch(3, 7, 2, 4, SMALL.crop_hw, torch.Generator().manual_seed(0))


def test_shapes_masks_and_end_token() -> None:
    torch.manual_seed(0)
    for positional in ("gaussian", "sinusoidal"):
        model = OAT(OATConfig(**{**SMALL.to_dict(), "positional": positional})).eval()
        batch = _batch()
        batch["token_mask"][0, 5:7] = False  # trial 0 has 5 objects
        logits = model(batch)
        assert logits.shape == (6, 5, 8)
        assert torch.isinf(logits[:, 0, -1]).all()  # the end cannot come first
        assert torch.isinf(logits[0:2, :, 5:7]).all() and torch.isfinite(logits[0:2, 1:, :5]).all()
        trial = {k: v for k, v in batch.items() if k not in ("sequence_trial", "prefix", "target")}
        greedy = model.generate(trial, 0, 6)
        sampled = model.generate(trial, 4, 6, generator=torch.Generator().manual_seed(1))
        assert len(greedy) == 3 and all(len(g) == 1 for g in greedy) and all(len(s) == 4 for s in sampled)
        for paths, n in ((greedy[0], 5), (sampled[0], 5), (sampled[1], 7)):
            for path in paths:
                assert 1 <= len(path) <= 6 and all(0 <= o < n for o in path)


def test_reference_attention_gives_the_same_numbers() -> None:
    torch.manual_seed(0)
    model = OAT(SMALL).eval()
    batch = _batch()
    previous = get_default_backend()
    try:
        fused = model(batch)
        set_default_backend("reference")
        reference = model(batch)
    finally:
        set_default_backend(previous)
    finite = torch.isfinite(fused)
    assert torch.equal(finite, torch.isfinite(reference))
    torch.testing.assert_close(fused[finite], reference[finite], atol=1e-5, rtol=1e-4)


def test_shipped_position_tables_are_the_presets_fits():
    """The package's Gaussian tables (fitted once by `neuromodels gaze positions`) are what Adam fits for each
    preset's sizes: every preset has one, tiny's equals a refit here, and a model of the preset holds it."""
    from neuromodels.gaze.models import (
        _adam_fit,
        _shipped_tables,
        _table_key,
        gaussian_fit_report,
        oat_config,
        preset_table_arguments,
    )
    from neuromodels.gaze.presets import PRESETS

    shipped = _shipped_tables()
    for name, preset in PRESETS.items():
        assert _table_key(*preset_table_arguments(oat_config(preset))) in shipped, name
    args = preset_table_arguments(oat_config(PRESETS["tiny"]))
    table, info = _adam_fit(*args)
    kept, kept_info = shipped[_table_key(*args)]
    torch.testing.assert_close(kept, table, rtol=0, atol=1e-4)  # the same fit (CPUs may round differently)
    assert dict(kept_info)["steps"] == dict(info)["steps"] and dict(kept_info)["converged"] == 1.0
    assert gaussian_fit_report(*args[:4], lr=args[4], seed=args[5], tol=args[6]) == dict(kept_info)
    model = OAT(oat_config(PRESETS["tiny"]))
    assert torch.equal(model.position.table, kept) and model.position.fit_info == dict(kept_info)


def test_target_match_ties_each_object_to_the_target_crop() -> None:
    """With ``target_match`` an object's token depends on the target crop (appended last); without it, it does
    not; and an image-blind model gains nothing from it (its tokens ignore every crop)."""
    batch = _batch()
    other = dict(batch)
    crops = batch["crops"].clone()
    crops[:, -1] = 255 - crops[:, -1]  # another target crop, the displays' objects unchanged
    other["crops"] = crops
    args = (batch["rows"], batch["cols"], batch["is_target"])

    def objects(model: OAT, b: dict) -> torch.Tensor:
        return model.tokens(b["crops"], *args)[:, :-1]

    torch.manual_seed(0)
    plain = OAT(SMALL).eval()
    torch.manual_seed(0)
    matched = OAT(OATConfig(**{**SMALL.to_dict(), "target_match": True})).eval()
    torch.manual_seed(0)
    blind = OAT(OATConfig(**{**SMALL.to_dict(), "target_match": True, "image_blind": True})).eval()
    with torch.no_grad():
        assert torch.equal(objects(plain, batch), objects(plain, other))
        assert (objects(matched, batch) - objects(matched, other)).abs().amax() > 1e-3
        assert torch.equal(objects(blind, batch), objects(blind, other))
        blank = dict(batch, crops=torch.zeros_like(batch["crops"]))
        assert torch.equal(blind.tokens(batch["crops"], *args), blind.tokens(blank["crops"], *args))
        # BOS is the same token on every trial whatever the target
        assert torch.equal(matched.bos(batch), matched.bos(other))
        assert torch.isfinite(matched(batch)[:, 1:, :-1]).all()
