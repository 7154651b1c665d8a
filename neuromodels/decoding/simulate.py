"""Simulated NSD-style data with planted ground truth (the embedded default and the tests' fixtures).

Stimuli come from the shared procedural world (:mod:`neuromodels.stimuli`): each image has latent attributes.
Each subject has its own ROI mask in a small volume (grey matter of the MNI152 brain inside a subject-specific
ellipsoid over posterior cortex, so voxel counts differ) and responds to a stimulus as

    signal_v = f( sum_j z_j * M_s[j, v] ),   beta = signal_v / sd + session offset + noise

with ``z`` the stimulus's standardised latents, ``M_s`` a subject-specific spatially smooth mixing (one
Gaussian-smoothed random field per latent, sampled at the mask's voxels), ``f`` a nonlinearity (softplus) and
Gaussian noise whose variance sets each voxel's single-trial reliability ``r_v`` = signal variance / total
variance. The noise-ceiling SNR is ``ncsnr_v = sqrt(r_v / (1 - r_v))`` and the noise ceiling of an average of
``n`` repeats is ``ncsnr^2 / (ncsnr^2 + 1/n)`` (NSD's definition, as a fraction). Ground truth saved beside
the data is the latent attributes (never a network's features), the mixing maps and the per-voxel ceilings.
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

log = get_logger(__name__)

GROUND_TRUTH = "ground_truth.npz"
TRUTH_JSON = "truth.json"


@dataclass
class SimulationSettings:
    """What to simulate.

    Attributes
    ----------
    n_subjects:
        Number of subjects (``subj01`` ...); the workflow holds one out as the new subject.
    n_test:
        Stimuli every subject sees (the shared test set).
    n_train:
        Training stimuli per subject, drawn from a pool of ``n_pool`` non-test stimuli (subjects overlap
        partly, as in NSD where only the test images are shared by design).
    repeats:
        Presentations per stimulus (NSD: 3).
    sessions:
        Scan sessions per subject; each adds its own per-voxel offset and scale (removed by z-scoring).
    reliability:
        Mean single-trial reliability (signal fraction of variance) over voxels; per voxel it is drawn from a
        Beta distribution with this mean.
    smoothness_mm:
        FWHM of the Gaussian smoothing of the mixing maps (mm).
    grid, voxel_mm:
        Volume shape (voxels) and voxel size (mm).
    image_size:
        Side of the stored images (pixels).
    betas_format:
        ``hdf5`` or ``nifti`` for every subject, or ``mixed`` (odd subjects HDF5, even NIfTI).
    """

    n_subjects: int = 5
    n_test: int = 100
    n_train: int = 600
    n_pool: int = 1200
    repeats: int = 3
    sessions: int = 3
    reliability: float = 0.35
    smoothness_mm: float = 10.0
    grid: tuple[int, int, int] = (20, 24, 20)
    voxel_mm: float = 4.0
    image_size: int = 64
    betas_format: str = "mixed"

    def check(self) -> None:
        if self.n_subjects < 2:
            raise ConfigError("decoding.simulate.n_subjects", "needs at least 2 subjects")
        if self.n_pool < self.n_train:
            raise ConfigError("decoding.simulate.n_pool", f"must be >= n_train ({self.n_train})")
        if not 0 < self.reliability < 1:
            raise ConfigError("decoding.simulate.reliability", "must lie in (0, 1)")
        if self.betas_format not in ("hdf5", "nifti", "mixed"):
            raise ConfigError("decoding.simulate.betas_format", "must be hdf5, nifti or mixed")


def subject_names(n: int) -> list[str]:
    return [f"subj{i + 1:02d}" for i in range(n)]


def grid_affine(grid: tuple[int, int, int], voxel_mm: float) -> np.ndarray:
    """Affine of a box over posterior cortex in MNI space (centred at x=0, y=-58, z=8 mm)."""
    centre = np.array([0.0, -58.0, 8.0])
    origin = centre - voxel_mm * (np.array(grid) - 1) / 2
    affine = np.eye(4)
    affine[:3, :3] *= voxel_mm
    affine[:3, 3] = origin
    return affine


def grey_matter(grid: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """float (X, Y, Z) grey-matter probability of the MNI152 template on our grid (nilearn's packaged data).

    Falls back to a smooth shell when the template cannot be read.
    """
    try:
        from nilearn import datasets, image

        gm = datasets.load_mni152_gm_template(resolution=2)
        res = image.resample_img(
            gm,
            target_affine=affine,
            target_shape=grid,
            interpolation="continuous",
            force_resample=True,
            copy_header=True,
        )
        return np.nan_to_num(np.asarray(res.get_fdata(), dtype=np.float64))
    except Exception as exc:  # pragma: no cover - only without nilearn's data
        log.warning("MNI152 grey matter unavailable (%s); using a smooth shell", exc)
        ijk = np.indices(grid).reshape(3, -1).T
        xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
        r = np.linalg.norm((xyz - [0, -20, 10]) / [70, 95, 75], axis=1)
        return np.exp(-((r - 0.85) ** 2) / 0.02).reshape(grid)


def subject_mask(gm: np.ndarray, affine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """bool (X, Y, Z): grey matter (p > 0.3) inside a subject-specific ellipsoid over visual cortex."""
    grid = gm.shape
    xyz = (np.indices(grid).reshape(3, -1).T @ affine[:3, :3].T + affine[:3, 3]).reshape(*grid, 3)
    centre = np.array([0.0, -72.0, 4.0]) + rng.normal(0, [2.0, 5.0, 4.0])
    radii = np.array([36.0, 30.0, 26.0]) * rng.uniform(0.8, 1.15, size=3)
    inside = (((xyz - centre) / radii) ** 2).sum(-1) <= 1.0
    return (gm > 0.3) & inside


def smooth_maps(mask: np.ndarray, n_maps: int, fwhm_mm: float, voxel_mm: float, rng: np.random.Generator) -> np.ndarray:
    """float (n_maps, voxels): Gaussian-smoothed white-noise fields sampled at the mask, unit variance each."""
    from scipy.ndimage import gaussian_filter

    sigma = fwhm_mm / voxel_mm / np.sqrt(8 * np.log(2))
    maps = np.empty((n_maps, int(mask.sum())))
    for j in range(n_maps):
        field = gaussian_filter(rng.standard_normal(mask.shape), sigma=sigma, mode="wrap")[mask]
        maps[j] = (field - field.mean()) / field.std()
    return maps


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def standardise(latents: np.ndarray) -> np.ndarray:
    """Columns to zero mean, unit variance (constant columns dropped)."""
    latents = np.asarray(latents, dtype=np.float64)
    sd = latents.std(axis=0)
    keep = sd > 1e-8
    return (latents[:, keep] - latents[:, keep].mean(axis=0)) / sd[keep]


def sample_world(n: int, seed: int, image_size: int) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """``n`` scenes of the stimulus world: latents (n, k), images uint8 (n, H, W, 3), captions, latent names."""
    from neuromodels import stimuli

    table = stimuli.sample_scenes(n, seed=seed)
    latents, names = stimuli.latent_matrix(table)
    images = stimuli.render_scenes(table, size=image_size)
    return np.asarray(latents, dtype=np.float64), images.astype(np.uint8), list(stimuli.captions(table)), list(names)


def simulate_responses(
    latents: np.ndarray,
    maps: np.ndarray,
    reliability: np.ndarray,
    stim_index: np.ndarray,
    sessions: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """float32 (trials, voxels) betas for the trials' stimuli (rows of ``latents``).

    ``maps`` (k, voxels) is the subject's spatial mixing, ``reliability`` (voxels,) the single-trial signal
    fraction of variance. Each session adds a per-voxel offset and gain, as scanner drift does.
    """
    drive = latents @ maps / np.sqrt(maps.shape[0])
    signal = _softplus(1.5 * drive)
    signal = (signal - signal.mean(axis=0)) / signal.std(axis=0)  # unit signal variance per voxel
    noise_sd = np.sqrt((1 - reliability) / reliability)
    betas = signal[stim_index] + rng.standard_normal((len(stim_index), maps.shape[1])) * noise_sd
    for s in np.unique(sessions):
        rows = sessions == s
        betas[rows] = betas[rows] * rng.uniform(0.7, 1.3, maps.shape[1]) + rng.normal(0, 2.0, maps.shape[1])
    return betas.astype(np.float32)


def simulate_dataset(
    out: str | Path,
    settings: SimulationSettings,
    seed: int = 0,
    world: tuple[np.ndarray, np.ndarray, list[str], list[str]] | None = None,
) -> dict[str, Any]:
    """Write a whole NSD-style data set under ``out`` and its ground truth; return the truth summary.

    ``world`` (latents, images, captions, names) replaces the stimulus world (tests pass small arrays).
    """
    settings.check()
    out = Path(out)
    rng = np.random.default_rng(seed)
    n_total = settings.n_test + settings.n_pool
    if world is None:
        world = sample_world(n_total, seed, settings.image_size)
    raw_latents, images, captions, names = world
    if len(raw_latents) < n_total:
        raise ConfigError("decoding.simulate", f"the stimulus world gave {len(raw_latents)} scenes, need {n_total}")
    latents = standardise(raw_latents[:n_total])
    ids = np.sort(rng.choice(73000, size=n_total, replace=False)).astype(np.int64)  # 73k-style ids
    perm = rng.permutation(n_total)
    test_rows, pool_rows = np.sort(perm[: settings.n_test]), np.sort(perm[settings.n_test :])
    write_stimuli(out, ids, images[:n_total], captions[:n_total])

    affine = grid_affine(tuple(settings.grid), settings.voxel_mm)
    gm = grey_matter(tuple(settings.grid), affine)
    truth: dict[str, Any] = {
        "settings": asdict(settings),
        "seed": seed,
        "subjects": {},
        "test_ids": ids[test_rows].tolist(),
    }
    arrays: dict[str, np.ndarray] = {"stimulus_id": ids, "latents": latents, "test_ids": ids[test_rows]}
    seen_by = np.zeros(n_total, dtype=int)
    a, b = 6.0 * settings.reliability, 6.0 * (1 - settings.reliability)  # Beta with the asked mean
    for s_i, subject in enumerate(subject_names(settings.n_subjects)):
        srng = np.random.default_rng([seed, s_i + 1])
        mask = subject_mask(gm, affine, srng)
        maps = smooth_maps(mask, latents.shape[1], settings.smoothness_mm, settings.voxel_mm, srng)
        rel = np.clip(srng.beta(a, b, size=maps.shape[1]), 0.02, 0.95)
        # only the test stimuli may be seen by every subject: the last subject skips pool stimuli all the
        # others saw (keeps the shared test set exactly n_test)
        candidates = pool_rows
        if s_i == settings.n_subjects - 1:
            candidates = pool_rows[seen_by[pool_rows] < s_i]
        if len(candidates) < settings.n_train:
            raise ConfigError(
                "decoding.simulate.n_pool",
                "too small for every subject's training set without images shared by all subjects",
            )
        train_rows = np.sort(srng.choice(candidates, size=settings.n_train, replace=False))
        seen_by[train_rows] += 1
        rows = np.concatenate([train_rows, test_rows])
        stim = np.repeat(rows, settings.repeats)
        rep = np.tile(np.arange(settings.repeats), len(rows))
        order = srng.permutation(len(stim))
        stim, rep = stim[order], rep[order]
        session = (np.arange(len(stim)) * settings.sessions // len(stim)) + 1
        betas = simulate_responses(latents, maps, rel, stim, session, srng)
        trials = pd.DataFrame(
            {"trial": np.arange(len(stim)), "session": session, "stimulus_id": ids[stim], "repeat": rep}
        )
        fmt = settings.betas_format
        if fmt == "mixed":
            fmt = "hdf5" if s_i % 2 == 0 else "nifti"
        write_subject(out, subject, mask, affine, betas, trials, betas_format=fmt)
        ncsnr = np.sqrt(rel / (1 - rel))
        nc_avg = ncsnr**2 / (ncsnr**2 + 1.0 / settings.repeats)
        truth["subjects"][subject] = {
            "n_voxels": int(mask.sum()),
            "betas_format": fmt,
            "n_train": int(settings.n_train),
            "mean_reliability": float(rel.mean()),
            "mean_noise_ceiling_single": float(rel.mean()),
            "mean_noise_ceiling_avg": float(nc_avg.mean()),
        }
        arrays[f"{subject}_maps"] = maps.astype(np.float32)
        arrays[f"{subject}_reliability"] = rel.astype(np.float32)
        arrays[f"{subject}_ncsnr"] = ncsnr.astype(np.float32)
        log.info(
            "%s: %d voxels, %d trials (%s), mean reliability %.2f", subject, mask.sum(), len(trials), fmt, rel.mean()
        )
    truth["latent_names"] = list(names)[: raw_latents.shape[1]]
    write_npz(out / GROUND_TRUTH, **arrays)
    write_json(out / TRUTH_JSON, truth)
    return truth


def read_ground_truth(root: str | Path) -> dict[str, np.ndarray]:
    """The arrays the simulator planted (stimulus_id, latents, test_ids, per subject maps/reliability/ncsnr)."""
    from neuromodels.core.errors import require

    path = Path(root) / GROUND_TRUTH
    require(path.exists(), path, "no ground truth here (only simulated data sets have one)")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
