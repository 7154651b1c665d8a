"""Encoding models of one alignment: every model, its random-init control and the integration baselines.

Every compared model is treated the same way: its candidate layers are all of its layers, plus, for a model
with an image tower and a text tower (CLIP, SLIP and their controls), the interaction feature of its two towers
(:func:`neuromodels.seeg.features.interaction`). The same feature is built for every unimodal pair (a vision
model's tower with a language model's tower, trained with trained and random with random): the pair's candidate
layers are both models' layers plus that interaction. Linear integration baselines: the concatenation of the
unimodal models' most chosen layers, the linear combination of their predictions, and each dual encoder's own
towers side by side without the interaction (``{model}-towers``). Ridge per target with alphas by grouped CV;
layers chosen on training folds only (:func:`neuromodels.seeg.ridge.encode_sets`).

The ``shuffled_time`` control of each trained model (``{model}-shuffled``): the model's own candidate layers
(its interaction included) circularly shifted against the events by a seeded offset of a third to two thirds of
the events (:func:`shuffled_offset`), far beyond the autocorrelation of neighbouring events (a scene lasts a few
seconds), and scored exactly like the model. Each feature keeps its values and their order; only their pairing
with the recording is broken.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.runtime import get_logger
from .features import interaction
from .ridge import DEFAULT_ALPHAS, contiguous_groups, encode_sets, linear_combination

log = get_logger(__name__)
INTERACTION = "interaction"
SHUFFLED = "-shuffled"  # suffix of a model's shuffled_time control


def shuffled_offset(n_events: int, seed: int = 0, alignment: str = "") -> int:
    """The circular shift (in events) of the shuffled_time controls of one alignment: drawn from the run seed and
    the alignment's name, between a third and two thirds of the events (never near 0 or a full turn, where the
    shifted features would line up with their own events or their neighbours again)."""
    gen = np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(b"shuffled_time"), zlib.crc32(alignment.encode())])
    )
    low, high = max(n_events // 3, 1), max((2 * n_events) // 3, 1)
    return int(gen.integers(low, high + 1)) % max(n_events, 1)


def shift_events(x: np.ndarray, offset: int) -> np.ndarray:
    """Rows of ``x`` (one per event) circularly shifted by ``offset`` events: row ``i`` gets event ``i - offset``'s
    features, so every column keeps its values and their order."""
    return np.roll(np.asarray(x), int(offset), axis=0)


@dataclass
class ModelFeatures:
    """One model's per-layer features of the events of one alignment and what is known about it."""

    name: str
    modality: str
    layers: dict[str, np.ndarray]
    trained: bool = True
    image_output: str | None = None
    text_output: str | None = None
    seed: int | None = None
    extra: dict = field(default_factory=dict)


def pair_name(vision: str, language: str) -> str:
    """Name of the unimodal pair baseline of a vision and a language model (``simclr+minilm``)."""
    return f"{vision}+{language}"


