"""A third NSD-style generator, unlike :mod:`~neuromodels.decoding.simulate` and
:mod:`~neuromodels.decoding.simulate_prf`: a sparse nonlinear feature code, trial-to-trial carry-over, unequal
sessions, written in NSD's own release layout.

What differs from the first two generators (smooth latent mixing through a softplus; image receptive fields):

- **Voxel responses.** A bank of ``n_features`` sparse nonlinear features of the scene's latent attributes,
  shared by every subject (the "code" of the region): feature ``f`` reads two attributes and fires as a
  thresholded conjunction ``relu(a_f z_i + b_f z_j - theta_f)``. Each voxel loads on ``per_voxel`` features
  with gamma-distributed weights (a subject's own, sparse loadings) and a voxel-specific gain, so most voxels
  carry a few features and no voxel carries them all; no network's features enter.
- **Noise.** Per-voxel single-trial reliability from a Beta distribution (mean ``reliability``); noise that is
  autocorrelated over successive trials with a voxel-specific AR(1) coefficient (up to ``ar_max``), and a
  voxel-specific fraction (up to ``carry_max``) of the previous trial's response carried into the next (an
  HRF that has not returned to baseline). Per session an offset and gain per voxel and a slow quadratic drift.
- **Size and design.** Voxel counts per subject from a few hundred to several thousand (``n_voxels``, one value
  per subject); unequal sessions per subject (``sessions``): NSD's design runs every subject through one
  ``masterordering`` of its own image list (the shared test images first in the list, then its own images), a
  subject with fewer sessions sees a prefix of it, hence fewer training images and some with fewer repeats.
  The shared images are all shown within the shortest subject's sessions, so every subject sees them.
- **Stored as NSD publishes it** (:class:`~neuromodels.decoding.data.NSDRelease` reads it): ``imgBrick``,
  ``nsd_expdesign.mat`` (1-based), ``nsdgeneral.nii.gz`` (-1 / 0 / 1) and per session ``betas_sessionNN.hdf5``
  of int16 percent signal change x 300 in MATLAB's X x Y x Z x trials order as h5py reads it (trials, Z, Y, X).
  ``ground_truth.npz`` holds ``stimulus_id`` (the brick's rows) and standardised ``latents``, so ``latents``
  targets work, the feature bank (``feature_pairs``, ``feature_a``, ``feature_b``, ``feature_theta``) and each
  subject's feature loadings; ``embeddings.npy`` with ``embedding_ids.txt`` cover the
  images shown (a user's embeddings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuromodels.core.errors import ConfigError
from neuromodels.core.io import atomic_path, write_json, write_npz
from neuromodels.core.runtime import get_logger

from .data import BETA_SCALE
from .simulate import GROUND_TRUTH, TRUTH_JSON, sample_world, standardise
from .workflow import RELEASE_BETAS, RELEASE_EXPDESIGN, RELEASE_ROI, RELEASE_STIMULI

log = get_logger(__name__)


@dataclass
class SparseSettings:
    """What the sparse-feature generator writes.

    Attributes
    ----------
    n_voxels, sessions:
        One value per subject (their length is the number of subjects): ROI voxel count and scan sessions.
    trials_per_session:
        Trials of every session (NSD: 750).
    n_shared:
        Images every subject's list starts with (the shared test set; NSD: 1000).
    repeats:
        Presentations of each image of a list over the whole design (NSD: 3).
    n_unseen:
        Images of the brick no subject's list holds.
    n_features, per_voxel:
        Size of the shared feature bank and how many features one voxel loads on.
    reliability:
        Mean single-trial reliability (signal fraction of variance) over voxels.
    ar_max, carry_max:
        Upper bounds of the voxel-specific AR(1) coefficient of the noise and of the carry-over of the previous
        trial's response.
    """

    n_voxels: tuple[int, ...] = (400, 1500, 3200, 6000, 900)
    sessions: tuple[int, ...] = (4, 3, 2, 4, 3)
    trials_per_session: int = 255
    n_shared: int = 100
    repeats: int = 3
    n_unseen: int = 20
    n_features: int = 48
    per_voxel: int = 3
    reliability: float = 0.3
    ar_max: float = 0.5
    carry_max: float = 0.3
    image_size: int = 32
    embed_dim: int = 64

    @property
    def n_list(self) -> int:
        """Images of each subject's list: the design shows each ``repeats`` times over the longest subject's
        sessions."""
        return max(self.sessions) * self.trials_per_session // self.repeats

    def check(self) -> None:
        if len(self.n_voxels) != len(self.sessions) or len(self.sessions) < 2:
            raise ConfigError("sessions", "one value per subject in n_voxels and sessions, at least 2 subjects")
        if max(self.sessions) * self.trials_per_session % self.repeats:
            raise ConfigError("trials_per_session", "the longest subject's trials must be a multiple of repeats")
        if self.n_list <= self.n_shared:
            raise ConfigError("n_shared", f"must be below the {self.n_list} images of a subject's list")
        if self.n_shared * self.repeats > min(self.sessions) * self.trials_per_session:
            raise ConfigError("n_shared", "the shared images' trials must fit in the shortest subject's sessions")
        if not 0 < self.reliability < 1:
            raise ConfigError("reliability", "must lie in (0, 1)")
        if min(self.n_voxels) < 10:
            raise ConfigError("n_voxels", "at least 10 voxels per subject")


def feature_bank(k: int, n_features: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The shared sparse features: each reads two attributes (``pairs``) with weights ``a``, ``b`` and a
    threshold ``theta``."""
    pairs = np.stack([rng.choice(k, 2, replace=False) for _ in range(n_features)])
    return {
        "pairs": pairs,
        "a": rng.choice([-1.0, 1.0], n_features) * rng.uniform(0.7, 1.3, n_features),
        "b": rng.choice([-1.0, 1.0], n_features) * rng.uniform(0.7, 1.3, n_features),
        "theta": rng.uniform(-0.3, 0.8, n_features),
    }


