"""Simulated V4-like and IT-like recordings on stimulus-world images, planted in the world's latent attributes.

The responses are a fixed random function of each stimulus's latent attributes (the row of
:func:`neuromodels.stimuli.sample_scenes`: category, shape_param, colour, texture, position, size, rotation,
light), never of pixels or of any network, so no model the benchmark compares can have been the template.

**Mid-level shape descriptors** (:data:`SHAPE_DESCRIPTORS`): every category has a fixed boundary description,
modulated by its ``shape_param`` where that changes the boundary: convex curvature, concavity, sharp corners,
straight edges, elongation, stroke thinness; and a rotational symmetry order ``k`` (0: none to see) with an
orientation amplitude, so a response to rotation ``theta`` varies as ``cos(k (theta - preferred))``.

**V4-like sites** (local features with a random nonlinear mixture). Each site has a Gaussian receptive field
(centre in [0.2, 0.8]^2, width 0.10-0.22 of the image side); an object drives it by
``g = exp(-|object - centre|^2 / (2 (width^2 + (size / 2)^2)))`` (the overlap of field and object, so
V4 is position-specific). Its local features are colour (opponent coordinates R-G, B-Y and luminance of the
object's hue), texture (one-hot plain/stripes/dots/checker), the shape descriptors, log size, its orientation
tuning ``a_c cos(k_c (theta - phi_site))`` and shading ``cos(light - psi_site)``. A site mixes them through
``n_subunits`` random sparse subunits ``softplus(a_j . f + b_j)`` with random signed read-out weights, and the
receptive-field gain multiplies the mixture.

**IT-like sites** (object identity and shape combinations with partial tolerance). An object's code is
``z = P_category + (shape_param - 0.5) D_category`` (random prototype and shape direction per category, in
``it_code_dim`` dimensions) plus smaller colour and texture embeddings. A site is tuned to a point of that
space near a random category's prototype (Gaussian tuning, width ``it_tuning``), plus a weaker orientation term
(partial rotation tolerance: ``it_rotation`` relative weight); large receptive fields around the centre of
gaze (width 0.3-0.5) and broad log-size tuning give partial position and size tolerance.

Each site's noise-free response goes through a rectifying softplus and is standardised over the stimuli
(mean 0, variance 1). Every stimulus is shown ``repetitions`` times with independent Gaussian noise of variance
``sigma^2 = R (1 / rho - 1)``, so the reliability of the repetition mean (what a split-half ceiling with
Spearman-Brown estimates) is ``rho`` in expectation. Each site's ``rho`` is drawn around the region's target
and recorded.

What the design favours (stated, not hidden): IT is driven mostly by category identity, which is what every
CrossViT variant is trained to classify, so better classifiers are favoured on IT whatever their training
regime; V4 is driven by colour, texture, local shape, position and orientation, which no training objective
names. No part of the simulator is rotation-invariant (V4 fully orientation-tuned, IT with a weaker orientation
term) and none refers to pixel-level perturbations, so neither the rotation nor the adversarial regime is
favoured by construction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError
from ..core.io import PathLike, write_json
from .data import make_assembly, write_assembly

__all__ = [
    "SimulationSettings",
    "SHAPE_DESCRIPTORS",
    "shape_descriptors",
    "local_features",
    "v4_responses",
    "it_responses",
    "simulate_recordings",
    "write_simulation",
]


@dataclass(frozen=True)
class SimulationSettings:
    """Size, noise and tuning of a simulated recording.

    ``reliability`` per region is the planted median reliability of the repetition mean; each site's value is
    drawn uniformly within ``reliability_spread`` of it. ``n_subunits`` is the number of random subunits a V4
    site mixes; ``it_code_dim`` the dimension of the IT shape code, ``it_tuning`` the width of an IT site's
    Gaussian tuning in it (in units of the prototypes' spread), ``it_rotation`` the weight of IT's orientation
    term relative to V4's.
    """

    n_stimuli: int = 200
    image_size: int = 64
    repetitions: int = 8
    n_v4: int = 48
    n_it: int = 48
    v4_reliability: float = 0.8
    it_reliability: float = 0.8
    reliability_spread: float = 0.1
    n_subunits: int = 3
    it_code_dim: int = 8
    it_tuning: float = 1.0
    it_rotation: float = 0.3


# Boundary descriptors per category: (convex curvature, concavity, sharp corners, straight edges, elongation,
# stroke thinness, symmetry order k, orientation amplitude). ``shape_param`` modulates them in
# :func:`shape_descriptors` where the renderer's shape changes (aspect ratio, width, point depth, thickness).
SHAPE_DESCRIPTORS: dict[str, tuple[float, float, float, float, float, float, int, float]] = {
    "disc": (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2, 0.0),
    "square": (0.0, 0.0, 0.4, 1.0, 0.0, 0.0, 4, 1.0),
    "triangle": (0.0, 0.0, 1.0, 1.0, 0.2, 0.0, 3, 1.0),
    "star": (0.0, 0.8, 1.0, 0.6, 0.0, 0.3, 5, 1.0),
    "cross": (0.0, 0.7, 0.4, 0.8, 0.2, 0.5, 4, 1.0),
    "ring": (1.0, 0.5, 0.0, 0.0, 0.0, 0.6, 0, 0.0),
    "ell": (0.0, 0.4, 0.4, 0.8, 0.5, 0.7, 1, 1.0),
    "tee": (0.0, 0.6, 0.4, 0.8, 0.4, 0.7, 1, 1.0),
    "bar": (0.0, 0.0, 0.2, 1.0, 1.0, 0.5, 2, 1.0),
    "crescent": (0.8, 1.0, 0.6, 0.0, 0.4, 0.5, 1, 1.0),
}
DESCRIPTOR_NAMES = ("convex", "concave", "corners", "straight", "elongation", "thinness")


def shape_descriptors(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(descriptors (n, 6), symmetry order k (n,), orientation amplitude (n,))`` of each scene's object."""
    categories = table["category"].to_numpy(str)
    unknown = sorted(set(categories) - set(SHAPE_DESCRIPTORS))
    if unknown:
        raise ConfigError("category", f"no shape descriptors for {unknown}")
    rows = np.array([SHAPE_DESCRIPTORS[c] for c in categories], dtype=float)
    desc, k, amp = rows[:, :6].copy(), rows[:, 6].astype(int), rows[:, 7].copy()
    sp = table["shape_param"].to_numpy(float)
    aspect = np.isin(categories, ["disc", "square"])  # shape_param 1 = round/square, 0 = elongated
    desc[aspect, 4] += 0.6 * (1 - sp[aspect])
    amp[categories == "disc"] = 1 - sp[categories == "disc"]  # a circle has no orientation to see
    tri = categories == "triangle"  # narrow isosceles: sharper apex, longer
    desc[tri, 2] += 0.5 * (1 - sp[tri])
    desc[tri, 4] += 0.4 * (1 - sp[tri])
    star = categories == "star"  # inner radius: deeper points when small
    desc[star, 1] += 0.4 * (1 - sp[star])
    stroke = np.isin(categories, ["cross", "ring", "ell", "tee", "bar", "crescent"])
    desc[stroke, 5] += 0.6 * (0.5 - sp[stroke])  # thickness grows with shape_param
    return desc, k, amp


def _hue_opponents(table: pd.DataFrame) -> np.ndarray:
    from ..stimuli.world import COLOURS

    rgb = np.array([COLOURS[c] for c in table["colour"].to_numpy(str)], dtype=float) / 255.0
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    return np.column_stack([r - g, b - (r + g) / 2, 0.299 * r + 0.587 * g + 0.114 * b])


def local_features(table: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The shared local features V4 sites mix, standardised over the stimuli: ``(n, n_features)`` and names.

    Colour opponents (3), texture one-hot (4), shape descriptors (6), log size (1).
    """
    from ..stimuli.world import TEXTURES

    texture = table["texture"].to_numpy(str)
    desc, _, _ = shape_descriptors(table)
    columns = [
        _hue_opponents(table),
        np.column_stack([(texture == t).astype(float) for t in TEXTURES]),
        desc,
        np.log(table["size"].to_numpy(float))[:, None],
    ]
    names = ["rg", "by", "lum"] + [f"texture={t}" for t in TEXTURES] + list(DESCRIPTOR_NAMES) + ["log_size"]
    features = np.concatenate(columns, axis=1)
    return _standardise(features), names


def _standardise(r: np.ndarray) -> np.ndarray:
    r = r - r.mean(axis=0)
    return r / np.maximum(r.std(axis=0), 1e-12)


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _orientation(table: pd.DataFrame, preferred_deg: np.ndarray) -> np.ndarray:
    """``a cos(k (theta - phi))`` for every scene (rows) and preferred angle ``phi`` (columns)."""
    _, k, amp = shape_descriptors(table)
    theta = np.deg2rad(table["rotation_deg"].to_numpy(float))[:, None]
    return amp[:, None] * np.cos(k[:, None] * (theta - np.deg2rad(preferred_deg)[None, :]))


def _position(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        table["x"].to_numpy(float)[:, None],
        table["y"].to_numpy(float)[:, None],
        table["size"].to_numpy(float)[:, None],
    )


def v4_responses(
    table: pd.DataFrame, n_sites: int, rng: np.random.Generator, n_subunits: int = 3
) -> tuple[np.ndarray, pd.DataFrame]:
    """Noise-free V4-like responses ``(n, n_sites)`` (standardised) and each site's planted parameters."""
    features, names = local_features(table)
    n, n_f = features.shape
    centres = rng.uniform(0.2, 0.8, size=(n_sites, 2))
    width = rng.uniform(0.10, 0.22, size=n_sites)
    preferred = rng.uniform(0.0, 360.0, size=n_sites)
    light_pref = rng.uniform(0.0, 360.0, size=n_sites)
    x, y, size = _position(table)
    gain = np.exp(-((x - centres[:, 0]) ** 2 + (y - centres[:, 1]) ** 2) / (2 * (width**2 + (size / 2) ** 2)))
    orient = _orientation(table, preferred)  # (n, n_sites)
    shading = np.cos(np.deg2rad(table["light_deg"].to_numpy(float))[:, None] - np.deg2rad(light_pref)[None])
    drive = np.zeros((n, n_sites))
    for _ in range(n_subunits):
        # each subunit reads a random few features (about 4 of 14), the site's orientation and a little shading
        weights = rng.standard_normal((n_f, n_sites)) * (rng.uniform(size=(n_f, n_sites)) < 0.3)
        w_orient = rng.standard_normal(n_sites)
        w_light = 0.3 * rng.standard_normal(n_sites)
        bias = rng.normal(0.0, 0.5, n_sites)
        unit = _softplus(features @ weights + w_orient * orient + w_light * shading + bias)
        drive += rng.choice([-1.0, 1.0], size=n_sites, p=[0.3, 0.7]) * unit
    drive = gain * _standardise(drive)
    rates = _softplus(2.0 * _standardise(drive) + rng.normal(0.0, 0.5, n_sites))
    sites = pd.DataFrame(
        {"rf_x": centres[:, 0], "rf_y": centres[:, 1], "rf_width": width, "preferred_rotation_deg": preferred}
    )
    return _standardise(rates), sites


def it_responses(
    table: pd.DataFrame,
    n_sites: int,
    rng: np.random.Generator,
    code_dim: int = 8,
    tuning: float = 1.0,
    rotation_weight: float = 0.3,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Noise-free IT-like responses ``(n, n_sites)`` (standardised) and each site's planted parameters."""
    from ..stimuli.world import CATEGORY_NAMES, COLOUR_NAMES, TEXTURES

    cat = pd.Index(CATEGORY_NAMES).get_indexer(table["category"].to_numpy(str))
    col = pd.Index(COLOUR_NAMES).get_indexer(table["colour"].to_numpy(str))
    tex = pd.Index(TEXTURES).get_indexer(table["texture"].to_numpy(str))
    prototypes = rng.standard_normal((len(CATEGORY_NAMES), code_dim))
    directions = 1.5 * rng.standard_normal((len(CATEGORY_NAMES), code_dim))
    colour_code = 0.3 * rng.standard_normal((len(COLOUR_NAMES), code_dim))
    texture_code = 0.3 * rng.standard_normal((len(TEXTURES), code_dim))
    sp = table["shape_param"].to_numpy(float)[:, None]
    code = prototypes[cat] + (sp - 0.5) * directions[cat] + colour_code[col] + texture_code[tex]  # (n, d)
    preferred_category = rng.integers(0, len(CATEGORY_NAMES), n_sites)
    preferred_shape = rng.uniform(0.0, 1.0, n_sites)
    target = (
        prototypes[preferred_category]
        + (preferred_shape[:, None] - 0.5) * directions[preferred_category]
        + 0.5 * rng.standard_normal((n_sites, code_dim))
    )
    distance2 = ((code[:, None, :] - target[None]) ** 2).sum(axis=2)  # (n, n_sites)
    scale = 2 * (tuning**2) * code_dim
    identity = np.exp(-distance2 / scale)
    preferred = rng.uniform(0.0, 360.0, size=n_sites)
    orient = _orientation(table, preferred)
    drive = _standardise(identity) + rotation_weight * orient * rng.choice([-1.0, 1.0], n_sites)
    centres = 0.5 + rng.uniform(-0.1, 0.1, size=(n_sites, 2))
    width = rng.uniform(0.3, 0.5, size=n_sites)
    size_pref = rng.uniform(0.35, 0.55, size=n_sites)
    x, y, size = _position(table)
    gain = np.exp(-((x - centres[:, 0]) ** 2 + (y - centres[:, 1]) ** 2) / (2 * width**2))
    gain = gain * np.exp(-(np.log(size / size_pref) ** 2) / (2 * 0.5**2))
    rates = _softplus(2.0 * _standardise(gain * (drive - drive.min(axis=0))) + rng.normal(0.0, 0.5, n_sites))
    sites = pd.DataFrame(
        {
            "rf_x": centres[:, 0],
            "rf_y": centres[:, 1],
            "rf_width": width,
            "preferred_rotation_deg": preferred,
            "preferred_category": np.asarray(CATEGORY_NAMES)[preferred_category],
            "preferred_shape_param": preferred_shape,
            "preferred_size": size_pref,
        }
    )
    return _standardise(rates), sites


def simulate_recordings(table: pd.DataFrame, settings: SimulationSettings, seed: int):
    """Simulate an assembly on the scenes of ``table`` (latent attributes only; no image is looked at).

    Returns
    -------
    assembly : ``presentation x neuroid x time_bin`` DataArray (``repetitions`` presentations per stimulus,
        in shuffled order; one time bin 70-170 ms).
    truth : ``{"sites": per-neuroid table (neuroid_id, region, planted reliability, noise_sd and the tuning
        parameters), "signal": noise-free responses (n_stimuli, n_neuroids)}``.
    """
    rng = np.random.default_rng(seed)
    v4, v4_sites = v4_responses(table, settings.n_v4, rng, settings.n_subunits)
    it, it_sites = it_responses(
        table, settings.n_it, rng, settings.it_code_dim, settings.it_tuning, settings.it_rotation
    )
    signal = np.concatenate([v4, it], axis=1)  # (n_stimuli, n_neuroids), unit variance
    region = np.array(["V4"] * settings.n_v4 + ["IT"] * settings.n_it)
    target = np.where(region == "V4", settings.v4_reliability, settings.it_reliability)
    spread = settings.reliability_spread
    reliability = np.clip(target + rng.uniform(-spread, spread, size=len(region)), 0.05, 0.99)
    r = settings.repetitions
    noise_sd = np.sqrt(r * (1.0 / reliability - 1.0))  # reliability of the mean of r repetitions
    n = len(table)
    stim = np.tile(np.arange(n), r)
    rep = np.repeat(np.arange(r), n)
    order = rng.permutation(n * r)  # presentations in the order they were shown
    stim, rep = stim[order], rep[order]
    responses = signal[stim] + noise_sd * rng.standard_normal((n * r, len(region)))
    responses = 10.0 + 5.0 * responses  # a firing-rate-like scale (Pearson ignores it)
    neuroid_id = [f"{reg}_{i:03d}" for i, reg in enumerate(region)]
    assembly = make_assembly(
        responses, table["stimulus_id"].to_numpy()[stim], table["category"].to_numpy(str)[stim], rep, neuroid_id, region
    )
    sites = pd.concat([v4_sites, it_sites], ignore_index=True)
    sites.insert(0, "neuroid_id", neuroid_id)
    sites.insert(1, "region", region)
    sites.insert(2, "reliability", reliability)
    sites.insert(3, "noise_sd", noise_sd * 5.0)
    return assembly, {"sites": sites, "signal": signal}


def write_simulation(out_dir: PathLike, settings: SimulationSettings, seed: int) -> dict[str, Path]:
    """Write a stimulus set (``stimuli/``), the assembly (``assembly.nc``), the planted per-site truth
    (``sites.csv``), the noise-free responses (``signal.csv``, stimulus x neuroid) and a summary
    (``truth.json``) under ``out_dir``. The stimuli are rendered only to be shown to models."""
    from ..core.io import write_table
    from ..stimuli import render_scenes, sample_scenes, write_stimulus_set

    out = Path(out_dir)
    table = sample_scenes(settings.n_stimuli, seed=seed + 1000)
    assembly, truth = simulate_recordings(table, settings, seed)
    images = render_scenes(table, size=settings.image_size)
    write_stimulus_set(out / "stimuli", table, size=settings.image_size, images=images)
    sites = truth["sites"]
    write_table(out / "sites.csv", sites)
    signal = pd.DataFrame(truth["signal"], columns=sites["neuroid_id"])
    signal.insert(0, "stimulus_id", table["stimulus_id"].to_numpy())
    write_table(out / "signal.csv", signal)
    summary: dict[str, Any] = {
        "settings": asdict(settings),
        "seed": seed,
        "generative_model": "responses from the scenes' latent attributes only (see neuromodels.brainscore."
        "simulate): V4 = receptive-field gain x random nonlinear mixture of colour, texture, "
        "shape descriptors, size, orientation and shading; IT = Gaussian tuning in a "
        "category + shape code (with colour/texture) plus a weaker orientation term, "
        "broad position and size tolerance",
        "planted_reliability_median": {
            reg: float(sites.loc[sites["region"] == reg, "reliability"].median()) for reg in ("V4", "IT")
        },
        "n_sites": {"V4": settings.n_v4, "IT": settings.n_it},
    }
    write_json(out / "truth.json", summary)
    path = write_assembly(out / "assembly.nc", assembly)  # last: its presence marks a complete simulation
    return {
        "assembly": path,
        "stimuli": out / "stimuli",
        "truth": out / "truth.json",
        "sites": out / "sites.csv",
        "signal": out / "signal.csv",
    }
