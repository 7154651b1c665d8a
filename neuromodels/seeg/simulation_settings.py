"""The settings of the simulated SEEG dataset (:class:`SimulationSettings`), the electrode classes planted in it
(:data:`CLASSES`) with their levels (:data:`LEVELS`), the regions the shafts target with the classes of their
contacts (:data:`REGIONS`), and each driven class's latency range (:data:`LATENCIES`)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SimulationSettings", "CLASSES", "LEVELS", "REGIONS", "LATENCIES"]

CLASSES = ("vision", "language", "semantic_vision", "semantic_language", "multimodal", "noise")
# The level of each class: low-level (a random network carries it too), semantic (needs what training gives).
LEVELS = {
    "vision": "low-level",
    "language": "low-level",
    "semantic_vision": "semantic",
    "semantic_language": "semantic",
    "multimodal": "multimodal",
    "noise": "noise",
}

# Approximate MNI152 centres (mm, left hemisphere) of the regions the shafts target, and the classes their
# contacts near the target are drawn from (probabilities; the rest of a shaft's contacts are noise).
REGIONS: dict[str, tuple[tuple[float, float, float], dict[str, float]]] = {
    "temporoparietal junction": (
        (-52.0, -50.0, 22.0),
        {"multimodal": 0.75, "language": 0.1, "vision": 0.1, "noise": 0.05},
    ),
    "lateral occipital cortex": ((-40.0, -80.0, 2.0), {"vision": 0.8, "noise": 0.2}),
    "fusiform gyrus": ((-38.0, -55.0, -16.0), {"semantic_vision": 0.8, "noise": 0.2}),
    "superior temporal gyrus": ((-58.0, -20.0, 4.0), {"language": 0.8, "noise": 0.2}),
    "inferior frontal gyrus": ((-48.0, 22.0, 8.0), {"semantic_language": 0.8, "noise": 0.2}),
    "supramarginal gyrus": ((-56.0, -38.0, 34.0), {"multimodal": 0.5, "language": 0.2, "noise": 0.3}),
    "hippocampus": ((-28.0, -22.0, -14.0), {"noise": 1.0}),
    "insula": ((-38.0, 2.0, 4.0), {"noise": 1.0}),
    "precentral gyrus": ((-40.0, -10.0, 50.0), {"noise": 1.0}),
}


# Latency ranges (s, peak of the response kernel) of each driven class.
LATENCIES = {
    "vision": (0.10, 0.16),
    "language": (0.18, 0.28),
    "semantic_vision": (0.14, 0.22),
    "semantic_language": (0.22, 0.32),
    "multimodal": (0.26, 0.38),
}


@dataclass
class SimulationSettings:
    """Size and signal of the simulated dataset (times in s, frequencies in Hz)."""

    n_subjects: int = 3
    shafts_per_subject: int = 6
    contacts_per_shaft: int = 8
    target_contacts: int = 4  # contacts nearest the shaft tip that take the target region's classes
    duration: float = 900.0  # total movie time, split evenly over ``n_movies``
    n_movies: int = 2
    scene_duration: tuple[float, float] = (2.5, 4.5)
    word_interval: tuple[float, float] = (0.28, 0.42)
    p_congruent: float = 0.5
    sfreq: float = 512.0
    line_freq: float = 60.0
    gain: float = 0.6  # peak modulation of the high-gamma amplitude per unit drive
    background: float = 1.0  # pink-noise amplitude relative to the high-gamma carrier
    noise_spread: float = 0.3  # each electrode's background is background x U(1 - spread, 1 + spread)
    common: float = 2.0  # amplitude of the reference signal shared by all contacts
    shaft_drift: float = 2.0  # amplitude of the artefact shared by the contacts of one shaft
    # volume conduction: share of the local high-gamma source of the first and second neighbour on the shaft
    # (3.5 and 7 mm away) that a contact records beside its own
    spread: tuple[float, float] = (0.4, 0.1)
    line_noise: float = 3.0
    vision_on_words: float = 0.4  # vision drive at word onsets relative to scene cuts
    multimodal_on_cuts: float = 0.5
    mixture_units: int = 24  # hidden tanh units of the vision and language mixtures
    word_dim: int = 16  # dimension of the random word embedding
    category_weight: float = 2.0  # weight of category words in the utterance embedding
    p_synonym: float = 0.75  # probability that a sentence names its category with a synonym, not its own name
    regions: list[str] = field(default_factory=lambda: list(REGIONS))
