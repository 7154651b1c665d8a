"""Small stimulus tables and simulated datasets for the seeg tests (generated, never downloaded)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from neuromodels.seeg.simulate import SimulationSettings, simulate_dataset


def toy_scenes() -> tuple[pd.DataFrame, np.ndarray]:
    """48 scenes of a four-attribute world with captions, and the latents that drive vision electrodes."""
    shapes, colours = ["circle", "square", "triangle", "star"], ["red", "green", "blue"]
    sizes, places = ["small", "large"], ["left", "right"]
    rows = [{"stimulus_id": i, "caption": f"a {si} {co} {sh} on the {pl}", "shape": shapes.index(sh),
             "size": sizes.index(si), "x": places.index(pl)}
            for i, (sh, co, si, pl) in enumerate(itertools.product(shapes, colours, sizes, places))]
    table = pd.DataFrame(rows)
    latents = np.c_[np.eye(4)[table["shape"]], table["size"], table["x"]]
    return table, latents


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """One subject, five shafts, two minutes at 512 Hz."""
    root = tmp_path_factory.mktemp("seeg") / "rec"
    scenes, latents = toy_scenes()
    settings = SimulationSettings(n_subjects=1, shafts_per_subject=6, contacts_per_shaft=4, target_contacts=3,
                                  duration=240.0, language_drive="words")
    truth = simulate_dataset(root, scenes, latents, settings, seed=0)
    return root, truth, scenes, latents
