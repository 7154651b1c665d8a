"""Readers of one subject's files (ROI mask, trial table, betas as an HDF5 matrix or as per-session NIfTI
volumes), of the stimuli file and of the captions, and the subject they make (:class:`SubjectData`). The simple
layout (:mod:`.datasets`) is read with these; NSD's release reuses the mask, NIfTI, image and caption readers.

Validation raises :class:`~neuromodels.core.errors.DataError` naming the file and the problem: mask and betas
share shape and affine, the voxel count matches the mask, no NaN (non-finite) value inside the mask, every
trial's stimulus id exists in the stimuli file, trial counts agree with ``trials.csv`` (or the design).

Betas are z-scored per session and voxel (as NSD's betas are used); at test time a stimulus's repeats are
averaged, during training one repeat is sampled per step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import DataError, require
from neuromodels.core.runtime import get_logger

from .ids import _intersect, _kind_hint, _unique_check, canonical_ids, id_key, missing_ids, read_ids_dataset
from .workflow import BETAS_H5, BETAS_NAMES, MASK_NAME, STIMULI_NAMES, TRIALS_NAME
from .workflow import SIMPLE_SESSION as _SESSION_FILE

__all__ = [
    "SubjectData",
    "list_subjects",
    "read_mask",
    "read_trials",
    "stimuli_file",
    "read_stimulus_ids",
    "read_images",
    "read_captions",
    "zscore_sessions",
    "read_subject",
    "shared_ids",
    "STIMULI_NAME",
    "TRIAL_COLUMNS",
]

log = get_logger(__name__)
STIMULI_NAME = STIMULI_NAMES[0]
TRIAL_COLUMNS = ("trial", "session", "stimulus_id", "repeat")


@dataclass
class SubjectData:
    """One subject's masked, z-scored betas with their trial table.

    Attributes
    ----------
    subject:
        Subject name (its folder name, e.g. ``subj01``).
    mask:
        bool (X, Y, Z): the ROI; voxels are its True entries in C order.
    affine:
        (4, 4) voxel-to-world (mm) transform shared by mask and betas.
    betas:
        float32 (trials, voxels), z-scored per session and voxel.
    trials:
        One row per trial: trial, session, stimulus_id, repeat.
    """

    subject: str
    mask: np.ndarray
    affine: np.ndarray
    betas: np.ndarray
    trials: pd.DataFrame
    _rows: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ids = canonical_ids(self.trials["stimulus_id"].to_numpy())
        self._ids = np.unique(ids)
        order = np.argsort(ids, kind="stable")
        uniq, starts = np.unique(ids[order], return_index=True)
        for sid, rows in zip(uniq, np.split(order, starts[1:])):
            self._rows[id_key(sid)] = np.sort(rows)

    @property
    def n_voxels(self) -> int:
        return int(self.betas.shape[1])

    @property
    def stimulus_ids(self) -> np.ndarray:
        """Distinct stimulus ids this subject saw, sorted (int64, or strings)."""
        return self._ids

    def repeats(self, stimulus_id: Any) -> np.ndarray:
        """Trial rows (indices into ``betas``) of one stimulus."""
        try:
            return self._rows[id_key(stimulus_id)]
        except KeyError:
            raise DataError(None, f"subject {self.subject} never saw stimulus {stimulus_id}") from None

    def average_repeats(self, ids: Sequence[Any]) -> np.ndarray:
        """float32 (len(ids), voxels): each stimulus's betas averaged over its repeats (test-time input)."""
        return np.stack([self.betas[self.repeats(i)].mean(axis=0) for i in ids]).astype(np.float32)

    def sample_repeats(self, ids: Sequence[Any], rng: np.random.Generator) -> np.ndarray:
        """float32 (len(ids), voxels): one randomly chosen repeat per stimulus (a training step's input)."""
        rows = [rng.choice(self.repeats(i)) for i in ids]
        return self.betas[rows]

    def voxel_coordinates(self) -> np.ndarray:
        """float (voxels, 3): world coordinates (mm) of the voxels, in the betas' column order."""
        ijk = np.argwhere(self.mask)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]


def list_subjects(root: str | Path) -> list[str]:
    """Subject folders under ``root`` (those holding a mask), sorted."""
    root = Path(root)
    require(root.is_dir(), root, "data folder not found")
    subjects = sorted(p.name for p in root.iterdir() if (p / MASK_NAME).exists())
    require(bool(subjects), root, f"no subject folder with a {MASK_NAME}")
    return subjects


