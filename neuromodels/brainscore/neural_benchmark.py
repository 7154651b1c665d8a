"""Scoring a model on the neural benchmarks: the model interface (:class:`BrainModel` and the models that meet
it), one region's benchmark (:class:`NeuralBenchmark`), layer commitment and :func:`score_model`.

* **ceiled score** = raw / ceiling (the 2022 board's convention; today's board reports its square, given as
  ``ceiled_squared``); the metric and the ceiling are in :mod:`.metric`.
* **layer commitment**: the best layer per region is chosen on a public half of the stimuli and its score
  reported on the held-out half.

A model meets a benchmark only through :class:`BrainModel` (``start_recording(region)``, ``look_at(stimuli)``),
so any torch model can be scored: wrap it in :class:`LayerModel` with a layer per region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core.activations import extract_activations
from ..core.errors import ConfigError, DataError
from ..core.runtime import get_logger
from .assemblies import average_repetitions
from .metric import MetricSettings, pls_cross_validated, split_half_ceiling
from .robustness import _batched

__all__ = [
    "BrainModel",
    "LayerModel",
    "DeclaredLayerModel",
    "PrecomputedActivations",
    "NeuralBenchmark",
    "public_heldout_split",
    "commit_layers",
    "score_model",
]

log = get_logger(__name__)


class BrainModel(Protocol):
    """What a neural benchmark needs of a model: record a region while looking at stimuli."""

    def start_recording(self, region: str) -> None:
        """Record from ``region`` (e.g. ``"V4"``, ``"IT"``) in the next :meth:`look_at`."""

    def look_at(self, images: np.ndarray, stimulus_ids: Sequence) -> Any:
        """Responses to uint8 images ``(n, H, W, 3)``: a DataArray ``presentation x neuroid`` whose
        ``stimulus_id`` coordinate follows ``stimulus_ids``."""


class LayerModel:
    """Any torch image model as a :class:`BrainModel`: each region reads one named layer.

    Parameters
    ----------
    model : takes float images ``(B, 3, image_size, image_size)`` in [0, 1].
    region_layers : ``{region: layer name}`` (see :func:`neuromodels.core.activations.layer_names`).
    pooling : how a layer's output becomes one vector per image (flatten, mean, cls).
    """

    def __init__(
        self,
        model: nn.Module,
        region_layers: Mapping[str, str],
        image_size: int,
        pooling: str = "flatten",
        device: torch.device | str = "cpu",
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.region_layers = dict(region_layers)
        self.image_size = image_size
        self.pooling = pooling
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.region: str | None = None

    def start_recording(self, region: str) -> None:
        if region not in self.region_layers:
            raise ConfigError(
                "region", f"this model has no layer committed to {region!r} (has {sorted(self.region_layers)})"
            )
        self.region = region

    def activations(self, images: np.ndarray, layers: Sequence[str]) -> dict[str, np.ndarray]:
        """Each named layer's pooled output, ``(n, n_features)``, for uint8 images ``(n, H, W, 3)``."""
        x = torch.as_tensor(np.asarray(images)).permute(0, 3, 1, 2)
        batches = []
        for s in _batched(len(x), self.batch_size):
            b = x[s].float() / 255.0
            if b.shape[-1] != self.image_size or b.shape[-2] != self.image_size:
                b = F.interpolate(
                    b, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
                )
            batches.append(b)
        self.model.to(self.device)
        return extract_activations(
            self.model,
            batches,
            list(layers),
            pooling=self.pooling,  # type: ignore[arg-type]
            device=self.device,
        )

    def look_at(self, images: np.ndarray, stimulus_ids: Sequence):
        layer = _recorded_layer(self)
        return _recording(self.activations(images, [layer])[layer], stimulus_ids, layer)


class DeclaredLayerModel(LayerModel):
    """A declared model (:class:`neuromodels.networks.declared.DeclaredModel`: a user's CNN, or one of the
    package's, e.g. ``crossvit_base``) as a :class:`BrainModel`: the stimuli at its declared input (side, colour
    order, mean/std, as every family feeds it), its layers read by
    :meth:`~neuromodels.networks.declared.DeclaredModel.image_layer_features` with the benchmark's ``pooling``.
    """

    def __init__(
        self,
        declared: Any,
        region_layers: Mapping[str, str] | None = None,
        pooling: str = "flatten",
        batch_size: int = 64,
    ) -> None:
        super().__init__(
            declared.vision, region_layers or {}, declared.image_size, pooling, declared.device, batch_size
        )
        self.declared = declared

    def activations(self, images: np.ndarray, layers: Sequence[str]) -> dict[str, np.ndarray]:
        return self.declared.image_layer_features(
            np.asarray(images), list(layers), pooling=self.pooling, batch_size=self.batch_size
        )


