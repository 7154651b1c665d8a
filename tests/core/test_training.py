"""The one training loop: it learns, resumes after a kill to the same numbers, respects frozen parameters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuromodels.core.io import load_checkpoint, save_checkpoint
from neuromodels.core.training import Trainer, TrainSettings, batch_size, to_device

N, D = 96, 6


def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, D, generator=g)
    w = torch.randn(D, 1, generator=g)
    return x, x @ w + 0.01 * torch.randn(N, 1, generator=g), w


def _data(x, y, bs=16):
    def data(epoch: int):
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(1000 + epoch))
        return [(x[order[i : i + bs]], y[order[i : i + bs]]) for i in range(0, len(x), bs)]

    return data


def _loss(model, batch):
    xb, yb = batch
    # dropout makes the run depend on the torch RNG, which a resume must restore
    pred = model(nn.functional.dropout(xb, p=0.1, training=True))
    return nn.functional.mse_loss(pred, yb), {"mae": (pred - yb).abs().mean()}


def _train(ckpt=None, kill_at=None, epochs=6, scheduler="onecycle", lr=1e-2, shift=0.0, identity=None, bs=16, every=1):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(D, 16), nn.GELU(), nn.Linear(16, 1))
    x, y, _ = _problem()
    y = y + shift  # other data of the same shapes

    def on_step_end(step, metrics):
        if kill_at is not None and step == kill_at:
            raise KeyboardInterrupt  # a kill right after a checkpoint was written

    trainer = Trainer(
        model,
        _loss,
        TrainSettings(
            epochs=epochs, lr=lr, scheduler=scheduler, checkpoint_path=ckpt, checkpoint_every=every, progress=False
        ),
        on_step_end=on_step_end,
        run_identity=identity,
    )
    result = trainer.fit(_data(x, y, bs))
    return model, result


def test_trainer_learns_linear_map():
    model, result = _train(epochs=30)
    x, y, _ = _problem()
    with torch.no_grad():
        mse = nn.functional.mse_loss(model(x), y).item()
    assert mse < 0.1 * y.var().item()
    assert result.steps == 30 * 6 and len(result.history) == 30
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert "mae" in result.history[0]
    assert result.samples == 30 * N and result.samples_per_second > 0


@pytest.mark.parametrize("kill_at", [4, 6, 13])  # mid-epoch, exactly at an epoch end, later mid-epoch
def test_resume_after_kill_gives_identical_weights(tmp_path, kill_at):
    reference, ref_result = _train()
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(ckpt=str(ckpt), kill_at=kill_at)
    resumed, result = _train(ckpt=str(ckpt))
    assert result.resumed_from_step == kill_at
    assert result.steps == ref_result.steps
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the history (per-epoch mean loss and metrics) is the same too, the interrupted epoch included
    assert result.history == ref_result.history


def test_one_step_epochs_are_saved_every_checkpoint_every_steps_and_resume_exactly(tmp_path, monkeypatch):
    """An epoch of one step (the whole set in one batch) is not a checkpoint per step: saves come every
    ``checkpoint_every`` steps and at the last one, and a kill between two saves resumes from the earlier one to
    the uninterrupted run's weights and history."""
    import neuromodels.core.training as training

    saved = []
    real = training.save_checkpoint

    def counting(path, *args, step=0, **kwargs):
        saved.append(step)
        return real(path, *args, step=step, **kwargs)

    monkeypatch.setattr(training, "save_checkpoint", counting)
    reference, ref_result = _train(epochs=12, bs=N, every=5)
    assert saved == [] and ref_result.steps == 12  # no checkpoint path: nothing saved
    ckpt = str(tmp_path / "ckpt.pt")
    _train(ckpt=ckpt, epochs=12, bs=N, every=5)
    assert saved == [5, 10, 12]
    (tmp_path / "ckpt.pt").unlink()
    saved.clear()
    with pytest.raises(KeyboardInterrupt):
        _train(ckpt=ckpt, kill_at=8, epochs=12, bs=N, every=5)
    resumed, result = _train(ckpt=ckpt, epochs=12, bs=N, every=5)
    assert saved == [5, 10, 12] and result.resumed_from_step == 5
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert result.history == ref_result.history


