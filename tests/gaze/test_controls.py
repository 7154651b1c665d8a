"""The named controls and the statistics the claims registry judges: the image-blind OAT sees only zeros, the
guided walk is fitted on training trials only and stops on the target, statistics appear for every seed (a
degenerate one as undefined with its reason), and every registry claim's statistics are emitted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.core.claims import load_registry
from neuromodels.gaze.baselines import WALK_FEATURES, fit_guided_walk
from neuromodels.gaze.bench import synthetic_batch
from neuromodels.gaze.data import object_crops, read_dataset, split_trials
from neuromodels.gaze.evaluate import GUIDED_WALK, HUMAN, evaluate_split, measure_seed, seed_summary
from neuromodels.gaze.models import OAT, OATConfig
from neuromodels.gaze.presets import get_preset
from neuromodels.gaze.simulate import SimulationSettings, simulate_dataset
from neuromodels.gaze.train import train_oat
from tests.gaze.conftest import SMALL_OAT

SMALL = SMALL_OAT


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gaze_controls") / "sim"
    simulate_dataset(folder, SimulationSettings(displays_per_layout=6, viewers=3, cell_px=12, n_products=30), seed=5)
    return folder


def test_image_blind_model_sees_only_zeros() -> None:
    torch.manual_seed(0)
    blind = OAT(OATConfig(**{**SMALL.to_dict(), "image_blind": True})).eval()
    seeing = OAT(SMALL).eval()
    seeing.load_state_dict(blind.state_dict())
    batch = synthetic_batch(3, 7, 2, 4, SMALL.crop_hw, torch.Generator().manual_seed(0))
    other = dict(
        batch,
        crops=torch.randint(
            0, 256, batch["crops"].shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
        ),
    )
    assert not torch.equal(batch["crops"], other["crops"])
    # the blind model's predictions do not change when the crops do; the same weights with eyes open do
    assert torch.equal(blind(batch), blind(other))
    assert not torch.allclose(seeing(batch), seeing(other))
    trial = {k: v for k, v in batch.items() if k not in ("sequence_trial", "prefix", "target")}
    trial_other = {k: v for k, v in other.items() if k not in ("sequence_trial", "prefix", "target")}
    assert blind.generate(trial, 0, 6) == blind.generate(trial_other, 0, 6)


def test_image_blind_is_trained_the_same_way(simulated: Path) -> None:
    dataset = read_dataset(simulated)
    split = split_trials(dataset, "trials", 0)
    p = get_preset("tiny", {"epochs": 1, "pe_fit_steps": 300})
    blind = train_oat(dataset, split, p, seed=0, progress=False, image_blind=True)
    oat = train_oat(dataset, split, p, seed=0, progress=False)
    assert blind.config.image_blind and not oat.config.image_blind and blind.meta["image_blind"]
    assert blind.meta["split"] == oat.meta["split"]
    assert blind.meta["train"]["steps"] == oat.meta["train"]["steps"]
    table, _ = evaluate_split(blind, dataset, "trials", split, 3, p.max_length, 2, seed=0)
    assert list(table["model"]) == ["image_blind_greedy", "image_blind"]  # its own rows, against the same viewers
    assert table["delta"].notna().all()
    # MultiMatch over every test trial and viewer: one greedy path, the first two samples (padded when short)
    viewer_paths = len(dataset.scanpaths_of(split["test"]))
    assert list(table["mm_pairs"]) == [viewer_paths, 2 * viewer_paths]
    assert table[["mm_vector", "mm_vector_dropped"]].notna().all().all() or table["mm_pairs_short"].max() > 0


def test_guided_walk_fitted_on_training_trials_only_and_stops_on_target(simulated: Path) -> None:
    dataset = read_dataset(simulated)
    split = split_trials(dataset, "trials", 0)
    train_paths = dataset.scanpaths_of(split["train"])
    crops = {t: object_crops(dataset.trials[t], (10, 10)) for t in split["train"]}
    walk = fit_guided_walk(dataset.trials, train_paths, crops)
    # only the training trials: their crops suffice (a test trial's would raise KeyError) and are recorded
    assert set(walk.fitted_on) <= set(split["train"]) and not set(walk.fitted_on) & set(split["test"])
    assert walk.n_choices == sum(len(s.object_sequence()) for s in train_paths)
    assert len(walk.weights) == len(WALK_FEATURES) and np.isfinite(walk.weights).all()
    w = dict(zip(WALK_FEATURES, walk.weights))
    # the simulated viewers are drawn to objects like the target and to near ones (the planted walk)
    assert w["similarity"] > 0 and w["distance"] < 0
    # other scanpaths give other weights: the fit depends on the scanpaths it is given
    half = fit_guided_walk(dataset.trials, train_paths[: len(train_paths) // 2], crops)
    assert half.weights != walk.weights
    rng = np.random.default_rng(0)
    for t in split["test"][:4]:
        trial = dataset.trials[t]
        for path in walk.paths(trial, object_crops(trial, (10, 10)), 5, 40, rng):
            # it stops when it lands on the target, never before and never after
            assert trial.target_index not in path[:-1]
            assert path[-1] == trial.target_index or len(path) == 40


def _table(seed: int, split: str, rows: dict[str, dict]) -> pd.DataFrame:
    base = {
        "sequence_score": 0.3,
        "edit_distance": 5.0,
        "delta": 0.2,
        "mm_vector": 0.9,
        "mm_direction": 0.7,
        "mm_length": 0.9,
        "mm_position": 0.8,
        "mm_duration": 0.6,
    }
    return pd.DataFrame([{"split": split, "seed": seed, "model": m, **base, **r} for m, r in rows.items()])


def test_statistics_for_every_seed_and_degenerate_ones_undefined() -> None:
    models = {
        "oat_sampled": {"sequence_score": 0.4},
        "image_blind": {},
        GUIDED_WALK: {},
        "random": {},
        "similarity": {"sequence_score": 0.35, "delta": 0.1},
        HUMAN: {"sequence_score": 0.5},
    }
    table = pd.concat(
        [
            _table(0, "trials", models),
            _table(
                1,
                "trials",
                {**models, "oat_sampled": {"mm_vector": np.nan, "sequence_score": 0.2}, HUMAN: {"sequence_score": 0.0}},
            ),
        ]
    )
    summary = seed_summary(table, "tiny", {"dropped": 0}).to_dict()
    assert summary["seeds"] == [0, 1] and summary["findings"] == []
    s0, s1 = summary["statistics"]["0"], summary["statistics"]["1"]
    assert s0["oat_sampled.sequence_score.trials"] == 0.4 and s1["oat_sampled.sequence_score.trials"] == 0.2
    assert s0["oat_sampled.ceiling_share.trials"] == pytest.approx(0.8)
    assert s0["best_baseline.sequence_score.trials"] == 0.35 and s0["best_baseline.delta.trials"] == 0.1
    # a MultiMatch mean with no pair of paths (short ones are padded, so only a test set without scanpaths), and a
    # share of a zero ceiling: undefined, with reasons
    assert s1["oat_sampled.mm_vector.trials"] is None and s1["oat_sampled.ceiling_share.trials"] is None
    assert "no pair" in summary["undefined"]["1"]["oat_sampled.mm_vector.trials"]
    assert "ceiling" in summary["undefined"]["1"]["oat_sampled.ceiling_share.trials"]
    assert set(s0) == set(s1)  # the same statistics for every seed


def test_registry_loads_and_every_claim_statistic_is_emitted() -> None:
    claims = load_registry("gaze")
    ids = {c.id for c in claims}
    for split in ("trials", "layouts", "targets"):
        assert {f"oat_beats_image_blind_{split}", f"oat_beats_guided_walk_{split}"} <= ids
    assert {c.control for c in claims} >= {"image_blind", "guided_walk"}
    # every claim's statistics appear in a summary of every split's table (the rows a run writes)
    from neuromodels.gaze.baselines import BASELINES

    models = {
        m: {}
        for m in ("oat_greedy", "oat_sampled", "image_blind_greedy", "image_blind", GUIDED_WALK, *BASELINES, HUMAN)
    }
    table = pd.concat([_table(seed, split, models) for seed in (0, 1) for split in ("trials", "layouts", "targets")])
    summary = seed_summary(table, "tiny", {})
    for seed in ("0", "1"):
        stats = summary.statistics[seed]
        for c in claims:
            assert c.value in stats, (c.id, c.value)
            assert c.control_value is None or c.control_value in stats, (c.id, c.control_value)


def test_measure_seed_reads_only_its_seed() -> None:
    from neuromodels.core.findings import Summary

    summary = Summary("gaze")
    measure_seed(summary, 3, _table(3, "layouts", {"oat_sampled": {}, HUMAN: {}}))
    assert list(summary.statistics) == ["3"] and "oat_sampled.sequence_score.layouts" in summary.statistics["3"]