def _recorded_layer(model) -> str:
    """The layer committed to the region a model is recording from (``start_recording`` first)."""
    if model.region is None:
        raise ConfigError("region", "call start_recording(region) before look_at")
    return model.region_layers[model.region]


def _recording(features: np.ndarray, stimulus_ids: Sequence, layer: str):
    """One layer's features as the presentation x neuroid assembly ``look_at`` returns."""
    import xarray as xr

    return xr.DataArray(
        features,
        dims=("presentation", "neuroid"),
        coords={
            "stimulus_id": ("presentation", np.asarray(stimulus_ids)),
            "layer": ("neuroid", np.full(features.shape[1], layer)),
        },
    )


class PrecomputedActivations:
    """Activations computed elsewhere, as a :class:`BrainModel`: each region reads one layer of
    ``{layer: (n_stimuli, n_features)}`` by ``stimulus_id`` (no images needed).

    Parameters
    ----------
    stimulus_ids : the rows' ids (text); layers : ``{layer: (n, n_features)}``; source : the file, for errors.
    """

    def __init__(self, stimulus_ids: Sequence, layers: Mapping[str, np.ndarray], source: Any = None) -> None:
        self.index = pd.Index(np.asarray(stimulus_ids).astype(str))
        self.layers = dict(layers)
        self.source = source
        self.region_layers: dict[str, str] = {}
        self.region: str | None = None

    def start_recording(self, region: str) -> None:
        if region not in self.region_layers:
            raise ConfigError("region", f"no layer committed to {region!r} (has {sorted(self.region_layers)})")
        self.region = region

    def activations_by_id(self, stimulus_ids: Sequence, layers: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self.index.get_indexer(np.asarray(stimulus_ids).astype(str))
        if (rows < 0).any():
            missing = np.asarray(stimulus_ids)[rows < 0]
            raise DataError(
                self.source, f"no activations for {len(missing)} stimuli of the assembly (e.g. {missing[:3].tolist()})"
            )
        unknown = [layer for layer in layers if layer not in self.layers]
        if unknown:
            raise ConfigError("--layers", f"not in {self.source}: {unknown} (has {sorted(self.layers)})")
        return {layer: self.layers[layer][rows] for layer in layers}

    def look_at(self, images: Any, stimulus_ids: Sequence):
        layer = _recorded_layer(self)
        return _recording(self.activations_by_id(stimulus_ids, [layer])[layer], stimulus_ids, layer)


def _features(model: Any, bench: NeuralBenchmark, layers: Sequence[str]) -> dict[str, np.ndarray]:
    """Each layer's features of a benchmark's stimuli, by id when the model holds them, else from images."""
    if hasattr(model, "activations_by_id"):
        return model.activations_by_id(bench.stimulus_ids, layers)
    return model.activations(bench.images(), layers)


class NeuralBenchmark:
    """One region's recordings on a set of stimuli, with its metric and ceiling.

    Parameters
    ----------
    assembly : ``presentation x neuroid x time_bin`` DataArray (:func:`~.data.read_assembly`).
    images : ``{stimulus_id: uint8 (H, W, 3)}``, a callable ``ids -> uint8 (n, H, W, 3)``, or ``None`` for a
        model that holds its activations by id (:class:`PrecomputedActivations`).
    region : neuroids whose ``region`` coordinate equals this.
    stimulus_ids : the stimuli this benchmark scores on (default: all in the assembly).
    """

    def __init__(
        self,
        assembly,
        images,
        region: str,
        stimulus_ids: Sequence | None = None,
        settings: MetricSettings = MetricSettings(),
        ceiling_splits: int = 10,
    ) -> None:
        regions = np.asarray(assembly["region"].values).astype(str)
        if region not in set(regions):
            raise DataError(None, f"the assembly has no neuroids in region {region!r} (has {sorted(set(regions))})")
        self.assembly = assembly.isel(neuroid=np.flatnonzero(regions == region))
        self.region = region
        self.settings = settings
        self.responses, self.stimulus_ids, self.object_name = average_repetitions(self.assembly, stimulus_ids)
        self.responses = self.responses.mean(axis=2)  # over time bins
        self._images = images
        self.ceiling_splits = ceiling_splits
        self._ceiling: dict[str, Any] | None = None

    def images(self) -> np.ndarray | None:
        if self._images is None:
            return None
        if callable(self._images):
            return self._images(self.stimulus_ids)
        return np.stack([self._images[i] for i in self.stimulus_ids])

    @property
    def ceiling(self) -> dict[str, Any]:
        if self._ceiling is None:
            self._ceiling = split_half_ceiling(
                self.assembly, self.stimulus_ids, self.ceiling_splits, self.settings.seed
            )
        return self._ceiling

    def score_features(self, features: np.ndarray) -> dict[str, Any]:
        """Raw, ceiling and ceiled scores of features ``(n_stimuli, n_features)`` in ``stimulus_ids`` order."""
        result = pls_cross_validated(features, self.responses, self.object_name, self.settings)
        ceiling = self.ceiling["ceiling"]
        ceiled = result["raw"] / ceiling
        return {
            "region": self.region,
            "raw": result["raw"],
            "raw_sem": result["sem"],
            "ceiling": ceiling,
            "ceiling_bootstrap_se": self.ceiling["bootstrap_se"],
            "ceiled": ceiled,
            "ceiled_sem": result["sem"] / ceiling,
            "ceiled_squared": ceiled**2,
            "n_stimuli": len(self.stimulus_ids),
            "n_neuroids": self.responses.shape[1],
        }

    def __call__(self, model: BrainModel) -> dict[str, Any]:
        model.start_recording(self.region)
        recorded = model.look_at(self.images(), self.stimulus_ids)
        order = pd.Index(np.asarray(recorded["stimulus_id"].values)).get_indexer(self.stimulus_ids)
        if (order < 0).any():
            raise DataError(None, "the model did not return every stimulus it was shown")
        return self.score_features(np.asarray(recorded.values)[order])


def public_heldout_split(assembly, public_fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stimulus ids of a public part (layer choice) and a held-out part (report), stratified by object_name."""
    from sklearn.model_selection import train_test_split

    ids = np.asarray(assembly["stimulus_id"].values)
    names = np.asarray(assembly["object_name"].values).astype(str)
    table = pd.DataFrame({"stimulus_id": ids, "object_name": names}).drop_duplicates("stimulus_id")
    counts = table["object_name"].value_counts()
    stratify = table["object_name"] if counts.min() >= 2 else None
    public, held = train_test_split(
        table["stimulus_id"].to_numpy(), train_size=public_fraction, random_state=seed, stratify=stratify
    )
    return np.sort(public), np.sort(held)


def commit_layers(
    model: LayerModel | PrecomputedActivations,
    layers: Sequence[str],
    benchmarks: Mapping[str, NeuralBenchmark],
    cache: dict | None = None,
) -> tuple[dict[str, str], pd.DataFrame]:
    """Choose, per region, the layer with the highest raw score on that region's (public) benchmark.

    ``cache`` (a dict) keeps the activations of each stimulus list between calls (several time bins).

    Returns ``({region: layer}, table of region, layer, raw, raw_sem, ceiled for every candidate)``.
    """
    rows = []
    choice: dict[str, str] = {}
    cache = {} if cache is None else cache
    for region, bench in benchmarks.items():
        key = (tuple(bench.stimulus_ids.tolist()), tuple(layers))
        if key not in cache:
            cache[key] = _features(model, bench, layers)
        for layer in layers:
            s = bench.score_features(cache[key][layer])
            rows.append(
                {"region": region, "layer": layer, "raw": s["raw"], "raw_sem": s["raw_sem"], "ceiled": s["ceiled"]}
            )
        table = pd.DataFrame([r for r in rows if r["region"] == region])
        choice[region] = str(table.loc[table["raw"].idxmax(), "layer"])
        log.info("%s: committed layer %s (public raw %.3f)", region, choice[region], table["raw"].max())
    return choice, pd.DataFrame(rows)


def score_model(
    model: nn.Module | LayerModel | PrecomputedActivations,
    layers: Sequence[str],
    assembly,
    images,
    image_size: int = 0,
    regions: Sequence[str] = ("V4", "IT"),
    settings: MetricSettings = MetricSettings(),
    public_fraction: float = 0.5,
    pooling: str = "flatten",
    device: torch.device | str = "cpu",
    cache: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Commit a layer per region on the public stimuli and score it on the held-out ones.

    ``model`` is a torch image model (shown ``images``), a :class:`LayerModel` such as a
    :class:`DeclaredLayerModel` (its own input side and pooling; ``image_size`` and ``pooling`` unused), or
    :class:`PrecomputedActivations` (``images`` None).

    Returns ``(scores, layer_table)``: one row per region (layer, raw, raw_sem, ceiling, ceiled,
    ceiled_squared, ...) and the public scores of every candidate layer.
    """
    public, held = public_heldout_split(assembly, public_fraction, settings.seed)
    public_benchmarks = {r: NeuralBenchmark(assembly, images, r, public, settings) for r in regions}
    if isinstance(model, (PrecomputedActivations, LayerModel)):
        subject = model
    else:
        subject = LayerModel(model, {}, image_size, pooling, device)
    choice, layer_table = commit_layers(subject, layers, public_benchmarks, cache)
    subject.region_layers = choice
    rows = []
    for region in regions:
        bench = NeuralBenchmark(assembly, images, region, held, settings)
        score = bench(subject)
        rows.append({"region": region, "layer": choice[region], **{k: v for k, v in score.items() if k != "region"}})
    return pd.DataFrame(rows), layer_table