@pytest.mark.parametrize("change", [dict(lr=3e-3), dict(epochs=8), dict(shift=0.5), dict(identity={"loss": "another"})])
def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, caplog, change):
    """A checkpoint left by a killed run with other settings (say another preset) or on other data would mix
    two runs: the trainer starts afresh instead, ends as an uninterrupted run with the new settings, and says
    so."""
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(ckpt=str(ckpt), kill_at=4)
    fresh, fresh_result = _train(**change)
    with caplog.at_level("WARNING"):
        model, result = _train(ckpt=str(ckpt), **change)
    assert result.resumed_from_step == 0 and result.steps == fresh_result.steps
    assert "not resuming" in caplog.text and "ckpt.pt" in caplog.text
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the replaced checkpoint now belongs to the new settings, so a later kill of this run resumes
    with pytest.raises(KeyboardInterrupt):
        _train(ckpt=str(tmp_path / "second.pt"), kill_at=5, **change)
    _, again = _train(ckpt=str(tmp_path / "second.pt"), **change)
    assert again.resumed_from_step == 5


def test_bf16_autocast_training_on_cpu_learns():
    """The autocast path of the training loop, which a GPU run takes (bf16), exercised on the CPU."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(D, 16), nn.GELU(), nn.Linear(16, 1))
    x, y, _ = _problem()
    seen = []

    def loss(m, batch):
        pred = m(batch[0])
        seen.append(pred.dtype)
        return nn.functional.mse_loss(pred.float(), batch[1])

    Trainer(model, loss, TrainSettings(epochs=30, lr=1e-2, precision="bf16", progress=False)).fit(_data(x, y))
    assert set(seen) == {torch.bfloat16}
    with torch.no_grad():
        assert nn.functional.mse_loss(model(x), y).item() < 0.2 * y.var().item()
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32


def test_same_seed_same_numbers_and_different_seed_differs():
    a, _ = _train(epochs=2)
    b, _ = _train(epochs=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    torch.manual_seed(4)
    c = nn.Sequential(nn.Linear(D, 16), nn.GELU(), nn.Linear(16, 1))
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_frozen_parameters_stay_frozen():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, 8), nn.Linear(8, 1))
    for p in model[0].parameters():
        p.requires_grad_(False)
    frozen = model[0].weight.detach().clone()
    x, y, _ = _problem()
    Trainer(
        model,
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        TrainSettings(epochs=2, lr=1e-2, weight_decay=0.1, progress=False),
    ).fit(_data(x, y))
    assert torch.equal(model[0].weight, frozen)


def test_non_finite_loss_stops_with_clear_error():
    model = nn.Linear(D, 1)
    x, y, _ = _problem()
    with pytest.raises(FloatingPointError, match="loss is nan at step 0"):
        Trainer(model, lambda m, b: m(b[0]).sum() * float("nan"), TrainSettings(progress=False)).fit(_data(x, y))


def test_early_stop_from_epoch_hook():
    model = nn.Linear(D, 1)
    x, y, _ = _problem()
    result = Trainer(
        model,
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        TrainSettings(epochs=10, progress=False),
        on_epoch_end=lambda m, e: {"val": float(e), "stop": e == 2},
    ).fit(_data(x, y))
    assert result.epochs == 3 and [h["val"] for h in result.history] == [0.0, 1.0, 2.0]


def test_max_steps_limits_training():
    model = nn.Linear(D, 1)
    x, y, _ = _problem()
    result = Trainer(
        model, lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]), TrainSettings(epochs=5, max_steps=8, progress=False)
    ).fit(_data(x, y))
    assert result.steps == 8


def test_checkpoint_roundtrip_restores_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.pt", model, opt, step=7, epoch=2, extra={"note": "x"})
    expected_next = torch.rand(3)
    model2 = nn.Linear(3, 2)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=0.1)
    state = load_checkpoint(tmp_path / "c.pt", model2, opt2)
    assert torch.equal(torch.rand(3), expected_next)  # RNG restored to the moment of saving
    assert state["step"] == 7 and state["epoch"] == 2 and state["extra"] == {"note": "x"}
    assert torch.equal(model.weight, model2.weight)
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_checkpoint_for_another_model_is_refused(tmp_path):
    from neuromodels.core.errors import DataError

    save_checkpoint(tmp_path / "c.pt", nn.Linear(3, 2))
    with pytest.raises(DataError, match="c.pt: checkpoint does not fit this model"):
        load_checkpoint(tmp_path / "c.pt", nn.Linear(4, 2))


def test_batch_helpers():
    batch = {"x": torch.zeros(5, 2), "meta": [torch.ones(5)], "name": "a"}
    assert batch_size(batch) == 5
    moved = to_device(batch, torch.device("cpu"))
    assert moved["name"] == "a" and moved["x"].shape == (5, 2)


@pytest.mark.parametrize("steps", [1, 2, 3, 5])
def test_onecycle_survives_very_short_runs(steps):
    x, y, _ = _problem()
    model = nn.Linear(D, 1)
    result = Trainer(
        model,
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        TrainSettings(epochs=1, max_steps=steps, scheduler="onecycle", warmup_fraction=0.05, progress=False),
    ).fit(_data(x, y))
    assert result.steps == steps
