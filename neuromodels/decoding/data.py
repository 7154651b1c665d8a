"""NSD-style fMRI data: readers, validation and writers (the simulator writes the simple layout).

Two layouts are read (``decoding.layout``: ``simple``, ``nsd_release`` or ``auto``, which picks the release
when ``nsddata/experiments/nsd/nsd_expdesign.mat`` exists under the root).

The project's **simple layout** (one folder per subject, plus the stimuli shared by all)::

    stimuli.h5 (or .hdf5)      `images` uint8 (n, 3, H, W) or (n, H, W, 3); `stimulus_id` (or `stimulus_ids`)
                               (n,) integers or strings (e.g. 'nsd73000'). Without it the row index is the id,
                               and the reader logs a warning with the count (NSD's own brick is numbered so).
    captions.csv               stimulus_id, caption (optional: needed for text targets)
    subj01/nsdgeneral.nii.gz   ROI mask (voxels where mask > 0), 3D, with an affine
    subj01/trials.csv          trial, session, stimulus_id, repeat (one row per trial, trial = 0..n-1)
    subj01/betas.h5 (or .hdf5) `betas` float/int (trials, voxels): voxels in the mask's C order
      or subj01/betas_session01.nii.gz ...   4D (X, Y, Z, trials of that session), same grid as the mask

**NSD's own release**, read as it is published (paths relative to the root; see :class:`NSDRelease`)::

    nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5       `imgBrick` uint8 (73000, 425, 425, 3)
    nsddata/experiments/nsd/nsd_expdesign.mat          masterordering (1, 30000), subjectim (8, 10000),
                                                       sharedix (1, 1000); all 1-based (MATLAB)
    nsddata/ppdata/subjNN/func1pt8mm/roi/nsdgeneral.nii.gz               -1 outside the brain, 0, 1 = inside
    nsddata_betas/ppdata/subjNN/func1pt8mm/betas_fithrf_GLMdenoise_RR/betas_sessionNN.hdf5
                               `betas` int16 written by MATLAB as X x Y x Z x trials, so h5py reads it as
                               (trials, Z, Y, X); or betas_sessionNN.nii.gz (X, Y, Z, trials) int16.
                               Values are percent signal change x 300 (divided by 300 on reading).

Stimulus ids in the release are the 0-based rows of ``imgBrick`` (NSD's ``nsdId``; the 73k ids of
``nsd_expdesign.mat`` and ``responses.tsv`` are 1-based and have 1 subtracted). Trial ``t`` (0-based over the
subject's sessions in order) showed ``subjectim[subject, masterordering[t] - 1] - 1``.

Ids anywhere (stimuli, trials, targets, split lists) may be integers or strings; a column of strings that all
spell integers ("00123") is read as integers, anything else stays a string id and must match exactly
(:func:`canonical_ids`). Lists of ids load from ``.txt`` (one per line), ``.csv`` (a `stimulus_id` column, or
the first column), ``.npy`` or HDF5 (:func:`read_id_list`).

Validation raises :class:`~neuromodels.core.errors.DataError` naming the file and the problem: mask and betas
share shape and affine, the voxel count matches the mask, no NaN (non-finite) value inside the mask, every
trial's stimulus id exists in the stimuli file, trial counts agree with ``trials.csv`` (or the design).

Betas are z-scored per session and voxel (as NSD's betas are used); at test time a stimulus's repeats are
averaged, during training one repeat is sampled per step. The test split is a choice
(:func:`choose_test_split`: ``shared``, ``file`` or ``fraction``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import ConfigError, DataError, require
from neuromodels.core.io import atomic_path, write_table
from neuromodels.core.runtime import get_logger

from .workflow import (
    BETAS_H5,
    BETAS_NAMES,
    CAPTIONS_NAME,
    MASK_NAME,
    RELEASE_BETAS,
    RELEASE_EXPDESIGN,
    RELEASE_ROI,
    RELEASE_SESSION,
    RELEASE_STIMULI,
    STIMULI_NAMES,
    TRIALS_NAME,
    detect_layout,
)
from .workflow import SIMPLE_SESSION as _SESSION_FILE

log = get_logger(__name__)
STIMULI_NAME = STIMULI_NAMES[0]
TRIAL_COLUMNS = ("trial", "session", "stimulus_id", "repeat")
LAYOUTS = ("auto", "simple", "nsd_release")
SPLITS = ("shared", "file", "fraction")
BETA_SCALE = 300.0  # NSD stores percent signal change x 300 as int16
_INT_TEXT = re.compile(r"^[+-]?\d+$")


# ------------------------------------------------------------------------------------------------ ids
def canonical_ids(values: Any, path: str | Path | None = None, what: str = "stimulus ids") -> np.ndarray:
    """Stimulus ids as one array: int64 when every id is an integer (or a string spelling one, e.g. "00123"),
    else unicode strings (e.g. 'nsd73000'), compared exactly. Bytes are decoded; surrounding blanks stripped."""
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:  # a row or column vector (e.g. from MATLAB)
        arr = arr.ravel()
    require(arr.ndim == 1, path, f"{what} must be one list, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "b":
        raise DataError(path, f"{what} must be integers or strings, got booleans")
    if arr.dtype.kind == "f":
        require(bool(np.all(np.isfinite(arr))), path, f"{what} hold NaN or infinite values")
        require(
            bool(np.all(arr == np.round(arr))),
            path,
            f"{what} hold non-integer numbers, e.g. {arr[arr != np.round(arr)][:3].tolist()}",
        )
        return arr.astype(np.int64)
    text = []
    for v in arr.tolist():
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            raise DataError(path, f"{what} hold an empty value")
        text.append(str(v).strip())
    require(all(text), path, f"{what} hold an empty value")
    if all(_INT_TEXT.match(t) for t in text):
        return np.array([int(t) for t in text], dtype=np.int64)
    return np.array(text, dtype=str) if text else np.zeros(0, dtype=np.int64)


def id_key(value: Any) -> int | str:
    """One id as a dict key (int or str), whatever numpy or bytes type it came in."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (np.integer, int)):
        return int(value)
    return str(value)


