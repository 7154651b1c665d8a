"""Training on planted data: the joint model decodes every source subject far above chance, a new subject
adapted with few images beats the same network trained on it from scratch, the summary's findings fail when
the targets are shuffled, resume after a kill, and the CLI chain (simulate -> targets -> train -> adapt ->
report, with summary.json) at a tiny size."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from neuromodels.decoding.models import LossWeights, ModelConfig
from neuromodels.decoding.targets import make_targets
from neuromodels.decoding.train import (DecodingData, TrainConfig, adapt, evaluate_subject, model_state,
                                        train_joint, train_subset)

SOURCES = ["subj01", "subj02", "subj03"]
MODEL = ModelConfig(pooled=128, hidden=64, rank=8, n_blocks=2)
CFG = TrainConfig(batch_size=16, epochs=25, lr=1e-3, adapt_epochs=10, adapt_min_steps=150, adapt_lr=3e-3,
                  eval_draws=5)


@pytest.fixture(scope="module")
def planted(small_dataset):
    targets = make_targets(small_dataset, image="latents", text="latents", dim=24)
    data = DecodingData(small_dataset, targets, SOURCES + ["subj04"])
    sources = DecodingData.__new__(DecodingData)
    sources.__dict__.update(data.__dict__)
    sources.subjects = {s: data.subjects[s] for s in SOURCES}
    torch.set_num_threads(1)
    model, result = train_joint(sources, MODEL, CFG, LossWeights(), 0, torch.device("cpu"), progress=False)
    return data, model, result


def test_joint_model_decodes_every_source_subject(planted):
    data, model, result = planted
    assert result.steps == CFG.epochs * 5  # 80 training images / batch 16
    for s in SOURCES:
        m = evaluate_subject(model, data, s, CFG, seed=0)
        assert m["k"] == 30
        assert m["image_top1_image"] > 8 * m["chance_top1"], (s, m)
        assert m["image_two_way"] > 0.85 and m["text_two_way"] > 0.85


def test_adapting_beats_scratch_on_a_new_subject_with_few_images(planted):
    """With 12 images of a new subject, a new linear adapter into the source subjects' frozen decoder beats
    the same kind of network trained on that subject alone. The frozen methods train only the new subject's
    part; the published reset-tuning trains every part, the source subjects' parts included."""
    data, model, _ = planted
    sources = DecodingData.__new__(DecodingData)
    sources.__dict__.update(data.__dict__)
    sources.subjects = {s: data.subjects[s] for s in SOURCES}
    linear, _ = train_joint(sources, replace(MODEL, kind="linear"), CFG, LossWeights(), 0, torch.device("cpu"),
                            progress=False)
    bases = {"mindbridge_reset": model_state(model), "mindbridge_reset_frozen": model_state(model),
             "linear_adapter": model_state(linear), "scratch": None}
    scores, fitted_models = {}, {}
    for method, base in bases.items():
        fitted, record = adapt(data, method, "subj04", 12, CFG, LossWeights(), 0, torch.device("cpu"),
                               base=base, model_cfg=MODEL, sources=SOURCES, progress=False)
        assert record["n_train"] == 12
        scores[method] = evaluate_subject(fitted, data, "subj04", CFG, seed=0)
        fitted_models[method] = fitted
    for method, joint in (("mindbridge_reset_frozen", model), ("linear_adapter", linear)):
        fitted = fitted_models[method]  # only the new subject's parts were trained
        assert sum(p.numel() for p in fitted.parameters() if p.requires_grad) < \
            sum(p.numel() for p in fitted.parameters()) / 2
        assert torch.equal(fitted.translator.blocks[0].net[0].weight, joint.translator.blocks[0].net[0].weight)
    published = fitted_models["mindbridge_reset"]  # every part trained, a source subject's embedder too
    assert not torch.equal(published.translator.blocks[0].net[0].weight, model.translator.blocks[0].net[0].weight)
    assert not torch.equal(published.embedders["subj01"].proj[0].weight, model.embedders["subj01"].proj[0].weight)
    scratch = scores["scratch"]
    adapter = scores["linear_adapter"]
    assert adapter["top1"] > scratch["top1"] + 0.1, scores
    assert adapter["image_corr"] > scratch["image_corr"] + 0.1, scores
    # at this size the MindBridge methods decode the new subject but do not clearly beat scratch (the
    # pipeline's default preset measures that; see the family's summary.json)
    for method in ("mindbridge_reset", "mindbridge_reset_frozen"):
        assert scores[method]["top1"] > 5 * scores[method]["chance_top1"], (method, scores)


