"""Declared models as OAT's object tokens (``gaze.models``): each named vision model gives an OAT variant whose
object tokens are that model's pooled features of the object crops.

The crops are the ones OAT already makes (:func:`~neuromodels.gaze.data.object_crops`, at the preset's
``crop_hw``), resized to the declared input and normalised by
:meth:`~neuromodels.networks.declared.DeclaredModel.prepare`. The feature of a crop is the **last layer read**
(the declaration's ``layers``, or the default rule's) averaged over space or tokens
(:meth:`~neuromodels.networks.declared.DeclaredModel.image_layer_features`, mean pooling); declare ``layers``
to choose another. The features are computed once per data set and seed (:func:`compute_object_features`,
written by ``neuromodels gaze features``) and read by every split's training: the declared network is frozen
(it is not part of OAT), and a learned linear projection takes its features to OAT's ``d_feature``
(:class:`~neuromodels.gaze.models.OAT`). Everything else, the trainer, splits, selection and metrics, is OAT's.

``<name>-random`` names the model's random-init copy (when the declaration can build its architecture
untrained), the same architecture's features with drawn weights: a control for what training the network
adds. Its rows in the metrics table are ``<name>_greedy`` and ``<name>`` (sampled scanpaths, the one compared), so its
statistics are ``<name>.<metric>.<split>``.

OAT's own crop CNN is trained end to end with the transformer, so it is not a frozen declaration: it stays OAT's
own, beside the declared variants.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import ConfigError, DataError
from ..networks.declared import random_init_seed

if TYPE_CHECKING:  # the workflow imports check_names: no pandas or torch at import
    from ..core.io import PathLike

__all__ = [
    "ObjectFeatures",
    "RESERVED",
    "check_names",
    "crop_images",
    "compute_object_features",
    "declared_object_features",
    "random_init_seed",
]

# the rows gaze's own models, controls and baselines carry in the metrics table (and the statistics' prefixes)
RESERVED: tuple[str, ...] = (
    "oat_greedy",
    "oat_sampled",
    "image_blind",
    "image_blind_greedy",
    "human_ceiling",
    "guided_walk",
    "best_baseline",
    "random",
    "centre_bias",
    "nearest",
    "similarity",
    "skipped",
)
FORMAT = "gaze object features 1"


def check_names(names: Sequence[str]) -> None:
    """One :class:`ConfigError` line for a name in ``gaze.models`` that its rows could not carry: a row or
    statistic name gaze already uses (also with ``_greedy`` added), or a dot (statistics are dotted)."""
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError("gaze.models", f"{name!r} is named twice")
        seen.add(name)
        if "." in name:
            raise ConfigError("gaze.models", f"{name!r}: a name with a dot cannot name statistics (<name>.<metric>)")
        taken = [row for row in (name, f"{name}_greedy") if row in RESERVED]
        if taken:
            raise ConfigError("gaze.models", f"{name!r}: its rows would take gaze's own row {taken[0]!r}; rename it")


@dataclass
class ObjectFeatures:
    """A declared model's feature of every object crop of a data set: per trial ``(n_objects + 1, dim)`` float32,
    the objects in order then the target alone (as :func:`~neuromodels.gaze.data.object_crops`), and the
    feature of a blank crop (OAT's BOS)."""

    name: str
    layer: str
    crop_hw: tuple[int, int]
    features: dict[str, np.ndarray]
    blank: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.blank.shape[0])

    def of(self, trial_id: str, n_objects: int, path: PathLike | str = "") -> np.ndarray:
        """The features of one trial, checked against its object count."""
        x = self.features.get(trial_id)
        if x is None:
            raise DataError(path or self.name, f"no features of trial {trial_id!r} (computed on other data)")
        if len(x) != n_objects + 1:
            raise DataError(path or self.name, f"trial {trial_id!r}: {len(x) - 1} objects' features, not {n_objects}")
        return x

    def save(self, path: PathLike) -> None:
        from ..core.io import write_npz

        ids = list(self.features)
        counts = np.array([len(self.features[t]) for t in ids], dtype=np.int64)
        stacked = np.concatenate([self.features[t] for t in ids]) if ids else np.zeros((0, self.dim), np.float32)
        meta = {"format": FORMAT, "name": self.name, "layer": self.layer, "crop_hw": list(self.crop_hw), **self.info}
        write_npz(
            path,
            ids=np.array(ids, dtype=str),
            counts=counts,
            features=stacked.astype(np.float32),
            blank=self.blank.astype(np.float32),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )

    @classmethod
    def load(cls, path: PathLike) -> ObjectFeatures:
        """Read a file written by :meth:`save` (no pickles); one line when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                ids, counts = [str(t) for t in z["ids"]], z["counts"]
                stacked, blank = z["features"], z["blank"]
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(path, f"not a gaze features file (written by `neuromodels gaze features`): {exc}") from None
        if meta.get("format") != FORMAT:
            raise DataError(path, "not a gaze features file (written by `neuromodels gaze features`)")
        parts = np.split(stacked, np.cumsum(counts)[:-1]) if len(ids) else []
        info = {k: v for k, v in meta.items() if k not in ("format", "name", "layer", "crop_hw")}
        return cls(meta["name"], meta["layer"], tuple(meta["crop_hw"]), dict(zip(ids, parts)), blank, info)


def crop_images(crops: np.ndarray) -> np.ndarray:
    """OAT's uint8 crops ``(n, 3, h, w)`` as images ``(n, h, w, 3)``, the layout a declared model prepares."""
    return np.ascontiguousarray(np.asarray(crops, dtype=np.uint8).transpose(0, 2, 3, 1))