def missing_ids(ids: Iterable[Any], known: Iterable[Any]) -> list:
    """Ids of ``ids`` that are not in ``known`` (in order; exact comparison, ints never equal strings)."""
    have = {id_key(k) for k in known}
    return [id_key(i) for i in ids if id_key(i) not in have]


def _unique_check(ids: np.ndarray, path: str | Path | None, what: str = "stimulus ids") -> None:
    uniq, counts = np.unique(ids, return_counts=True)
    dup = uniq[counts > 1]
    require(dup.size == 0, path, f"{what} hold {dup.size} duplicate(s), e.g. {dup[:3].tolist()}")


def read_ids_dataset(dset: Any) -> np.ndarray:
    """An HDF5 dataset of ids (integers or strings) as :func:`canonical_ids` gives them."""
    if dset.dtype.kind in "SO":
        return canonical_ids(dset.asstr()[()], dset.file.filename, f"'{dset.name.lstrip('/')}'")
    return canonical_ids(dset[()], dset.file.filename, f"'{dset.name.lstrip('/')}'")


def write_ids_dataset(group: Any, name: str, ids: Sequence[Any]) -> None:
    """Write ids (integers as int64, strings as UTF-8 strings) as dataset ``name`` of an open HDF5 group."""
    import h5py

    ids = canonical_ids(ids)
    if ids.dtype.kind == "U":
        group.create_dataset(name, data=np.array(ids.tolist(), dtype=object), dtype=h5py.string_dtype())
    else:
        group.create_dataset(name, data=ids.astype(np.int64))


