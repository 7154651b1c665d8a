"""Captions of scenes from their attributes: a small fixed vocabulary, the same words for the same scene.

Example: ``"a large red striped star at the top left, lit from above"``. Sizes, positions and light
directions are binned into words (thirds of the image, three sizes, four light directions), so a caption
is a coarse but faithful description of the latent attributes.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .world import CATEGORY_NAMES, COLOUR_NAMES, SECOND_PREFIX, TEXTURES

TEXTURE_WORDS = {"plain": "", "stripes": "striped", "dots": "dotted", "checker": "checkered"}
SIZE_WORDS = ((0.38, "small"), (0.48, "medium"), (np.inf, "large"))  # upper bound of the diameter, word
LIGHT_WORDS = {0: "the right", 90: "above", 180: "the left", 270: "below"}
# (row third, column third) -> phrase; thirds of the image from the top and from the left
PLACE_WORDS = {
    (0, 0): "at the top left", (0, 1): "at the top", (0, 2): "at the top right",
    (1, 0): "on the left", (1, 1): "in the centre", (1, 2): "on the right",
    (2, 0): "at the bottom left", (2, 1): "at the bottom", (2, 2): "at the bottom right",
}


def _third(value: float) -> int:
    return int(np.clip(np.floor(value * 3.0), 0, 2))


def _object_phrase(row: Mapping[str, Any], prefix: str) -> str:
    size = float(row[prefix + "size"])
    size_word = next(word for bound, word in SIZE_WORDS if size < bound)
    words = [size_word, row[prefix + "colour"], TEXTURE_WORDS[row[prefix + "texture"]], row[prefix + "category"]]
    place = PLACE_WORDS[(_third(float(row[prefix + "y"])), _third(float(row[prefix + "x"])))]
    return "a " + " ".join(w for w in words if w) + " " + place


def caption(row: Mapping[str, Any] | pd.Series) -> str:
    """Describe one scene (a row of :func:`~.world.sample_scenes`) in words.

    Names the size, colour, texture and category of each object, where it is (thirds of the image) and the
    light direction rounded to the nearest of above, below, left and right.
    """
    phrases = [_object_phrase(row, "")]
    if isinstance(row.get(SECOND_PREFIX + "category"), str):
        phrases.append(_object_phrase(row, SECOND_PREFIX))
    light = int(np.round(float(row["light_deg"]) / 90.0) % 4) * 90
    return " and ".join(phrases) + f", lit from {LIGHT_WORDS[light]}"


def captions(table: pd.DataFrame) -> list[str]:
    """The caption of every scene in ``table``, in order."""
    return [caption(row) for _, row in table.iterrows()]


def words(text: str) -> list[str]:
    """The words of a caption, lower case, without punctuation (the units spoken one by one in a movie)."""
    return re.findall(r"[a-z]+", text.lower())


def vocabulary() -> list[str]:
    """Every word a caption can contain, sorted."""
    pieces = ["a", "and", "lit", "from", *CATEGORY_NAMES, *COLOUR_NAMES, *(w for _, w in SIZE_WORDS)]
    pieces += [TEXTURE_WORDS[t] for t in TEXTURES]
    pieces += [*LIGHT_WORDS.values(), *PLACE_WORDS.values()]
    return sorted({w for piece in pieces for w in words(piece)})