def compute_object_features(
    dataset: Any,
    model: Any,
    crop_hw: tuple[int, int],
    trial_ids: Sequence[str] | None = None,
    batch_size: int = 256,
) -> ObjectFeatures:
    """The features of every object crop (and target crop) of ``trial_ids`` (default: every trial) under a built
    declared model (:class:`~neuromodels.networks.declared.DeclaredModel`): its last layer read, mean-pooled."""
    from .data import object_crops

    if model.vision is None:
        raise ConfigError("gaze.models", f"{model.declaration.name} has no vision side; object tokens need one")
    layer = model.layers[-1]
    ids = list(dataset.trials if trial_ids is None else trial_ids)
    crops = [object_crops(dataset.trials[t], tuple(crop_hw)) for t in ids]
    h, w = crop_hw
    images = crop_images(np.concatenate([*crops, np.zeros((1, 3, h, w), np.uint8)]))
    feats = model.image_layer_features(images, layers=[layer], batch_size=batch_size)[layer]
    if feats.ndim != 2:
        feats = feats.reshape(len(feats), -1)
    if not np.isfinite(feats).all():
        raise ConfigError(f"models.{model.declaration.name}", f"layer {layer!r} gives NaN or infinite features")
    parts = np.split(feats[:-1], np.cumsum([len(c) for c in crops])[:-1]) if ids else []
    info = {"image_size": int(model.image_size), "n_crops": int(len(images) - 1), "seed": int(model.seed)}
    return ObjectFeatures(model.declaration.name, layer, (int(h), int(w)), dict(zip(ids, parts)), feats[-1], info)


def declared_object_features(
    name: str,
    user: dict[str, Any] | None,
    dataset: Any,
    crop_hw: tuple[int, int],
    seed: int = 0,
    device: str = "cpu",
) -> ObjectFeatures:
    """Build the declared model ``name`` (``gaze.models``; the project's or the config's ``models:``) for the
    run's ``seed`` and compute :func:`compute_object_features` over every trial of ``dataset``. ``<name>-random``
    is the model's random-init copy (a declaration that can build its architecture untrained), its weights drawn
    from :func:`random_init_seed`."""
    from ..networks.declared import build_named

    check_names([name])
    model = build_named(
        name, user, where="gaze.models", seed=seed, device=str(device), vision_for="object tokens need a vision model"
    )
    features = compute_object_features(dataset, model, crop_hw)
    features.name = name
    return features
