"""Per-layer features of networks for image-text events, and the extractor interface for your own networks.

An event is an image-text pair: the frame on screen and the utterance being spoken. An **extractor** is any
callable with the signature::

    extractor(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]

taking uint8 images ``(n, H, W, 3)`` and ``n`` texts (one pair per row) and returning ``{layer_name: (n,
features)}`` float arrays. A vision extractor may ignore the texts and a language extractor the images. Wrap it in
a :class:`Model` with its modality (``vision``, ``language`` or ``multimodal``), the names of its towers' output
layers and, for the trained-vs-random test, the name of its random-init control.

Every model gets the same treatment: its layers are named ``image.<layer>`` (image tower) and ``text.<layer>``
(text tower), and nothing is added to some models only. Image-text integration is tested with one feature built
the same way for every pair of an image tower and a text tower (:func:`interaction`, used by
:mod:`neuromodels.seeg.encoding`): each dual encoder's own two towers, and the unimodal pairs (a vision model's
tower with a language model's tower) as the baseline.

The compared models are declared models (:func:`declared_models`; :mod:`neuromodels.networks.declared`): the
project's own ``simclr`` (vision), ``minilm`` (language), ``clip`` and ``slip`` (multimodal: image and caption
towers) and any model of the config's ``models:`` section, each with a ``-random`` control whose weights are drawn
from a seed of its own (:func:`random_init_seed`: CLIP's and SLIP's random copies differ) when its declaration can
build it untrained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.runtime import get_logger
from ..networks.declared import random_init_seed  # noqa: F401  (re-exported: the seed of a -random control)

log = get_logger(__name__)

Extractor = Callable[[np.ndarray, list[str]], dict[str, np.ndarray]]
MODALITIES = ("vision", "language", "multimodal")


@dataclass
class Model:
    """A network for the encoding comparison.

    Attributes
    ----------
    name : str
    modality : ``vision``, ``language`` or ``multimodal``
    extractor : see the module docstring
    control : name of its random-init copy (None for a control or a model without one)
    trained : False for a random-init control
    image_output, text_output : its towers' output layers (None when it has no such tower)
    seed : the seed its random-init weights were drawn from (None for a trained model)
    """

    name: str
    modality: str
    extractor: Extractor
    control: str | None = None
    trained: bool = True
    image_output: str | None = None
    text_output: str | None = None
    seed: int | None = None


def _prefix(prefix: str, layers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.{k}": np.asarray(v, dtype=np.float32) for k, v in layers.items()}


# a declared model's kind -> its modality here
MODALITY = {"vision": "vision", "text": "language", "vision_text": "multimodal"}


def declared_extractor(model) -> Extractor:
    """The extractor of a built declared model (:class:`neuromodels.networks.declared.DeclaredModel`): its
    image layers as ``image.<layer>`` and its text side's layers as ``text.<layer>``."""

    def extract(images: np.ndarray, texts: list[str]) -> dict[str, np.ndarray]:
        out = {}
        if model.vision is not None:
            out.update(_prefix("image", model.image_layer_features(images)))
        if model.text is not None:
            out.update(_prefix("text", model.text_layer_features(texts)))
        return out

    return extract


def declared_models(names: Sequence[str], user: dict | None = None, seed: int = 0, device: str = "cpu") -> list[Model]:
    """The compared models by name (``seeg.models``; a name with ``-random`` is the random-init copy), each a
    declared model (:mod:`neuromodels.networks.declared`: the project's own simclr, clip, slip and minilm, and
    the config's ``models:``). A model whose declaration can build its architecture untrained gets a
    ``-random`` control with weights drawn from :func:`random_init_seed` of its own name."""
    from ..networks.declared import build_named

    out = []
    for name in names:
        base = name.removesuffix("-random")
        random = name != base
        model = build_named(name, user, where="seeg.models", seed=seed, device=device)
        decl = model.declaration
        rs = model.seed if random else None
        image_out, text_out = model.output_layers()
        out.append(
            Model(
                name,
                MODALITY[decl.kind],
                declared_extractor(model),
                control=None if random or not decl.can_randomise else f"{base}-random",
                trained=not random,
                image_output=f"image.{image_out}" if image_out else None,
                text_output=f"text.{text_out}" if text_out else None,
                seed=rs,
            )
        )
    return out


