"""Simulated V4-like and IT-like recordings on stimulus-world images, with a planted reliability.

* **V4-like sites** have a Gaussian receptive field on the image and respond to local shape and texture
  statistics inside it: oriented edge energy (4 orientations), local contrast, fine-scale (texture) energy and
  local colour, read out by site-specific weights and a soft rectification.
* **IT-like sites** respond to object identity: a preference per category plus a within-category shape
  tuning, and nothing else (the same for every position, size, rotation, colour and lighting).

Each site's noise-free response is standardised over the stimuli (mean 0, variance 1). Every stimulus is
shown ``repetitions`` times with independent Gaussian noise of variance ``sigma^2 = R (1 / rho - 1)``, so the
reliability of the repetition mean (what a split-half ceiling with Spearman-Brown estimates) is exactly
``rho`` in expectation. Each site's ``rho`` is drawn around the region's target and recorded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..core.io import PathLike, write_json
from .data import make_assembly, write_assembly

__all__ = ["SimulationSettings", "local_statistics", "v4_responses", "it_responses", "simulate_recordings",
           "write_simulation"]


@dataclass(frozen=True)
class SimulationSettings:
    """Size and noise of a simulated recording.

    ``reliability`` per region is the planted median reliability of the repetition mean; each site's value is
    drawn uniformly within ``reliability_spread`` of it. ``rf_sigma`` is the receptive-field width of V4 sites
    as a fraction of the image side.
    """

    n_stimuli: int = 200
    image_size: int = 64
    repetitions: int = 8
    n_v4: int = 48
    n_it: int = 48
    v4_reliability: float = 0.8
    it_reliability: float = 0.8
    reliability_spread: float = 0.1
    rf_sigma: float = 0.15


def local_statistics(images: np.ndarray, grid: int = 8) -> np.ndarray:
    """Local shape and texture statistics on a ``grid x grid`` map.

    Parameters
    ----------
    images : uint8 ``(n, H, W, 3)``.

    Returns
    -------
    float32 ``(n, 9, grid, grid)``: edge energy at 0/45/90/135 degrees, local contrast, fine-scale energy,
    and the colour-opponent means (R - G, B - Y, luminance), each pooled over a cell.
    """
    x = torch.as_tensor(images).permute(0, 3, 1, 2).float() / 255.0
    lum = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    gx = F.conv2d(lum, sobel.view(1, 1, 3, 3), padding=1)
    gy = F.conv2d(lum, sobel.t().reshape(1, 1, 3, 3), padding=1)
    maps = []
    for theta in (0.0, 0.25 * np.pi, 0.5 * np.pi, 0.75 * np.pi):
        maps.append((gx * np.cos(theta) + gy * np.sin(theta)) ** 2)
    blur = F.avg_pool2d(F.pad(lum, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    maps.append((lum - blur) ** 2)
    laplace = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    maps.append(F.conv2d(lum, laplace, padding=1).abs())
    r, g, b = x[:, :1], x[:, 1:2], x[:, 2:3]
    maps += [r - g, b - (r + g) / 2, lum]
    stats = F.adaptive_avg_pool2d(torch.cat(maps, dim=1), grid)
    # square-root the energies so a few sharp edges do not dominate, then put every statistic on one scale
    stats[:, :6] = stats[:, :6].clamp(min=0).sqrt()
    mean = stats.mean(dim=(0, 2, 3), keepdim=True)
    std = stats.std(dim=(0, 2, 3), keepdim=True).clamp(min=1e-6)
    return ((stats - mean) / std).numpy().astype(np.float32)


def _standardise(r: np.ndarray) -> np.ndarray:
    r = r - r.mean(axis=0)
    return r / np.maximum(r.std(axis=0), 1e-12)


def v4_responses(images: np.ndarray, n_sites: int, rng: np.random.Generator, rf_sigma: float = 0.15,
                 grid: int = 8) -> tuple[np.ndarray, pd.DataFrame]:
    """Noise-free V4-like responses ``(n, n_sites)`` (standardised) and each site's receptive field.

    A site sums the local statistics inside its Gaussian receptive field with its own weights (each site
    prefers a few statistics) and passes the sum through a softplus.
    """
    stats = local_statistics(images, grid)                       # (n, C, g, g)
    n_stats = stats.shape[1]
    centres = rng.uniform(0.2, 0.8, size=(n_sites, 2))          # (x, y) as fractions of the image side
    cells = (np.arange(grid) + 0.5) / grid
    gx, gy = np.meshgrid(cells, cells)                          # gx varies along columns (x)
    rf = np.exp(-((gx[None] - centres[:, :1, None]) ** 2 + (gy[None] - centres[:, 1:, None]) ** 2)
                / (2 * rf_sigma ** 2))
    rf /= rf.sum(axis=(1, 2), keepdims=True)                    # (n_sites, g, g)
    pooled = np.einsum("ncij,sij->nsc", stats, rf)              # (n, n_sites, C)
    weights = rng.standard_normal((n_sites, n_stats)) * (rng.uniform(size=(n_sites, n_stats)) < 0.5)
    weights[np.arange(n_sites), rng.integers(0, n_stats, n_sites)] += 2.0  # one preferred statistic each
    drive = np.einsum("nsc,sc->ns", pooled, weights)
    drive = (drive - drive.mean(axis=0)) / np.maximum(drive.std(axis=0), 1e-12)
    rates = np.logaddexp(0.0, 2.0 * drive)                      # softplus: a rectifying rate nonlinearity
    sites = pd.DataFrame({"rf_x": centres[:, 0], "rf_y": centres[:, 1]})
    return _standardise(rates), sites


def it_responses(table: pd.DataFrame, n_sites: int, rng: np.random.Generator) -> np.ndarray:
    """Noise-free IT-like responses ``(n, n_sites)`` (standardised): category preference plus a within-category
    tuning to the shape parameter; invariant to position, size, rotation, colour, texture and lighting."""
    categories, codes = np.unique(table["category"].to_numpy(str), return_inverse=True)
    preference = rng.standard_normal((len(categories), n_sites))
    tuning = 0.5 * rng.standard_normal((len(categories), n_sites))
    shape = table["shape_param"].to_numpy(float)[:, None] - 0.5
    drive = preference[codes] + tuning[codes] * shape
    return _standardise(np.logaddexp(0.0, 2.0 * drive))


def simulate_recordings(table: pd.DataFrame, images: np.ndarray, settings: SimulationSettings, seed: int):
    """Simulate an assembly on the stimuli of ``table`` (rendered as ``images``, uint8 ``(n, H, W, 3)``).

    Returns
    -------
    assembly : ``presentation x neuroid x time_bin`` DataArray (``repetitions`` presentations per stimulus,
        in shuffled order; one time bin 70-170 ms).
    truth : per-neuroid table with ``neuroid_id``, ``region``, planted ``reliability``, ``noise_sd`` and the
        noise-free ``signal`` is returned under ``truth["signal"]`` ``(n_stimuli, n_neuroids)``.
    """
    rng = np.random.default_rng(seed)
    v4, rfs = v4_responses(images, settings.n_v4, rng, settings.rf_sigma)
    it = it_responses(table, settings.n_it, rng)
    signal = np.concatenate([v4, it], axis=1)                     # (n_stimuli, n_neuroids), unit variance
    region = np.array(["V4"] * settings.n_v4 + ["IT"] * settings.n_it)
    target = np.where(region == "V4", settings.v4_reliability, settings.it_reliability)
    spread = settings.reliability_spread
    reliability = np.clip(target + rng.uniform(-spread, spread, size=len(region)), 0.05, 0.99)
    r = settings.repetitions
    noise_sd = np.sqrt(r * (1.0 / reliability - 1.0))            # reliability of the mean of r repetitions
    n = len(table)
    stim = np.tile(np.arange(n), r)
    rep = np.repeat(np.arange(r), n)
    order = rng.permutation(n * r)                               # presentations in the order they were shown
    stim, rep = stim[order], rep[order]
    responses = signal[stim] + noise_sd * rng.standard_normal((n * r, len(region)))
    responses = 10.0 + 5.0 * responses                           # a firing-rate-like scale (Pearson ignores it)
    neuroid_id = [f"{reg}_{i:03d}" for i, reg in enumerate(region)]
    assembly = make_assembly(responses, table["stimulus_id"].to_numpy()[stim],
                             table["category"].to_numpy(str)[stim], rep, neuroid_id, region)
    sites = pd.DataFrame({"neuroid_id": neuroid_id, "region": region, "reliability": reliability,
                          "noise_sd": noise_sd * 5.0})
    sites["rf_x"] = np.r_[rfs["rf_x"].to_numpy(), np.full(settings.n_it, np.nan)]
    sites["rf_y"] = np.r_[rfs["rf_y"].to_numpy(), np.full(settings.n_it, np.nan)]
    return assembly, {"sites": sites, "signal": signal}


def write_simulation(out_dir: PathLike, settings: SimulationSettings, seed: int) -> dict[str, Path]:
    """Write a stimulus set (``stimuli/``), the assembly (``assembly.nc``), the planted per-site truth
    (``sites.csv``) and a summary (``truth.json``) under ``out_dir``."""
    from ..core.io import write_table
    from ..stimuli import render_scenes, sample_scenes, write_stimulus_set

    out = Path(out_dir)
    table = sample_scenes(settings.n_stimuli, seed=seed + 1000)
    images = render_scenes(table, size=settings.image_size)
    write_stimulus_set(out / "stimuli", table, size=settings.image_size, images=images)
    assembly, truth = simulate_recordings(table, images, settings, seed)
    sites = truth["sites"]
    write_table(out / "sites.csv", sites)
    summary: dict[str, Any] = {"settings": asdict(settings), "seed": seed,
                               "planted_reliability_median": {
                                   reg: float(sites.loc[sites["region"] == reg, "reliability"].median())
                                   for reg in ("V4", "IT")}}
    write_json(out / "truth.json", summary)
    path = write_assembly(out / "assembly.nc", assembly)  # last: its presence marks a complete simulation
    return {"assembly": path, "stimuli": out / "stimuli", "truth": out / "truth.json", "sites": out / "sites.csv"}