def test_published_reset_tuning_batches_carry_one_source_subject_in_turn_with_its_targets(planted):
    from neuromodels.decoding.train import epoch_batches

    data, _, _ = planted
    parts = {"subj04": (data.subjects["subj04"], data.train_ids["subj04"][:12], True)}
    parts.update({s: (data.subjects[s], data.train_ids[s], True) for s in SOURCES})
    seen = []
    for epoch in range(2):
        for batch in epoch_batches(parts, data.targets, 16, 2, 0, epoch, rotate=SOURCES):
            assert set(batch) == {"subj04", seen_source := next(s for s in batch if s != "subj04")}
            assert "image" in batch[seen_source] and len(batch[seen_source]["voxels"]) == 16
            assert len(batch["subj04"]["voxels"]) == 12
            seen.append(seen_source)
    assert seen == [SOURCES[t % 3] for t in range(4)]


def test_nested_training_subsets():
    ids = np.arange(100, 160)
    small, big = train_subset(ids, 10, 3), train_subset(ids, 30, 3)
    assert np.array_equal(big[:10], small) and len(set(big)) == 30
    assert len(train_subset(ids, "all", 3)) == 60


def test_training_resumes_from_a_checkpoint(planted, tmp_path):
    data, _, _ = planted
    sub = DecodingData.__new__(DecodingData)
    sub.__dict__.update(data.__dict__)
    sub.subjects = {s: data.subjects[s] for s in SOURCES[:2]}
    cfg = replace(CFG, epochs=4, checkpoint_every=3)
    ck = tmp_path / "ck.pt"
    full, full_result = train_joint(sub, MODEL, cfg, LossWeights(), 1, torch.device("cpu"), progress=False)

    class Killed(Exception):
        pass

    from neuromodels.core import training

    original = training.Trainer._checkpoint

    def kill_after_first(self, step, epoch, *args):
        original(self, step, epoch, *args)
        if step >= 7:
            raise Killed

    training.Trainer._checkpoint = kill_after_first
    try:
        with pytest.raises(Killed):
            train_joint(sub, MODEL, cfg, LossWeights(), 1, torch.device("cpu"), checkpoint=str(ck), progress=False)
    finally:
        training.Trainer._checkpoint = original
    resumed, result = train_joint(sub, MODEL, cfg, LossWeights(), 1, torch.device("cpu"), checkpoint=str(ck),
                                  progress=False)
    assert result.resumed_from_step > 0
    for (n, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), n
    assert [h["loss"] for h in result.history] == pytest.approx([h["loss"] for h in full_result.history])


def _cli_chain(tmp_path: Path, train: dict, *train_args: str) -> tuple[Path, list[str]]:
    """Simulate three subjects, make latent targets and train the joint MindBridge model on two of them through
    the command line; returns the results folder and the data/target/preset arguments of later steps."""
    from neuromodels.cli import main

    d, r = tmp_path / "nsd", tmp_path / "results"
    params = json.dumps({"simulate": {"n_subjects": 3, "n_test": 20, "n_train": 40, "n_pool": 70, "image_size": 16},
                         "train": train})
    common = ["--preset", "tiny", "--params", params, "--threads", "1"]
    assert main(["decoding", "simulate", "--out", str(d), *common]) == 0
    assert main(["decoding", "targets", "--data", str(d), "--out", str(tmp_path / "t.h5"), "--image", "latents",
                 "--text", "none", "--dim", "8"]) == 0
    t = ["--data", str(d), "--targets", str(tmp_path / "t.h5"), *common]
    assert main(["decoding", "train", "--model", "mindbridge", "--subjects", "subj01", "subj02", "--out",
                 str(r / "mb.pt"), "--metrics", str(r / "mb.json"), *train_args, *t]) == 0
    return r, t