def read_id_list(path: str | Path, key: str | None = None) -> np.ndarray:
    """Ids from a file: ``.txt`` (one per line; blank lines and lines starting with # skipped), ``.csv`` (a
    `stimulus_id` column, else the first column), ``.npy``, or HDF5 (``.h5``/``.hdf5``: dataset ``key``, else
    `stimulus_id`, `ids` or the only dataset). Duplicates are refused."""
    path = Path(path)
    require(path.exists(), path, "id list not found")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise DataError(path, "not a UTF-8 text file of ids") from None
        values = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    elif suffix == ".csv":
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise DataError(path, f"not a readable CSV ({type(exc).__name__})") from None
        require(len(table.columns) > 0, path, "no column of ids")
        col = key or ("stimulus_id" if "stimulus_id" in table.columns else table.columns[0])
        require(col in table.columns, path, f"no column '{col}'")
        values = table[col].tolist()
    elif suffix == ".npy":
        values = load_npy(path)
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                names = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
                name = key or next((k for k in ("stimulus_id", "ids") if k in names), None)
                if name is None:
                    require(len(names) == 1, path, "needs a dataset 'stimulus_id' (or 'ids')")
                    name = names[0]
                require(name in f, path, f"no dataset '{name}'")
                return _checked_list(read_ids_dataset(f[name]), path)
        except OSError:
            raise DataError(path, "not a readable HDF5 file") from None
    else:
        raise DataError(path, "id lists must be .txt, .csv, .npy, .h5 or .hdf5")
    return _checked_list(canonical_ids(values, path), path)


