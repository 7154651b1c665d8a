"""Simulated Brain Treebank-style dataset with planted electrode classes (ground truth saved beside it).

The truth is planted in the stimulus world, never in a network that the analysis later compares: simulating needs
no network weights at all. The "movies" are sequences of scenes, each showing one image of the stimulus world;
during each scene an utterance (a caption of the world) is spoken word by word. With probability ``p_congruent``
the utterance describes the image on screen; otherwise it describes another image. Every subject watches every
movie (one trial per movie). Electrodes sit on shafts placed in MNI152 grey matter around named regions, and each
is of one class:

- ``vision``: its high-gamma amplitude follows the shown scene's latent attributes (category, shape, colour,
  texture, position, size, lighting: ``vision_attributes``) through a fixed random nonlinear mixture (one hidden
  layer of ``mixture_units`` tanh units with random weights drawn from the simulation seed), read out with
  random weights per electrode; strongest at scene cuts, weaker at later word onsets while the image stays on
  screen;
- ``language``: follows the content of the utterance, at word onsets: each content word (word identity) has a
  fixed random embedding drawn from the simulation seed (shared by no compared model), category words count
  ``category_weight`` times; the utterance's summed embedding passes through a random tanh layer and a random
  read-out per electrode;
- ``semantic_vision``: follows the shown object's *category* alone, through a random code per category (one
  hidden layer of ``mixture_units`` tanh units of the category's one-hot code, random read-out per electrode):
  invariant to colour, texture, position, size, rotation and lighting, so a network predicts it only as far as
  its features separate categories from appearance (what training should give); timed like ``vision``;
- ``semantic_language``: follows the *meaning* of the category said: the category of the image whose caption is
  spoken, through a random code per category. Each sentence names its category with one of several words
  (:data:`neuromodels.stimuli.captions.CATEGORY_SYNONYMS`, a synonym with probability ``p_synonym``), so the
  drive is shared by synonyms and word identity alone does not carry it; at word onsets, like ``language``;
- ``multimodal``: follows the *congruence* of what is seen and what is said: the overlap (Jaccard index) of the
  content words of the spoken utterance with those of the shown image's own caption (a synonym counted as the
  category it names). This is an interaction (an AND of image and words): no sum of an image term and a word
  term produces it;
- ``noise``: no stimulus drive.

``vision`` and ``language`` are the low-level classes (a random network carries their attributes and word
identities too: the negative control of the trained-vs-random comparison), ``semantic_vision`` and
``semantic_language`` the semantic ones; ``ground_truth.csv`` records each electrode's ``class`` and ``level``
(``low-level``, ``semantic``, ``multimodal`` or ``noise``). A drive model without a class's drive (e.g. a
generator of one's own) leaves that class's electrodes without drive: they are recorded as ``noise``.

Each driven electrode has its own response latency (the peak of its gamma-shaped kernel, drawn from its class's
range) and its own noise level. The drive modulates the amplitude of a 70-250 Hz carrier (the contact's local
source); by volume conduction each contact also records ``spread`` of its first and second neighbours' local
sources on the shaft. Added to that are pink background noise, a reference signal shared by all contacts, a drift shared by the contacts of each shaft (a
shaft-wide artefact that a common average cannot remove but a shaft Laplacian does) and line noise.

``ground_truth.csv`` lists every electrode's class, latency, noise level and read-out weights;
``planted.npz`` holds the mixture, the word embedding and the per-event drives of every movie.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.runtime import get_logger, rng
from .data import trial_name, write_movie, write_trial

log = get_logger(__name__)

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
STOPWORDS = frozenset(
    {"a", "an", "the", "of", "on", "in", "at", "and", "is", "to", "with", "its", "it", "this", "there", "one", "some"}
)

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


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` without punctuation and stop words."""
    words = [w.strip(".,;:!?\"'()").lower() for w in str(text).split()]
    return [w for w in words if w and w not in STOPWORDS]


def congruence(said: str, seen_caption: str) -> float:
    """Jaccard overlap of the content words of what is said and of the shown image's caption (0..1); a synonym
    counts as the category it names."""
    from ..stimuli.captions import canonical_word

    a = {canonical_word(w) for w in content_words(said)}
    b = {canonical_word(w) for w in content_words(seen_caption)}
    return len(a & b) / max(len(a | b), 1)


