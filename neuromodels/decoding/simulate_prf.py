"""A second NSD-style generator, unlike :mod:`neuromodels.decoding.simulate`: population receptive fields on
the rendered images, more voxels, fewer trials.

What differs from the first simulator (which mixes the latent attributes through smooth spatial maps and a
softplus, ~1000 voxels, 240-600 training images, homoscedastic noise):

- **Voxel responses.** Most voxels (``early_fraction``) are early-visual population receptive fields: a 2D
  Gaussian on the *rendered image* (centre and size from a retinotopic map of the voxel's position on a
  cortical shell: polar angle from its angle around the shell's axis, eccentricity from its distance along
  it, size growing with eccentricity), a per-voxel mixture of six non-negative image channels (luminance,
  red, green, blue and yellow opponent halves, edge energy) and a compressive exponent (the CSS model's
  ``drive ** n``, n = 0.5). The rest are object-selective: tuned to the scene's category and texture (one-hot
  latents of the stimulus world) times the object's size. The ground truth is therefore the world's pixels
  and attributes; no network features enter.
- **Noise and drift.** Per-voxel reliability from a Beta distribution (mean ``reliability``), noise whose sd
  grows with the voxel's response (heteroscedastic), per-session offset and gain, and within each session a
  slow drift (a smoothed random walk shared across voxels with per-voxel loadings, plus a linear trend):
  session z-scoring removes the offsets but not the drift.
- **Size.** 6-7k voxels per subject (``n_voxels``), 150-250 training images per subject (``n_train``, one
  value per subject, disjoint across subjects as in NSD), a shared test set, and some training trials missing
  (``missing_trials``: a stimulus keeps at least one repeat).
- **Stored values** are rounded to the int16 values of NSD's betas (percent signal change x 300) and written
  in the project's simple layout by :func:`neuromodels.decoding.data.write_stimuli` / ``write_subject``, so
  the same reader reads them. ``ground_truth.npz`` holds ``stimulus_id`` and standardised ``latents`` (so
  ``neuromodels decoding targets --image latents`` works) and each subject's receptive-field parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import ConfigError
from neuromodels.core.io import write_json, write_npz
from neuromodels.core.runtime import get_logger

from .data import write_stimuli, write_subject
from .simulate import GROUND_TRUTH, TRUTH_JSON, sample_world, standardise

log = get_logger(__name__)

CHANNELS = ("luminance", "red", "green", "blue", "yellow", "edges")


@dataclass
class PRFSettings:
    """What the receptive-field generator writes.

    Attributes
    ----------
    n_train:
        Training images per subject (one value per subject; its length is the number of subjects).
    n_test:
        Stimuli every subject sees three times (the shared test set).
    n_voxels:
        (low, high): each subject's voxel count is drawn uniformly in this range.
    early_fraction:
        Fraction of voxels that are image receptive fields (the rest are object-selective).
    reliability:
        Mean single-trial reliability (signal fraction of variance) over voxels.
    drift:
        Within-session drift sd relative to the noise sd.
    missing_trials:
        Fraction of training trials left out (as NSD's unfinished sessions leave some repeats missing).
    feature_size:
        Side of the image-channel maps the receptive fields read (the rendered image is block-averaged to it).
    """

    n_train: tuple[int, ...] = (250, 200, 180, 220, 150)
    n_test: int = 100
    repeats: int = 3
    sessions: int = 3
    n_voxels: tuple[int, int] = (6000, 7000)
    early_fraction: float = 0.7
    reliability: float = 0.08
    drift: float = 0.5
    missing_trials: float = 0.1
    image_size: int = 32
    feature_size: int = 16
    grid: tuple[int, int, int] = (40, 40, 40)

    def check(self) -> None:
        if len(self.n_train) < 2:
            raise ConfigError("n_train", "needs at least 2 subjects (one value each)")
        if not 0 < self.reliability < 1:
            raise ConfigError("reliability", "must lie in (0, 1)")
        if self.image_size % self.feature_size:
            raise ConfigError("feature_size", f"must divide image_size ({self.image_size})")
        if self.n_voxels[1] > 0.5 * np.prod(self.grid):
            raise ConfigError("n_voxels", f"too many voxels for a {self.grid} grid")


def image_channels(images: np.ndarray, size: int) -> np.ndarray:
    """float (n, 6, size * size): non-negative channel maps of uint8 images (n, H, W, 3), block-averaged.

    Luminance, the two halves of red-green and blue-yellow opponency, and edge energy (gradient magnitude of
    the luminance).
    """
    x = np.asarray(images, dtype=np.float64) / 255.0
    n, h, w, _ = x.shape
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    lum = (r + g + b) / 3
    rg, by = r - g, b - (r + g) / 2
    gy, gx = np.gradient(lum, axis=(1, 2))
    maps = np.stack(
        [lum, np.maximum(rg, 0), np.maximum(-rg, 0), np.maximum(by, 0), np.maximum(-by, 0), np.hypot(gx, gy) * 4],
        axis=1,
    )
    f = h // size
    maps = maps.reshape(n, len(CHANNELS), size, f, size, f).mean(axis=(3, 5))
    return maps.reshape(n, len(CHANNELS), size * size)


def shell_mask(grid: tuple[int, int, int], n_voxels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """bool (X, Y, Z) mask of exactly ``n_voxels`` voxels on the posterior half of a spherical shell, and the
    unit direction (voxels, 3) of each voxel from the shell's centre (in the mask's C order)."""
    shape = np.array(grid, dtype=float)
    centre = shape / 2 + rng.normal(0, 1.0, 3)
    radius = shape.min() * rng.uniform(0.36, 0.42)
    ijk = np.indices(grid).reshape(3, -1).T.astype(float)
    d = ijk - centre
    dist = np.linalg.norm(d, axis=1)
    posterior = d[:, 1] < 0.15 * radius
    score = np.where(posterior, np.abs(dist - radius), np.inf)
    keep = np.argsort(score, kind="stable")[:n_voxels]
    mask = np.zeros(int(np.prod(grid)), dtype=bool)
    mask[keep] = True
    sel = np.flatnonzero(mask)  # C order
    direction = d[sel] / np.maximum(dist[sel, None], 1e-9)
    return mask.reshape(grid), direction


def receptive_fields(direction: np.ndarray, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Retinotopic pRF parameters from the voxels' directions on the shell: centre (x, y) in image units
    [0, 1], size sigma, and the (voxels, size * size) normalised Gaussian weights."""
    tilt = rng.uniform(0, 2 * np.pi)
    angle = np.arctan2(direction[:, 2], direction[:, 0]) + tilt
    ecc = np.arccos(np.clip(-direction[:, 1], -1, 1)) / (np.pi / 2)  # 0 at the pole, 1 at the equator
    ecc = 0.45 * np.clip(ecc, 0, 1.2) + rng.normal(0, 0.02, len(ecc))
    cx, cy = 0.5 + ecc * np.cos(angle), 0.5 + ecc * np.sin(angle)
    sigma = 0.04 + 0.25 * np.abs(ecc) * rng.lognormal(0, 0.2, len(ecc))
    coords = (np.arange(size) + 0.5) / size
    gx = np.exp(-((coords[None, :] - cx[:, None]) ** 2) / (2 * sigma[:, None] ** 2))
    gy = np.exp(-((coords[None, :] - cy[:, None]) ** 2) / (2 * sigma[:, None] ** 2))
    weights = (gy[:, :, None] * gx[:, None, :]).reshape(len(ecc), -1)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return {"x": cx, "y": cy, "sigma": sigma, "weights": weights}