def test_cli_chain_writes_tables_and_figures(tmp_path):
    from neuromodels.cli import main

    r, t = _cli_chain(tmp_path, {"epochs": 3, "adapt_min_steps": 5, "adapt_epochs": 1},
                      "--checkpoint", str(tmp_path / "results" / "ck.pt"))
    assert not (r / "ck.pt").exists()  # a finished job drops its checkpoint
    metrics = []
    for method, n in (("mindbridge_reset", "10"), ("ridge", "10"), ("scratch", "all")):
        out = r / f"{method}_{n}.json"
        base = ["--base", str(r / "mb.pt")] if method == "mindbridge_reset" else []
        assert main(["decoding", "adapt", "--method", method, "--subject", "subj03", "--n-train", n, *base,
                     "--sources", "subj01", "subj02", "--metrics", str(out), *t]) == 0
        metrics.append(str(out))
    # several methods in one call (one read of the data): each record as the method's own call gave it
    together = [str(r / f"together_{m}.json") for m in ("mindbridge_reset", "ridge", "scratch")]
    assert main(["decoding", "adapt", "--method", "mindbridge_reset", "ridge", "scratch", "--subject", "subj03",
                 "--n-train", "10", "--base", str(r / "mb.pt"), "--sources", "subj01", "subj02",
                 "--checkpoint", str(r / "ck_adapt.pt"), "--metrics", *together, *t]) == 0
    timing = {"train_seconds", "samples_per_second"}
    for alone, joined in zip(metrics[:2], together[:2]):
        a, b = json.loads(Path(alone).read_text()), json.loads(Path(joined).read_text())
        assert {k: v for k, v in a.items() if k not in timing} == {k: v for k, v in b.items() if k not in timing}
    assert json.loads(Path(together[2]).read_text())["n_train"] == 10 and not list(r.glob("ck_adapt*"))
    # one metrics file per method, and a method that needs a joint model names it
    assert main(["decoding", "adapt", "--method", "ridge", "scratch", "--subject", "subj03", "--metrics",
                 str(r / "x.json"), *t]) == 2
    assert main(["decoding", "adapt", "--method", "linear_adapter", "--subject", "subj03", "--base", str(r / "mb.pt"),
                 "--metrics", str(r / "x.json"), *t]) == 2
    assert main(["decoding", "report", "--metrics", str(r / "mb.json"), *metrics, "--out-dir", str(r)]) == 0
    for name in ("learning_curve.csv", "learning_curve.png", "source_subjects.csv", "source_subjects.png",
                 "summary.json"):
        assert (r / name).stat().st_size > 0
    findings = json.loads((r / "summary.json").read_text())["findings"]
    assert {f["finding"].split(" ")[0] for f in findings} >= {"joint", "mindbridge_reset"}
    import pandas as pd

    curve = pd.read_csv(r / "learning_curve.csv")
    assert set(curve["method"]) == {"mindbridge_reset", "ridge", "scratch"}
    assert sorted(curve["n_train"].unique().tolist()) == [10, 40]
    # a bad file fails with one line naming it
    assert main(["decoding", "adapt", "--method", "ridge", "--subject", "subj09", "--metrics", str(r / "x.json"),
                 *t]) == 2