def interaction(image: np.ndarray, text: np.ndarray, components: int = 8) -> np.ndarray:
    """(n, components^2) image-text interaction feature of one image tower and one text tower.

    The outer product of the leading principal components (scikit-learn PCA, fitted on the events themselves,
    never on neural data) of the image tower's output and of the text tower's output, each component scaled to
    unit variance. Any bilinear form of the two (e.g. a dual encoder's image-text similarity restricted to those
    components) is linear in it. Built the same way for every pair of towers.
    """
    from sklearn.decomposition import PCA

    def scores(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        k = int(min(components, x.shape[1], max(len(x) - 1, 1)))
        z = PCA(n_components=k, svd_solver="full").fit_transform(x)
        return z / np.maximum(z.std(0), 1e-12)

    a, b = scores(image), scores(text)
    return (a[:, :, None] * b[:, None, :]).reshape(len(a), -1).astype(np.float32) / np.sqrt(a.shape[1] * b.shape[1])


def event_features(
    model: Model, images: dict[str, np.ndarray], shown: Sequence[str], texts: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per-layer features of every event, computed once per distinct (image, text) pair.

    Parameters
    ----------
    images : stimulus_id -> uint8 (H, W, 3)
    shown : (events,) stimulus_id on screen at each event
    texts : (events,) utterance at each event
    """
    pairs = list(dict.fromkeys(zip(shown, texts)))
    index = {p: i for i, p in enumerate(pairs)}
    batch = np.stack([images[s] for s, _ in pairs])
    feats = model.extractor(batch, [t for _, t in pairs])
    rows = np.array([index[p] for p in zip(shown, texts)])
    out = {}
    for layer, value in feats.items():
        value = np.asarray(value, dtype=np.float32).reshape(len(pairs), -1)
        out[layer] = value[rows]
    log.info("%s: %d layers for %d events (%d distinct image-text pairs)", model.name, len(out), len(rows), len(pairs))
    return out


def frames_on_screen(events: pd.DataFrame, frames: pd.DataFrame, table_path: str | None = None) -> np.ndarray:
    """The frame shown at each event: its ``stimulus_id`` when the scene cuts named one, else the frame of the
    same movie with the latest ``time`` at or before the event's movie time (frames table: ``movie``, ``time``,
    ``stimulus_id``; e.g. one frame grabbed at each scene cut)."""
    from ..core.errors import require

    ids = np.array([frame_key(i) for i in events["stimulus_id"]], dtype=object)
    unnamed = ids == ""
    if not unnamed.any():
        return ids
    missing = [c for c in ("movie", "time") if c not in frames.columns]
    require(
        not missing,
        table_path,
        f"the scene cuts name no stimulus_id, so the frames table needs columns "
        f"{missing} (the movie and movie time of each frame)",
    )
    out = ids.copy()
    for movie, rows in events[unnamed].groupby("movie"):
        own = frames[frames["movie"].astype(str) == str(movie)].sort_values("time")
        require(len(own) > 0, table_path, f"no frame of movie {movie!r}")
        pos = np.searchsorted(own["time"].to_numpy(float), rows["time"].to_numpy(float) + 1e-6, side="right") - 1
        require(
            bool((pos >= 0).all()),
            table_path,
            f"{int((pos < 0).sum())} event(s) of movie {movie!r} come before its first frame",
        )
        out[rows.index.to_numpy()] = own["stimulus_id"].map(frame_key).to_numpy()[pos]
    log.info("%d event(s) without a stimulus_id matched to the frame on screen by movie time", int(unnamed.sum()))
    return out


def read_frames(folder: str | Path) -> pd.DataFrame:
    """A frames folder: ``stimuli.csv`` with ``stimulus_id`` (any name, read as text) and ``filename`` (an image
    under the folder), and ``movie`` and ``time`` when the scene cuts name no stimulus_id; other columns are ignored.
    Returns the table (images are read by :func:`load_frames`)."""
    from ..core.errors import require
    from .data import read_csv_table

    path = Path(folder) / "stimuli.csv"
    table = read_csv_table(path, ("stimulus_id", "filename"))
    require(len(table) > 0, path, "no frames (one row per frame)")
    empty = int(table["stimulus_id"].isna().sum())
    require(empty == 0, path, f"{empty} row(s) without a stimulus_id")
    require(table["stimulus_id"].is_unique, path, "duplicate stimulus_id")
    return table


def frame_key(stimulus_id) -> str:
    """A stimulus id as the text that names it (ids are names; a float from a numeric column loses its ``.0``)."""
    if isinstance(stimulus_id, (float, np.floating)):
        return (
            ""
            if np.isnan(stimulus_id)
            else (str(int(stimulus_id)) if float(stimulus_id).is_integer() else str(stimulus_id))
        )
    return str(stimulus_id)


def load_frames(folder: str | Path, table: pd.DataFrame, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Images of ``ids`` from a frames folder (see :func:`read_frames`), all at the first image's size."""
    from ..core.errors import require
    from ..stimuli.io import read_png

    path = Path(folder) / "stimuli.csv"
    lookup = dict(zip(table["stimulus_id"].map(frame_key), table["filename"].astype(str)))
    images, size = {}, None
    for i in map(frame_key, ids):
        require(i in lookup, path, f"no frame with stimulus_id {i!r}")
        image = read_png(Path(folder) / lookup[i], size)
        size = size or image.shape[:2]
        images[i] = image
    return images