def encode_alignment(
    Y: np.ndarray,
    models: dict[str, ModelFeatures],
    n_blocks: int = 10,
    n_outer: int = 5,
    n_inner: int = 5,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    backend: str = "numpy",
    interaction_components: int = 8,
    concat_depth: int = 2,
    shuffle_offset: int | None = None,
) -> dict[str, np.ndarray]:
    """Held-out predictions of every model, of every unimodal pair and of the linear-integration baselines.

    Parameters
    ----------
    Y : (events, targets)
    models : model name -> its features (see :class:`ModelFeatures`)
    concat_depth : the concatenation baseline pairs each of the ``concat_depth`` layers the trained vision model
        chose most often with each of the ``concat_depth`` most chosen layers of the trained language model

    Returns
    -------
    dict with ``pred/{name}`` (events, targets) for every model, pair (``{vision}+{language}``), ``concat``,
    ``lincomb`` and ``{dual encoder}-towers``; ``layer_r/{name}`` (layers, targets), ``layers/{name}``,
    ``chosen/{name}`` (outer folds, targets); ``groups`` (events,)
    """
    groups = contiguous_groups(len(Y), n_blocks)
    bank: dict[str, np.ndarray] = {}
    sets: dict[str, list[str]] = {}
    for name, m in models.items():
        for layer, x in m.layers.items():
            bank[f"{name}:{layer}"] = x
        sets[name] = [f"{name}:{layer}" for layer in m.layers]
        if m.image_output and m.text_output:  # a dual encoder: the interaction of its own towers
            key = f"{name}:{INTERACTION}"
            bank[key] = interaction(m.layers[m.image_output], m.layers[m.text_output], interaction_components)
            sets[name].append(key)
            # its own towers side by side, without the interaction
            towers = f"{name}:{m.image_output}+{m.text_output}"
            bank[towers] = np.concatenate([_z(m.layers[m.image_output]), _z(m.layers[m.text_output])], axis=1)
            sets[f"{name}-towers"] = [f"{name}:{layer}" for layer in m.layers] + [towers]
    if shuffle_offset is not None:
        for name, m in models.items():
            if not m.trained:
                continue
            control = f"{name}{SHUFFLED}"
            sets[control] = []
            for key in sets[name]:
                shifted = f"{control}:{key.split(':', 1)[1]}"
                bank[shifted] = shift_events(bank[key], shuffle_offset)
                sets[control].append(shifted)
    vision = [n for n, m in models.items() if m.modality == "vision" and m.image_output]
    language = [n for n, m in models.items() if m.modality == "language" and m.text_output]
    for v in vision:
        for lang in language:
            if models[v].trained != models[lang].trained:
                continue  # trained with trained, random with random
            pair = pair_name(v, lang)
            key = f"{pair}:{INTERACTION}"
            bank[key] = interaction(
                models[v].layers[models[v].image_output],
                models[lang].layers[models[lang].text_output],
                interaction_components,
            )
            sets[pair] = sets[v] + sets[lang] + [key]
    log.info(
        "encoding %d layers in %d candidate sets (%d targets, %d events)", len(bank), len(sets), Y.shape[1], len(Y)
    )
    enc = encode_sets(bank, sets, Y, groups, alphas, n_outer, n_inner, backend)
    out: dict[str, np.ndarray] = {"groups": groups}
    if shuffle_offset is not None:
        out["shuffled_offset"] = np.array(int(shuffle_offset))
    for name, e in enc.items():
        out[f"pred/{name}"] = e.predictions
        out[f"layer_r/{name}"] = e.layer_r
        out[f"layers/{name}"] = np.array([x.split(":", 1)[1] for x in e.layers])
        out[f"chosen/{name}"] = e.chosen
    v_tr = [v for v in vision if models[v].trained]
    l_tr = [lang for lang in language if models[lang].trained]
    if v_tr and l_tr:
        v, lang = v_tr[0], l_tr[0]
        top_v, top_l = _top_layers(out, v, concat_depth), _top_layers(out, lang, concat_depth)
        # Each half alone is a candidate too, so the baseline is never worse than its parts for lack of a
        # second penalty (one alpha serves a concatenation).
        cands = {
            **{f"{v}:{a}": models[v].layers[a] for a in top_v},
            **{f"{lang}:{b}": models[lang].layers[b] for b in top_l},
            **{
                f"{a}+{b}": np.concatenate([_z(models[v].layers[a]), _z(models[lang].layers[b])], axis=1)
                for a in top_v
                for b in top_l
            },
        }
        e = encode_sets(cands, {"concat": list(cands)}, Y, groups, alphas, n_outer, n_inner, backend)["concat"]
        out["pred/concat"] = e.predictions
        out["pred/lincomb"] = linear_combination(out[f"pred/{v}"], out[f"pred/{lang}"], Y, groups, n_outer)
    return out


def _top_layers(out: dict[str, np.ndarray], name: str, k: int) -> list[str]:
    """The ``k`` layers of a model chosen most often across targets and outer folds (choices made on training
    folds only)."""
    layers = list(out[f"layers/{name}"])
    counts = np.bincount(out[f"chosen/{name}"].ravel(), minlength=len(layers))
    return [layers[i] for i in np.argsort(-counts, kind="stable")[:k] if layers[i] != INTERACTION]


def _z(x: np.ndarray) -> np.ndarray:
    """Standardise features so the two halves of a concatenation share one ridge penalty fairly."""
    return ((x - x.mean(0)) / np.maximum(x.std(0), 1e-6) / np.sqrt(x.shape[1])).astype(np.float32)


def check_features(features: dict[str, np.ndarray], n_events: int, path: str | Path) -> None:
    """Every layer has one row per event and finite values."""
    for layer, x in features.items():
        if x.shape[0] != n_events:
            raise DataError(path, f"layer {layer} has {x.shape[0]} rows for {n_events} events")
        if not np.isfinite(x).all():
            raise DataError(path, f"layer {layer} has non-finite features")


def read_model_features(path: str | Path, alignment: str, n_events: int) -> ModelFeatures:
    """One model's features file (written by the ``features`` step) for one alignment."""
    name = Path(path).stem
    with np.load(path) as z:
        if "modality" not in z.files:
            raise DataError(path, "not a features file of the seeg features step (no 'modality')")
        layers = {k.split("/", 1)[1]: z[k] for k in z.files if k.startswith(alignment + "/")}
        meta = {k: z[k].item() for k in ("trained", "image_output", "text_output", "random_init_seed") if k in z.files}
        modality = str(z["modality"])
    if not layers:
        raise DataError(path, f"no features of the {alignment} alignment")
    check_features(layers, n_events, path)
    seed = int(meta.get("random_init_seed", -1))
    return ModelFeatures(
        name,
        modality,
        layers,
        bool(meta.get("trained", not name.endswith("-random"))),
        str(meta.get("image_output", "")) or None,
        str(meta.get("text_output", "")) or None,
        None if seed < 0 else seed,
    )
