"""The second NSD-style generator (population receptive fields on the rendered images, many voxels, few
trials: :mod:`neuromodels.decoding.simulate_prf`): what it writes, and the decoders on it.

On its data the ridge baseline, the joint MindBridge model with the automatic settings and the new-subject
adaptation retrieve far above chance; the collapse guard fires on a deliberately collapsed model and on none
of the trained ones. The slow test runs the generator at its full size (6-7k voxels, 150-250 images) and
shows the automatic settings beating the former fixed defaults (512 max-pooled values, learning rate 3e-4).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from neuromodels.decoding.evaluate import collapse_check, mean_pairwise_cosine, summarise
from neuromodels.decoding.models import LossWeights, ModelConfig
from neuromodels.decoding.simulate_prf import PRFSettings, simulate_prf_dataset
from neuromodels.decoding.targets import make_targets
from neuromodels.decoding.train import DecodingData, TrainConfig, adapt, evaluate_subject, train_joint

# reduced size for the fast suite: still far more voxels than training images
SMALL = PRFSettings(
    n_train=(120, 100, 110, 90), n_test=50, n_voxels=(1800, 2200), grid=(28, 28, 28), image_size=16, feature_size=8
)
MODEL = ModelConfig(hidden=64, rank=8, n_blocks=2)  # pooled size, pooling and dropout automatic
CFG = TrainConfig(batch_size=32, epochs=30, adapt_epochs=10, adapt_min_steps=60, adapt_lr=3e-3, eval_draws=5)
CPU = torch.device("cpu")


def _sources(data: DecodingData, names) -> DecodingData:
    view = DecodingData.__new__(DecodingData)
    view.__dict__.update(data.__dict__)
    view.subjects = {s: data.subjects[s] for s in names}
    return view


@pytest.fixture(scope="module")
def prf(tmp_path_factory):
    root = tmp_path_factory.mktemp("prf")
    truth = simulate_prf_dataset(root, SMALL, seed=3)
    targets = make_targets(root, image="latents", text="latents", dim=32)
    subjects = sorted(truth["subjects"])
    data = DecodingData(root, targets, subjects)
    torch.set_num_threads(1)
    model, _ = train_joint(_sources(data, subjects[:-1]), MODEL, CFG, LossWeights(), 0, CPU, progress=False)
    return root, truth, data, model


def test_generator_writes_many_voxels_few_trials_in_the_project_layout(prf):
    import h5py

    root, truth, data, _ = prf
    assert len(data.test_ids) == SMALL.n_test
    assert sorted(data.test_ids.tolist()) == sorted(truth["test_ids"])
    seen = []
    for name, n_train in zip(sorted(truth["subjects"]), SMALL.n_train):
        subject = data.subjects[name]
        assert SMALL.n_voxels[0] <= subject.n_voxels <= SMALL.n_voxels[1]
        assert len(data.train_ids[name]) == n_train < subject.n_voxels / 10
        seen.append(set(data.train_ids[name].tolist()))
        counts = subject.trials.groupby("stimulus_id").size()
        assert counts.min() >= 1 and (counts < SMALL.repeats).sum() > 0  # some repeats are missing
        assert (counts.loc[data.test_ids] == SMALL.repeats).all()
        with h5py.File(root / name / "betas.h5") as f:
            raw = f["betas"][()]
        assert np.array_equal(raw, np.round(raw)) and np.abs(raw).max() <= 32767  # int16 x 300 values
        assert abs(np.median(np.abs(raw))) > 50  # percent signal change x 300, not z-scores
    assert all(not (a & b) for i, a in enumerate(seen) for b in seen[i + 1 :])  # training images not shared


def test_ridge_joint_and_adaptation_decode_far_above_chance(prf):
    """Margins (chance 1/50): ridge on the new subject and the joint model on every source subject above 10x
    chance, the new subject adapted (frozen reset-tuning, 40 images) above 5x chance; none collapsed."""
    _, truth, data, model = prf
    subjects = sorted(truth["subjects"])
    held, sources = subjects[-1], subjects[:-1]
    # ~2000 voxels: the smallest power of two holding the largest subject's voxels
    assert model.config.pool == "max" and model.config.pooled >= max(data.n_voxels().values())
    for s in sources:
        m = evaluate_subject(model, data, s, CFG, seed=0)
        assert m["top1"] > 10 * m["chance_top1"] and not m["collapsed"], (s, m)
    ridge, _ = adapt(data, "ridge", held, "all", CFG, LossWeights(), 0, CPU)
    m = evaluate_subject(ridge, data, held, CFG, seed=0)
    assert m["top1"] > 10 * m["chance_top1"] and not m["collapsed"], m
    from neuromodels.decoding.train import model_state

    fitted, _ = adapt(
        data,
        "mindbridge_reset_frozen",
        held,
        40,
        CFG,
        LossWeights(),
        0,
        CPU,
        base=model_state(model),
        sources=sources,
        progress=False,
    )
    m = evaluate_subject(fitted, data, held, CFG, seed=0)
    assert m["top1"] > 5 * m["chance_top1"] and not m["collapsed"], m


def test_reset_tuning_is_level_with_scratch_on_the_second_generator_over_paired_draws(prf):
    """MindBridge's reset-tuning as published (every part trained, source images in each batch) against the same
    network trained on the new subject alone, at 25 images, on the receptive-field generator: three draws of
    training images and initialisation (the pipeline's ``draw_seeds``), each method fitted on the same images.

    With the former pooled size (1024 for ~2000 voxels, a max over pairs of voxels) reset-tuning was above scratch:
    0.170 / 0.155 / 0.155 against 0.130 / 0.130 / 0.105 (top-1 of 50, chance 0.02). With the automatic size since
    issue 20 (the power of two holding the largest subject's voxels, 4096 here) scratch no longer loses half its
    voxels: reset 0.170 / 0.160 / 0.165 against scratch 0.150 / 0.165 / 0.180, paired differences +0.020 /
    -0.005 / -0.015. So on this generator reset-tuning's advantage at 25 images was scratch's pooling loss; the
    test records that they are level (the mean of the pairs within 0.03, a test stimulus and a half) and both far
    above chance, and fails if either falls away."""
    from neuromodels.decoding.train import draw_seeds, model_state

    _, truth, data, model = prf
    subjects = sorted(truth["subjects"])
    held, sources = subjects[-1], subjects[:-1]
    diffs = []
    for seed in draw_seeds(0, 3):
        top1 = {}
        for method in ("mindbridge_reset", "scratch"):
            fitted, record = adapt(
                data,
                method,
                held,
                25,
                CFG,
                LossWeights(),
                seed,
                CPU,
                base=model_state(model),
                model_cfg=MODEL,
                sources=sources,
                progress=False,
            )
            assert record["n_train"] == 25
            top1[method] = evaluate_subject(fitted, data, held, CFG, seed=0)["top1"]
        diffs.append(top1["mindbridge_reset"] - top1["scratch"])
        assert min(top1.values()) > 5 * 0.02, top1
    assert abs(np.mean(diffs)) < 0.03, diffs


def test_collapse_guard_fires_on_a_collapsed_model_and_says_so(prf, caplog):
    _, truth, data, model = prf
    subject = sorted(truth["subjects"])[0]
    rows = []
    for kind, m in (("trained", model), ("collapsed", _collapsed(model))):
        with caplog.at_level(logging.WARNING, logger="neuromodels.decoding.train"):
            caplog.clear()
            metrics = evaluate_subject(m, data, subject, CFG, seed=0)
        assert metrics["collapsed"] == (1.0 if kind == "collapsed" else 0.0), (kind, metrics)
        assert ("collapsed" in caplog.text) == (kind == "collapsed")
        rows.append(
            {
                "method": "mindbridge_joint",
                "role": "source",
                "subject": subject,
                "n_train": 100,
                "seed": 0 if kind == "trained" else 1,
                **metrics,
            }
        )
    # a prediction picking its stimulus falls to chance (every prediction points the same way); the reverse
    # direction can still rank the tiny differences, so the guard, not top-1, is what says so
    assert rows[1]["image_pred_cosine"] > 0.99 and rows[1]["image_top1_image"] < 3 * rows[1]["chance_top1"]
    assert rows[0]["image_top1_image"] > 10 * rows[0]["chance_top1"]
    summary = summarise(pd.DataFrame(rows), preset="test")
    assert summary.notes["collapsed"] == 1 and "seed=1" in summary.notes["collapsed_runs"][0]


def _collapsed(model):
    """The trained model with its image and text heads' weights scaled to almost nothing: nearly one output
    (the heads' biases) for every stimulus."""
    import copy

    broken = copy.deepcopy(model)
    with torch.no_grad():
        for head in (broken.heads.image, broken.heads.text):
            head[-1].weight.mul_(1e-4)
            head[-1].bias.copy_(torch.linspace(-1, 1, head[-1].bias.numel()))
    return broken


def test_collapse_check_against_brute_force_and_targets_that_point_one_way():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 16)) + 0.5
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = u @ u.T
    assert mean_pairwise_cosine(x) == pytest.approx(sim[~np.eye(40, dtype=bool)].mean())
    target = rng.standard_normal((40, 16))
    assert collapse_check(target + 0.1 * rng.standard_normal((40, 16)), target)["collapsed"] == 0.0
    constant = np.tile(rng.standard_normal(16), (40, 1)) + 1e-3 * rng.standard_normal((40, 16))
    c = collapse_check(constant, target)
    assert c["collapsed"] == 1.0 and c["pred_cosine"] > 0.99 and c["spread"] < 1e-3
    # raw embeddings sharing one big direction: a decoder that follows them is not flagged by the cosine
    common = 10 * rng.standard_normal(16)
    raw = common + rng.standard_normal((40, 16))
    c = collapse_check(raw + 0.3 * rng.standard_normal((40, 16)), raw)
    assert c["pred_cosine"] > 0.98 and c["collapsed"] == 0.0


@pytest.mark.slow
def test_automatic_settings_beat_the_former_defaults_at_full_size(tmp_path):
    """Full size (6-7k voxels, 150-250 images per subject, 100 test stimuli): the default preset's joint
    MindBridge model with the automatic settings (8192 max-pooled values, learning rate 3e-3 for its ~200
    steps) retrieves better on every source subject than with the former fixed defaults (512 max-pooled
    values, 3e-4), by 0.2 of top-1 at least; both above 5x chance, neither collapsed."""
    from neuromodels.decoding.presets import get_preset

    truth = simulate_prf_dataset(tmp_path, seed=0)
    targets = make_targets(tmp_path, image="latents", text="latents", dim=64)
    subjects = sorted(truth["subjects"])
    assert all(6000 <= v["n_voxels"] <= 7000 and 150 <= v["n_train"] <= 250 for v in truth["subjects"].values())
    data = DecodingData(tmp_path, targets, subjects[:-1])
    preset = get_preset("default")
    torch.set_num_threads(1)
    scores = {}
    for name, model_cfg, train_cfg in (
        ("auto", preset.model, preset.train),
        ("former", replace(preset.model, pooled=512, pool="max"), replace(preset.train, lr=3e-4)),
    ):
        model, _ = train_joint(data, model_cfg, train_cfg, preset.loss, 0, CPU, progress=False)
        scores[name] = [evaluate_subject(model, data, s, preset.train, seed=0) for s in subjects[:-1]]
        if name == "auto":
            assert model.config.pooled == 8192
    for auto, former in zip(scores["auto"], scores["former"]):
        assert auto["top1"] > former["top1"] + 0.2, (auto["top1"], former["top1"])
        assert former["top1"] > 5 * former["chance_top1"]
        assert not auto["collapsed"] and not former["collapsed"]