def kernel(sfreq: float, peak: float = 0.2, length: float = 0.6) -> np.ndarray:
    """Gamma-shaped response kernel sampled at ``sfreq`` (peak 1 at ``peak`` s)."""
    t = np.arange(int(length * sfreq)) / sfreq
    k = (t / peak) ** 3 * np.exp(3 * (1 - t / peak))
    return k / k.max()


def make_movie(
    scenes: pd.DataFrame, settings: SimulationSettings, seed: int, duration: float | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scene cuts (time, stimulus_id) and words (word, start, end, sentence, text, said_id) of one movie.

    ``scenes`` needs ``stimulus_id`` and ``caption`` columns (and ``category``: then each sentence names the
    category with a synonym with probability ``p_synonym``, drawn from a generator of its own so the movie's
    timing and pairing do not depend on it). Truth columns kept in the tables: ``said_id`` (image whose caption is
    spoken), ``congruent`` and ``category_word`` (the word that names the category, "" without one).
    ``duration`` defaults to the settings' total duration.
    """
    gen = rng(seed)
    said_with = _synonym_speaker(scenes, settings, seed)
    duration = settings.duration if duration is None else duration
    ids = scenes["stimulus_id"].tolist()
    captions = dict(zip(ids, scenes["caption"].astype(str)))
    cuts, words = [], []
    t, sentence = 0.0, 0
    while t < duration:
        shown = ids[gen.integers(len(ids))]
        congruent = bool(gen.random() < settings.p_congruent)
        said = shown if congruent else ids[gen.choice([i for i in range(len(ids)) if ids[i] != shown])]
        text, word = said_with(said, captions[said])
        start = t + gen.uniform(0.3, 0.6)
        onsets = start + np.concatenate(
            [[0.0], np.cumsum(gen.uniform(*settings.word_interval, size=len(text.split()) - 1))]
        )
        end = max(t + gen.uniform(*settings.scene_duration), onsets[-1] + 0.8)
        if end > duration:
            break
        cuts.append({"time": round(t, 4), "stimulus_id": shown})
        for w, on in zip(text.split(), onsets):
            words.append(
                {
                    "word": w,
                    "start": round(float(on), 4),
                    "end": round(float(on) + 0.25, 4),
                    "sentence": sentence,
                    "text": text,
                    "said_id": said,
                    "congruent": congruent,
                    "category_word": word,
                }
            )
        sentence += 1
        t = end
    return pd.DataFrame(words), pd.DataFrame(cuts)


def _synonym_speaker(
    scenes: pd.DataFrame, settings: SimulationSettings, seed: int
) -> Callable[[object, str], tuple[str, str]]:
    """``(said_id, caption) -> (text, category word)``: the caption with its first naming of the said image's
    category replaced, with probability ``p_synonym``, by one of the category's synonyms (uniformly)."""
    import re

    from ..stimuli.captions import CATEGORY_SYNONYMS

    category = (
        dict(zip(scenes["stimulus_id"].tolist(), scenes["category"].astype(str).str.lower()))
        if "category" in scenes
        else {}
    )
    gen = np.random.default_rng([int(seed), 20])  # apart from the movie's own draws

    def said_with(said, text: str) -> tuple[str, str]:
        name = category.get(said)
        if name is None or not re.search(rf"\b{re.escape(name)}\b", text):
            return text, ""
        others = CATEGORY_SYNONYMS.get(name, (name,))[1:]
        if not others or gen.random() >= settings.p_synonym:
            return text, name
        word = others[int(gen.integers(len(others)))]
        return re.sub(rf"\b{re.escape(name)}\b", word, text, count=1), word

    return said_with


@functools.lru_cache(maxsize=1)
def _grey_matter():
    from nilearn.datasets import load_mni152_gm_mask

    mask = load_mni152_gm_mask(resolution=2)
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0)
    xyz = ijk @ mask.affine[:3, :3].T + mask.affine[:3, 3]
    return xyz


