"""Writers of the project's simple layout (the simulators write it; :mod:`.datasets` describes it): the stimuli
file with the captions, and one subject's mask, trial table and betas.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neuromodels.core.io import atomic_path, write_table

from .ids import canonical_ids, write_ids_dataset
from .readers import STIMULI_NAME, TRIAL_COLUMNS
from .workflow import BETAS_H5, CAPTIONS_NAME, MASK_NAME, TRIALS_NAME

__all__ = ["write_stimuli", "write_subject"]


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
            write_ids_dataset(f, "stimulus_id", ids)
    if captions is not None:
        write_table(root / CAPTIONS_NAME, pd.DataFrame({"stimulus_id": canonical_ids(ids), "caption": list(captions)}))


def write_subject(
    root: str | Path,
    subject: str,
    mask: np.ndarray,
    affine: np.ndarray,
    betas: np.ndarray,
    trials: pd.DataFrame,
    betas_format: str = "hdf5",
) -> Path:
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
