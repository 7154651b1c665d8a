"""NSD-style fMRI data: readers, validation and writers (the simulator writes the same format).

Layout of a data set root (one folder per subject, plus the stimuli shared by all)::

    stimuli.h5                 `images` uint8 (n, 3, H, W); optional `stimulus_id` int (n,) -- without it the
                               row index is the 73k-style stimulus id (as in NSD's stimulus brick)
    captions.csv               stimulus_id, caption (optional: needed for text targets)
    subj01/nsdgeneral.nii.gz   ROI mask (voxels where mask > 0), 3D, with an affine
    subj01/trials.csv          trial, session, stimulus_id, repeat (one row per trial, trial = 0..n-1)
    subj01/betas.h5            `betas` float/int (trials, voxels): voxels in the mask's C order
      or subj01/betas_session01.nii.gz ...   4D (X, Y, Z, trials of that session), same grid as the mask

Validation raises :class:`~neuromodels.core.errors.DataError` naming the file and the problem: mask and betas
share shape and affine, the voxel count matches the mask, no NaN (non-finite) value inside the mask, every
trial's stimulus id exists in the stimuli file, trial counts agree with ``trials.csv``.

Betas are z-scored per session and voxel (as NSD's betas are used); at test time a stimulus's repeats are
averaged, during training one repeat is sampled per step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from neuromodels.core.errors import DataError, require
from neuromodels.core.io import atomic_path, write_table

MASK_NAME = "nsdgeneral.nii.gz"
TRIALS_NAME = "trials.csv"
BETAS_H5 = "betas.h5"
STIMULI_NAME = "stimuli.h5"
CAPTIONS_NAME = "captions.csv"
TRIAL_COLUMNS = ("trial", "session", "stimulus_id", "repeat")
_SESSION_FILE = re.compile(r"betas_session(\d+)\.nii(\.gz)?$")


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
    _rows: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        ids = self.trials["stimulus_id"].to_numpy()
        order = np.argsort(ids, kind="stable")
        uniq, starts = np.unique(ids[order], return_index=True)
        for sid, rows in zip(uniq, np.split(order, starts[1:])):
            self._rows[int(sid)] = np.sort(rows)

    @property
    def n_voxels(self) -> int:
        return int(self.betas.shape[1])

    @property
    def stimulus_ids(self) -> np.ndarray:
        """Distinct stimulus ids this subject saw, sorted (int64)."""
        return np.array(sorted(self._rows), dtype=np.int64)

    def repeats(self, stimulus_id: int) -> np.ndarray:
        """Trial rows (indices into ``betas``) of one stimulus."""
        try:
            return self._rows[int(stimulus_id)]
        except KeyError:
            raise DataError(None, f"subject {self.subject} never saw stimulus {stimulus_id}") from None

    def average_repeats(self, ids: Sequence[int]) -> np.ndarray:
        """float32 (len(ids), voxels): each stimulus's betas averaged over its repeats (test-time input)."""
        return np.stack([self.betas[self.repeats(i)].mean(axis=0) for i in ids]).astype(np.float32)

    def sample_repeats(self, ids: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        """float32 (len(ids), voxels): one randomly chosen repeat per stimulus (a training step's input)."""
        rows = [rng.choice(self.repeats(i)) for i in ids]
        return self.betas[rows]

    def voxel_coordinates(self) -> np.ndarray:
        """float (voxels, 3): world coordinates (mm) of the voxels, in the betas' column order."""
        ijk = np.argwhere(self.mask)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]


# ------------------------------------------------------------------------------------------------ readers
def list_subjects(root: str | Path) -> list[str]:
    """Subject folders under ``root`` (those holding a mask), sorted."""
    root = Path(root)
    require(root.is_dir(), root, "data folder not found")
    subjects = sorted(p.name for p in root.iterdir() if (p / MASK_NAME).exists())
    require(bool(subjects), root, f"no subject folder with a {MASK_NAME}")
    return subjects