def place_electrodes(settings: SimulationSettings, subject: int, seed: int) -> pd.DataFrame:
    """Shafts of contacts (3.5 mm apart) whose tips sit in grey matter near the target regions.

    Returns Electrode, Region, MNI_x, MNI_y, MNI_z (mm), shaft, target (the shaft's target region) and class.
    """
    gen = rng(seed * 1000 + subject)
    grey = _grey_matter()
    centres = {name: np.array(REGIONS[name][0]) for name in settings.regions}
    rows = []
    # Shafts go to the class-bearing regions first (listed first) so that each class is present.
    order = list(settings.regions)
    picks = [order[i % len(order)] for i in range(settings.shafts_per_subject)]
    for s, target in enumerate(picks):
        side = 1.0 if gen.random() < 0.3 else -1.0  # most shafts on the left, as language sites
        centre = centres[target] * np.array([-1.0 if side > 0 else 1.0, 1.0, 1.0])
        near = grey[np.linalg.norm(grey - centre, axis=1) < 6.0]
        tip = near[gen.integers(len(near))] if len(near) else centre
        direction = np.array([np.sign(tip[0]) or -1.0, gen.normal(0, 0.15), gen.normal(0, 0.15)])
        direction /= np.linalg.norm(direction)
        hemi = "L" if tip[0] < 0 else "R"
        shaft = f"{hemi}{chr(ord('A') + s)}"
        probs = REGIONS[target][1]
        for c in range(settings.contacts_per_shaft):
            pos = tip + direction * 3.5 * c
            mirrored = pos * np.array([-1.0 if pos[0] > 0 else 1.0, 1, 1])
            dists = {n: float(np.linalg.norm(mirrored - v)) for n, v in centres.items()}
            nearest = min(dists, key=dists.get)
            region = (
                f"{'left' if hemi == 'L' else 'right'} {nearest}"
                if dists[nearest] < 20.0
                else "white matter / unlabelled"
            )
            if c < settings.target_contacts:
                klass = str(gen.choice(list(probs), p=np.array(list(probs.values())) / sum(probs.values())))
            else:
                klass = "noise"
            rows.append(
                {
                    "Electrode": f"{shaft}{c + 1}",
                    "Region": region,
                    "MNI_x": round(float(pos[0]), 2),
                    "MNI_y": round(float(pos[1]), 2),
                    "MNI_z": round(float(pos[2]), 2),
                    "shaft": shaft,
                    "target": target,
                    "class": klass,
                    "level": LEVELS[klass],
                }
            )
    return pd.DataFrame(rows)


def _band_noise(gen: np.random.Generator, n: int, sfreq: float, lo: float, hi: float) -> np.ndarray:
    from scipy import fft

    m = fft.next_fast_len(n, real=True)
    spec = fft.rfft(gen.standard_normal(m))
    f = fft.rfftfreq(m, 1 / sfreq)
    spec[(f < lo) | (f > hi)] = 0
    x = fft.irfft(spec, m)[:n]
    return x / x.std()


def _pink(gen: np.random.Generator, n: int, sfreq: float) -> np.ndarray:
    from scipy import fft

    m = fft.next_fast_len(n, real=True)
    spec = fft.rfft(gen.standard_normal(m))
    f = fft.rfftfreq(m, 1 / sfreq)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = fft.irfft(spec, m)[:n]
    return x / x.std()


@dataclass
class WorldMixtures:
    """The fixed random maps from the world to the drives (drawn once per simulation seed).

    Attributes
    ----------
    vision_in, vision_bias : (attributes, units), (units,): hidden = tanh(z @ vision_in + vision_bias), with ``z``
        the standardised latent attributes of the shown image
    vocab, word_embedding : content words and their (words, word_dim) random embedding
    category_words : words weighted ``category_weight`` in the utterance embedding
    language_in, language_bias : (word_dim, units), (units,): hidden = tanh(u @ language_in + language_bias),
        with ``u`` the weighted sum of the utterance's word embeddings
    categories : the categories of the scenes (lower case, sorted): rows of the semantic codes
    semantic_vision_in, semantic_vision_bias : (categories, units), (units,): the shown category's code
    semantic_language_in, semantic_language_bias : the same for the category said (drawn apart)
    """

    vision_in: np.ndarray
    vision_bias: np.ndarray
    vocab: list[str]
    word_embedding: np.ndarray
    category_words: list[str]
    language_in: np.ndarray
    language_bias: np.ndarray
    category_weight: float = 2.0
    categories: list[str] = field(default_factory=list)
    semantic_vision_in: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    semantic_vision_bias: np.ndarray = field(default_factory=lambda: np.zeros(0))
    semantic_language_in: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    semantic_language_bias: np.ndarray = field(default_factory=lambda: np.zeros(0))


