"""Small stimulus tables and simulated datasets for the seeg tests (generated, never downloaded).

Two generators plant the truth: the simulator's own (random nonlinear mixtures of the world's attributes and a
random word embedding) and a second one of the tests' own, unlike the first (thresholded attribute conjunctions,
colour-word counts and an exact category-and-colour match as the multimodal drive, a synonym counting as the
category it names), so that a pipeline tuned to the simulator is caught.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

from neuromodels.seeg.simulate import SimulationSettings, content_words, shown_image, simulate_dataset
from neuromodels.stimuli.captions import canonical_word

SHAPES, COLOURS = ["circle", "square", "triangle", "star"], ["red", "green", "blue"]


def toy_scenes() -> tuple[pd.DataFrame, np.ndarray]:
    """48 scenes of a four-attribute world with captions, and the latents that drive vision electrodes."""
    sizes, places = ["small", "large"], ["left", "right"]
    rows = [
        {
            "stimulus_id": i,
            "caption": f"a {si} {co} {sh} on the {pl}",
            "category": sh,
            "colour": co,
            "shape": SHAPES.index(sh),
            "size": sizes.index(si),
            "x": places.index(pl),
        }
        for i, (sh, co, si, pl) in enumerate(itertools.product(SHAPES, COLOURS, sizes, places))
    ]
    table = pd.DataFrame(rows)
    latents = np.c_[np.eye(4)[table["shape"]], np.eye(3)[table["colour"].map(COLOURS.index)], table["size"], table["x"]]
    return table, latents


def second_generator(scenes: pd.DataFrame, latents: np.ndarray):
    """A drive model unlike the simulator's: vision = thresholded conjunctions of attributes, language = counts of
    colour and shape words said, multimodal = 1 when the said category and colour both match what is shown."""
    gen = np.random.default_rng(123)
    proj = gen.standard_normal((latents.shape[1], 6))
    image_code = (latents @ proj > 0.5).astype(float) * (latents[:, -1:] + 0.5)
    rows = dict(zip(scenes["stimulus_id"], range(len(scenes))))
    by_id = scenes.set_index("stimulus_id")
    words = SHAPES + COLOURS

    def drives(word_table, cuts):
        shown = list(shown_image(word_table["start"].to_numpy(float), cuts)) + cuts["stimulus_id"].tolist()
        first = word_table.groupby("sentence")["text"].first()
        said = word_table["text"].tolist() + [first.get(k, "") for k in range(len(cuts))]
        counts = np.array([[content_words(t).count(w) for w in words] for t in said], float)
        said_words = [{canonical_word(x) for x in content_words(t)} for t in said]
        match = np.array(
            [
                float(canonical_word(by_id.loc[s, "category"]) in w and by_id.loc[s, "colour"] in w)
                for s, w in zip(shown, said_words)
            ]
        )
        return {
            "vision": image_code[[rows[s] for s in shown]],
            "language": counts**2,
            "multimodal": match,
            "is_cut": np.r_[np.zeros(len(word_table), bool), np.ones(len(cuts), bool)],
        }

    drives.__name__ = "second_generator"
    return drives


SETTINGS = SimulationSettings(
    n_subjects=1, shafts_per_subject=6, contacts_per_shaft=5, target_contacts=3, duration=240.0, n_movies=2
)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """One subject, six shafts, two movies of two minutes at 512 Hz, the simulator's own drives."""
    root = tmp_path_factory.mktemp("seeg") / "rec"
    scenes, latents = toy_scenes()
    truth = simulate_dataset(root, scenes, latents, SETTINGS, seed=0)
    return root, truth, scenes, latents


@pytest.fixture(scope="session")
def second_dataset(tmp_path_factory):
    """The same layout with the truth planted by the tests' second generator."""
    root = tmp_path_factory.mktemp("seeg2") / "rec"
    scenes, latents = toy_scenes()
    truth = simulate_dataset(root, scenes, latents, SETTINGS, seed=1, drive_model=second_generator(scenes, latents))
    return root, truth, scenes, latents
