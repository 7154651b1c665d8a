"""Robustness of classifiers and Brain-Score-style neural benchmarks.

Robustness: clean accuracy, accuracy under an L-inf PGD attack, under the four rotations, and under
corruptions (Gaussian noise, Gaussian blur, contrast reduction) at a few severities, as one table.

Neural benchmark (after Schrimpf et al. 2018, as the 2022 Brain-Score board ran it):

* **metric**: PLS regression (25 components, no scaling) from a layer's activations to all neuroids of a
  region; 10 stratified splits (by ``object_name``) with 90 % of the stimuli for training; Pearson r per
  neuroid on the held-out stimuli; median over neuroids; mean over splits, with the standard error of the
  mean over splits.
* **ceiling**: split the repetitions in half, average each half, Pearson r per neuroid
  across stimuli, Spearman-Brown ``2 r / (1 + r)``, median over neuroids, mean over splits.
* **ceiled score** = raw / ceiling (the 2022 board's convention; today's board reports its square, given as
  ``ceiled_squared``).
* **layer commitment**: the best layer per region is chosen on a public half of the stimuli and its score
  reported on the held-out half.

A model meets a benchmark only through :class:`BrainModel` (``start_recording(region)``, ``look_at(stimuli)``),
so any torch model can be scored: wrap it in :class:`LayerModel` with a layer per region.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.activations import extract_activations
from ..core.errors import ConfigError, DataError
from ..core.runtime import get_logger
from .data import average_repetitions

__all__ = [
    "accuracy",
    "pgd_attack",
    "pgd_accuracy",
    "gaussian_noise",
    "gaussian_blur",
    "reduce_contrast",
    "robustness_table",
    "pearson_per_column",
    "pls_cross_validated",
    "split_half_ceiling",
    "ceiling_error_bound",
    "MetricSettings",
    "BrainModel",
    "LayerModel",
    "DeclaredLayerModel",
    "PrecomputedActivations",
    "NeuralBenchmark",
    "public_heldout_split",
    "commit_layers",
    "score_model",
    "summary_row",
    "variant_statistics",
    "plot_variants",
    "CEILING_FLOOR",
]

log = get_logger(__name__)


# ------------------------------------------------------------------------------------------- robustness
def _batched(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 128, transform=None) -> float:
    """Top-1 accuracy on float images ``(n, 3, H, W)`` in [0, 1] (already on the model's device), with an
    optional ``transform(batch) -> batch`` applied first."""
    model.eval()
    correct = 0
    for s in _batched(len(labels), batch_size):
        x = images[s] if transform is None else transform(images[s])
        correct += int((model(x).argmax(1) == labels[s]).sum())
    return correct / max(len(labels), 1)


# The attacks use only the sign of the input gradient. Under fp16 autocast small gradients underflow to zero
# and the step would do nothing, so the loss is scaled first (as a gradient scaler does); the sign is unchanged.
GRADIENT_SIGN_SCALE = 2.0**12


def input_gradient_sign(loss: Tensor, delta: Tensor) -> Tensor:
    """Sign of d loss / d delta, safe from fp16 underflow (non-finite entries count as 0)."""
    (grad,) = torch.autograd.grad(loss * GRADIENT_SIGN_SCALE, delta)
    return grad.nan_to_num(0.0, posinf=1.0, neginf=-1.0).sign()


def pgd_attack(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    eps: float,
    step: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """L-inf projected gradient ascent on the cross-entropy (Madry et al. 2018) from a uniform random start.

    ``eps`` and ``step`` are in [0, 1] pixel units; the result stays within ``eps`` of ``images`` and in [0, 1].
    """
    was_training = model.training
    model.eval()
    delta = (torch.rand(images.shape, generator=generator, device=images.device) * 2 - 1) * eps
    delta = (images + delta).clamp(0, 1) - images
    with torch.enable_grad():
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(model(images + delta).float(), labels)
            delta = (delta.detach() + step * input_gradient_sign(loss, delta)).clamp(-eps, eps)
            delta = (images + delta).clamp(0, 1) - images
    model.train(was_training)
    return (images + delta).detach()


def pgd_accuracy(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    eps: float,
    step: float,
    steps: int,
    batch_size: int = 128,
    seed: int = 0,
) -> float:
    """Accuracy on PGD adversarial examples (see :func:`pgd_attack`)."""
    generator = torch.Generator(device=images.device)
    generator.manual_seed(seed)
    correct = 0
    for s in _batched(len(labels), batch_size):
        x = pgd_attack(model, images[s], labels[s], eps, step, steps, generator)
        with torch.no_grad():
            correct += int((model(x).argmax(1) == labels[s]).sum())
    return correct / max(len(labels), 1)


def gaussian_noise(images: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """Add N(0, sigma^2) noise per pixel (sigma in [0, 1] units), clip to [0, 1]."""
    noise = torch.randn(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    return (images + sigma * noise).clamp(0, 1)


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur with standard deviation ``sigma`` pixels (kernel 2 * ceil(3 sigma) + 1)."""
    radius = max(int(np.ceil(3 * sigma)), 1)
    t = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def reduce_contrast(images: Tensor, factor: float) -> Tensor:
    """Scale each image's deviations from its mean by ``factor`` (1 = unchanged, 0 = uniform grey)."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (mean + factor * (images - mean)).clamp(0, 1)


CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.04, 0.08, 0.16),  # sigma, [0, 1] units
    "blur": (0.5, 1.0, 1.5),  # sigma, pixels at the model's input size
    "contrast": (0.5, 0.3, 0.15),  # factor
}


def robustness_table(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float,
    step: float,
    steps: int,
    device: torch.device | str = "cpu",
    batch_size: int = 128,
    seed: int = 0,
    corruptions: Mapping[str, Sequence[float]] = CORRUPTIONS,
) -> pd.DataFrame:
    """Accuracy of ``model`` on clean, rotated, PGD-attacked and corrupted test images.

    Parameters
    ----------
    images : uint8 ``(n, 3, H, W)``; labels : int ``(n,)``.
    eps, step : PGD budget and step in [0, 1] units; steps : PGD iterations.

    Returns
    -------
    DataFrame with ``condition`` (clean, rotation, pgd, noise, blur, contrast), ``severity`` (PGD: eps x 255;
    noise: sigma; blur: sigma px; contrast: factor; rotation: mean over 90/180/270) and ``accuracy``.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.as_tensor(images, device=device).float() / 255.0
    y = torch.as_tensor(labels, device=device).long()
    rows = [{"condition": "clean", "severity": 0.0, "accuracy": accuracy(model, x, y, batch_size)}]
    rotated = [accuracy(model, x, y, batch_size, lambda b, k=k: torch.rot90(b, k, dims=(2, 3))) for k in (1, 2, 3)]
    rows.append({"condition": "rotation", "severity": 90.0, "accuracy": float(np.mean(rotated))})
    rows.append(
        {
            "condition": "pgd",
            "severity": eps * 255,
            "accuracy": pgd_accuracy(model, x, y, eps, step, steps, batch_size, seed),
        }
    )
    generator = torch.Generator(device=device)
    for name, severities in corruptions.items():
        for severity in severities:
            if name == "noise":
                generator.manual_seed(seed)
                fn = lambda b, s=severity: gaussian_noise(b, s, generator)  # noqa: E731
            elif name == "blur":
                fn = lambda b, s=severity: gaussian_blur(b, s)  # noqa: E731
            elif name == "contrast":
                fn = lambda b, s=severity: reduce_contrast(b, s)  # noqa: E731
            else:
                raise ConfigError("corruptions", f"unknown corruption {name!r} (noise, blur, contrast)")
            rows.append(
                {"condition": name, "severity": float(severity), "accuracy": accuracy(model, x, y, batch_size, fn)}
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- metric
def pearson_per_column(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching columns of ``a`` and ``b`` ``(n, k)``; 0 where a column is constant."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denom = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=0) / denom
    return np.where(denom > 0, r, 0.0)


@dataclass(frozen=True)
class MetricSettings:
    """PLS components, number of splits, training fraction, seed of the splits."""

    n_components: int = 25
    n_splits: int = 10
    train_fraction: float = 0.9
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pls_cross_validated(
    features: np.ndarray, responses: np.ndarray, object_name: Sequence, settings: MetricSettings = MetricSettings()
) -> dict[str, Any]:
    """Cross-validated PLS predictivity of ``responses`` ``(n_stimuli, n_neuroids)`` from ``features``
    ``(n_stimuli, n_features)``.

    Returns ``{"raw", "sem", "per_split" (n_splits,), "per_neuroid" (n_splits, n_neuroids)}``: Pearson r per
    neuroid on each split's held-out stimuli, median over neuroids per split, mean and SEM over splits.
    """
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    features = np.asarray(features, dtype=np.float64)
    responses = np.asarray(responses, dtype=np.float64)
    if features.shape[0] != responses.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows for {responses.shape[0]} stimuli")
    labels = np.asarray(object_name).astype(str)
    n_classes = len(np.unique(labels))
    n_test = len(labels) - int(np.floor(settings.train_fraction * len(labels)))
    stratify = n_test >= n_classes and len(labels) - n_test >= n_classes
    if not stratify:  # too few stimuli for every object in every test split (small sets only)
        log.warning("%d held-out stimuli per split < %d objects: splits are not stratified", n_test, n_classes)
    splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
        n_splits=settings.n_splits, train_size=settings.train_fraction, random_state=settings.seed
    )
    per_neuroid = []
    for train, test in splitter.split(features, labels):
        k = max(1, min(settings.n_components, len(train) - 1, features.shape[1]))
        pls = PLSRegression(n_components=k, scale=False)
        pls.fit(features[train], responses[train])
        per_neuroid.append(pearson_per_column(pls.predict(features[test]), responses[test]))
    per_neuroid_arr = np.asarray(per_neuroid)
    per_split = np.median(per_neuroid_arr, axis=1)
    sem = per_split.std(ddof=1) / np.sqrt(len(per_split)) if len(per_split) > 1 else float("nan")
    return {"raw": float(per_split.mean()), "sem": float(sem), "per_split": per_split, "per_neuroid": per_neuroid_arr}


def split_half_ceiling(
    assembly, stimulus_ids: Sequence | None = None, n_splits: int = 10, seed: int = 0, n_bootstrap: int = 200
) -> dict[str, Any]:
    """Split-half reliability over repetitions with Spearman-Brown correction.

    Each split draws half of the ``repetition`` values at random (the same for every stimulus, as
    Brain-Score splits the repetition coordinate); each half is averaged per stimulus; Pearson r per neuroid
    across stimuli; ``2 r / (1 + r)``; median over neuroids; mean over splits. Stimuli without a presentation
    in both halves of a split are left out of it. Responses are averaged over time bins.

    Sampling error: ``bootstrap_se`` is the standard deviation of the ceiling over ``n_bootstrap`` resamples
    of the stimuli (with replacement, the same resample for every split), so it holds both the trial noise and
    the draw of the stimuli, with whatever correlation between neuroids the shared stimuli bring.

    Returns ``{"ceiling", "sem" (over repetition splits), "bootstrap_se", "per_neuroid" (n_neuroids,): mean
    over splits}``.
    """
    values = np.asarray(assembly.values, dtype=np.float64).mean(axis=2)  # (presentations, neuroids)
    stim = np.asarray(assembly["stimulus_id"].values)
    rep = np.asarray(assembly["repetition"].values)
    ids = np.unique(stim) if stimulus_ids is None else np.asarray(stimulus_ids)
    codes = pd.Index(ids).get_indexer(stim)
    keep = codes >= 0
    values, codes, rep = values[keep], codes[keep], rep[keep]
    repetitions = np.unique(rep)
    if len(repetitions) < 2:
        raise DataError(None, "a split-half ceiling needs at least two repetitions")
    rng = np.random.default_rng(seed)
    boot_rows = np.random.default_rng([seed, 11]).integers(0, len(ids), size=(n_bootstrap, len(ids)))
    per_split, per_neuroid, boot = [], [], []
    for _ in range(n_splits):
        first = np.isin(rep, rng.permutation(repetitions)[: len(repetitions) // 2])
        sums, counts = [], []
        for mask in (first, ~first):
            total = np.zeros((len(ids), values.shape[1]))
            np.add.at(total, codes[mask], values[mask])
            sums.append(total)
            counts.append(np.bincount(codes[mask], minlength=len(ids)))
        usable = (counts[0] > 0) & (counts[1] > 0)
        if usable.sum() < 3:
            raise DataError(None, "a split-half ceiling needs at least 3 stimuli shown in both halves")
        halves = [s[usable] / c[usable, None] for s, c in zip(sums, counts)]
        r = pearson_per_column(halves[0], halves[1])
        corrected = 2 * r / (1 + r)
        per_neuroid.append(corrected)
        per_split.append(np.median(corrected))
        position = np.cumsum(usable) - 1  # row of each usable stimulus in halves
        boot.append(
            [
                _spearman_brown_median(halves[0][position[rows[usable[rows]]]], halves[1][position[rows[usable[rows]]]])
                for rows in boot_rows
            ]
        )
    per_split_arr = np.asarray(per_split)
    boot_ceiling = np.mean(boot, axis=0) if n_bootstrap > 1 else np.full(1, np.nan)
    return {
        "ceiling": float(per_split_arr.mean()),
        "sem": float(per_split_arr.std(ddof=1) / np.sqrt(n_splits)) if n_splits > 1 else float("nan"),
        "bootstrap_se": float(np.std(boot_ceiling, ddof=1)) if n_bootstrap > 1 else float("nan"),
        "per_neuroid": np.mean(per_neuroid, axis=0),
    }


def _spearman_brown_median(a: np.ndarray, b: np.ndarray) -> float:
    r = pearson_per_column(a, b)
    return float(np.median(2 * r / (1 + r)))


def ceiling_error_bound(bootstrap_se: float, z: float = 3.0) -> float:
    """How far a measured ceiling may sit from the true reliability by sampling alone: ``z`` bootstrap standard
    errors (z = 3: about 1 in 370 runs of a normal estimate falls outside)."""
    return float(z * bootstrap_se)


# ------------------------------------------------------------------------------------ model interface
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


# ------------------------------------------------------------------------------------- tables, figures
def summary_row(variant: str, seed: int, robustness: pd.DataFrame | None, neural: pd.DataFrame) -> dict[str, Any]:
    """One row of the variants table: accuracies, robustness and ceiled V4/IT scores (``robustness`` None:
    scored from precomputed activations, no accuracies). With several time bins scored (a ``time_bin_start``
    column), a region's entries are the means over bins and ``<region>_n_bins`` says how many."""
    acc = robustness.groupby("condition")["accuracy"].mean() if robustness is not None else pd.Series(dtype=float)
    row: dict[str, Any] = {
        "variant": variant,
        "seed": seed,
        "clean_accuracy": acc.get("clean"),
        "pgd_accuracy": acc.get("pgd"),
        "rotation_accuracy": acc.get("rotation"),
    }
    for name in ("noise", "blur", "contrast"):
        row[f"{name}_accuracy"] = acc.get(name)
    for region, part in neural.groupby("region", sort=False):
        row[f"{region}_ceiled"] = float(part["ceiled"].mean())
        row[f"{region}_sem"] = float(part["ceiled_sem"].mean())
        row[f"{region}_raw"] = float(part["raw"].mean())
        row[f"{region}_layer"] = "|".join(dict.fromkeys(part["layer"].astype(str)))
        row[f"{region}_ceiling"] = float(part["ceiling"].mean())
        row[f"{region}_ceiling_se"] = (
            float(part["ceiling_bootstrap_se"].mean()) if "ceiling_bootstrap_se" in part else float("nan")
        )
        row[f"{region}_n_stimuli"] = int(part["n_stimuli"].iloc[0])
        if len(part) > 1:
            row[f"{region}_n_bins"] = int(len(part))
    ceiled = [row[f"{r}_ceiled"] for r in dict.fromkeys(neural["region"])]
    row["neural_average"] = float(np.mean(ceiled)) if ceiled else float("nan")
    return row


# A ceiled score divides by the split-half ceiling: below this reliability the division is not a measurement.
CEILING_FLOOR = 0.1
# A classifier within this many standard errors of chance has learnt nothing to attack: its PGD accuracy (a
# constant classifier keeps chance accuracy under any attack) is degenerate, not robustness.
CHANCE_SE = 2.0


def _region_key(region: str) -> str:
    return str(region).lower()


def variant_statistics(
    table: pd.DataFrame,
    truths: Mapping[int, Mapping[str, Any]] | None = None,
    preset: str | None = None,
    data_notes: Mapping[str, Any] | None = None,
    declared: Mapping[str, Any] | None = None,
):
    """The family's statistics per seed (:class:`neuromodels.core.findings.Summary`) from the variants table
    (one row per model and seed: the trained variants and the ``untrained_crossvit`` control alike).

    Per model ``m`` (variant or control) and seed:

    * ``m.clean_accuracy``, ``m.pgd_accuracy``: top-1 on the clean and on the PGD-attacked test images. The
      PGD accuracy is undefined when the clean accuracy is within 2 standard errors of chance (1 / classes):
      a classifier that learnt nothing keeps chance accuracy under any attack, which is not robustness.
    * ``m.ceiled_score.<region>``: the committed layer's held-out score, raw / ceiling (the 2022 board's
      convention; today's board squares it), ``m.raw_score.<region>`` the raw median Pearson r. Undefined when
      the ceiling is under :data:`CEILING_FLOOR`.
    * ``trained_min.ceiled_score.<region>``: the lowest ceiled score among the trained variants of the seed
      (every trained variant above a control <=> this above it); undefined when any of them is.
    * With simulated recordings (``truths``: each seed's ``truth.json``, keyed by seed):
      ``ceiling.<region>`` (the split-half ceiling on the seed's held-out stimuli), ``planted.<region>`` (the
      planted median reliability) and ``ceiling.error_se.<region>`` = ``|ceiling - planted| / bootstrap SE``.

    ``data_notes`` (what the scoring dropped or averaged: time bins used, NaN neuroids, unmapped regions) go
    into the notes under ``assembly``; the notes also count the undefined statistics.

    A declared model (``brainscore.models``; ``declared``: its name -> what it was, kind, layers, input) is a
    row like any other: its ``<name>.ceiled_score.<region>`` and ``<name>.raw_score.<region>`` (no accuracies:
    it is not a classifier of the set's classes); no claim reads them and ``trained_min`` stays over the
    CrossViT variants. The notes list them under ``declared_models`` when there are any.
    """
    from ..core.findings import Summary
    from .presets import VARIANTS

    seeds = sorted(int(s) for s in table["seed"].unique())
    summary = Summary("brainscore", preset=preset, seed=seeds[0] if seeds else None)
    names = list(dict.fromkeys(table["variant"].astype(str)))
    models = [v for v in VARIANTS if v in names] + [v for v in names if v not in VARIANTS]
    trained = [v for v in VARIANTS if v in names]
    regions = [c[: -len("_ceiled")] for c in table.columns if c.endswith("_ceiled")]
    n_test = int(table["n_test"].min()) if "n_test" in table and table["n_test"].notna().any() else 0
    summary.notes.update(
        {
            "models": models,
            "trained_variants": trained,
            "seeds": seeds,
            "n_test_images": n_test,
            "ceiled_score": "raw / ceiling (the 2022 board's convention, not squared)",
        }
    )
    if data_notes:
        summary.notes["assembly"] = dict(data_notes)
    if declared:
        summary.notes["declared_models"] = {str(k): v for k, v in declared.items()}
    truths = dict(truths or {})
    if not truths:
        summary.notes["ceiling_statistics_skipped"] = "no planted reliability (recordings not simulated here)"
    undefined_count = 0

    def number(row: pd.Series, column: str) -> float:
        value = row.get(column) if column in row.index else None
        return float(value) if value is not None and pd.notna(value) else float("nan")

    for seed in seeds:
        rows = table[table["seed"] == seed].drop_duplicates("variant", keep="last").set_index("variant")
        missing = [m for m in models if m not in rows.index]
        if missing:
            summary.notes.setdefault("missing_models", {})[str(seed)] = missing
        for model in [m for m in models if m in rows.index]:
            row = rows.loc[model]
            clean = number(row, "clean_accuracy")
            if np.isfinite(clean):
                summary.measure(seed, f"{model}.clean_accuracy", clean)
                pgd = number(row, "pgd_accuracy")
                n, k = number(row, "n_test"), number(row, "n_classes")
                chance = 1.0 / k if np.isfinite(k) and k > 0 else float("nan")
                floor = (
                    chance + CHANCE_SE * np.sqrt(chance * (1 - chance) / n)
                    if np.isfinite(n) and n > 0
                    else float("nan")
                )
                if not np.isfinite(pgd):
                    summary.measure(seed, f"{model}.pgd_accuracy", None, undefined="no PGD accuracy measured")
                elif np.isfinite(floor) and clean <= floor:
                    summary.measure(
                        seed,
                        f"{model}.pgd_accuracy",
                        None,
                        undefined=f"clean accuracy {clean:.3f} within {CHANCE_SE:g} SE of chance "
                        f"{chance:.3f} on {int(n)} images: nothing learnt to attack",
                    )
                else:
                    summary.measure(seed, f"{model}.pgd_accuracy", pgd)
            for region in regions:
                key = _region_key(region)
                ceiled, ceiling = number(row, f"{region}_ceiled"), number(row, f"{region}_ceiling")
                raw = number(row, f"{region}_raw")
                if not np.isfinite(ceiled):
                    summary.measure(seed, f"{model}.ceiled_score.{key}", None, undefined=f"{region} not scored")
                elif not ceiling >= CEILING_FLOOR:
                    summary.measure(
                        seed,
                        f"{model}.ceiled_score.{key}",
                        None,
                        undefined=f"{region} ceiling {ceiling:.3f} under {CEILING_FLOOR:g}",
                    )
                else:
                    summary.measure(seed, f"{model}.ceiled_score.{key}", ceiled)
                if np.isfinite(raw):
                    summary.measure(seed, f"{model}.raw_score.{key}", raw)
        stats, why = summary.statistics.get(str(seed), {}), summary.undefined.get(str(seed), {})
        for region in regions:
            key = _region_key(region)
            names_ = [f"{v}.ceiled_score.{key}" for v in trained]
            if not trained:
                continue
            absent = [v for v in trained if v not in rows.index]
            if absent:
                summary.measure(
                    seed,
                    f"trained_min.ceiled_score.{key}",
                    None,
                    undefined=f"trained variants missing: {', '.join(absent)}",
                )
            elif any(stats.get(n) is None for n in names_):
                bad = [n for n in names_ if stats.get(n) is None]
                summary.measure(
                    seed,
                    f"trained_min.ceiled_score.{key}",
                    None,
                    undefined="; ".join(f"{n}: {why.get(n, 'undefined')}" for n in bad),
                )
            else:
                summary.measure(seed, f"trained_min.ceiled_score.{key}", min(stats[n] for n in names_))
        truth = truths.get(seed)
        planted = (truth or {}).get("planted_reliability_median") or {}
        first = rows.iloc[0] if len(rows) else None
        for region, rho in planted.items():
            key = _region_key(region)
            ceiling = number(first, f"{region}_ceiling") if first is not None else float("nan")
            se = number(first, f"{region}_ceiling_se") if first is not None else float("nan")
            if not np.isfinite(ceiling):
                summary.notes.setdefault("regions_without_ceiling", []).append(region)
                continue
            summary.measure(seed, f"ceiling.{key}", ceiling)
            summary.measure(seed, f"planted.{key}", float(rho))
            if se > 0:
                summary.measure(seed, f"ceiling.error_se.{key}", abs(ceiling - float(rho)) / se)
            else:
                summary.measure(
                    seed, f"ceiling.error_se.{key}", None, undefined=f"no bootstrap SE of the {region} ceiling ({se})"
                )
        if truths and seed not in truths:
            summary.notes.setdefault("seeds_without_truth", []).append(seed)
        undefined_count += len(summary.undefined.get(str(seed), {}))
    summary.notes["undefined_statistics"] = undefined_count
    return summary


def plot_variants(table: pd.DataFrame):
    """Bars per variant (mean over seeds): clean, PGD and corruption accuracy, and ceiled V4 / IT scores,
    laid out like the paper's table (one group per measure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = [
        ("clean_accuracy", "clean acc."),
        ("pgd_accuracy", "PGD acc."),
        ("rotation_accuracy", "rotated acc."),
        ("noise_accuracy", "noise acc."),
        ("blur_accuracy", "blur acc."),
        ("contrast_accuracy", "contrast acc."),
        ("V4_ceiled", "V4 (ceiled)"),
        ("IT_ceiled", "IT (ceiled)"),
    ]
    measures = [(c, label) for c, label in measures if c in table]
    from .presets import VARIANTS

    known = [v for v in VARIANTS if v in set(table["variant"])]  # the paper's order, then any others
    crossvit = {*VARIANTS, "untrained_crossvit"}  # the family's own rows; a declared model keeps its name
    order = known + [v for v in dict.fromkeys(table["variant"]) if v not in known]
    mean = table.groupby("variant")[[c for c, _ in measures]].mean().loc[order]
    sem_cols = {c: c.replace("_ceiled", "_sem") for c, _ in measures if c.endswith("_ceiled")}
    fig, ax = plt.subplots(figsize=(1.3 * len(measures) + 2, 3.6))
    width = 0.8 / max(len(mean), 1)
    xs = np.arange(len(measures))
    for i, (variant, values) in enumerate(mean.iterrows()):
        errors = [
            table.loc[table["variant"] == variant, sem_cols[c]].mean() if c in sem_cols else np.nan for c, _ in measures
        ]
        ax.bar(
            xs + (i - (len(mean) - 1) / 2) * width,
            values.to_numpy(float),
            width,
            yerr=errors,
            label=variant.replace("_", " + ") if variant in crossvit else variant,
            capsize=2,
        )
    ax.set_xticks(xs, [label for _, label in measures], rotation=20)
    ax.set_ylabel("accuracy / ceiled score")
    ax.set_ylim(0, max(1.0, float(np.nanmax(mean.to_numpy(float))) * 1.05))
    ax.axvline(len([c for c, _ in measures if not c.endswith("_ceiled")]) - 0.5, color="grey", lw=0.8)
    ax.legend(frameon=False, fontsize=8, ncol=2)
    others = [v for v in order if v not in crossvit]
    ax.set_title(
        "CrossViT variants" + (" and declared models" if others else "") + ": accuracy, robustness and neural "
        "predictivity"
    )
    fig.tight_layout()
    return fig
