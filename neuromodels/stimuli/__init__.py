"""The shared procedural stimulus world: objects with known latent attributes, their images and captions,
and search displays. Imports only :mod:`neuromodels.core`.

One way in per task::

    table = sample_scenes(n, seed)                # latent attributes, one row per image
    images = render_scenes(table, size=64)        # (n, 64, 64, 3) uint8
    texts = captions(table)                       # one caption per image
    latents, names = latent_matrix(table)         # ground truth for simulators
    write_stimulus_set(folder, table, size=64)    # PNGs + stimuli.csv; read_stimulus_set(folder)
    display = search_display(target, distractors, set_size=8, grid=(4, 4), seed=0)
"""

from .captions import caption, captions, category_caption, vocabulary, words
from .displays import Display, as_glyph, bar, crossing_lines, letter, line, search_display, shaded_disc, world_display
from .io import (
    StimulusSet,
    read_display,
    read_displays,
    read_stimulus_set,
    write_display,
    write_displays,
    write_stimulus_set,
)
from .render import Glyph, draw, object_glyph, render_scene, render_scenes
from .world import (
    CATEGORIES,
    CATEGORY_NAMES,
    COLOUR_NAMES,
    COLOURS,
    TEXTURES,
    latent_matrix,
    sample_movie,
    sample_scenes,
)

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "COLOURS",
    "COLOUR_NAMES",
    "TEXTURES",
    "Display",
    "Glyph",
    "StimulusSet",
    "as_glyph",
    "bar",
    "caption",
    "captions",
    "category_caption",
    "crossing_lines",
    "draw",
    "latent_matrix",
    "letter",
    "line",
    "object_glyph",
    "read_display",
    "read_displays",
    "read_stimulus_set",
    "render_scene",
    "render_scenes",
    "sample_movie",
    "sample_scenes",
    "search_display",
    "shaded_disc",
    "vocabulary",
    "words",
    "world_display",
    "write_display",
    "write_displays",
    "write_stimulus_set",
]
