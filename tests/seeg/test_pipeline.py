"""Simulated recordings -> targets -> features through the extractor interface -> ridge -> test ladder.

With oracle extractors (a vision model that sees the image attributes, a language model that reads the words, and
a dual encoder whose towers are the words of the shown image's caption and of the utterance; the oracles know
which category a synonym names), the planted multimodal electrodes are found, and vision- or language-only
electrodes (low-level or semantic) are not called multimodal, whichever of the two generators planted them.
"""

import numpy as np
import pandas as pd
import pytest

from neuromodels.seeg.encoding import ModelFeatures, encode_alignment
from neuromodels.seeg.features import Model, event_features, interaction
from neuromodels.seeg.ladder import detection_scores, ladder
from neuromodels.seeg.preprocess import PreprocessSettings
from neuromodels.seeg.simulate import content_words
from neuromodels.seeg.targets import build_targets
from neuromodels.stimuli.captions import canonical_word


def _models(scenes, latents):
    vocab = sorted({canonical_word(w) for c in scenes["caption"] for w in content_words(c)})
    captions = dict(zip(scenes["stimulus_id"], scenes["caption"]))
    lat = dict(zip(scenes["stimulus_id"], latents))

    def bow(text):
        v = np.zeros(len(vocab))
        for w in content_words(text):
            v[vocab.index(canonical_word(w))] = 1.0
        return v

    def ids(images):  # the oracle images carry their stimulus id in the first pixel
        return [int(x) for x in images[:, 0, 0, 0]]

    def vision(images, texts):
        return {"image.attributes": np.stack([lat[i] for i in ids(images)])}

    def language(images, texts):
        return {"text.words": np.stack([bow(t) for t in texts])}

    def dual(images, texts):
        return {
            "image.words": np.stack([bow(captions[i]) for i in ids(images)]),
            "text.words": np.stack([bow(t) for t in texts]),
        }

    gen = np.random.default_rng(0)

    def noise(images, texts):
        return {
            "image.random": gen.standard_normal((len(texts), 8)),
            "text.random": gen.standard_normal((len(texts), 8)),
        }

    return [
        Model("vis", "vision", vision, image_output="image.attributes"),
        Model("lang", "language", language, text_output="text.words"),
        Model("dual", "multimodal", dual, control="dual-random", image_output="image.words", text_output="text.words"),
        Model(
            "dual-random",
            "multimodal",
            noise,
            trained=False,
            image_output="image.random",
            text_output="text.random",
            seed=5,
        ),
    ]


@pytest.mark.parametrize("dataset", ["small_dataset", "second_dataset"])
def test_planted_multimodal_electrodes_are_found(dataset, request):
    root, truth, scenes, latents = request.getfixturevalue(dataset)
    images = {str(i): np.full((4, 4, 3), i, np.uint8) for i in scenes["stimulus_id"]}  # ids read back as text
    models = _models(scenes, latents)
    t = build_targets(root, "language", PreprocessSettings(), (-0.1, 0.6), 0.1, 0.1)
    assert t.events["movie"].nunique() == 2  # every movie of the subject is used
    feats = {
        m.name: ModelFeatures(
            m.name,
            m.modality,
            event_features(m, images, t.events["stimulus_id"].tolist(), t.events["text"].tolist()),
            m.trained,
            m.image_output,
            m.text_output,
            m.seed,
        )
        for m in models
    }
    Y = t.Y.reshape(len(t.Y), -1)
    out = encode_alignment(Y, feats, n_blocks=6, n_outer=3, n_inner=3, alphas=[0.1, 10.0, 1000.0], backend="torch")
    preds = {k.split("/", 1)[1]: v for k, v in out.items() if k.startswith("pred/")}
    # every model, the unimodal pair with its interaction, and the linear-integration baselines
    assert {"vis", "lang", "dual", "dual-random", "dual-towers", "vis+lang", "concat", "lincomb"} <= set(preds)
    assert "interaction" in list(out["layers/dual"]) and "interaction" in list(out["layers/vis+lang"])
    table, _ = ladder(
        Y,
        preds,
        t.Y.shape[1],
        {m.name: m.modality for m in models},
        "dual",
        n_boot=400,
        min_bins=3,
        controlled=("dual", "vis"),
        pair="vis+lang",
    )
    klass = truth.set_index("Electrode").loc[t.electrodes["Electrode"], "class"].to_numpy()
    called = table["multimodal_site"].to_numpy()
    scores = detection_scores(called, klass == "multimodal")
    assert scores["planted"] >= 2
    assert scores["precision"] >= 0.8 and scores["recall"] >= 0.8, (scores, list(zip(klass, called)))
    # no unimodal contact is called multimodal: a middle contact keeps at most 0.15 of a neighbour's source after
    # the two-sided Laplacian, and shaft ends (one-sided: as much of the neighbour's source as their own) are
    # references only
    assert called[np.isin(klass, ["vision", "language", "semantic_vision", "semantic_language"])].sum() == 0
    # the trained dual encoder beats its random control on the planted multimodal electrodes
    assert table.loc[klass == "multimodal", "dual_vs_random"].all()


def test_interaction_is_linear_in_any_bilinear_form():
    """A bilinear form of the two (centred) towers within their leading components is fit exactly by a linear
    map of the feature."""
    gen = np.random.default_rng(0)
    a, b = gen.standard_normal((300, 4)) @ gen.standard_normal((4, 20)), gen.standard_normal((300, 3))
    x = interaction(a, b, components=4)
    assert x.shape == (300, 12)
    ac, bc = a - a.mean(0), b - b.mean(0)
    target = np.einsum("ni,ij,nj->n", ac[:, :4], gen.standard_normal((4, 3)), bc)
    X = np.c_[x, np.ones(300)]
    beta, *_ = np.linalg.lstsq(X, target, rcond=None)
    assert np.allclose(X @ beta, target, atol=1e-6 * np.abs(target).max())


def test_contacts_near_grey_matter_with_named_regions(small_dataset):
    from neuromodels.seeg.simulate import _grey_matter

    _, truth, _, _ = small_dataset
    grey = _grey_matter()
    tips = truth.groupby("shaft").first()
    for _, tip in tips.iterrows():
        dist = np.linalg.norm(grey - tip[["MNI_x", "MNI_y", "MNI_z"]].to_numpy(float), axis=1).min()
        assert dist < 2.0
    assert tips["Region"].str.contains("temporoparietal junction").any()
    from neuromodels.seeg.simulate import CLASSES

    assert {"vision", "language", "multimodal", "noise"} <= set(truth["class"]) <= set(CLASSES)
    assert set(truth["class"]) & {"semantic_vision", "semantic_language"}  # the semantic classes are planted too


def test_winning_class():
    from neuromodels.seeg.ladder import winning_class

    mods = {"simclr": "vision", "minilm": "language", "clip": "multimodal", "simclr-random": "vision"}
    row = pd.Series(
        {
            "signal_any": True,
            "multimodal_site_any": False,
            "r_simclr_best": 0.2,
            "r_minilm_best": 0.5,
            "r_simclr-random_best": 0.9,
        }
    )
    assert winning_class(row, mods) == "language"
    assert winning_class(row.copy().set_axis(row.index).replace({False: True}), mods) == "multimodal"
    assert winning_class(pd.Series({"signal_any": False}), mods) == "none"
