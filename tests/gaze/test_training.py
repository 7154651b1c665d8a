"""OAT trained as published: the Gaussian table fitted to a tolerance (its fit reported), the checkpoint selected on
the validation behavioural delta with early stopping, the best epoch restored (also after a kill and resume), and
the decoder fed the fixated object's own token (crop feature and position code) or, as the ablation, the
encoder's output for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuromodels.core.errors import ConfigError
from neuromodels.gaze.bench import synthetic_batch
from neuromodels.gaze.data import read_dataset, split_trials
from neuromodels.gaze.models import OAT, OATConfig, fit_gaussian_table, gaussian_fit_report, oat_config
from neuromodels.gaze.presets import get_preset
from neuromodels.gaze.simulate import SimulationSettings, simulate_dataset
from neuromodels.gaze.train import load_model, save_model, train_oat
from tests.gaze.conftest import SMALL_OAT

SMALL = SMALL_OAT
# few fitting steps keep the tests fast; the tolerance still decides when the fit stops
FAST = {"displays_per_layout": 3, "viewers": 2, "pe_fit_steps": 300, "n_samples": 3, "max_length": 10}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gaze_training") / "d"
    simulate_dataset(folder, SimulationSettings(displays_per_layout=4, viewers=2, cell_px=12, n_products=30), seed=1)
    return folder


def test_gaussian_table_stops_on_its_tolerance_and_reports_its_fit() -> None:
    loose = gaussian_fit_report(8, 8, 2.0, 3000, tol=1e-2)
    assert loose["converged"] == 1.0 and loose["steps"] < 3000 and loose["steps"] % 100 == 0
    capped = gaussian_fit_report(8, 8, 2.0, 50, tol=1e-9)
    assert capped["converged"] == 0.0 and capped["steps"] == 50
    # a tighter tolerance fits longer and better
    tight = gaussian_fit_report(8, 8, 2.0, 3000, tol=1e-4)
    assert tight["steps"] > loose["steps"] and tight["mean_error"] < loose["mean_error"]
    assert torch.equal(fit_gaussian_table(8, 8, 2.0, 3000, tol=1e-4), fit_gaussian_table(8, 8, 2.0, 3000, tol=1e-4))
    model = OAT(SMALL)
    assert set(model.position.fit_info) >= {"steps", "mean_error", "max_error", "converged"}


def test_decoder_input_is_the_fixated_crop_token_or_the_encoder_output() -> None:
    torch.manual_seed(0)
    crop = OAT(SMALL).eval()
    memory = OAT(OATConfig(**{**SMALL.to_dict(), "decoder_input": "memory"})).eval()
    memory.load_state_dict(crop.state_dict())
    batch = synthetic_batch(2, 7, 2, 4, SMALL.crop_hw, torch.Generator().manual_seed(0))
    assert not torch.allclose(crop(batch), memory(batch))
    # as published, a fixated object enters the decoder as its own token (crop feature and position code) plus
    # the step's sinusoid; the ablation feeds the encoder's output for it
    for model in (crop, memory):
        seen: dict = {}

        def keep(module, args, out, seen=seen):
            seen.setdefault("x", args[0])

        handle = model.decoder[0].register_forward_hook(keep)
        with torch.no_grad():
            model(batch)
        handle.remove()
        tokens, mem, _ = model.encode(batch)
        source = (tokens if model is crop else mem)[batch["sequence_trial"]]
        prefix = batch["prefix"]
        expected = source.gather(1, prefix[..., None].expand(-1, -1, source.shape[-1]))
        expected = expected + model.time_table[1 : prefix.shape[1] + 1][None]
        torch.testing.assert_close(seen["x"][:, 1:], expected)
    with pytest.raises(ConfigError, match="decoder_input"):
        oat_config(get_preset("tiny", {"decoder_input": "nope"}))


def test_checkpoint_selected_on_validation_delta_with_early_stop(small_data: Path) -> None:
    dataset = read_dataset(small_data)
    split = split_trials(dataset, "trials", 0)
    p = get_preset("tiny", {**FAST, "epochs": 6, "patience": 2})
    trained = train_oat(dataset, split, p, seed=0, progress=False)
    history = trained.meta["train"]["history"]
    deltas = [h["val_delta"] for h in history]
    assert all(np.isfinite(deltas)) and all("val_loss" in h for h in history)
    sel = trained.meta["selection"]
    best = int(np.argmin(deltas))  # the first of equal deltas
    assert sel["best_epoch"] == best and sel["best_val_delta"] == pytest.approx(deltas[best])
    assert sel["restored"] is True
    # early stop: at most `patience` epochs after the best one
    assert len(history) == min(p.epochs, best + p.patience + 1)
    assert trained.meta["positional_fit"]["steps"] <= p.pe_fit_steps


def test_checkpoint_selected_on_validation_loss_when_asked(small_data: Path) -> None:
    dataset = read_dataset(small_data)
    split = split_trials(dataset, "trials", 0)
    p = get_preset("tiny", {**FAST, "epochs": 5, "patience": 2, "select_on": "loss"})
    trained = train_oat(dataset, split, p, seed=0, progress=False)
    history = trained.meta["train"]["history"]
    losses = [h["val_loss"] for h in history]
    sel = trained.meta["selection"]
    best = int(np.argmin(losses))
    assert sel["on"] == "validation loss" and sel["best_epoch"] == best
    assert sel["best_score"] == pytest.approx(losses[best])
    assert sel["best_val_delta"] == pytest.approx(history[best]["val_delta"])
    assert len(history) == min(p.epochs, best + p.patience + 1)
    with pytest.raises(ConfigError, match="gaze.overrides.select_on"):
        get_preset("tiny", {"select_on": "accuracy"})


def test_resume_after_a_kill_selects_and_restores_as_uninterrupted(
    small_data: Path, tmp_path: Path, monkeypatch
) -> None:
    from neuromodels.core import training

    dataset = read_dataset(small_data)
    split = split_trials(dataset, "trials", 0)
    p = get_preset("tiny", {**FAST, "epochs": 4, "patience": 4})
    whole = train_oat(dataset, split, p, seed=0, progress=False)
    step = training.Trainer.step
    calls = {"n": 0}
    per_epoch = whole.meta["train"]["steps"] // len(whole.meta["train"]["history"])

    def killed(self, batch, i=None):
        calls["n"] += 1
        if calls["n"] > 2 * per_epoch + 1:  # killed during the third epoch
            raise KeyboardInterrupt
        return step(self, batch, i)

    monkeypatch.setattr(training.Trainer, "step", killed)
    with pytest.raises(KeyboardInterrupt):
        train_oat(dataset, split, p, seed=0, progress=False, checkpoint_path=tmp_path / "ck.pt")
    assert (tmp_path / "ck.pt.best.pt").is_file()
    monkeypatch.setattr(training.Trainer, "step", step)
    resumed = train_oat(dataset, split, p, seed=0, progress=False, checkpoint_path=tmp_path / "ck.pt")
    assert resumed.meta["train"]["resumed_from_step"] > 0
    assert resumed.meta["selection"] == whole.meta["selection"]
    assert [h["val_delta"] for h in resumed.meta["train"]["history"]] == [
        h["val_delta"] for h in whole.meta["train"]["history"]
    ]
    for (name, x), (_, y) in zip(whole.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(x, y), name
    # a model file keeps its decoder input; files written before the setting read as the encoder-output decoder
    save_model(tmp_path / "m.pt", resumed)
    assert load_model(tmp_path / "m.pt").config.decoder_input == "crop"
