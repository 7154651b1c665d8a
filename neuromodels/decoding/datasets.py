"""The two layouts of a data set behind one interface (stimulus ids, target ids, each subject's trials and betas,
the stimuli every subject saw, images, captions): the project's simple layout (:class:`SimpleDataset`) and
NSD's own release read as it is published (:class:`NSDRelease`). :func:`open_dataset` opens either
(``decoding.layout``: ``simple``, ``nsd_release`` or ``auto``, which picks the release when
``nsddata/experiments/nsd/nsd_expdesign.mat`` exists under the root).

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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from neuromodels.core.errors import ConfigError, DataError, require
from neuromodels.core.runtime import get_logger

from .ids import _intersect
from .readers import (
    SubjectData,
    _check_finite,
    _read_nifti_session,
    list_subjects,
    read_captions,
    read_images,
    read_mask,
    read_stimulus_ids,
    read_subject,
    read_trials,
    stimuli_file,
    zscore_sessions,
)
from .workflow import (
    CAPTIONS_NAME,
    RELEASE_BETAS,
    RELEASE_EXPDESIGN,
    RELEASE_ROI,
    RELEASE_SESSION,
    RELEASE_STIMULI,
    TRIALS_NAME,
    detect_layout,
)

__all__ = ["SimpleDataset", "ReleaseOptions", "NSDRelease", "open_dataset", "LAYOUTS", "BETA_SCALE"]

log = get_logger(__name__)
LAYOUTS = ("auto", "simple", "nsd_release")
BETA_SCALE = 300.0  # NSD stores percent signal change x 300 as int16


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