def load_npy(path: Path) -> np.ndarray:
    """An ``.npy`` array (no pickles); a truncated or foreign file is one error naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise DataError(path, f"not a readable .npy file ({type(exc).__name__})") from None


def _checked_list(ids: np.ndarray, path: Path) -> np.ndarray:
    require(ids.size > 0, path, "holds no id")
    _unique_check(ids, path)
    return ids


# ------------------------------------------------------------------------------------------------ subject
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


# ------------------------------------------------------------------------------------------------ readers
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


def _kind_hint(ids: np.ndarray, known: np.ndarray) -> str:
    """A hint when integer ids meet string ids (e.g. 123 against 'nsd00123')."""
    a, b = np.asarray(ids).dtype.kind, np.asarray(known).dtype.kind
    if a != b and {a, b} <= {"i", "U"}:
        kinds = {"i": "integers", "U": "strings"}
        return f" (these ids are {kinds[a]}, the stimuli file's are {kinds[b]})"
    return ""


def shared_ids(subjects: Sequence[SubjectData]) -> np.ndarray:
    """Stimulus ids every subject saw, sorted."""
    require(bool(subjects), None, "no subjects given")
    common = subjects[0].stimulus_ids
    for s in subjects[1:]:
        common = _intersect(common, s.stimulus_ids)
    return common


def _intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind != b.dtype.kind:
        return a[:0]
    return np.intersect1d(a, b)


# ------------------------------------------------------------------------------------------------ data sets
class SimpleDataset:
    """The project's simple layout (module docstring) behind the interface both layouts share."""

    layout = "simple"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.stimuli_path = stimuli_file(self.root)
        self.subjects = list_subjects(self.root)
        self._ids: np.ndarray | None = None
        self.notes: dict = {}  # fallbacks taken while reading (counts), written with the results

    def stimulus_ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = read_stimulus_ids(self.stimuli_path, self.notes)
        return self._ids

    def target_ids(self) -> np.ndarray:
        """The stimuli that get target embeddings: every one of the stimuli file."""
        return self.stimulus_ids()

    def trial_ids(self, subject: str) -> np.ndarray:
        """Distinct stimulus ids of one subject's trials (sorted)."""
        self._check_subject(subject)
        return np.unique(read_trials(self.root / subject / TRIALS_NAME)["stimulus_id"].to_numpy())

    def read_subject(self, subject: str, zscore: bool = True) -> SubjectData:
        self._check_subject(subject)
        return read_subject(self.root, subject, stimulus_ids=self.stimulus_ids(), zscore=zscore)

    def shared_ids(self) -> tuple[np.ndarray, dict]:
        """The stimuli every subject saw, and how they were found."""
        common = None
        for s in self.subjects:
            ids = self.trial_ids(s)
            common = ids if common is None else _intersect(common, ids)
        return common, {"source": "stimuli seen by every subject"}

    def images(self, ids: Sequence[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        return read_images(self.stimuli_path, ids, all_ids=self.stimulus_ids())

    def captions(self) -> dict[Any, str]:
        return read_captions(self.root / CAPTIONS_NAME)

    def _check_subject(self, subject: str) -> None:
        require(subject in self.subjects, self.root, f"no subject folder {subject} (found {', '.join(self.subjects)})")


@dataclass
class ReleaseOptions:
    """Where in NSD's release a subject's data are: the functional space, the beta version and the ROI."""

    space: str = "func1pt8mm"
    betas: str = "betas_fithrf_GLMdenoise_RR"
    roi: str = "nsdgeneral"


class NSDRelease:
    """NSD's own release read as it is published (see the module docstring for the files).

    A subject is every ``nsddata/ppdata/subjNN`` with the ROI file and at least one session file of the chosen
    beta version. Its sessions are the ``betas_sessionNN`` files present, numbered from 1 without gaps (NSD's
    trial order runs through the sessions, so a missing session in the middle is refused); a session's trial
    count is its file's (750 in NSD; fewer in small test sets). ``.hdf5`` is read when both formats exist.
    """

    layout = "nsd_release"

    def __init__(self, root: str | Path, options: ReleaseOptions | None = None) -> None:
        self.root = Path(root)
        self.options = options or ReleaseOptions()
        require(self.root.is_dir(), self.root, "data folder not found")
        self.stimuli_path = self.root / RELEASE_STIMULI
        self.design_path = self.root / RELEASE_EXPDESIGN
        require(self.design_path.exists(), self.design_path, "NSD design file not found")
        base = self.root / "nsddata" / "ppdata"
        names = sorted(p.name for p in base.iterdir() if re.fullmatch(r"subj\d+", p.name)) if base.is_dir() else []
        self.subjects = [s for s in names if self.roi_path(s).exists() and self.session_files(s, check=False)]
        require(
            bool(self.subjects),
            self.root,
            f"no subject with {RELEASE_ROI.format(subject='subjNN', **vars(self.options))} and "
            f"{RELEASE_BETAS.format(subject='subjNN', **vars(self.options))}/betas_sessionNN.hdf5 (or .nii.gz)",
        )
        self._design: dict[str, np.ndarray] | None = None
        self._n_images: int | None = None
        self._trials: dict[str, pd.DataFrame] = {}
        self.notes: dict = {}  # fallbacks taken while reading (counts), written with the results

    # ----------------------------------------------------------------------------------- files
    def roi_path(self, subject: str) -> Path:
        return self.root / RELEASE_ROI.format(subject=subject, **vars(self.options))

    def betas_dir(self, subject: str) -> Path:
        return self.root / RELEASE_BETAS.format(subject=subject, **vars(self.options))

    def session_files(self, subject: str, check: bool = True) -> list[tuple[int, Path]]:
        """``[(session, file)]`` in session order (one file per session, .hdf5 before .nii.gz)."""
        folder = self.betas_dir(subject)
        found: dict[int, Path] = {}
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                m = RELEASE_SESSION.match(p.name)
                if m and (int(m.group(1)) not in found or m.group(2) == "hdf5"):
                    found[int(m.group(1))] = p
        files = sorted(found.items())
        if check:
            require(bool(files), folder, "no betas_sessionNN.hdf5 or .nii.gz file")
            sessions = [s for s, _ in files]
            require(
                sessions == list(range(1, len(sessions) + 1)),
                folder,
                f"sessions must run 1..n without gaps (trial order follows them), found {sessions}",
            )
        return files

    def subject_index(self, subject: str) -> int:
        return int(subject[4:]) - 1

    # ----------------------------------------------------------------------------------- design
    def design(self) -> dict[str, np.ndarray]:
        """masterordering (0-based 10k index per trial), subjectim (0-based 73k ids per subject), sharedix
        (0-based 73k ids), all validated against each other and the stimulus brick."""
        if self._design is not None:
            return self._design
        path = self.design_path
        import scipy.io

        try:
            mat = scipy.io.loadmat(str(path))
        except NotImplementedError:
            raise DataError(path, "MATLAB v7.3 (HDF5) .mat files are not read; save it with -v7") from None
        except Exception as exc:
            raise DataError(path, f"not a readable .mat file ({type(exc).__name__})") from None
        need = ("masterordering", "subjectim", "sharedix")
        missing = [k for k in need if k not in mat]
        require(not missing, path, f"missing variable(s) {', '.join(missing)} (needs {', '.join(need)})")
        order = np.asarray(mat["masterordering"]).ravel()
        subjectim = np.asarray(mat["subjectim"])
        shared = np.asarray(mat["sharedix"]).ravel()
        for name, arr in (("masterordering", order), ("subjectim", subjectim), ("sharedix", shared)):
            require(
                arr.dtype.kind in "iuf" and bool(np.all(np.isfinite(arr))) and bool(np.all(arr == np.round(arr))),
                path,
                f"'{name}' must hold whole numbers",
            )
            require(arr.size > 0 and int(arr.min()) >= 1, path, f"'{name}' must be 1-based indices (found {arr.min()})")
        require(subjectim.ndim == 2, path, f"'subjectim' must be (subjects, images), got {subjectim.shape}")
        require(
            int(order.max()) <= subjectim.shape[1],
            path,
            f"'masterordering' points at image {int(order.max())} but 'subjectim' has {subjectim.shape[1]} per subject",
        )
        n = self.n_images()
        top = max(int(subjectim.max()), int(shared.max()))
        require(top <= n, path, f"73k ids go up to {top} but {RELEASE_STIMULI} holds {n} images")
        self._design = {
            "masterordering": order.astype(np.int64) - 1,
            "subjectim": subjectim.astype(np.int64) - 1,
            "sharedix": shared.astype(np.int64) - 1,
        }
        return self._design

    def n_images(self) -> int:
        if self._n_images is None:
            import h5py

            path = self.stimuli_path
            require(path.exists(), path, "NSD stimulus file not found")
            try:
                with h5py.File(path, "r") as f:
                    require("imgBrick" in f, path, "no dataset 'imgBrick'")
                    brick = f["imgBrick"]
                    require(
                        brick.ndim == 4 and brick.shape[-1] == 3,
                        path,
                        f"'imgBrick' must be (n, H, W, 3), got {brick.shape}",
                    )
                    self._n_images = int(brick.shape[0])
            except OSError:
                raise DataError(path, "not a readable HDF5 file") from None
        return self._n_images

    def stimulus_ids(self) -> np.ndarray:
        return np.arange(self.n_images(), dtype=np.int64)

    def target_ids(self) -> np.ndarray:
        """The stimuli that get target embeddings: the images shown in the trials that are read (the sessions
        present of every subject), not the whole 73k brick nor every image of the design: NSD's public release
        lacks sessions, so a subject's ``subjectim`` row lists images it was never shown, and the embeddings a
        user brings cover the images shown. ``notes["design_images_not_shown"]`` counts the design's images of
        these subjects that no trial read shows."""
        d = self.design()
        rows = [self.subject_index(s) for s in self.subjects]
        require(
            max(rows) < d["subjectim"].shape[0],
            self.design_path,
            f"'subjectim' has {d['subjectim'].shape[0]} subjects, the data hold {self.subjects[-1]}",
        )
        shown = np.unique(np.concatenate([self.trial_ids(s) for s in self.subjects]))
        planned = np.unique(np.concatenate([d["subjectim"][r] for r in rows]))
        self.notes["design_images_not_shown"] = int(len(np.setdiff1d(planned, shown)))
        if self.notes["design_images_not_shown"]:
            log.info(
                "%d image(s) of the design of %s are shown in no session present: no target needed for them",
                self.notes["design_images_not_shown"],
                ", ".join(self.subjects),
            )
        return shown

    # ----------------------------------------------------------------------------------- trials
    def _session_trials(self, path: Path) -> int:
        if path.suffix == ".hdf5":
            import h5py

            try:
                with h5py.File(path, "r") as f:
                    require("betas" in f, path, "no dataset 'betas'")
                    require(
                        f["betas"].ndim == 4,
                        path,
                        f"'betas' must be 4D (trials, Z, Y, X as h5py reads NSD's file), got {f['betas'].shape}",
                    )
                    return int(f["betas"].shape[0])
            except OSError:
                raise DataError(path, "not a readable HDF5 file") from None
        import nibabel as nib

        try:
            shape = nib.load(str(path)).shape
        except Exception as exc:
            raise DataError(path, f"not a readable NIfTI image ({type(exc).__name__})") from None
        require(len(shape) == 4, path, f"betas must be 4D (X, Y, Z, trials), got shape {shape}")
        return int(shape[3])

    def trials(self, subject: str) -> pd.DataFrame:
        """One row per trial (trial, session, stimulus_id, repeat) from the design and the sessions present."""
        if subject in self._trials:
            return self._trials[subject]
        self._check_subject(subject)
        d = self.design()
        row = self.subject_index(subject)
        require(
            row < d["subjectim"].shape[0],
            self.design_path,
            f"'subjectim' has {d['subjectim'].shape[0]} subjects, no row for {subject}",
        )
        counts = [(s, self._session_trials(p)) for s, p in self.session_files(subject)]
        total = sum(n for _, n in counts)
        order = d["masterordering"]
        require(
            total <= len(order),
            self.betas_dir(subject),
            f"the session files hold {total} trials, 'masterordering' lists {len(order)}",
        )
        ids = d["subjectim"][row, order[:total]]
        trials = pd.DataFrame(
            {
                "trial": np.arange(total),
                "session": np.repeat([s for s, _ in counts], [n for _, n in counts]),
                "stimulus_id": ids,
            }
        )
        trials["repeat"] = trials.groupby("stimulus_id").cumcount()
        self._trials[subject] = trials
        return trials

    def trial_ids(self, subject: str) -> np.ndarray:
        return np.unique(self.trials(subject)["stimulus_id"].to_numpy())

    def read_subject(self, subject: str, zscore: bool = True) -> SubjectData:
        """One subject's nsdgeneral voxels over its sessions, in percent signal change (int16 / 300)."""
        trials = self.trials(subject)
        mask, affine = read_mask(self.roi_path(subject))
        blocks = []
        for session, path in self.session_files(subject):
            n = int((trials["session"] == session).sum())
            if path.suffix == ".hdf5":
                block = _read_release_h5(path, mask, n)
            else:
                block = _read_nifti_session(path, mask, affine, n, f"the design for session {session}")
            _check_finite(block, mask, path)
            blocks.append(block / BETA_SCALE)
        betas = np.concatenate(blocks, axis=0).astype(np.float32)
        if zscore:
            betas = zscore_sessions(betas, trials["session"].to_numpy())
        return SubjectData(subject=subject, mask=mask, affine=affine, betas=betas, trials=trials)

    def shared_ids(self) -> tuple[np.ndarray, dict]:
        """NSD's shared 1000 (``sharedix``) that every subject of the data saw at least once."""
        shared = np.unique(self.design()["sharedix"])
        seen = shared
        for s in self.subjects:
            seen = np.intersect1d(seen, self.trial_ids(s))
        dropped = int(len(shared) - len(seen))
        if dropped:
            log.warning(
                "test split 'shared': %d of NSD's %d shared images were not seen by every subject and are left out",
                dropped,
                len(shared),
            )
        return seen, {
            "source": "sharedix of nsd_expdesign.mat",
            "shared_listed": int(len(shared)),
            "not_seen_by_all": dropped,
        }

    def images(self, ids: Sequence[Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        return read_images(self.stimuli_path, ids, all_ids=self.stimulus_ids())

    def captions(self) -> dict[Any, str]:
        """Captions are not part of the release as a table: ``captions.csv`` (stimulus_id = 0-based nsdId,
        caption) at the release root, when given."""
        return read_captions(self.root / CAPTIONS_NAME)

    def _check_subject(self, subject: str) -> None:
        require(
            subject in self.subjects,
            self.root,
            f"no subject {subject} in the release (found {', '.join(self.subjects)})",
        )


def _read_release_h5(path: Path, mask: np.ndarray, n_expected: int) -> np.ndarray:
    """float32 (trials, voxels) of one NSD ``betas_sessionNN.hdf5``: `betas` (trials, Z, Y, X) as h5py reads
    NSD's MATLAB-written X x Y x Z x trials array; only the mask's bounding box is read."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            require("betas" in f, path, "no dataset 'betas'")
            dset = f["betas"]
            grid = tuple(reversed(mask.shape))
            require(
                dset.ndim == 4 and tuple(dset.shape[1:]) == grid,
                path,
                f"'betas' must be (trials, Z, Y, X) = (n, {', '.join(map(str, grid))}) for the mask's grid "
                f"{mask.shape}, got {dset.shape}",
            )
            require(dset.shape[0] == n_expected, path, f"holds {dset.shape[0]} trials, expected {n_expected}")
            require(np.issubdtype(dset.dtype, np.number), path, f"'betas' must be numeric, got {dset.dtype}")
            ijk = np.argwhere(mask)
            lo, hi = ijk.min(axis=0), ijk.max(axis=0) + 1
            box = dset[:, lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    rel = ijk - lo
    return np.asarray(box[:, rel[:, 2], rel[:, 1], rel[:, 0]], dtype=np.float32)


def open_dataset(
    root: str | Path, layout: str = "auto", release: ReleaseOptions | dict | None = None
) -> SimpleDataset | NSDRelease:
    """The data set at ``root`` in ``layout`` (``auto``: :func:`detect_layout`)."""
    if layout not in LAYOUTS:
        raise ConfigError("decoding.layout", f"must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    root = Path(root)
    require(root.is_dir(), root, "data folder not found")
    chosen = detect_layout(root) if layout == "auto" else layout
    if chosen == "nsd_release":
        opts = release if isinstance(release, ReleaseOptions) else ReleaseOptions(**(release or {}))
        return NSDRelease(root, opts)
    return SimpleDataset(root)


# ------------------------------------------------------------------------------------------------ test split
@dataclass
class TestSplit:
    """The test stimuli and how they were chosen (written with the results)."""

    kind: str
    ids: np.ndarray
    detail: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"test_split": self.kind, "n_test": int(len(self.ids)), **self.detail}


def choose_test_split(
    dataset: SimpleDataset | NSDRelease,
    kind: str = "shared",
    file: str | None = None,
    fraction: float = 0.1,
    seed: int = 0,
) -> TestSplit:
    """The test stimuli of a data set.

    - ``shared``: the stimuli every subject saw (NSD's release: its shared 1000, ``sharedix``, less those a
      subject with fewer sessions never saw);
    - ``file``: the ids listed in ``file`` (:func:`read_id_list`); ids some subject never saw are left out with a
      logged count (every subject is evaluated on the same stimuli), unknown ids are refused;
    - ``fraction``: a seeded random ``fraction`` of the stimuli every subject saw (at least 2); the rest of
      them become training stimuli.

    A subject's training stimuli are then everything it saw outside the test set.
    """
    if kind not in SPLITS:
        raise ConfigError("decoding.test_split", f"must be one of {', '.join(SPLITS)}, got {kind!r}")
    shared, info = dataset.shared_ids()
    if kind == "shared":
        ids, detail = shared, dict(info)
    elif kind == "file":
        if not file:
            raise ConfigError("decoding.test_ids", "test_split 'file' needs a file of test ids")
        listed = read_id_list(file)
        unknown = missing_ids(listed, dataset.stimulus_ids())
        require(
            not unknown,
            file,
            f"{len(unknown)} test id(s) not in the stimuli, e.g. {unknown[:3]}"
            + _kind_hint(listed, dataset.stimulus_ids()),
        )
        keep = np.array([id_key(i) not in set(missing_ids(listed, shared)) for i in listed], dtype=bool)
        dropped = int((~keep).sum())
        if dropped:
            log.warning(
                "test split 'file' (%s): %d of %d listed ids were not seen by every subject and are left out",
                file,
                dropped,
                len(listed),
            )
        ids = np.sort(listed[keep])
        detail = {"source": str(file), "listed": int(len(listed)), "not_seen_by_all": dropped}
    else:
        if not 0 < float(fraction) < 1:
            raise ConfigError("decoding.test_fraction", f"must be between 0 and 1, got {fraction}")
        n = max(2, int(round(float(fraction) * len(shared))))
        if n >= len(shared):
            raise ConfigError(
                "decoding.test_fraction",
                f"{fraction} of the {len(shared)} stimuli every subject saw leaves none to train on",
            )
        pick = np.random.default_rng(seed).permutation(len(shared))[:n]
        ids = np.sort(shared[pick])
        detail = {
            "source": f"seeded fraction of the {len(shared)} stimuli every subject saw",
            "fraction": float(fraction),
            "seed": int(seed),
        }
    require(len(ids) >= 2, dataset.root, f"test split '{kind}' holds {len(ids)} stimuli (needs at least 2)")
    split = TestSplit(kind, canonical_ids(ids), detail)
    log.info("test split '%s': %d stimuli (%s)", kind, len(ids), detail.get("source", ""))
    return split


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
