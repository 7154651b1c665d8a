"""Captions of scenes from their attributes: a small fixed vocabulary, the same words for the same scene.

Example: ``"a large red striped star at the top left, lit from above"``. Sizes, positions and light
directions are binned into words (thirds of the image, three sizes, four light directions), so a caption
is a coarse but faithful description of the latent attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .world import CATEGORY_NAMES, COLOUR_NAMES, SECOND_PREFIX, TEXTURES

TEXTURE_WORDS = {"plain": "", "stripes": "striped", "dots": "dotted", "checker": "checkered"}
SIZE_WORDS = ((0.38, "small"), (0.48, "medium"), (np.inf, "large"))  # upper bound of the diameter, word
# Words that name each category: its own name first, then synonyms (single words of letters only)
CATEGORY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "disc": ("disc", "circle", "disk", "ball"),
    "square": ("square", "box", "block", "tile"),
    "triangle": ("triangle", "pyramid", "wedge", "delta"),
    "star": ("star", "starburst", "pentagram", "asterisk"),
    "cross": ("cross", "plus", "crucifix", "crosshair"),
    "ring": ("ring", "hoop", "loop", "donut"),
    "ell": ("ell", "corner", "angle", "elbow"),
    "tee": ("tee", "junction", "crossbar", "gallows"),
    "bar": ("bar", "stick", "rod", "plank"),
    "crescent": ("crescent", "moon", "arc", "sickle"),
}
LIGHT_WORDS = {0: "the right", 90: "above", 180: "the left", 270: "below"}
# (row third, column third) -> phrase; thirds of the image from the top and from the left
PLACE_WORDS = {
    (0, 0): "at the top left",
    (0, 1): "at the top",
    (0, 2): "at the top right",
    (1, 0): "on the left",
    (1, 1): "in the centre",
    (1, 2): "on the right",
    (2, 0): "at the bottom left",
    (2, 1): "at the bottom",
    (2, 2): "at the bottom right",
}


def _third(value: float) -> int:
    return int(np.clip(np.floor(value * 3.0), 0, 2))


def category_word(category: str, synonym: int = 0) -> str:
    """The word naming ``category``: its ``synonym``-th word of :data:`CATEGORY_SYNONYMS` (0: its own name;
    counted modulo the number of words); a category without synonyms is always said by its name."""
    names = CATEGORY_SYNONYMS.get(str(category), (str(category),))
    return names[int(synonym) % len(names)]


def canonical_word(word: str) -> str:
    """The category a synonym names (``"circle"`` -> ``"disc"``); any other word unchanged."""
    return _CANONICAL.get(word, word)


_CANONICAL = {w: name for name, ws in CATEGORY_SYNONYMS.items() for w in ws}


def _object_phrase(row: Mapping[str, Any], prefix: str, synonym: int = 0) -> str:
    size = float(row[prefix + "size"])
    size_word = next(word for bound, word in SIZE_WORDS if size < bound)
    words = [
        size_word,
        row[prefix + "colour"],
        TEXTURE_WORDS[row[prefix + "texture"]],
        category_word(row[prefix + "category"], synonym) if synonym else row[prefix + "category"],
    ]
    place = PLACE_WORDS[(_third(float(row[prefix + "y"])), _third(float(row[prefix + "x"])))]
    return "a " + " ".join(w for w in words if w) + " " + place


def caption(row: Mapping[str, Any] | pd.Series, synonym: int = 0) -> str:
    """Describe one scene (a row of :func:`~.world.sample_scenes`) in words.

    Names the size, colour, texture and category of each object, where it is (thirds of the image) and the
    light direction rounded to the nearest of above, below, left and right. ``synonym`` k names each category
    with its k-th word (:func:`category_word`; 0, the default, its own name).
    """
    phrases = [_object_phrase(row, "", synonym)]
    if isinstance(row.get(SECOND_PREFIX + "category"), str):
        phrases.append(_object_phrase(row, SECOND_PREFIX, synonym))
    light = int(np.round(float(row["light_deg"]) / 90.0) % 4) * 90
    return " and ".join(phrases) + f", lit from {LIGHT_WORDS[light]}"


def category_caption(row: Mapping[str, Any] | pd.Series) -> str:
    """A caption that names only each object's category (``"a star"``, ``"a star and a disc"``): the world's
    words with every other attribute left unsaid."""
    phrases = [f"a {row['category']}"]
    if isinstance(row.get(SECOND_PREFIX + "category"), str):
        phrases.append(f"a {row[SECOND_PREFIX + 'category']}")
    return " and ".join(phrases)


def captions(table: pd.DataFrame) -> list[str]:
    """The caption of every scene in ``table``, in order."""
    return [caption(row) for _, row in table.iterrows()]


def words(text: str) -> list[str]:
    """The words of a caption, lower case, without punctuation (the units spoken one by one in a movie)."""
    return re.findall(r"[a-z]+", text.lower())


def vocabulary(synonyms: bool = False) -> list[str]:
    """Every word a caption can contain, sorted (with ``synonyms``, every word that names a category too)."""
    pieces = ["a", "and", "lit", "from", *CATEGORY_NAMES, *COLOUR_NAMES, *(w for _, w in SIZE_WORDS)]
    if synonyms:
        pieces += [w for ws in CATEGORY_SYNONYMS.values() for w in ws]
    pieces += [TEXTURE_WORDS[t] for t in TEXTURES]
    pieces += [*LIGHT_WORDS.values(), *PLACE_WORDS.values()]
    return sorted({w for piece in pieces for w in words(piece)})