def world_mixtures(scenes: pd.DataFrame, n_attributes: int, settings: SimulationSettings, seed: int) -> WorldMixtures:
    """Draw the vision mixture, the word embedding and the language mixture from ``seed`` (nothing learned), and
    the semantic codes of the categories (from a generator of their own). The vocabulary holds every content word
    of the captions and every synonym of their categories (each its own random embedding: word identity)."""
    from ..stimuli.captions import CATEGORY_SYNONYMS

    gen = rng(seed * 7907 + 17)
    units = settings.mixture_units
    categories = sorted({str(c).lower() for c in scenes["category"].dropna()}) if "category" in scenes else []
    synonyms = {w for c in categories for w in CATEGORY_SYNONYMS.get(c, (c,))}
    vocab = sorted({w for c in scenes["caption"].astype(str) for w in content_words(c)} | synonyms)
    sem = np.random.default_rng([int(seed), 7907, 29])
    semantic = dict(
        categories=categories,
        semantic_vision_in=sem.standard_normal((len(categories), units)) * 1.5,
        semantic_vision_bias=sem.normal(0.0, 0.5, units),
        semantic_language_in=sem.standard_normal((len(categories), units)) * 1.5,
        semantic_language_bias=sem.normal(0.0, 0.5, units),
    )
    return WorldMixtures(
        vision_in=gen.standard_normal((n_attributes, units)) * 1.5 / np.sqrt(max(n_attributes, 1)),
        vision_bias=gen.normal(0.0, 0.5, units),
        vocab=vocab,
        word_embedding=gen.standard_normal((len(vocab), settings.word_dim)),
        category_words=[w for w in vocab if w in synonyms],
        language_in=gen.standard_normal((settings.word_dim, units)) * 1.5 / np.sqrt(settings.word_dim),
        language_bias=gen.normal(0.0, 0.5, units),
        category_weight=settings.category_weight,
        **semantic,
    )


def utterance_embedding(text: str, mix: WorldMixtures) -> np.ndarray:
    """Weighted mean of the random embeddings of the utterance's content words (category words weighted)."""
    pos = {w: i for i, w in enumerate(mix.vocab)}
    cats = set(mix.category_words)
    out = np.zeros(mix.word_embedding.shape[1])
    total = 0.0
    for w in content_words(text):
        if w in pos:
            weight = mix.category_weight if w in cats else 1.0
            out += weight * mix.word_embedding[pos[w]]
            total += weight**2
    return out / np.sqrt(max(total, 1.0))