def read_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The ROI mask (bool (X, Y, Z), voxels where the file's value > 0: NSD's nsdgeneral holds -1 outside the
    brain, 0 and 1 inside the ROI) and its affine."""
    import nibabel as nib

    path = Path(path)
    require(path.exists(), path, "mask file not found")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # nibabel raises many kinds for a broken file
        raise DataError(path, f"not a readable NIfTI image ({type(exc).__name__}: {exc})") from None
    require(data.ndim == 3, path, f"mask must be 3D, got shape {data.shape}")
    require(bool(np.all(np.isfinite(data))), path, "mask holds NaN or infinite values")
    mask = data > 0
    require(int(mask.sum()) > 0, path, "mask selects no voxel (no value > 0)")
    return mask, np.asarray(img.affine, dtype=np.float64)


def read_trials(path: str | Path) -> pd.DataFrame:
    """``trials.csv``: trial, session, stimulus_id, repeat; trials numbered 0..n-1 in order. Stimulus ids may
    be integers or strings (:func:`canonical_ids`)."""
    path = Path(path)
    require(path.exists(), path, "trial table not found")
    try:
        table = pd.read_csv(path, dtype={"stimulus_id": str}, keep_default_na=False)
    except Exception as exc:
        raise DataError(path, f"not a readable CSV ({type(exc).__name__})") from None
    missing = [c for c in TRIAL_COLUMNS if c not in table.columns]
    require(not missing, path, f"missing column(s) {', '.join(missing)} (needs {', '.join(TRIAL_COLUMNS)})")
    require(len(table) > 0, path, "no trials")
    for col in ("trial", "session", "repeat"):
        require(pd.api.types.is_integer_dtype(table[col]), path, f"column '{col}' must hold integers")
    table["stimulus_id"] = canonical_ids(table["stimulus_id"].to_numpy(), path, "column 'stimulus_id'")
    require(
        bool(np.array_equal(table["trial"].to_numpy(), np.arange(len(table)))),
        path,
        "column 'trial' must number the rows 0..n-1 in order",
    )
    dup = table.duplicated(["stimulus_id", "repeat"])
    require(
        not dup.any(),
        path,
        f"stimulus {table.loc[dup, 'stimulus_id'].iloc[0] if dup.any() else ''} has the same repeat number twice",
    )
    return table[list(TRIAL_COLUMNS)].reset_index(drop=True)


def stimuli_file(root: str | Path) -> Path:
    """The simple layout's stimuli file (``stimuli.h5``, or ``stimuli.hdf5``)."""
    root = Path(root)
    for name in STIMULI_NAMES:
        if (root / name).exists():
            return root / name
    return root / STIMULI_NAME


def _images_dataset(f: Any, path: Path) -> tuple[Any, bool]:
    """The images dataset of a stimuli file and whether it is channels-last."""
    name = next((k for k in ("images", "imgBrick") if k in f), None)
    require(name is not None, path, "no dataset 'images' (or 'imgBrick')")
    images = f[name]
    require(
        images.ndim == 4 and (images.shape[1] == 3 or images.shape[-1] == 3),
        path,
        f"'{name}' must be (n, 3, H, W) or (n, H, W, 3), got {images.shape}",
    )
    return images, images.shape[1] != 3


def read_stimulus_ids(path: str | Path, report: dict | None = None) -> np.ndarray:
    """The stimulus ids of the rows of a stimuli file (its `stimulus_id`, else the row index: logged, and the
    count put in ``report["stimuli_numbered_by_row"]`` when a dict is given)."""
    import h5py

    path = Path(path)
    require(path.exists(), path, "stimuli file not found")
    try:
        with h5py.File(path, "r") as f:
            images, _ = _images_dataset(f, path)
            n = images.shape[0]
            key = next((k for k in ("stimulus_id", "stimulus_ids") if k in f), None)
            if key is not None:
                ids = read_ids_dataset(f[key])
                require(ids.shape == (n,), path, f"'{key}' must have one id per image ({n}), got {ids.shape}")
                _unique_check(ids, path, f"'{key}'")
            else:
                log.warning("%s: no 'stimulus_id' dataset: the %d images are numbered by row (0..%d)", path, n, n - 1)
                ids = np.arange(n, dtype=np.int64)
                if report is not None:
                    report["stimuli_numbered_by_row"] = int(n)
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    return ids