def voxel_signal(
    channels: np.ndarray,
    latents: np.ndarray,
    names: list[str],
    n_voxels: int,
    early_fraction: float,
    direction: np.ndarray,
    feature_size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """float (stimuli, voxels) noise-free responses (unit variance per voxel) and the voxels' parameters."""
    n_early = int(round(early_fraction * n_voxels))
    early = np.zeros(n_voxels, dtype=bool)
    early[rng.choice(n_voxels, n_early, replace=False)] = True
    prf = receptive_fields(direction[early], feature_size, rng)
    mix = rng.dirichlet(np.full(len(CHANNELS), 0.5), size=n_early)  # (early, 6)
    drive = np.zeros((len(channels), n_early))
    for c in range(len(CHANNELS)):
        drive += (channels[:, c, :] @ prf["weights"].T) * mix[:, c]
    signal = np.empty((len(channels), n_voxels))
    signal[:, early] = np.sqrt(np.maximum(drive, 0))  # compressive spatial summation
    objective = [i for i, n in enumerate(names) if n.startswith(("category=", "texture="))]
    size_col = names.index("size") if "size" in names else None
    onehot = latents[:, objective]
    tuning = rng.gamma(0.7, 1.0, size=(len(objective), n_voxels - n_early))
    obj = onehot @ tuning
    if size_col is not None:
        obj = obj * (0.5 + latents[:, [size_col]] / max(latents[:, size_col].max(), 1e-9))
    signal[:, ~early] = np.log1p(obj)
    sd = signal.std(axis=0)
    signal = (signal - signal.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    params = {
        "early": early,
        "prf_x": prf["x"],
        "prf_y": prf["y"],
        "prf_sigma": prf["sigma"],
        "channel_mix": mix,
        "object_tuning": tuning.T,
    }
    return signal, params


def session_drift(n_trials: int, n_voxels: int, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float (trials, voxels): a smoothed random walk shared by the voxels (loadings per voxel) plus a linear
    trend per voxel, each about ``scale`` (per voxel) in sd."""
    from scipy.ndimage import gaussian_filter1d

    walk = gaussian_filter1d(np.cumsum(rng.standard_normal(n_trials)), sigma=max(n_trials / 20, 1.0))
    walk = (walk - walk.mean()) / max(walk.std(), 1e-9)
    trend = np.linspace(-1, 1, n_trials)
    out = np.outer(walk, rng.normal(0, 0.8, n_voxels)) + np.outer(trend, rng.normal(0, 0.6, n_voxels))
    return out * scale


def simulate_prf_dataset(
    out: str | Path,
    settings: PRFSettings | None = None,
    seed: int = 0,
    world: tuple[np.ndarray, np.ndarray, list[str], list[str]] | None = None,
) -> dict[str, Any]:
    """Write a data set in the project's layout under ``out`` (subjects ``sub-01`` ...) and its ground
    truth; return the truth summary (settings, test ids, per-subject voxel counts and reliabilities)."""
    settings = settings or PRFSettings()
    settings.check()
    out = Path(out)
    rng = np.random.default_rng([seed, 2])
    n_total = settings.n_test + int(sum(settings.n_train))
    if world is None:
        world = sample_world(n_total, seed + 101, settings.image_size)
    raw_latents, images, captions, names = world
    if len(raw_latents) < n_total:
        raise ConfigError("n_train", f"the stimulus world gave {len(raw_latents)} scenes, need {n_total}")
    raw_latents, images, captions = raw_latents[:n_total], images[:n_total], list(captions)[:n_total]
    ids = np.sort(rng.choice(73000, size=n_total, replace=False)).astype(np.int64)
    order = rng.permutation(n_total)
    test_rows = np.sort(order[: settings.n_test])
    starts = settings.n_test + np.concatenate([[0], np.cumsum(settings.n_train)])
    write_stimuli(out, ids, images, captions)
    channels = image_channels(images, settings.feature_size)
    names = list(names)[: raw_latents.shape[1]]

    truth: dict[str, Any] = {
        "generator": "population receptive fields",
        "settings": asdict(settings),
        "seed": seed,
        "subjects": {},
        "test_ids": ids[test_rows].tolist(),
    }
    arrays: dict[str, np.ndarray] = {
        "stimulus_id": ids,
        "latents": standardise(raw_latents),
        "test_ids": ids[test_rows],
    }
    a, b = 6.0 * settings.reliability, 6.0 * (1 - settings.reliability)
    for s_i, n_train in enumerate(settings.n_train):
        subject = f"sub-{s_i + 1:02d}"
        srng = np.random.default_rng([seed, 2, s_i + 1])
        n_vox = int(srng.integers(settings.n_voxels[0], settings.n_voxels[1] + 1))
        mask, direction = shell_mask(tuple(settings.grid), n_vox, srng)
        signal, params = voxel_signal(
            channels, raw_latents, names, n_vox, settings.early_fraction, direction, settings.feature_size, srng
        )
        rel = np.clip(srng.beta(a, b, size=n_vox), 0.02, 0.9)
        noise_sd = np.sqrt((1 - rel) / rel)
        train_rows = np.sort(order[starts[s_i] : starts[s_i + 1]])
        stim = np.concatenate([np.repeat(test_rows, settings.repeats), np.repeat(train_rows, settings.repeats)])
        rep = np.concatenate(
            [
                np.tile(np.arange(settings.repeats), len(test_rows)),
                np.tile(np.arange(settings.repeats), len(train_rows)),
            ]
        )
        # drop some training trials, never a stimulus's first repeat
        droppable = np.flatnonzero((np.arange(len(stim)) >= settings.repeats * len(test_rows)) & (rep > 0))
        drop = srng.choice(droppable, int(settings.missing_trials * settings.repeats * len(train_rows)), replace=False)
        keep = np.setdiff1d(np.arange(len(stim)), drop)
        stim, rep = stim[keep], rep[keep]
        shuffle = srng.permutation(len(stim))
        stim, rep = stim[shuffle], rep[shuffle]
        session = np.arange(len(stim)) * settings.sessions // len(stim) + 1
        sig = signal[stim]
        noise = srng.standard_normal(sig.shape) * noise_sd * (0.6 + 0.4 * np.exp(0.5 * np.clip(sig, -3, 3)))
        betas = sig + noise
        for sess in np.unique(session):
            rows = session == sess
            betas[rows] += session_drift(int(rows.sum()), n_vox, settings.drift * noise_sd, srng)
            betas[rows] = betas[rows] * srng.uniform(0.6, 1.4, n_vox) + srng.normal(0, 3.0, n_vox)
        psc = 1.2 * betas  # percent signal change
        stored = np.clip(np.round(psc * 300), -32768, 32767).astype(np.int16)
        trials = pd.DataFrame(
            {"trial": np.arange(len(stim)), "session": session, "stimulus_id": ids[stim], "repeat": rep}
        )
        write_subject(out, subject, mask, np.diag([1.8, 1.8, 1.8, 1.0]), stored, trials, betas_format="hdf5")
        truth["subjects"][subject] = {
            "n_voxels": n_vox,
            "n_train": int(n_train),
            "n_trials": int(len(stim)),
            "mean_reliability": float(rel.mean()),
            "early_voxels": int(params["early"].sum()),
        }
        arrays.update({f"{subject}_{k}": np.asarray(v, dtype=np.float32) for k, v in params.items()})
        arrays[f"{subject}_reliability"] = rel.astype(np.float32)
        log.info(
            "%s: %d voxels, %d training images, %d trials, mean reliability %.2f",
            subject,
            n_vox,
            n_train,
            len(stim),
            rel.mean(),
        )
    truth["latent_names"] = names
    write_npz(out / GROUND_TRUTH, **arrays)
    write_json(out / TRUTH_JSON, truth)
    return truth