def event_drives(
    words: pd.DataFrame, cuts: pd.DataFrame, scenes: pd.DataFrame, vision_latents: np.ndarray, mix: WorldMixtures
) -> dict[str, np.ndarray]:
    """Per-event drives of the planted classes, for the words then the scene cuts of one movie.

    Returns ``vision`` (events, units): the mixture's hidden units for the shown image; ``language`` (events,
    units): the language mixture's hidden units for the utterance; ``semantic_vision`` / ``semantic_language``
    (events, units): the semantic code of the category shown / said (with categories known); ``multimodal``
    (events,): the congruence of the utterance with the shown image's caption; ``is_cut`` (events,) bool. A scene
    cut goes with the utterance of its scene (the one spoken after it).
    """
    ids = scenes["stimulus_id"].tolist()
    index = {s: i for i, s in enumerate(ids)}
    captions = scenes["caption"].astype(str).tolist()
    shown_at_word = shown_image(words["start"].to_numpy(float), cuts)
    first_text = words.groupby("sentence")["text"].first()
    cut_text = [first_text.get(k, "") for k in range(len(cuts))]
    shown = list(shown_at_word) + cuts["stimulus_id"].tolist()
    said = words["text"].tolist() + cut_text
    lat = np.asarray(vision_latents, dtype=float)
    lat = (lat - lat.mean(0)) / np.maximum(lat.std(0), 1e-9)
    hidden_images = np.tanh(lat @ mix.vision_in + mix.vision_bias)
    vision = hidden_images[[index[s] for s in shown]]
    distinct = sorted(set(said))
    u = np.stack([utterance_embedding(t, mix) for t in distinct])
    hidden_texts = np.tanh(u @ mix.language_in + mix.language_bias)
    row = {t: i for i, t in enumerate(distinct)}
    language = hidden_texts[[row[t] for t in said]]
    cong = np.array([congruence(t, captions[index[s]]) for t, s in zip(said, shown)])
    is_cut = np.r_[np.zeros(len(words), bool), np.ones(len(cuts), bool)]
    out = {"vision": vision, "language": language, "multimodal": cong, "is_cut": is_cut}
    if mix.categories and "category" in scenes:
        klass = {c: i for i, c in enumerate(mix.categories)}
        category = scenes["category"].astype(str).str.lower().tolist()
        first_said = words.groupby("sentence")["said_id"].first()
        said_ids = words["said_id"].tolist() + [first_said.get(k, shown[len(words) + k]) for k in range(len(cuts))]
        seen_k = np.array([klass[category[index[s]]] for s in shown])
        said_k = np.array([klass[category[index[s]]] for s in said_ids])
        out["semantic_vision"] = np.tanh(mix.semantic_vision_in[seen_k] + mix.semantic_vision_bias)
        out["semantic_language"] = np.tanh(mix.semantic_language_in[said_k] + mix.semantic_language_bias)
    return out


# A drive model maps one movie's events to the drives of the classes (see :func:`event_drives`); the default is
# the world's mixtures, and the tests bring a second generator of their own.
DriveModel = Callable[[pd.DataFrame, pd.DataFrame], dict[str, np.ndarray]]


def shown_image(times: np.ndarray, cuts: pd.DataFrame) -> np.ndarray:
    """Stimulus on screen at each time (s, movie time): the last scene cut at or before it."""
    pos = np.searchsorted(cuts["time"].to_numpy(float), times, side="right") - 1
    return cuts["stimulus_id"].to_numpy()[np.clip(pos, 0, None)]