def test_draws_refit_each_method_on_other_images_and_the_findings_pair_them(tmp_path):
    """``--draws 3``: every method fitted three times (draw d seeded seed + 1000 d: its own training images and
    initialisation), one record per draw in its metrics file; draw 0 is the single fit of the same job; the
    summary's adaptation finding is the mean of the differences to scratch paired by draw, with their spread."""
    from neuromodels.cli import main
    from neuromodels.decoding.evaluate import collect, curve_table, summarise

    r, t = _cli_chain(tmp_path, {"epochs": 2, "adapt_min_steps": 4, "adapt_epochs": 1})
    job = ["decoding", "adapt", "--method", "mindbridge_finetune", "scratch", "--subject", "subj03", "--n-train", "8",
           "--base", str(r / "mb.pt"), "--seed", "2", *t]
    drawn = [str(r / "ft3.json"), str(r / "sc3.json")]
    assert main([*job, "--draws", "3", "--checkpoint", str(r / "ck.pt"), "--metrics", *drawn]) == 0
    assert main([*job, "--metrics", str(r / "ft1.json"), str(r / "sc1.json")]) == 0
    assert not list(r.glob("ck*"))  # every draw's checkpoint dropped when done
    records = json.loads((r / "ft3.json").read_text())["records"]
    assert [(x["draw"], x["fit_seed"], x["seed"]) for x in records] == [(0, 2, 2), (1, 1002, 2), (2, 2002, 2)]
    single = json.loads((r / "ft1.json").read_text())
    timing = {"train_seconds", "samples_per_second", "draw", "fit_seed"}
    assert {k: v for k, v in records[0].items() if k not in timing} == \
        {k: v for k, v in single.items() if k not in timing}
    assert len({x["top1"] for x in records}) > 1 or len({x["image_corr"] for x in records}) == 3  # other fits
    table = collect(drawn)
    assert len(table) == 6 and curve_table(table)["n_fits"].tolist() == [3, 3]
    finding = next(f for f in summarise(table).findings if f.finding.startswith("mindbridge_finetune"))
    diffs = [a["top1"] - b["top1"] for a, b in zip(records, json.loads((r / "sc3.json").read_text())["records"])]
    assert finding.value == pytest.approx(np.mean(diffs)) and "3 paired fits" in finding.detail
    assert main([*job, "--draws", "0", "--metrics", *drawn]) == 2  # one line, not a traceback


def test_paired_differences_match_by_seed_and_draw():
    import pandas as pd

    from neuromodels.decoding.evaluate import paired_differences

    rows = pd.DataFrame([{"method": m, "seed": s, "draw": d, "top1": v} for m, s, d, v in [
        ("a", 0, 0, 0.5), ("a", 0, 1, 0.4), ("a", 1, 0, 0.9), ("b", 0, 1, 0.1), ("b", 0, 0, 0.3),
        ("b", 1, 1, 0.2)]])
    from neuromodels.decoding.evaluate import summarise

    tie = [{"method": m, "role": "heldout", "subject": "s", "n_train": 25, "seed": 0, "draw": d, "top1": v,
            "chance_top1": 0.01, "k": 100} for m, d, v in [("scratch", 0, 0.07), ("scratch", 1, 0.045),
                                                          ("scratch", 2, 0.085), ("mindbridge_finetune", 0, 0.05),
                                                          ("mindbridge_finetune", 1, 0.07),
                                                          ("mindbridge_finetune", 2, 0.08)]]
    finding = next(f for f in summarise(pd.DataFrame(tie)).findings if f.finding.startswith("mindbridge"))
    assert finding.value == 0.0 and not finding.met  # a tie is not "above", whatever the float rounding says
    diff = paired_differences(rows, "a", "b")
    assert diff.to_dict() == pytest.approx({(0, 0): 0.2, (0, 1): 0.3})  # (1, 0) and (1, 1) have no partner
    no_draws = rows[rows["draw"] == 0].drop(columns="draw")
    assert paired_differences(no_draws, "a", "b").to_dict() == pytest.approx({(0, 0): 0.2})


def test_the_workflow_draws_the_smallest_size_only():
    from neuromodels.decoding.workflow import DRAWS_PRESET, DecodingWorkflow

    section = {"data": "", "subjects": [], "heldout": "subj05", "simulate": {}, "n_train": [200, 25, "all", 75],
               "targets": {"encoder_seed": 0, "image": "clip", "text": "minilm"}, "draws": 0}
    wf = DecodingWorkflow(section, "default", [0])
    at = {n: wf.draws_arg(type("W", (), {"n_train": n})()) for n in ("25", "75", "200", "all")}
    assert at == {"25": f"--draws {DRAWS_PRESET['default']}", "75": "", "200": "", "all": ""}
    assert DecodingWorkflow({**section, "draws": 1}, "default", [0]).draws_arg(type("W", (), {"n_train": "25"})()) == ""
    assert "draws" not in json.loads(__import__("shlex").split(wf.job_settings())[0])  # other jobs unaffected


