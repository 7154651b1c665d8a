"""The simulated movies: scenes of the stimulus world with an utterance spoken word by word during each
(:func:`make_movie`, a category named by a synonym with probability ``p_synonym``), the image on screen at a
time (:func:`shown_image`), and the words that count (:func:`content_words`) in the congruence of what is said
with what is seen (:func:`congruence`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..core.runtime import rng
from .simulation_settings import SimulationSettings

__all__ = ["STOPWORDS", "content_words", "congruence", "make_movie", "shown_image"]

STOPWORDS = frozenset(
    {"a", "an", "the", "of", "on", "in", "at", "and", "is", "to", "with", "its", "it", "this", "there", "one", "some"}
)


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


def shown_image(times: np.ndarray, cuts: pd.DataFrame) -> np.ndarray:
    """Stimulus on screen at each time (s, movie time): the last scene cut at or before it."""
    pos = np.searchsorted(cuts["time"].to_numpy(float), times, side="right") - 1
    return cuts["stimulus_id"].to_numpy()[np.clip(pos, 0, None)]