def simulate_dataset(
    root: str | Path,
    scenes: pd.DataFrame,
    vision_latents: np.ndarray,
    settings: SimulationSettings | None = None,
    seed: int = 0,
    drive_model: DriveModel | None = None,
) -> pd.DataFrame:
    """Write a full simulated dataset under ``root`` and return the electrode ground truth.

    Parameters
    ----------
    scenes : stimulus_id and caption (and category, when known) of every image the movies may show
    vision_latents : (images, attributes) latent attributes of those images that drive vision electrodes
    drive_model : maps one movie's (words, cuts) to the class drives (default: the world's random mixtures,
        :func:`world_mixtures` and :func:`event_drives`)

    Writes the recording layout of :mod:`neuromodels.seeg.data` (one trial per subject and movie),
    ``ground_truth.csv`` (one row per electrode: subject, Electrode, Region, coordinates, class, latency, noise,
    weights), ``planted.npz`` (mixtures and per-event drives) and ``simulation.json`` (the settings).
    """
    from scipy.signal import fftconvolve  # here: the encoding steps import this module for its settings only

    settings = settings if settings is not None else SimulationSettings()
    from ..core.io import write_json, write_npz, write_table

    root = Path(root)
    planted: dict[str, np.ndarray] = {}
    if drive_model is None:
        mix = world_mixtures(scenes, np.asarray(vision_latents).shape[1], settings, seed)
        planted.update(
            vision_in=mix.vision_in,
            vision_bias=mix.vision_bias,
            word_embedding=mix.word_embedding,
            vocab=np.array(mix.vocab),
            category_words=np.array(mix.category_words),
            language_in=mix.language_in,
            language_bias=mix.language_bias,
            categories=np.array(mix.categories),
            semantic_vision_in=mix.semantic_vision_in,
            semantic_vision_bias=mix.semantic_vision_bias,
            semantic_language_in=mix.semantic_language_in,
            semantic_language_bias=mix.semantic_language_bias,
        )

        def drive_model(words: pd.DataFrame, cuts: pd.DataFrame) -> dict[str, np.ndarray]:
            return event_drives(words, cuts, scenes, vision_latents, mix)

    n_movies = max(int(settings.n_movies), 1)
    movies = []
    for m in range(n_movies):
        name = f"movie{m}"
        words, cuts = make_movie(scenes, settings, seed * 101 + m, settings.duration / n_movies)
        write_movie(root, name, words, cuts)
        drives = drive_model(words, cuts)
        for key, value in drives.items():
            planted[f"{name}/{key}"] = np.asarray(value)
        onsets = np.r_[words["start"].to_numpy(float), cuts["time"].to_numpy(float)]
        movies.append((name, drives, onsets))
    sf = settings.sfreq
    truths = []
    for subject in range(1, settings.n_subjects + 1):
        gen = rng(seed * 7919 + subject)
        elec = place_electrodes(settings, subject, seed)
        undriven = ~elec["class"].isin([k for k in CLASSES if k == "noise" or k in movies[0][1]])
        if undriven.any():  # the drive model has no drive for these classes: they record noise, and say so
            log.info(
                "subject %d: %d electrode(s) of classes %s without a drive in this drive model: recorded as noise",
                subject,
                int(undriven.sum()),
                sorted(set(elec.loc[undriven, "class"])),
            )
            elec.loc[undriven, "class"] = "noise"
            elec.loc[undriven, "level"] = LEVELS["noise"]
        amps, meta = _electrode_amplitudes(elec, [d for _, d, _ in movies], settings, gen)
        for trial, (movie, _drives, onsets_movie) in enumerate(movies):
            duration = onsets_movie.max() + 1.0
            lead_in, drift = gen.uniform(3, 8), 1.0 + gen.normal(0, 2e-5)
            n = int((lead_in + duration * drift + 3.0) * sf)
            onset_samples = np.round((lead_in + onsets_movie * drift) * sf).astype(int)
            data = np.empty((len(elec), n))
            common = _pink(gen, n, sf)  # a reference artefact shared by every contact
            shafts = {s: _pink(gen, n, sf) for s in elec["shaft"].unique()}  # shaft-wide artefacts
            t = np.arange(n) / sf
            line = sum(
                np.sin(2 * np.pi * f * t + gen.uniform(0, 2 * np.pi)) / (1 + i)
                for i, f in enumerate(np.arange(settings.line_freq, sf / 2, settings.line_freq))
            )
            local = np.empty((len(elec), n))
            for e in range(len(elec)):
                impulses = np.zeros(n)
                np.add.at(impulses, onset_samples, amps[e][trial])
                k = kernel(sf, meta[e]["latency"], max(0.6, 3.0 * meta[e]["latency"]))
                drive = fftconvolve(impulses, k)[:n]
                envelope = np.clip(1.0 + settings.gain * drive, 0.05, None)
                local[e] = envelope * _band_noise(gen, n, sf, 70.0, min(250.0, 0.45 * sf))
            recorded = volume_conduction(elec["Electrode"].tolist(), settings.spread) @ local
            for e, row in elec.iterrows():
                data[e] = (
                    recorded[e]
                    + meta[e]["noise"] * 3.0 * _pink(gen, n, sf)
                    + settings.common * common
                    + settings.shaft_drift * shafts[row["shaft"]]
                    + settings.line_noise * line
                )
            triggers_movie = np.arange(0.0, duration, 10.0)
            triggers = pd.DataFrame(
                {"movie_time": triggers_movie, "index": np.round((lead_in + triggers_movie * drift) * sf).astype(int)}
            )
            coords = elec[["Electrode", "MNI_x", "MNI_y", "MNI_z"]].set_axis(["Electrode", "X", "Y", "Z"], axis=1)
            write_trial(
                root,
                subject,
                trial,
                movie,
                data * 20.0,
                elec["Electrode"].tolist(),
                elec[["Electrode", "Region"]],
                triggers,
                sfreq=sf,
                coordinates=coords,
            )
            log.info(
                "simulated %s (%s): %d electrodes, %.0f s at %.0f Hz",
                trial_name(subject, trial),
                movie,
                len(elec),
                n / sf,
                sf,
            )
        truth = elec.assign(
            subject=subject,
            latency=[m["latency"] for m in meta],
            noise=[m["noise"] for m in meta],
            weights=[m["weights"] for m in meta],
        )
        truths.append(truth)
        log.info("subject %d: %s", subject, truth["class"].value_counts().to_dict())
    truth = pd.concat(truths, ignore_index=True)
    write_table(root / "ground_truth.csv", truth)
    write_npz(root / "planted.npz", **planted)
    write_json(
        root / "simulation.json",
        {
            **asdict(settings),
            "seed": seed,
            "movies": [m for m, _, _ in movies],
            "drive_model": "world mixtures" if "vision_in" in planted else getattr(drive_model, "__name__", "custom"),
        },
    )
    return truth