def _records(model, data, subjects, seed=0):
    return [{"method": "mindbridge_joint", "role": "source", "subject": s, "n_train": 80, "seed": seed,
             **evaluate_subject(model, data, s, CFG, seed=seed)} for s in subjects]


def test_top1_findings_hold_on_planted_data_and_fail_when_the_targets_are_shuffled(planted):
    """The summary's top-1 findings can fail: the same joint training on targets shuffled across stimuli
    (voxels no longer carry their stimulus's embedding) leaves every source subject near chance."""
    import pandas as pd

    from neuromodels.decoding.evaluate import summarise
    from neuromodels.decoding.targets import Targets

    data, model, _ = planted
    summary = summarise(pd.DataFrame(_records(model, data, SOURCES)), preset="test", seed=0)
    assert len(summary.findings) == len(SOURCES)
    assert all(f.met and f.value > 2 * f.threshold for f in summary.findings), summary.to_dict()

    rng = np.random.default_rng(0)
    t = data.targets
    perm = rng.permutation(len(t.stimulus_id))
    shuffled = DecodingData.__new__(DecodingData)
    shuffled.__dict__.update(data.__dict__)
    shuffled.subjects = {s: data.subjects[s] for s in SOURCES}
    shuffled.targets = Targets(t.stimulus_id, t.image[perm], t.text[perm])
    broken, _ = train_joint(shuffled, MODEL, CFG, LossWeights(), 0, torch.device("cpu"), progress=False)
    summary = summarise(pd.DataFrame(_records(broken, data, SOURCES)), preset="test", seed=0)
    assert not any(f.met for f in summary.findings), summary.to_dict()
    assert not summary.to_dict()["all_met"]


def test_adaptation_findings_are_method_minus_scratch_at_the_smallest_n():
    import pandas as pd

    from neuromodels.decoding.evaluate import summarise

    rows = [{"method": m, "role": "heldout", "subject": "s5", "n_train": n, "seed": 0, "top1": v,
             "chance_top1": 0.01, "k": 100}
            for m, n, v in [("scratch", 25, 0.30), ("scratch", 100, 0.6), ("mindbridge_reset", 25, 0.42),
                            ("mindbridge_reset", 100, 0.5), ("linear_adapter", 25, 0.25), ("ridge", 25, 0.9)]]
    rows += [{"method": "mindbridge_joint", "role": "source", "subject": "s1", "n_train": 600, "seed": 0,
              "top1": 0.04, "chance_top1": 0.01, "k": 100}]
    found = {f.finding: f for f in summarise(pd.DataFrame(rows), preset="tiny", seed=0).findings}
    assert len(found) == 3  # s1's top-1, then one per adaptation method (ridge is a baseline, not one)
    top1 = next(f for name, f in found.items() if "s1" in name)
    assert top1.threshold == pytest.approx(0.05) and not top1.met  # 4x chance is below 5x
    reset = next(f for name, f in found.items() if name.startswith("mindbridge_reset"))
    assert reset.value == pytest.approx(0.12) and reset.met and "n = 25" in reset.finding
    adapter = next(f for name, f in found.items() if name.startswith("linear_adapter"))
    assert adapter.value == pytest.approx(-0.05) and not adapter.met


