"""Model components: pooling against torch's reference ops, adapters start as identity, the losses, freezing
in reset-tuning, save/load, and the automatic settings that follow the data (pooled size, pooling mode,
dropout, joint learning rate)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from neuromodels.decoding.models import (
    LossWeights,
    LowRankAdapter,
    MindBridge,
    ModelConfig,
    VoxelPool,
    build_model,
    decoder_loss,
    model_from_state,
)


@pytest.mark.parametrize("mode", ["max", "avg", "interp"])
def test_pool_maps_any_voxel_count_to_the_same_size(mode):
    pool = VoxelPool(16, mode)
    for n in (40, 37, 16, 100):
        x = torch.randn(3, n)
        y = pool(x)
        assert y.shape == (3, 16)
        if mode == "max":
            # each output is the maximum of its adaptive window (torch's window rule)
            for i in range(16):
                a, b = (i * n) // 16, -(-(i + 1) * n // 16)
                assert torch.allclose(y[:, i], x[:, a:b].max(dim=1).values)
        elif mode == "avg":
            assert torch.allclose(y, F.adaptive_avg_pool1d(x[:, None], 16)[:, 0])
        else:
            assert torch.allclose(y[:, 0], x[:, 0]) and torch.allclose(y[:, -1], x[:, -1])


def test_low_rank_adapter_starts_as_identity():
    a = LowRankAdapter(32, 4)
    x = torch.randn(5, 32)
    assert torch.equal(a(x), x)


def _small(kind="mindbridge", **kw):
    cfg = ModelConfig(
        kind=kind,
        pooled=32,
        hidden=16,
        rank=4,
        n_blocks=2,
        image_dim=8,
        text_dim=6,
        subjects={"a": 50, "b": 41, "c": 60},
        **kw,
    )
    torch.manual_seed(0)
    return build_model(cfg)


def _batch(model, with_targets=("a", "b", "c")):
    g = torch.Generator().manual_seed(1)
    out = {}
    for s, n in model.config.subjects.items():
        item = {"voxels": torch.randn(10, n, generator=g)}
        if s in with_targets:
            item.update(image=torch.randn(10, 8, generator=g), text=torch.randn(10, 6, generator=g))
        out[s] = item
    return out


def test_loss_has_every_term_and_cycle_follows_the_pairs():
    model = _small()
    loss, parts = decoder_loss(model, _batch(model), LossWeights())
    assert set(parts) == {"image_clip", "image_mse", "text_clip", "text_mse", "reconstruction", "cycle"}
    assert torch.isfinite(loss) and loss.item() == pytest.approx(sum(parts.values()), rel=1e-5)
    lin = _small("linear")
    _, parts = decoder_loss(lin, _batch(lin), LossWeights())
    assert set(parts) == {"image_clip", "image_mse", "text_clip", "text_mse"}
    model.eval()
    # joint training: a ring over the batch's subjects
    batch = _batch(model)
    _, parts = decoder_loss(model, batch, LossWeights())
    h = {s: model.embed(s, v["voxels"]) for s, v in batch.items()}

    def cycle(pairs):
        return np.mean([F.mse_loss(model.embedders[y](model.builders[y](h[x])), h[x]).item() for x, y in pairs])

    assert parts["cycle"] == pytest.approx(cycle([("a", "b"), ("b", "c"), ("c", "a")]), rel=1e-5)
    # published reset-tuning: the source subject in the batch (with targets) cycled through the new one
    _, parts = decoder_loss(model, {s: batch[s] for s in ("a", "c")}, LossWeights(), new_subject="c")
    assert parts["cycle"] == pytest.approx(cycle([("a", "c")]), rel=1e-5)
    assert parts["image_clip"] > 0 and parts["reconstruction"] > 0
    # frozen reset-tuning: only the new subject has targets; cycles pair it with each source, both ways
    for s in ("a", "b"):
        batch[s] = {"voxels": batch[s]["voxels"]}
    _, parts = decoder_loss(model, batch, LossWeights(), new_subject="c", cycle_both_ways=True)
    assert parts["cycle"] == pytest.approx(cycle([("c", "a"), ("a", "c"), ("c", "b"), ("b", "c")]), rel=1e-5)


def test_reset_tuning_trains_only_the_new_subject():
    model = _small()
    model.add_subject("new", 70)
    model.train_only(["new"], shared=False)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("embedders.new.", "builders.new.")) for n in trainable)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    batch = _batch(model, with_targets=("new",))
    batch["new"]["voxels"] = torch.randn(10, 70)
    for _ in range(3):
        opt.zero_grad()
        loss, _ = decoder_loss(model, batch, LossWeights(), new_subject="new", cycle_both_ways=True)
        loss.backward()
        opt.step()
    for n, p in model.named_parameters():
        changed = not torch.equal(before[n], p)
        if n.startswith(("embedders.new.", "builders.new.")) and "adapter.up" not in n:
            assert changed, n
        elif not n.startswith(("embedders.new.", "builders.new.")):
            assert not changed, n


def test_save_and_load_give_the_same_outputs():
    from dataclasses import asdict

    model = _small().eval()
    state = {"config": asdict(model.config), "model": model.state_dict()}
    again = model_from_state(state).eval()
    x = torch.randn(4, 41)
    a, b = model("b", x), again("b", x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    again.add_subject("d", 12)
    assert "d" not in state["config"]["subjects"]  # the saved configuration is not changed
    assert isinstance(again, MindBridge)


def test_automatic_settings_follow_the_voxel_count_and_training_size():
    from neuromodels.decoding.models import auto_embed_dropout, auto_pool_mode, auto_pooled

    # the smallest power of two holding the voxels, at most the paper's 8192: the simulator's ~1000 voxels,
    # NSD-sized ROIs, NSD's full ROIs (~2 voxels per value, the paper's ratio)
    assert [auto_pooled(v) for v in (948, 1160, 6163, 6968, 12682, 15724, 40)] == [
        1024,
        2048,
        8192,
        8192,
        8192,
        8192,
        64,
    ]
    assert auto_pool_mode(6500, 4096) == "max" and auto_pool_mode(6500, 512) == "avg"
    assert auto_embed_dropout(200) == 0.2 and auto_embed_dropout(9000) == 0.5 and auto_embed_dropout(None) == 0.2
    cfg = ModelConfig(hidden=16, rank=4, n_blocks=1, image_dim=8, subjects={"a": 6500, "b": 7000})
    assert cfg.automatic() == ["pooled", "pool", "embed_dropout"]
    model = build_model(cfg)
    assert (model.config.pooled, model.config.pool, model.config.embed_dropout) == (8192, "max", 0.2)
    assert model.pool.size == 8192 and model.embedders["a"].proj[3].p == 0.2
    assert model.config.automatic() == []  # a saved model holds the resolved values
    # explicit values are used as given: 512 pooled values over 6500 voxels with pool 'auto' average
    fixed = build_model(replace(cfg, pooled=512)).config
    assert (fixed.pooled, fixed.pool) == (512, "avg")
    assert cfg.resolved(n_train=5000).embed_dropout == 0.5
    # subjects of very different sizes: the size follows the largest, so none loses voxels to pooling
    # (from the smallest, 400 voxels gave 256 values and the 6000-voxel subject lost most of its retrieval)
    mixed = replace(cfg, subjects={"a": 400, "b": 6000}).resolved()
    assert (mixed.pooled, mixed.pool) == (8192, "max")


def test_presets_resolve_to_their_measured_values_on_the_simulator():
    from neuromodels.decoding.presets import get_preset
    from neuromodels.decoding.train import auto_lr

    for name, lr, steps in (("tiny", 3e-3, 40 * 8), ("default", 3e-4, 25 * 19)):
        p = get_preset(name)
        c = replace(p.model, subjects={"s1": 1061, "s2": 948, "s3": 1153}).resolved(n_train=240)
        assert (c.pooled, c.pool, c.embed_dropout) == (2048, "max", 0.2)
        assert p.train.lr is None and auto_lr(steps) == lr
    assert auto_lr(25 * 7) == 3e-3  # ~200 images per subject, batch 32
    full = get_preset("full").model
    assert (full.pooled, full.pool, full.embed_dropout) == (8192, "max", 0.5)


@pytest.mark.parametrize("setting, value", [("pool", "median"), ("pooled", 0)])
def test_a_bad_pooling_setting_is_one_config_error_naming_the_key(setting, value):
    from neuromodels.core.errors import ConfigError

    with pytest.raises(ConfigError, match=f"decoding.model.{setting}"):
        build_model(ModelConfig(subjects={"a": 100}, **{setting: value}))


def test_ridge_decoder_round_trips_through_plain_arrays(tmp_path):
    """A fitted ridge decoder is saved as arrays (np.savez) and read back without pickles, predicting the same."""
    from neuromodels.core.io import write_npz
    from neuromodels.decoding.models import RidgeDecoder

    rng = np.random.default_rng(0)
    voxels = rng.normal(size=(40, 12))
    targets = {"image": voxels @ rng.normal(size=(12, 5)), "text": voxels @ rng.normal(size=(12, 3))}
    fitted = RidgeDecoder(np.logspace(-2, 2, 5)).fit(voxels, targets)
    write_npz(tmp_path / "ridge.npz", **fitted.to_arrays())
    with np.load(tmp_path / "ridge.npz", allow_pickle=False) as arrays:
        back = RidgeDecoder.from_arrays(dict(arrays))
    new = rng.normal(size=(7, 12))
    for name, pred in fitted.predict(new).items():
        np.testing.assert_allclose(back.predict(new)[name], pred, rtol=1e-6, atol=1e-6)
    assert back.chosen_alphas() == fitted.chosen_alphas()
