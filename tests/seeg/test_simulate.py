"""The simulator plants the truth in the world only: it runs with no network (and no network weights) at hand,
its drives are functions of the scene attributes and the words, and every compared model's random-init control
has a seed of its own."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from neuromodels.cli import main
from neuromodels.seeg.simulate import SimulationSettings, event_drives, make_movie, volume_conduction, world_mixtures
from tests.seeg.conftest import toy_scenes

RULES = Path(__file__).resolve().parents[2] / "workflow" / "rules" / "seeg.smk"


def test_simulator_runs_with_no_network_present(tmp_path, monkeypatch):
    assert main(
        ["stimuli", "generate", "--out", str(tmp_path / "world"), "--n", "16", "--size", "32", "--seed", "0"]
    ) in (0, None)
    # no network package importable, and no weights anywhere: simulating needs neither
    monkeypatch.setitem(sys.modules, "neuromodels.networks", None)
    params = {"simulation": {"n_subjects": 1, "shafts_per_subject": 2, "contacts_per_shaft": 3, "duration": 40.0}}
    assert main(
        [
            "seeg",
            "simulate",
            "--stimuli",
            str(tmp_path / "world"),
            "--out",
            str(tmp_path / "rec"),
            "--preset",
            "tiny",
            "--params",
            json.dumps(params),
        ]
    ) in (0, None)
    truth = pd.read_csv(tmp_path / "rec" / "ground_truth.csv")
    assert {"class", "latency", "noise", "weights"} <= set(truth.columns)
    planted = np.load(tmp_path / "rec" / "planted.npz")
    assert {"vision_in", "word_embedding", "movie0/vision", "movie1/multimodal"} <= set(planted.files)
    assert not list(tmp_path.rglob("*.pt"))
    # the workflow's simulate rule takes the stimulus world and nothing trained
    rule = RULES.read_text()
    block = rule[rule.index("rule seeg_simulate:") : rule.index("rule seeg_targets:")]
    assert "networks" not in block and "encoder" not in block


def test_drives_are_functions_of_the_world():
    scenes, latents = toy_scenes()
    settings = SimulationSettings(duration=300.0)
    mix = world_mixtures(scenes, latents.shape[1], settings, seed=0)
    words, cuts = make_movie(scenes, settings, seed=1)
    d = event_drives(words, cuts, scenes, latents, mix)
    n_words = len(words)
    shown = np.r_[np.searchsorted(cuts["time"], words["start"], side="right") - 1, np.arange(len(cuts))]
    scene = cuts["stimulus_id"].to_numpy()[shown]
    # vision: the same scene gives the same drive, and the mixture is nonlinear in the attributes
    for s in np.unique(scene)[:5]:
        rows = d["vision"][scene == s]
        assert np.allclose(rows, rows[0])
    X = np.c_[latents[scene], np.ones(len(scene))]
    beta, *_ = np.linalg.lstsq(X, d["vision"], rcond=None)
    r2 = 1 - ((d["vision"] - X @ beta) ** 2).sum(0) / ((d["vision"] - d["vision"].mean(0)) ** 2).sum(0)
    assert 0.2 < np.median(r2) < 0.99
    # language: a function of the utterance's content words only (order and stop words do not matter)
    from neuromodels.seeg.simulate import utterance_embedding

    assert np.allclose(
        utterance_embedding("a small red circle on the left", mix), utterance_embedding("left circle red small", mix)
    )
    from neuromodels.stimuli.captions import CATEGORY_SYNONYMS

    cats = set(mix.category_words)  # every word that names a category, synonyms included
    assert cats == {w for c in ("circle", "square", "triangle", "star") for w in CATEGORY_SYNONYMS.get(c, (c,))}
    # multimodal: congruence of what is said with what is shown, not a sum of an image and a word term
    y = d["multimodal"]
    from neuromodels.seeg.simulate import content_words

    vocab = sorted({w for c in scenes["caption"] for w in content_words(c)})
    said = list(words["text"]) + [words.groupby("sentence")["text"].first().get(k, "") for k in range(len(cuts))]
    bow = np.array([[w in content_words(t) for w in vocab] for t in said], float)
    X = np.c_[np.eye(len(scenes))[scene], bow]  # any image term plus any word term
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score

    assert cross_val_score(Ridge(alpha=1.0), X, y, cv=5, scoring="r2").mean() < 0.5
    congruent = words["congruent"].to_numpy()
    assert np.allclose(y[:n_words][congruent], 1.0) and (y[:n_words][~congruent] < 1.0).all()
    # the same seed draws the same mixtures; another seed other ones
    again = world_mixtures(scenes, latents.shape[1], settings, seed=0)
    other = world_mixtures(scenes, latents.shape[1], settings, seed=1)
    assert np.array_equal(again.vision_in, mix.vision_in) and not np.allclose(other.vision_in, mix.vision_in)


def test_semantic_drives_follow_category_alone_and_are_shared_by_synonyms():
    from neuromodels.stimuli.captions import CATEGORY_SYNONYMS, canonical_word

    scenes, latents = toy_scenes()
    settings = SimulationSettings(duration=400.0)
    mix = world_mixtures(scenes, latents.shape[1], settings, seed=0)
    words, cuts = make_movie(scenes, settings, seed=2)
    d = event_drives(words, cuts, scenes, latents, mix)
    category = dict(zip(scenes["stimulus_id"], scenes["category"]))
    shown = np.r_[np.searchsorted(cuts["time"], words["start"], side="right") - 1, np.arange(len(cuts))]
    seen = np.array([category[s] for s in cuts["stimulus_id"].to_numpy()[shown]])
    said = np.array([category[s] for s in words["said_id"]])
    # semantic vision: one code per category shown, whatever its colour, size and place; categories differ
    for c in np.unique(seen):
        assert np.allclose(d["semantic_vision"][seen == c], d["semantic_vision"][seen == c][0])
    assert len({tuple(np.round(d["semantic_vision"][seen == c][0], 6)) for c in np.unique(seen)}) == 4
    # semantic language: one code per category said, whichever word named it
    lang = d["semantic_language"][: len(words)]
    for c in np.unique(said):
        assert np.allclose(lang[said == c], lang[said == c][0])
    # the sentences name a category with a synonym about p_synonym of the time (categories that have synonyms)
    has = np.array([len(CATEGORY_SYNONYMS.get(c, ())) > 1 for c in said])
    sentences = words[has].groupby("sentence")["category_word"].first()
    share = float((sentences != words[has].groupby("sentence")["said_id"].first().map(category)).mean())
    assert abs(share - settings.p_synonym) < 0.15
    assert all(canonical_word(w) in (c, canonical_word(c)) for w, c in zip(words["category_word"], said))
    assert sum(w in words["text"].iloc[i] for i, w in enumerate(words["category_word"])) == len(words)
    # the low-level language drive tells synonyms apart (word identity): same category, other word, other drive
    from neuromodels.seeg.simulate import utterance_embedding

    assert not np.allclose(utterance_embedding("a small red square", mix), utterance_embedding("a small red box", mix))
    # the movie's timing and pairing do not depend on the synonyms drawn
    words0, cuts0 = make_movie(scenes, SimulationSettings(duration=400.0, p_synonym=0.0), seed=2)
    assert words0["start"].equals(words["start"]) and cuts0.equals(cuts)
    assert (words0["category_word"] == said).all()


def test_each_electrode_has_its_own_latency_and_noise(small_dataset):
    _, truth, _, _ = small_dataset
    driven = truth[truth["class"] != "noise"]
    assert driven["latency"].nunique() == len(driven)
    assert truth["noise"].nunique() == len(truth)
    lat = driven.groupby("class")["latency"].mean()
    assert lat["vision"] < lat["language"] < lat["multimodal"]
    assert set(truth["level"]) <= {"low-level", "semantic", "multimodal", "noise"}
    assert (truth.loc[truth["class"].str.startswith("semantic_"), "level"] == "semantic").all()


def test_volume_conduction_reaches_shaft_neighbours_only():
    mix = volume_conduction(["LA1", "LA2", "LA3", "LB1"], (0.4, 0.1))
    np.testing.assert_allclose(mix, [[1, 0.4, 0.1, 0], [0.4, 1, 0.4, 0], [0.1, 0.4, 1, 0], [0, 0, 0, 1]])


def test_random_init_controls_have_their_own_seeds():
    import torch

    from neuromodels.networks import VisionTransformer, random_init_copy
    from neuromodels.seeg.features import random_init_seed

    seeds = {m: random_init_seed(m, 0) for m in ("simclr", "minilm", "clip", "slip")}
    assert len(set(seeds.values())) == 4
    assert random_init_seed("clip-random", 0) == seeds["clip"] and random_init_seed("clip", 1) != seeds["clip"]
    vit = VisionTransformer(16, 8, 16, 1, 2, 2.0, 16)
    a, b = random_init_copy(vit, seeds["clip"]), random_init_copy(vit, seeds["slip"])
    assert not torch.allclose(a.patch_embed.weight, b.patch_embed.weight)