def volume_conduction(labels: list[str], spread: tuple[float, ...]) -> np.ndarray:
    """(contacts, contacts) mixing of local sources into recordings: each contact records its own source plus
    ``spread[k - 1]`` of the sources k contacts away on the same shaft."""
    from .data import split_label

    parsed = [split_label(x) for x in labels]
    where = {p: i for i, p in enumerate(parsed)}
    mix = np.eye(len(labels))
    for i, (shaft, contact) in enumerate(parsed):
        for k, share in enumerate(spread, start=1):
            for c in (contact - k, contact + k):
                if (shaft, c) in where:
                    mix[i, where[(shaft, c)]] = share
    return mix


def _electrode_amplitudes(
    elec: pd.DataFrame, drives: list[dict[str, np.ndarray]], settings: SimulationSettings, gen: np.random.Generator
) -> tuple[list[list[np.ndarray]], list[dict]]:
    """Per electrode and movie the event amplitudes of its class, scaled to unit s.d. over word onsets (pooled
    over movies), and the electrode's latency, noise level and read-out weights."""
    amps, meta = [], []
    for _, row in elec.iterrows():
        klass = row["class"]
        lo, hi = LATENCIES.get(klass, (0.2, 0.2))
        latency = float(gen.uniform(lo, hi))
        noise = settings.background * float(gen.uniform(1 - settings.noise_spread, 1 + settings.noise_spread))
        per_movie, w = [], np.zeros(0)
        if klass in ("vision", "language", "semantic_vision", "semantic_language"):
            w = gen.standard_normal(drives[0][klass].shape[1])
        for d in drives:
            cut = d["is_cut"]
            if klass in ("vision", "semantic_vision"):
                a = d[klass] @ w
                a = np.where(cut, a, settings.vision_on_words * a)
            elif klass in ("language", "semantic_language"):
                a = np.where(cut, 0.0, d[klass] @ w)
            elif klass == "multimodal":
                a = np.asarray(d["multimodal"], dtype=float)
                a = np.where(cut, settings.multimodal_on_cuts * a, a)
            else:
                a = np.zeros(len(cut))
            per_movie.append(a)
        if klass != "noise":
            # centre word onsets and scene cuts on their own pooled means, scale by the word onsets' s.d.
            pooled = {
                flag: np.concatenate([a[d["is_cut"] == flag] for a, d in zip(per_movie, drives)])
                for flag in (False, True)
            }
            mean = {flag: (float(v.mean()) if v.size else 0.0) for flag, v in pooled.items()}
            scale = max(float(pooled[False].std()), 1e-9)
            per_movie = [
                (a - np.where(d["is_cut"], mean[True], mean[False])) / scale for a, d in zip(per_movie, drives)
            ]
        amps.append(per_movie)
        meta.append(
            {"latency": round(latency, 4), "noise": round(noise, 4), "weights": " ".join(f"{x:.4f}" for x in w)}
        )
    return amps, meta
