"""The drives planted in the simulated electrodes, drawn from the stimulus world and never from a compared
network: the fixed random mixtures of the world (:class:`WorldMixtures`, :func:`world_mixtures`), the
utterance's embedding (:func:`utterance_embedding`) and each movie event's drive of every class
(:func:`event_drives`); :data:`DriveModel` is the shape of any drive model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.runtime import rng
from .movies import congruence, content_words, shown_image
from .simulation_settings import SimulationSettings

__all__ = ["WorldMixtures", "world_mixtures", "utterance_embedding", "event_drives", "DriveModel"]


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
