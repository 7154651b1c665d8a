"""Decoding bad-input catalogue: each malformed data set (the simple layout or NSD's release), id list, embedding
file or setting gives one line naming the file (or key) and the problem, never a library traceback. Some cases
go through the CLI and check that stderr is that one line."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import scipy.io

from neuromodels.decoding.data import (
    RELEASE_BETAS,
    RELEASE_EXPDESIGN,
    RELEASE_ROI,
    RELEASE_STIMULI,
    choose_test_split,
    open_dataset,
    read_subject,
    write_stimuli,
    write_subject,
)
from neuromodels.decoding.targets import read_embedding_file
from tests.conftest import assert_one_error_line

from .test_release import ReleaseSpec, write_release

SMALL_RELEASE = ReleaseSpec(
    n_subjects=2,
    n_shared=8,
    n_unique=12,
    n_unseen=2,
    trials_per_session=20,
    sessions=(2, 2),
    grid=(6, 7, 5),
    image_size=8,
)


# --------------------------------------------------------------------------------------------- writers
def _simple(tmp: Path, ids=(3, 5, 8, 13), betas_format: str = "hdf5", trial_ids=None) -> Path:
    """A one-subject simple-layout set: 4 stimuli, 12 trials over 2 sessions, 30 voxels."""
    root = tmp / "simple"
    rng = np.random.default_rng(0)
    write_stimuli(
        root,
        np.asarray(ids),
        rng.integers(0, 255, (len(ids), 3, 6, 6), dtype=np.uint8),
        [f"c{i}" for i in range(len(ids))],
    )
    mask = np.zeros((5, 4, 3), bool)
    mask[1:4, 1:3, :] = True
    mask[0, 0, 0] = True
    tid = list(trial_ids if trial_ids is not None else ids)
    trials = pd.DataFrame(
        {"trial": np.arange(12), "session": np.repeat([1, 2], 6), "stimulus_id": [tid[i % len(tid)] for i in range(12)]}
    )
    trials["repeat"] = trials.groupby("stimulus_id").cumcount()
    write_subject(
        root, "subj01", mask, np.eye(4), rng.standard_normal((12, int(mask.sum()))), trials, betas_format=betas_format
    )
    return root


def _release(tmp: Path, **kw) -> Path:
    root = tmp / "release"
    spec = ReleaseSpec(**{**SMALL_RELEASE.__dict__, **kw})
    write_release(root, spec)
    return root


def _session(root: Path, subject: str = "subj01", n: int = 1, ext: str = "hdf5") -> Path:
    return (
        root
        / RELEASE_BETAS.format(subject=subject, space="func1pt8mm", betas="betas_fithrf_GLMdenoise_RR")
        / f"betas_session{n:02d}.{ext}"
    )


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _targets_cli(root: Path, tmp: Path, **extra) -> list[str]:
    args = [
        "--log-level",
        "ERROR",
        "decoding",
        "targets",
        "--data",
        str(root),
        "--out",
        str(tmp / "t.h5"),
        "--image",
        extra.pop("image", str(root / "embeddings.npy")),
        "--text",
        "none",
        "--threads",
        "1",
    ]
    for k, v in extra.items():
        args += [f"--{k.replace('_', '-')}", v]
    return args


# --------------------------------------------------------------------------------------------- the cases
# Each case writes a malformed input under tmp and returns (what to run, the file or key the line must name).
# What to run is a callable (a reader) or a list of CLI arguments (run through neuromodels.cli.main).
def stimuli_not_hdf5(tmp):
    root = _simple(tmp)
    (root / "stimuli.h5").write_text("stimulus_id,file\n1,a.png\n")
    return lambda: open_dataset(root).stimulus_ids(), root / "stimuli.h5"


def stimuli_duplicate_ids(tmp):
    root = _simple(tmp)
    with h5py.File(root / "stimuli.h5", "a") as f:
        del f["stimulus_id"]
        f["stimulus_id"] = np.array([3, 5, 5, 13])
    return lambda: open_dataset(root).stimulus_ids(), root / "stimuli.h5"


def stimuli_images_wrong_shape(tmp):
    root = _simple(tmp)
    with h5py.File(root / "stimuli.h5", "a") as f:
        del f["images"]
        f["images"] = np.zeros((4, 6, 6), np.uint8)
    return lambda: open_dataset(root).stimulus_ids(), root / "stimuli.h5"


def betas_truncated(tmp):
    root = _simple(tmp)
    _truncate(root / "subj01" / "betas.h5")
    return lambda: open_dataset(root).read_subject("subj01"), root / "subj01" / "betas.h5"


def betas_voxels_differ_from_mask(tmp):
    root = _simple(tmp)
    with h5py.File(root / "subj01" / "betas.h5", "a") as f:
        b = f["betas"][()]
        del f["betas"]
        f["betas"] = b[:, :-2]
    return lambda: open_dataset(root).read_subject("subj01"), root / "subj01" / "betas.h5"


def betas_nan_in_mask(tmp):
    root = _simple(tmp)
    with h5py.File(root / "subj01" / "betas.h5", "a") as f:
        f["betas"][3, 4] = np.nan
    return lambda: open_dataset(root).read_subject("subj01"), root / "subj01" / "betas.h5"


def nifti_affine_differs(tmp):
    root = _simple(tmp, betas_format="nifti")
    path = root / "subj01" / "betas_session02.nii.gz"
    img = nib.load(str(path))
    shifted = img.affine.copy()
    shifted[0, 3] += 1.8
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), shifted), str(path))
    return lambda: open_dataset(root).read_subject("subj01"), path


def nifti_truncated(tmp):
    root = _simple(tmp, betas_format="nifti")
    path = root / "subj01" / "betas_session01.nii.gz"
    _truncate(path, 0.6)
    return lambda: open_dataset(root).read_subject("subj01"), path


def mask_4d(tmp):
    root = _simple(tmp)
    path = root / "subj01" / "nsdgeneral.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((5, 4, 3, 2), np.uint8), np.eye(4)), str(path))
    return lambda: open_dataset(root).read_subject("subj01"), path


def trials_missing_column(tmp):
    root = _simple(tmp)
    path = root / "subj01" / "trials.csv"
    pd.read_csv(path).drop(columns=["repeat"]).to_csv(path, index=False)
    return lambda: open_dataset(root).read_subject("subj01"), path


def trials_unknown_id(tmp):
    root = _simple(tmp, trial_ids=(3, 5, 8, 99))
    return lambda: open_dataset(root).read_subject("subj01"), root / "subj01" / "trials.csv"


def string_ids_mismatched(tmp):
    # the stimuli file names its images 'nsd00003'..., the trial table numbers them
    root = _simple(tmp, ids=("nsd00003", "nsd00005", "nsd00008", "nsd00013"), trial_ids=(3, 5, 8, 13))
    return lambda: open_dataset(root).read_subject("subj01"), root / "subj01" / "trials.csv"


def trials_one_repeat_twice(tmp):
    root = _simple(tmp)
    path = root / "subj01" / "trials.csv"
    t = pd.read_csv(path)
    t.loc[4, "repeat"] = t.loc[0, "repeat"]
    t.to_csv(path, index=False)
    return lambda: read_subject(root, "subj01"), path


def split_ids_unknown(tmp):
    root = _simple(tmp)
    (tmp / "test.txt").write_text("3\n5\n404\n")
    return lambda: choose_test_split(open_dataset(root), "file", file=str(tmp / "test.txt")), tmp / "test.txt"


def id_list_duplicates(tmp):
    root = _simple(tmp)
    np.save(tmp / "test.npy", np.array(["3", "5", "3"]))
    return lambda: choose_test_split(open_dataset(root), "file", file=str(tmp / "test.npy")), tmp / "test.npy"


def split_kind_unknown(tmp):
    root = _simple(tmp)
    return lambda: choose_test_split(open_dataset(root), "random"), "decoding.test_split"


def embedding_ids_count(tmp):
    np.save(tmp / "emb.npy", np.zeros((4, 3), np.float32))
    (tmp / "ids.txt").write_text("1\n2\n3\n")
    return lambda: read_embedding_file(tmp / "emb.npy", tmp / "ids.txt"), tmp / "emb.npy"


def embedding_not_npy(tmp):
    (tmp / "emb.npy").write_text("0.1 0.2 0.3\n")
    (tmp / "ids.txt").write_text("1\n")
    return lambda: read_embedding_file(tmp / "emb.npy", tmp / "ids.txt"), tmp / "emb.npy"


def release_design_missing_variable(tmp):
    root = _release(tmp)
    path = root / RELEASE_EXPDESIGN
    mat = scipy.io.loadmat(str(path))
    scipy.io.savemat(str(path), {k: mat[k] for k in ("masterordering", "subjectim")})
    return lambda: open_dataset(root).trials("subj01"), path


def release_design_zero_based(tmp):
    root = _release(tmp)
    path = root / RELEASE_EXPDESIGN
    mat = scipy.io.loadmat(str(path))
    scipy.io.savemat(
        str(path),
        {"masterordering": mat["masterordering"], "subjectim": mat["subjectim"] - 1, "sharedix": mat["sharedix"]},
    )
    return lambda: open_dataset(root).trials("subj01"), path


def release_design_not_mat(tmp):
    root = _release(tmp)
    path = root / RELEASE_EXPDESIGN
    path.write_bytes(b"\x00\x01 not a MATLAB file at all" * 10)
    return _targets_cli(root, tmp, image_ids=str(root / "embedding_ids.txt")), path


def release_betas_in_nifti_order(tmp):
    # a session file written (trials last) as NIfTI holds it, not as NSD's HDF5 (trials, Z, Y, X)
    root = _release(tmp)
    path = _session(root)
    with h5py.File(path, "a") as f:
        b = f["betas"][()]
        del f["betas"]
        f["betas"] = b.transpose(3, 2, 1, 0)
    return lambda: open_dataset(root).read_subject("subj01"), path


def release_brick_missing(tmp):
    root = _release(tmp)
    path = root / RELEASE_STIMULI
    with h5py.File(path, "a") as f:
        f["images"] = f["imgBrick"][()]
        del f["imgBrick"]
    return _targets_cli(root, tmp, image_ids=str(root / "embedding_ids.txt")), path


def release_session_gap(tmp):
    root = _release(tmp)
    path = _session(root, n=2)
    path.rename(path.with_name("betas_session03.hdf5"))
    return lambda: open_dataset(root).trials("subj01"), path.parent


def release_roi_grid_differs(tmp):
    root = _release(tmp)
    path = root / RELEASE_ROI.format(subject="subj02", space="func1pt8mm", roi="nsdgeneral")
    nib.save(nib.Nifti1Image(np.ones((6, 7, 4), np.int16), np.eye(4)), str(path))
    return lambda: open_dataset(root).read_subject("subj02"), _session(root, "subj02")


def release_betas_truncated(tmp):
    root = _release(tmp)
    path = _session(root, "subj02", n=2)
    _truncate(path)
    return lambda: open_dataset(root).trials("subj02"), path


def release_embedding_ids_strings(tmp):
    # embeddings keyed by NSD's names ('nsd00001') where the release's ids are brick rows: no target found
    root = _release(tmp)
    ids = (root / "embedding_ids.txt").read_text().split()
    (root / "embedding_ids.txt").write_text("".join(f"nsd{int(i) + 1:05d}\n" for i in ids))
    return _targets_cli(root, tmp, image_ids=str(root / "embedding_ids.txt")), root / "embeddings.npy"


def cli_layout_unknown(tmp):
    root = _simple(tmp)
    np.save(tmp / "emb.npy", np.zeros((4, 3), np.float32))
    (tmp / "ids.txt").write_text("3\n5\n8\n13\n")
    return (
        _targets_cli(
            root, tmp, image=str(tmp / "emb.npy"), image_ids=str(tmp / "ids.txt"), params=json.dumps({"layout": "nsd"})
        ),
        "layout",
    )


def _workflow(data: Path, **section):
    from neuromodels.decoding.workflow import DecodingWorkflow

    base = {
        "data": str(data),
        "subjects": [],
        "heldout": "subj05",
        "simulate": {},
        "n_train": [],
        "targets": {"encoder_seed": 0},
        "layout": "auto",
        "release": {},
    }
    return lambda: DecodingWorkflow({**base, **section}, "tiny", [0])


def workflow_heldout_missing(tmp):
    root = _release(tmp)
    return _workflow(root), "decoding.heldout"


def workflow_no_subjects(tmp):
    (tmp / "empty").mkdir()
    return _workflow(tmp / "empty"), "decoding.data"


CASES = {
    "stimuli file is not HDF5": (stimuli_not_hdf5, "not a readable HDF5"),
    "duplicate stimulus ids": (stimuli_duplicate_ids, "duplicate"),
    "images of the wrong shape": (stimuli_images_wrong_shape, r"\(n, 3, H, W\)"),
    "truncated betas.h5": (betas_truncated, "not a readable HDF5"),
    "betas voxel count differs from the mask": (betas_voxels_differ_from_mask, "voxel columns but the mask"),
    "NaN betas inside the mask": (betas_nan_in_mask, "NaN or infinite"),
    "NIfTI betas with another affine": (nifti_affine_differs, "affine differs"),
    "truncated NIfTI betas": (nifti_truncated, "could not be read|not a readable NIfTI"),
    "4D mask": (mask_4d, "mask must be 3D"),
    "trials.csv without repeat": (trials_missing_column, "missing column.*repeat"),
    "trial of an unknown stimulus": (trials_unknown_id, r"not in the stimuli file, e\.g\. \[99\]"),
    "string ids against integer ids": (string_ids_mismatched, "integers, the stimuli file's are strings"),
    "same repeat number twice": (trials_one_repeat_twice, "same repeat number twice"),
    "test id unknown": (split_ids_unknown, r"1 test id\(s\) not in the stimuli"),
    "id list with duplicates": (id_list_duplicates, "duplicate"),
    "unknown test split": (split_kind_unknown, "must be one of shared, file, fraction"),
    "embedding ids fewer than rows": (embedding_ids_count, "3 stimulus ids but 4"),
    "embedding file not .npy": (embedding_not_npy, "not a readable .npy"),
    "design without sharedix": (release_design_missing_variable, "missing variable.*sharedix"),
    "design with 0-based ids": (release_design_zero_based, "1-based"),
    "design not a .mat file (CLI)": (release_design_not_mat, "not a readable .mat"),
    "release betas in X, Y, Z, trials order": (release_betas_in_nifti_order, r"\(trials, Z, Y, X\)"),
    "release brick without imgBrick (CLI)": (release_brick_missing, "no dataset 'imgBrick'"),
    "release session missing in the middle": (release_session_gap, "without gaps"),
    "release ROI on another grid": (release_roi_grid_differs, "must be \\(trials, Z, Y, X\\)"),
    "release betas truncated": (release_betas_truncated, "not a readable HDF5"),
    "embedding ids named differently (CLI)": (release_embedding_ids_strings, "no target embedding|not in"),
    "unknown layout (CLI)": (cli_layout_unknown, "is not one of"),
    "held-out subject not in the data (DAG)": (workflow_heldout_missing, "subj05 is not among the subjects"),
    "data folder without subjects (DAG)": (workflow_no_subjects, "no subject found"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line(tmp_path: Path, case: str, capsys) -> None:
    setup, message = CASES[case]
    run, named = setup(tmp_path)
    assert_one_error_line(run, named, message, capsys)
