"""Simulated recordings -> targets -> features through the extractor interface -> ridge -> test ladder.

With oracle extractors (a vision model that sees the image attributes, a language model that reads the words, and
a dual encoder whose joint space is the bag of content words), the planted multimodal electrodes are found and
vision- or language-only electrodes are not called multimodal.
"""

import numpy as np

from neuromodels.seeg.evaluate import detection_scores, ladder
from neuromodels.seeg.features import Model, event_features, joint_layer
from neuromodels.seeg.preprocess import PreprocessSettings
from neuromodels.seeg.simulate import content_words
from neuromodels.seeg.train import build_targets, encode_alignment


def _models(scenes, latents):
    vocab = sorted({w for c in scenes["caption"] for w in content_words(c)})
    captions = dict(zip(scenes["stimulus_id"], scenes["caption"]))
    lat = dict(zip(scenes["stimulus_id"], latents))

    def bow(text):
        v = np.zeros(len(vocab))
        for w in content_words(text):
            v[vocab.index(w)] = 1.0
        return v

    def ids(images):  # the oracle images carry their stimulus id in the first pixel
        return [int(x) for x in images[:, 0, 0, 0]]

    def vision(images, texts):
        return {"attributes": np.stack([lat[i] for i in ids(images)])}

    def language(images, texts):
        return {"words": np.stack([bow(t) for t in texts])}

    def dual(images, texts):
        seen = np.stack([bow(captions[i]) for i in ids(images)])
        return {"image": seen, "joint": joint_layer(seen, np.stack([bow(t) for t in texts]))}

    gen = np.random.default_rng(0)

    def noise(images, texts):
        return {"random": gen.standard_normal((len(texts), 8))}

    return [Model("vis", "vision", vision), Model("lang", "language", language),
            Model("dual", "multimodal", dual, control="dual-random"),
            Model("dual-random", "multimodal", noise, trained=False)]


def test_planted_multimodal_electrodes_are_found(small_dataset):
    root, truth, scenes, latents = small_dataset
    images = {i: np.full((4, 4, 3), i, np.uint8) for i in scenes["stimulus_id"]}
    models = _models(scenes, latents)
    calls = []
    for alignment in ("language",):
        t = build_targets(root, alignment, PreprocessSettings(), (-0.1, 0.6), 0.1, 0.05)
        feats = {m.name: event_features(m, images, t.events["stimulus_id"].tolist(), t.events["text"].tolist())
                 for m in models}
        Y = t.Y.reshape(len(t.Y), -1)
        out = encode_alignment(Y, feats, {m.name: m.modality for m in models}, n_blocks=6, n_outer=3, n_inner=3,
                               alphas=[0.1, 10.0, 1000.0], backend="torch")
        preds = {k.split("/", 1)[1]: v for k, v in out.items() if k.startswith("pred/")}
        table, _ = ladder(Y, preds, t.Y.shape[1], {m.name: m.modality for m in models}, "dual", n_boot=200,
                          min_bins=3, controlled=("dual", "vis"))
        calls.append(table["multimodal_site"].to_numpy())
        # The trained dual encoder beats its random control on the multimodal electrodes.
        mm = truth["class"].to_numpy() == "multimodal"
        assert table.loc[mm, "dual_vs_random"].all()
    called = np.any(calls, axis=0)
    klass = truth["class"].to_numpy()
    scores = detection_scores(called, klass == "multimodal")
    assert scores["planted"] >= 2
    assert scores["precision"] >= 0.8 and scores["recall"] >= 0.8, (scores, truth.loc[called, ["Electrode", "class"]])
    assert not called[np.isin(klass, ["vision", "language"])].any()


def test_multimodal_drive_is_not_a_sum_of_image_and_word_terms(small_dataset):
    """Congruence cannot be fit by image terms plus word terms (what the concatenation baseline can express)."""
    from neuromodels.seeg.simulate import event_drives, make_movie, SimulationSettings

    _, _, scenes, latents = small_dataset
    words, cuts = make_movie(scenes, SimulationSettings(duration=600.0), seed=3)
    drives = event_drives(words, cuts, scenes, latents, seed=3)
    shown = np.r_[np.searchsorted(cuts["time"], words["start"], side="right") - 1, np.arange(len(cuts))]
    scene_ids = cuts["stimulus_id"].to_numpy()[shown]
    image_terms = np.eye(len(scenes))[scene_ids]  # one column per image: any function of what is seen
    X = np.c_[image_terms, drives["language"], np.ones(len(shown))]
    y = drives["congruence"]
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r2 = 1 - ((y - X @ beta) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert r2 < 0.5
    # Congruent utterances overlap fully with the shown image's caption.
    congruent = words["congruent"].to_numpy()
    assert np.allclose(y[:len(words)][congruent], 1.0) and (y[:len(words)][~congruent] < 1.0).all()


def test_contacts_near_grey_matter_with_named_regions(small_dataset):
    from neuromodels.seeg.simulate import _grey_matter

    _, truth, _, _ = small_dataset
    grey = _grey_matter()
    tips = truth.groupby("shaft").first()
    for _, tip in tips.iterrows():
        dist = np.linalg.norm(grey - tip[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float), axis=1).min()
        assert dist < 2.0
    assert tips["Region"].str.contains("temporoparietal junction").any()
    assert set(truth["class"]) == {"vision", "language", "multimodal", "noise"}


def test_winning_class():
    import pandas as pd

    from neuromodels.seeg.evaluate import winning_class

    mods = {"simclr": "vision", "minilm": "language", "clip": "multimodal", "simclr-random": "vision"}
    row = pd.Series({"signal_any": True, "multimodal_site_any": False, "r_simclr_best": 0.2, "r_minilm_best": 0.5,
                     "r_simclr-random_best": 0.9})
    assert winning_class(row, mods) == "language"
    assert winning_class(row.copy().set_axis(row.index).replace({False: True}), mods) == "multimodal"
    assert winning_class(pd.Series({"signal_any": False}), mods) == "none"