def _second_generator(root, n_subjects=4, n_test=30, n_train=80, k=5, seed=7):
    """An NSD-layout data set from a generative model unlike the simulator's: each voxel is Gaussian-tuned to
    a preferred point of the latent space (population receptive fields, not smooth spatial mixing maps), with
    multiplicative gain noise on top of additive noise, a random scatter of voxels (not grey matter), one
    session and no drift. Returns (stimulus ids, latents)."""
    import pandas as pd

    from neuromodels.decoding.data import write_stimuli, write_subject

    rng = np.random.default_rng(seed)
    n_stim = n_test + n_train * n_subjects
    latents = rng.uniform(-1.5, 1.5, size=(n_stim, k))
    ids = np.arange(1000, 1000 + n_stim, dtype=np.int64)
    write_stimuli(root, ids, np.zeros((n_stim, 4, 4, 3), np.uint8))
    for s in range(n_subjects):
        mask = rng.random((9, 9, 9)) < 0.15 + 0.03 * s
        n_vox = int(mask.sum())
        centres, width = rng.uniform(-1.5, 1.5, size=(n_vox, k)), rng.uniform(0.8, 1.6, size=n_vox)
        rows = np.concatenate([np.arange(n_test), n_test + s * n_train + np.arange(n_train)])
        stim = np.repeat(rows, 3)
        d2 = ((latents[stim][:, None, :] - centres[None]) ** 2).sum(-1)
        signal = np.exp(-d2 / (2 * width**2))
        signal = (signal - signal.mean(0)) / (signal.std(0) + 1e-9)
        betas = signal * rng.lognormal(0, 0.3, size=signal.shape) + rng.standard_normal(signal.shape)
        trials = pd.DataFrame({"trial": np.arange(len(stim)), "session": 1, "stimulus_id": ids[stim],
                               "repeat": np.tile(np.arange(3), len(rows))})
        write_subject(root, f"sub-{s + 1}", mask, np.eye(4), betas, trials)
    return ids, latents


def test_findings_hold_on_a_second_generator_unlike_the_simulator(tmp_path):
    """A model tuned to our simulator would be caught here: on data from another generative model (population
    receptive fields in latent space) the joint model still decodes every source subject above 5x chance."""
    import pandas as pd

    from neuromodels.decoding.evaluate import summarise
    from neuromodels.decoding.targets import Targets, latent_targets

    ids, latents = _second_generator(tmp_path)
    targets = Targets(ids, latent_targets(latents, 24, seed=0), latent_targets(latents, 24, seed=1))
    subjects = ["sub-1", "sub-2", "sub-3"]
    data = DecodingData(tmp_path, targets, subjects)
    assert len(data.test_ids) == 30
    torch.set_num_threads(1)
    model, _ = train_joint(data, MODEL, CFG, LossWeights(), 0, torch.device("cpu"), progress=False)
    summary = summarise(pd.DataFrame(_records(model, data, subjects)), preset="test", seed=0)
    assert len(summary.findings) == 3
    assert all(f.met and f.value > 2 * f.threshold for f in summary.findings), summary.to_dict()


def test_targets_are_standardised_on_the_stimuli_outside_the_test_set(small_dataset):
    """Test stimuli do not move the statistics: targets standardised over every stimulus (as the targets step
    writes them) come out of DecodingData standardised on the non-test stimuli alone, the same whatever the
    test stimuli's embeddings are; targets kept raw are left as given."""
    from neuromodels.decoding.targets import Targets, standardise_features

    raw = make_targets(small_dataset, image="latents", text="latents", dim=24, standardise=False)
    data = DecodingData(small_dataset, Targets(raw.stimulus_id, raw.image, raw.text, {"standardised": "False"}),
                        ["subj01"])
    assert np.array_equal(data.targets.image, raw.image)  # raw targets are not touched
    test_rows = data.targets.rows(data.test_ids)
    train_rows = np.setdiff1d(np.arange(len(raw.stimulus_id)), test_rows)
    outs = []
    for shift in (0.0, 5.0):
        image, text = raw.image.copy(), raw.text.copy()
        image[test_rows] = image[test_rows] * (1 + shift) + shift  # only the test stimuli change
        text[test_rows] += 3 * shift
        t = Targets(raw.stimulus_id, standardise_features(image), standardise_features(text),
                    {"standardised": "True"})
        outs.append(DecodingData(small_dataset, t, ["subj01"]).targets)
    for kind in ("image", "text"):
        a, b = getattr(outs[0], kind), getattr(outs[1], kind)
        np.testing.assert_allclose(a[train_rows], b[train_rows], atol=1e-5)
        assert not np.allclose(a[test_rows], b[test_rows])
        np.testing.assert_allclose(a[train_rows].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(a[train_rows].std(axis=0), 1, atol=1e-4)
        # the same as standardising the raw embeddings with the training rows' statistics
        x = getattr(raw, kind).astype(np.float64)
        expect = (x - x[train_rows].mean(0)) / x[train_rows].std(0)
        np.testing.assert_allclose(a, expect, atol=1e-4)