def features(latents: np.ndarray, bank: dict[str, np.ndarray]) -> np.ndarray:
    """float (stimuli, n_features): the thresholded conjunctions of standardised latents."""
    z = np.asarray(latents, dtype=np.float64)
    p = bank["pairs"]
    return np.maximum(bank["a"] * z[:, p[:, 0]] + bank["b"] * z[:, p[:, 1]] - bank["theta"], 0.0)


def voxel_loadings(n_features: int, n_voxels: int, per_voxel: int, rng: np.random.Generator) -> np.ndarray:
    """float (n_features, n_voxels): ``per_voxel`` non-zero gamma weights per voxel."""
    w = np.zeros((n_features, n_voxels))
    for v in range(n_voxels):
        w[rng.choice(n_features, per_voxel, replace=False), v] = rng.gamma(1.0, 1.0, per_voxel)
    return w


def design(settings: SparseSettings, n_images: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """0-based ``subjectim`` (subjects, n_list), ``masterordering`` (trials,) and ``shared`` (n_shared,) ids.

    Each subject's list is the shared images then its own; the trial order presents the shared images (each
    ``repeats`` times) within the shortest subject's sessions and spreads the own images over the design, an
    image's repeats after its first showing."""
    n_sub, n_list, reps = len(settings.sessions), settings.n_list, settings.repeats
    need = settings.n_shared + n_sub * (n_list - settings.n_shared)
    if need > n_images:
        raise ConfigError("n_voxels", f"the design needs {need} images, the brick has {n_images}")
    perm = rng.permutation(n_images)
    shared = np.sort(perm[: settings.n_shared])
    own = perm[settings.n_shared : need].reshape(n_sub, n_list - settings.n_shared)
    subjectim = np.concatenate([np.tile(shared, (n_sub, 1)), own], axis=1)
    total = max(settings.sessions) * settings.trials_per_session
    short = min(settings.sessions) * settings.trials_per_session
    index = np.repeat(np.arange(n_list), reps)
    first = np.where(
        np.arange(n_list) < settings.n_shared, rng.uniform(0, 0.6 * short, n_list), rng.uniform(0, total, n_list)
    )
    time = first[index] + np.tile(np.arange(reps), n_list) * np.where(
        index < settings.n_shared, rng.uniform(0, 0.2 * short, len(index)), rng.uniform(0, 0.3 * total, len(index))
    )
    time = np.where(index < settings.n_shared, np.minimum(time, 0.99 * short), time)
    order = index[np.argsort(time, kind="stable")]
    return {"subjectim": subjectim, "masterordering": order, "shared": shared}


def roi_volume(n_voxels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """int16 nsdgeneral (X, Y, Z) (-1 outside the brain, 0 brain, 1 ROI of exactly ``n_voxels`` voxels) and the
    bool brain mask."""
    side = int(np.ceil((3.0 * n_voxels) ** (1 / 3))) + 4
    grid = (side + 1, side + 2, side)
    brain = np.zeros(grid, bool)
    brain[1:-1, 1:-1, 1:-1] = True
    ijk = np.argwhere(brain).astype(float)
    centre = np.array(grid) / 2 + rng.normal(0, 1.0, 3)
    scale = rng.uniform(0.8, 1.25, 3)
    dist = np.linalg.norm((ijk - centre) / scale, axis=1) + rng.uniform(0, 0.5, len(ijk))
    roi = np.zeros(grid, bool)
    roi[tuple(ijk[np.argsort(dist, kind="stable")[:n_voxels]].astype(int).T)] = True
    vol = np.where(brain, 0, -1).astype(np.int16)
    vol[roi] = 1
    return vol, brain


def respond(
    signal: np.ndarray, rel: np.ndarray, sessions: np.ndarray, settings: SparseSettings, rng: np.random.Generator
) -> np.ndarray:
    """float (trials, voxels) percent signal change: the trials' signal (unit variance per voxel) with carry-over
    of the previous trial, AR(1) noise, and per session an offset, gain and slow drift per voxel."""
    n, v = signal.shape
    carry = rng.uniform(0, settings.carry_max, v)
    rho = rng.uniform(0, settings.ar_max, v)
    noise_sd = np.sqrt((1 - rel) / rel)
    out = signal.copy()
    out[1:] += carry * signal[:-1]
    eps = rng.standard_normal((n, v)) * noise_sd * np.sqrt(1 - rho**2)
    noise = np.empty_like(eps)
    noise[0] = eps[0] / np.sqrt(1 - rho**2)
    for t in range(1, n):
        noise[t] = rho * noise[t - 1] + eps[t]
    out += noise
    for s in np.unique(sessions):
        rows = np.flatnonzero(sessions == s)
        x = np.linspace(-1, 1, len(rows))[:, None]
        drift = x * rng.normal(0, 0.5, v) + (x**2 - 1 / 3) * rng.normal(0, 0.5, v)
        out[rows] = (out[rows] + drift * noise_sd) * rng.uniform(0.6, 1.4, v) + rng.normal(0, 3.0, v)
    return 0.8 * out + 2.0


def simulate_sparse_dataset(
    out: str | Path,
    settings: SparseSettings | None = None,
    seed: int = 0,
    world: tuple[np.ndarray, np.ndarray, list[str], list[str]] | None = None,
) -> dict[str, Any]:
    """Write a data set in NSD's release layout under ``out`` (subjects ``subj01`` ...) and its ground truth;
    return the truth summary."""
    import h5py
    import nibabel as nib
    import scipy.io

    from .targets import latent_targets

    settings = settings or SparseSettings()
    settings.check()
    out = Path(out)
    rng = np.random.default_rng([seed, 3])
    n_sub = len(settings.sessions)
    n_images = settings.n_shared + n_sub * (settings.n_list - settings.n_shared) + settings.n_unseen
    if world is None:
        world = sample_world(n_images, seed + 202, settings.image_size)
    raw_latents, images = world[0][:n_images], world[1][:n_images]
    if len(raw_latents) < n_images:
        raise ConfigError("n_voxels", f"the stimulus world gave {len(raw_latents)} scenes, need {n_images}")
    latents = standardise(raw_latents)
    with atomic_path(out / RELEASE_STIMULI) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("imgBrick", data=np.asarray(images, np.uint8))
    d = design(settings, n_images, rng)
    with atomic_path(out / RELEASE_EXPDESIGN) as tmp:
        scipy.io.savemat(
            str(tmp),
            {
                "masterordering": (d["masterordering"] + 1)[None, :].astype(np.float64),
                "subjectim": (d["subjectim"] + 1).astype(np.float64),
                "sharedix": (d["shared"] + 1)[None, :].astype(np.float64),
            },
        )
    bank = feature_bank(latents.shape[1], settings.n_features, rng)
    feats = features(latents, bank)
    truth: dict[str, Any] = {
        "generator": "sparse nonlinear features, NSD release layout",
        "seed": seed,
        "settings": asdict(settings),
        "subjects": {},
        "test_ids": d["shared"].tolist(),
    }
    arrays: dict[str, np.ndarray] = {
        "stimulus_id": np.arange(n_images),
        "latents": latents,
        "test_ids": d["shared"],
        **{f"feature_{k}": v for k, v in bank.items()},
    }
    a, b = 6.0 * settings.reliability, 6.0 * (1 - settings.reliability)
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    shown = []
    for s_i, (n_vox, n_sess) in enumerate(zip(settings.n_voxels, settings.sessions)):
        subject = f"subj{s_i + 1:02d}"
        srng = np.random.default_rng([seed, 3, s_i + 1])
        vol, brain = roi_volume(int(n_vox), srng)
        roi = vol == 1
        with atomic_path(out / RELEASE_ROI.format(subject=subject, space="func1pt8mm", roi="nsdgeneral")) as tmp:
            nib.save(nib.Nifti1Image(vol, affine), str(tmp))
        load = voxel_loadings(settings.n_features, int(n_vox), settings.per_voxel, srng)
        sig = feats @ load * srng.lognormal(0, 0.3, int(n_vox))
        sd = sig.std(axis=0)
        sig = (sig - sig.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        rel = np.clip(srng.beta(a, b, size=int(n_vox)), 0.02, 0.9)
        n_trials = n_sess * settings.trials_per_session
        ids = d["subjectim"][s_i, d["masterordering"][:n_trials]]
        shown.append(np.unique(ids))
        sessions = np.repeat(np.arange(n_sess), settings.trials_per_session)
        psc = respond(sig[ids], rel, sessions, settings, srng)
        stored = np.clip(np.round(psc * BETA_SCALE), -32768, 32767).astype(np.int16)
        folder = out / RELEASE_BETAS.format(subject=subject, space="func1pt8mm", betas="betas_fithrf_GLMdenoise_RR")
        for k in range(n_sess):
            rows = slice(k * settings.trials_per_session, (k + 1) * settings.trials_per_session)
            block = np.zeros((settings.trials_per_session, *vol.shape), np.int16)  # trials, X, Y, Z
            block[:, roi] = stored[rows]
            block[:, brain & ~roi] = srng.normal(0, 300, (settings.trials_per_session, int((brain & ~roi).sum())))
            with atomic_path(folder / f"betas_session{k + 1:02d}.hdf5") as tmp, h5py.File(tmp, "w") as f:
                f.create_dataset("betas", data=block.transpose(0, 3, 2, 1))  # h5py's view of X x Y x Z x trials
        n_train = int(len(np.setdiff1d(np.unique(ids), d["shared"])))
        truth["subjects"][subject] = {
            "n_voxels": int(n_vox),
            "sessions": int(n_sess),
            "n_trials": int(n_trials),
            "n_train": n_train,
            "mean_reliability": float(rel.mean()),
        }
        arrays[f"{subject}_loadings"] = load.astype(np.float32)
        arrays[f"{subject}_reliability"] = rel.astype(np.float32)
        log.info(
            "%s: %d voxels, %d sessions, %d training images, mean reliability %.2f",
            subject,
            n_vox,
            n_sess,
            n_train,
            rel.mean(),
        )
    shown_ids = np.unique(np.concatenate(shown))
    with atomic_path(out / "embeddings.npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, latent_targets(latents[shown_ids], settings.embed_dim, seed=seed))
    with atomic_path(out / "embedding_ids.txt") as tmp:
        tmp.write_text("".join(f"{i}\n" for i in shown_ids))
    write_npz(out / GROUND_TRUTH, **arrays)
    write_json(out / TRUTH_JSON, truth)
    return truth