def read_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The ROI mask (bool (X, Y, Z), voxels where the file's value > 0) and its affine."""
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
    """``trials.csv``: trial, session, stimulus_id, repeat; trials numbered 0..n-1 in order."""
    path = Path(path)
    require(path.exists(), path, "trial table not found")
    try:
        table = pd.read_csv(path)
    except Exception as exc:
        raise DataError(path, f"not a readable CSV ({exc})") from None
    missing = [c for c in TRIAL_COLUMNS if c not in table.columns]
    require(not missing, path, f"missing column(s) {', '.join(missing)} (needs {', '.join(TRIAL_COLUMNS)})")
    for col in TRIAL_COLUMNS:
        require(pd.api.types.is_integer_dtype(table[col]), path, f"column '{col}' must hold integers")
    require(len(table) > 0, path, "no trials")
    require(bool(np.array_equal(table["trial"].to_numpy(), np.arange(len(table)))), path,
            "column 'trial' must number the rows 0..n-1 in order")
    dup = table.duplicated(["stimulus_id", "repeat"])
    require(not dup.any(), path, f"stimulus {table.loc[dup, 'stimulus_id'].iloc[0] if dup.any() else ''} "
                                 "has the same repeat number twice")
    return table[list(TRIAL_COLUMNS)].reset_index(drop=True)


def read_stimulus_ids(path: str | Path) -> np.ndarray:
    """The 73k-style stimulus ids of the rows of ``stimuli.h5`` (its `stimulus_id`, else the row index)."""
    import h5py

    path = Path(path)
    require(path.exists(), path, "stimuli file not found")
    try:
        with h5py.File(path, "r") as f:
            require("images" in f, path, "no dataset 'images'")
            images = f["images"]
            require(images.ndim == 4 and images.shape[1] == 3, path,
                    f"'images' must be (n, 3, H, W), got {images.shape}")
            n = images.shape[0]
            if "stimulus_id" in f:
                ids = np.asarray(f["stimulus_id"][()], dtype=np.int64)
                require(ids.shape == (n,), path, f"'stimulus_id' must have one id per image ({n}), got {ids.shape}")
                require(len(np.unique(ids)) == n, path, "'stimulus_id' holds duplicate ids")
            else:
                ids = np.arange(n, dtype=np.int64)
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    return ids


def read_images(path: str | Path, ids: Sequence[int] | None = None, channels_last: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``stimuli.h5`` for ``ids`` (all when None): uint8 (n, H, W, 3) (or (n, 3, H, W)) and the ids."""
    import h5py

    path = Path(path)
    all_ids = read_stimulus_ids(path)
    if ids is None:
        ids = all_ids
    ids = np.asarray(ids, dtype=np.int64)
    index = {int(s): i for i, s in enumerate(all_ids)}
    missing = [int(s) for s in ids if int(s) not in index]
    require(not missing, path, f"{len(missing)} stimulus id(s) not in the file, e.g. {missing[:3]}")
    rows = np.array([index[int(s)] for s in ids], dtype=np.int64)
    order = np.argsort(rows)
    with h5py.File(path, "r") as f:
        # h5py fancy indexing wants increasing, unique rows
        uniq, inverse = np.unique(rows[order], return_inverse=True)
        block = f["images"][uniq]
    images = np.empty((len(rows), *block.shape[1:]), dtype=np.uint8)
    images[order] = block[inverse]
    if channels_last:
        images = images.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), ids


def read_captions(path: str | Path) -> dict[int, str]:
    """``captions.csv`` as {stimulus_id: caption}."""
    path = Path(path)
    require(path.exists(), path, "caption table not found")
    table = pd.read_csv(path)
    require({"stimulus_id", "caption"} <= set(table.columns), path, "needs columns stimulus_id, caption")
    return {int(s): str(c) for s, c in zip(table["stimulus_id"], table["caption"])}


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
        raise DataError(path, f"{int(bad.sum())} voxel(s) inside the mask hold NaN or infinite betas "
                              f"(first at voxel {tuple(int(v) for v in ijk)})")


def _read_betas_h5(path: Path, mask: np.ndarray, affine: np.ndarray, n_trials: int) -> np.ndarray:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            require("betas" in f, path, "no dataset 'betas' (trials x voxels)")
            dset = f["betas"]
            require(dset.ndim == 2, path, f"'betas' must be 2D (trials, voxels), got shape {dset.shape}")
            n_vox = int(mask.sum())
            require(dset.shape[1] == n_vox, path,
                    f"'betas' has {dset.shape[1]} voxel columns but the mask selects {n_vox} voxels")
            require(dset.shape[0] == n_trials, path,
                    f"'betas' has {dset.shape[0]} rows but trials.csv lists {n_trials} trials")
            if "mask_shape" in dset.attrs:
                shape = tuple(int(v) for v in dset.attrs["mask_shape"])
                require(shape == mask.shape, path, f"betas were masked on a {shape} grid, the mask is {mask.shape}")
            if "affine" in dset.attrs:
                require(bool(np.allclose(np.asarray(dset.attrs["affine"]), affine, atol=1e-4)), path,
                        "betas' affine differs from the mask's affine")
            betas = dset[()]
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    require(np.issubdtype(betas.dtype, np.number), path, f"'betas' must be numeric, got {betas.dtype}")
    return np.asarray(betas, dtype=np.float32)


def _read_betas_nifti(files: list[tuple[int, Path]], mask: np.ndarray, affine: np.ndarray,
                      trials: pd.DataFrame) -> np.ndarray:
    import nibabel as nib

    blocks = []
    for session, path in files:
        n_expected = int((trials["session"] == session).sum())
        try:
            img = nib.load(str(path))
        except Exception as exc:
            raise DataError(path, f"not a readable NIfTI image ({type(exc).__name__}: {exc})") from None
        shape = img.shape
        require(len(shape) == 4 or (len(shape) == 3 and n_expected == 1), path,
                f"betas must be 4D (X, Y, Z, trials), got shape {shape}")
        require(tuple(shape[:3]) == mask.shape, path,
                f"betas grid {tuple(shape[:3])} differs from the mask grid {mask.shape}")
        require(bool(np.allclose(img.affine, affine, atol=1e-4)), path, "betas' affine differs from the mask's affine")
        n_vol = shape[3] if len(shape) == 4 else 1
        require(n_vol == n_expected, path,
                f"holds {n_vol} trials but trials.csv lists {n_expected} for session {session}")
        data = np.asanyarray(img.dataobj)
        if data.ndim == 3:
            data = data[..., None]
        blocks.append(np.asarray(data[mask].T, dtype=np.float32))  # (trials, voxels)
    return np.concatenate(blocks, axis=0)


def read_subject(root: str | Path, subject: str, stimulus_ids: Iterable[int] | None = None,
                 zscore: bool = True) -> SubjectData:
    """Read and validate one subject.

    Parameters
    ----------
    root:
        Data set folder (holding ``stimuli.h5`` and one folder per subject).
    subject:
        Subject folder name.
    stimulus_ids:
        Ids that exist (default: those of ``root/stimuli.h5``); every trial's stimulus must be among them.
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
    known = read_stimulus_ids(root / STIMULI_NAME) if stimulus_ids is None else np.asarray(list(stimulus_ids))
    unknown = np.setdiff1d(trials["stimulus_id"].to_numpy(), known)
    require(unknown.size == 0, trials_path,
            f"{unknown.size} stimulus id(s) not in the stimuli file, e.g. {unknown[:3].tolist()}")

    sessions = trials["session"].to_numpy()
    h5 = folder / BETAS_H5
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
        require(bool(np.all(np.diff(sessions) >= 0)), trials_path,
                "with per-session NIfTI betas, trials must be ordered by session")
        betas = _read_betas_nifti(nifti, mask, affine, trials)
        source = nifti[0][1]
    _check_finite(betas, mask, source)
    if zscore:
        betas = zscore_sessions(betas, sessions)
    return SubjectData(subject=subject, mask=mask, affine=affine, betas=betas, trials=trials)


def shared_ids(subjects: Sequence[SubjectData]) -> np.ndarray:
    """Stimulus ids every subject saw (the test set), sorted."""
    require(bool(subjects), None, "no subjects given")
    common = subjects[0].stimulus_ids
    for s in subjects[1:]:
        common = np.intersect1d(common, s.stimulus_ids)
    return common


# ------------------------------------------------------------------------------------------------ writers
def write_stimuli(root: str | Path, ids: np.ndarray, images: np.ndarray, captions: Sequence[str] | None = None) -> None:
    """Write ``stimuli.h5`` (images uint8 (n, 3, H, W) or (n, H, W, 3), with their ids) and ``captions.csv``."""
    import h5py

    root = Path(root)
    images = np.asarray(images, dtype=np.uint8)
    if images.shape[-1] == 3 and images.shape[1] != 3:
        images = images.transpose(0, 3, 1, 2)
    with atomic_path(root / STIMULI_NAME) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("images", data=images, chunks=(1, *images.shape[1:]), compression="gzip")
            f.create_dataset("stimulus_id", data=np.asarray(ids, dtype=np.int64))
    if captions is not None:
        write_table(root / CAPTIONS_NAME, pd.DataFrame({"stimulus_id": np.asarray(ids, dtype=np.int64),
                                                        "caption": list(captions)}))


def write_subject(root: str | Path, subject: str, mask: np.ndarray, affine: np.ndarray, betas: np.ndarray,
                  trials: pd.DataFrame, betas_format: str = "hdf5") -> Path:
    """Write one subject in the NSD-style layout.

    Parameters
    ----------
    mask:
        bool (X, Y, Z).
    betas:
        (trials, voxels) in the mask's C order, rows in ``trials`` order.
    betas_format:
        ``hdf5`` (one `betas` matrix) or ``nifti`` (one 4D volume per session, zero outside the mask).
    """
    import nibabel as nib

    folder = Path(root) / subject
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / MASK_NAME) as tmp:
        nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), str(tmp))
    write_table(folder / TRIALS_NAME, trials[list(TRIAL_COLUMNS)])
    betas = np.asarray(betas, dtype=np.float32)
    if betas_format == "hdf5":
        import h5py

        with atomic_path(folder / BETAS_H5) as tmp:
            with h5py.File(tmp, "w") as f:
                d = f.create_dataset("betas", data=betas, compression="gzip")
                d.attrs["mask_shape"] = np.array(mask.shape)
                d.attrs["affine"] = affine
    elif betas_format == "nifti":
        sessions = trials["session"].to_numpy()
        for s in np.unique(sessions):
            rows = np.flatnonzero(sessions == s)
            vol = np.zeros((*mask.shape, len(rows)), dtype=np.float32)
            vol[mask] = betas[rows].T
            with atomic_path(folder / f"betas_session{int(s):02d}.nii.gz") as tmp:
                nib.save(nib.Nifti1Image(vol, affine), str(tmp))
    else:
        raise ValueError(f"betas_format must be hdf5 or nifti, got {betas_format!r}")
    return folder