def read_images(
    path: str | Path, ids: Sequence[Any] | None = None, channels_last: bool = True, all_ids: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images of a stimuli file for ``ids`` (all when None): uint8 (n, H, W, 3) (or (n, 3, H, W)) and the ids.
    ``all_ids`` gives the ids of the file's rows when they are not in it (NSD's brick: the row index)."""
    import h5py

    path = Path(path)
    if all_ids is None:
        all_ids = read_stimulus_ids(path)
    ids = all_ids if ids is None else canonical_ids(ids)
    index = {id_key(s): i for i, s in enumerate(all_ids)}
    missing = [id_key(s) for s in ids if id_key(s) not in index]
    require(not missing, path, f"{len(missing)} stimulus id(s) not in the file, e.g. {missing[:3]}")
    rows = np.array([index[id_key(s)] for s in ids], dtype=np.int64)
    order = np.argsort(rows)
    with h5py.File(path, "r") as f:
        dset, last = _images_dataset(f, path)
        # h5py fancy indexing wants increasing, unique rows
        uniq, inverse = np.unique(rows[order], return_inverse=True)
        block = dset[uniq]
    images = np.empty((len(rows), *block.shape[1:]), dtype=np.uint8)
    images[order] = block[inverse]
    if channels_last and not last:
        images = images.transpose(0, 2, 3, 1)
    elif not channels_last and last:
        images = images.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images), ids


def read_captions(path: str | Path) -> dict[Any, str]:
    """``captions.csv`` as {stimulus_id: caption}."""
    path = Path(path)
    require(path.exists(), path, "caption table not found")
    try:
        table = pd.read_csv(path, dtype={"stimulus_id": str}, keep_default_na=False)
    except Exception as exc:
        raise DataError(path, f"not a readable CSV ({type(exc).__name__})") from None
    require({"stimulus_id", "caption"} <= set(table.columns), path, "needs columns stimulus_id, caption")
    ids = canonical_ids(table["stimulus_id"].to_numpy(), path, "column 'stimulus_id'")
    return {id_key(s): str(c) for s, c in zip(ids, table["caption"])}


def zscore_sessions(betas: np.ndarray, sessions: np.ndarray) -> np.ndarray:
    """float32 (trials, voxels): each voxel z-scored within each session (constant voxels become 0)."""
    out = np.empty(betas.shape, dtype=np.float32)
    for s in np.unique(sessions):
        rows = sessions == s
        block = betas[rows].astype(np.float64)
        sd = block.std(axis=0)
        out[rows] = ((block - block.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)
    return out


def _check_finite(betas: np.ndarray, mask: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(betas).all(axis=0)
    if bad.any():
        ijk = np.argwhere(mask)[np.flatnonzero(bad)[0]]
        raise DataError(
            path,
            f"{int(bad.sum())} voxel(s) inside the mask hold NaN or infinite betas "
            f"(first at voxel {tuple(int(v) for v in ijk)})",
        )


def _read_betas_h5(path: Path, mask: np.ndarray, affine: np.ndarray, n_trials: int) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            require("betas" in f, path, "no dataset 'betas' (trials x voxels)")
            dset = f["betas"]
            require(dset.ndim == 2, path, f"'betas' must be 2D (trials, voxels), got shape {dset.shape}")
            n_vox = int(mask.sum())
            require(
                dset.shape[1] == n_vox,
                path,
                f"'betas' has {dset.shape[1]} voxel columns but the mask selects {n_vox} voxels",
            )
            require(
                dset.shape[0] == n_trials,
                path,
                f"'betas' has {dset.shape[0]} rows but trials.csv lists {n_trials} trials",
            )
            if "mask_shape" in dset.attrs:
                shape = tuple(int(v) for v in dset.attrs["mask_shape"])
                require(shape == mask.shape, path, f"betas were masked on a {shape} grid, the mask is {mask.shape}")
            if "affine" in dset.attrs:
                require(
                    bool(np.allclose(np.asarray(dset.attrs["affine"]), affine, atol=1e-4)),
                    path,
                    "betas' affine differs from the mask's affine",
                )
            betas = dset[()]
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    require(np.issubdtype(betas.dtype, np.number), path, f"'betas' must be numeric, got {betas.dtype}")
    return np.asarray(betas, dtype=np.float32)


def _read_nifti_session(
    path: Path, mask: np.ndarray, affine: np.ndarray, n_expected: int | None, what: str = "trials.csv"
) -> np.ndarray:
    """float32 (trials, voxels) of one 4D (X, Y, Z, trials) NIfTI file, masked."""
    import nibabel as nib

    try:
        img = nib.load(str(path))
    except Exception as exc:
        raise DataError(path, f"not a readable NIfTI image ({type(exc).__name__}: {exc})") from None
    shape = img.shape
    require(
        len(shape) == 4 or (len(shape) == 3 and n_expected == 1),
        path,
        f"betas must be 4D (X, Y, Z, trials), got shape {shape}",
    )
    require(
        tuple(shape[:3]) == mask.shape, path, f"betas grid {tuple(shape[:3])} differs from the mask grid {mask.shape}"
    )
    require(bool(np.allclose(img.affine, affine, atol=1e-4)), path, "betas' affine differs from the mask's affine")
    n_vol = shape[3] if len(shape) == 4 else 1
    if n_expected is not None:
        require(n_vol == n_expected, path, f"holds {n_vol} trials but {what} lists {n_expected}")
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:  # a truncated .nii.gz fails only when its data are read
        raise DataError(path, f"betas could not be read ({type(exc).__name__}: {exc})") from None
    if data.ndim == 3:
        data = data[..., None]
    return np.asarray(data[mask].T, dtype=np.float32)  # (trials, voxels)


def _read_betas_nifti(
    files: list[tuple[int, Path]], mask: np.ndarray, affine: np.ndarray, trials: pd.DataFrame
) -> np.ndarray:
    blocks = []
    for session, path in files:
        n_expected = int((trials["session"] == session).sum())
        blocks.append(_read_nifti_session(path, mask, affine, n_expected, f"trials.csv for session {session}"))
    return np.concatenate(blocks, axis=0)


def read_subject(
    root: str | Path, subject: str, stimulus_ids: Iterable[Any] | None = None, zscore: bool = True
) -> SubjectData:
    """Read and validate one subject of the simple layout.

    Parameters
    ----------
    root:
        Data set folder (holding ``stimuli.h5`` and one folder per subject).
    subject:
        Subject folder name.
    stimulus_ids:
        Ids that exist (default: those of the stimuli file); every trial's stimulus must be among them.
    zscore:
        Z-score each voxel within each session (default True).
    """
    root = Path(root)
    folder = root / subject
    require(folder.is_dir(), folder, "subject folder not found")
    mask_path = folder / MASK_NAME
    mask, affine = read_mask(mask_path)
    trials_path = folder / TRIALS_NAME
    trials = read_trials(trials_path)
    known = read_stimulus_ids(stimuli_file(root)) if stimulus_ids is None else canonical_ids(list(stimulus_ids))
    unknown = sorted(set(missing_ids(trials["stimulus_id"].to_numpy(), known)), key=str)
    require(
        not unknown,
        trials_path,
        f"{len(unknown)} stimulus id(s) not in the stimuli file, e.g. {unknown[:3]}"
        + _kind_hint(trials["stimulus_id"].to_numpy(), known),
    )

    sessions = trials["session"].to_numpy()
    h5 = next((folder / n for n in BETAS_NAMES if (folder / n).exists()), folder / BETAS_H5)
    nifti = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _SESSION_FILE.search(p.name)))
    require(h5.exists() or bool(nifti), folder, f"no betas: expected {BETAS_H5} or betas_sessionNN.nii.gz")
    if h5.exists():
        betas = _read_betas_h5(h5, mask, affine, len(trials))
        source = h5
    else:
        listed = sorted(set(sessions.tolist()))
        found = [s for s, _ in nifti]
        require(found == listed, folder, f"session files {found} do not match the sessions in trials.csv {listed}")
        # trials must be grouped by session in file order so rows line up with the volumes
        require(
            bool(np.all(np.diff(sessions) >= 0)),
            trials_path,
            "with per-session NIfTI betas, trials must be ordered by session",
        )
        betas = _read_betas_nifti(nifti, mask, affine, trials)
        source = nifti[0][1]
    _check_finite(betas, mask, source)
    if zscore:
        betas = zscore_sessions(betas, sessions)
    return SubjectData(subject=subject, mask=mask, affine=affine, betas=betas, trials=trials)


def shared_ids(subjects: Sequence[SubjectData]) -> np.ndarray:
    """Stimulus ids every subject saw, sorted."""
    require(bool(subjects), None, "no subjects given")
    common = subjects[0].stimulus_ids
    for s in subjects[1:]:
        common = _intersect(common, s.stimulus_ids)
    return common
