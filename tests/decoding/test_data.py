"""The NSD-style reader: exact round-trips of what the writer/simulator wrote, planted truth recovered from the
files, and malformed input refused with errors that name the file and the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from neuromodels.core.errors import DataError
from neuromodels.decoding.data import (
    list_subjects,
    read_images,
    read_stimulus_ids,
    read_subject,
    shared_ids,
    write_stimuli,
    write_subject,
    zscore_sessions,
)
from neuromodels.decoding.simulate import read_ground_truth

from .conftest import SMALL


def _subject_arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((5, 6, 4), bool)
    mask[1:4, 2:5, 1:3] = True
    mask[0, 0, 0] = True
    affine = np.diag([2.0, 2.5, 3.0, 1.0])
    affine[:3, 3] = [-10, -20, 4]
    trials = pd.DataFrame(
        {"trial": np.arange(12), "session": np.repeat([1, 2, 3], 4), "stimulus_id": np.tile([7, 19, 501, 7], 3)}
    )
    trials["repeat"] = trials.groupby("stimulus_id").cumcount()
    betas = rng.standard_normal((12, int(mask.sum()))).astype(np.float32)
    return mask, affine, betas, trials


@pytest.mark.parametrize("fmt", ["hdf5", "nifti"])
def test_writer_reader_round_trip_is_exact(tmp_path, fmt):
    mask, affine, betas, trials = _subject_arrays()
    ids = np.array([7, 19, 501, 72999])
    images = np.random.default_rng(1).integers(0, 256, (4, 3, 6, 5), dtype=np.uint8)
    write_stimuli(tmp_path, ids, images, ["a", "b", "c", "d"])
    write_subject(tmp_path, "subj01", mask, affine, betas, trials, betas_format=fmt)
    back = read_subject(tmp_path, "subj01", zscore=False)
    assert np.array_equal(back.mask, mask)
    assert np.allclose(back.affine, affine)
    assert np.array_equal(back.betas, betas)
    pd.testing.assert_frame_equal(back.trials, trials)
    assert back.stimulus_ids.tolist() == [7, 19, 501]
    assert np.array_equal(back.repeats(7), [0, 3, 4, 7, 8, 11])
    np.testing.assert_allclose(back.average_repeats([19]), betas[[1, 5, 9]].mean(0, keepdims=True), rtol=1e-6)
    # images come back by id, in the asked order, channels last
    got, got_ids = read_images(tmp_path / "stimuli.h5", [501, 7])
    assert np.array_equal(got, images[[2, 0]].transpose(0, 2, 3, 1)) and got_ids.tolist() == [501, 7]
    zs = read_subject(tmp_path, "subj01")
    assert np.allclose(zs.betas, zscore_sessions(betas, trials["session"].to_numpy()))


def test_zscore_per_session():
    rng = np.random.default_rng(0)
    x = rng.normal(5, 3, (40, 7))
    sessions = np.repeat([1, 2], 20)
    x[20:] = x[20:] * 4 - 9
    z = zscore_sessions(x, sessions)
    for s in (1, 2):
        assert np.allclose(z[sessions == s].mean(0), 0, atol=1e-5)
        assert np.allclose(z[sessions == s].std(0), 1, atol=1e-5)


def test_simulated_dataset_reads_back_with_its_planted_truth(small_dataset):
    truth = json.loads((small_dataset / "truth.json").read_text())
    gt = read_ground_truth(small_dataset)
    subjects = list_subjects(small_dataset)
    assert subjects == ["subj01", "subj02", "subj03", "subj04"]
    data = [read_subject(small_dataset, s) for s in subjects]
    counts = [d.n_voxels for d in data]
    assert counts == [truth["subjects"][s]["n_voxels"] for s in subjects]
    assert len(set(counts)) == len(counts)  # masks differ between subjects
    # both formats were written and read
    assert {truth["subjects"][s]["betas_format"] for s in subjects} == {"hdf5", "nifti"}
    # the test set is exactly the planted shared stimuli; every stimulus was shown `repeats` times
    assert np.array_equal(shared_ids(data), np.sort(truth["test_ids"]))
    for d in data:
        assert (d.trials.groupby("stimulus_id").size() == SMALL.repeats).all()
        assert set(d.trials["stimulus_id"]) <= set(read_stimulus_ids(small_dataset / "stimuli.h5").tolist())
    # planted single-trial reliability recovered from the repeats (signal variance / total variance)
    for d, s in zip(data, subjects):
        ids = d.stimulus_ids
        reps = np.stack([d.betas[d.repeats(i)] for i in ids])  # (stimuli, repeats, voxels)
        noise = reps.var(axis=1, ddof=1).mean(axis=0)
        total = d.betas.var(axis=0)
        est = 1 - noise / total
        planted = gt[f"{s}_reliability"]
        assert np.corrcoef(est, planted)[0, 1] > 0.8
        assert abs(est.mean() - planted.mean()) < 0.06


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _nifti_subject(root: Path) -> str:
    truth = json.loads((root / "truth.json").read_text())
    return next(s for s, v in truth["subjects"].items() if v["betas_format"] == "nifti")


def _h5_subject(root: Path) -> str:
    truth = json.loads((root / "truth.json").read_text())
    return next(s for s, v in truth["subjects"].items() if v["betas_format"] == "hdf5")


def test_refuses_betas_on_another_grid(small_dataset, tmp_path):
    root = _copy(small_dataset, tmp_path / "d")
    s = _nifti_subject(root)
    f = root / s / "betas_session01.nii.gz"
    img = nib.load(f)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:-1], img.affine), f)
    with pytest.raises(DataError, match=r"betas_session01.nii.gz: betas grid .* differs from the mask grid"):
        read_subject(root, s)


def test_refuses_betas_with_another_affine(small_dataset, tmp_path):
    root = _copy(small_dataset, tmp_path / "d")
    s = _nifti_subject(root)
    f = root / s / "betas_session02.nii.gz"
    img = nib.load(f)
    affine = img.affine.copy()
    affine[0, 3] += 3.0
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine), f)
    with pytest.raises(DataError, match=r"betas_session02.nii.gz: betas' affine differs from the mask's affine"):
        read_subject(root, s)


@pytest.mark.parametrize("fmt", ["nifti", "hdf5"])
def test_refuses_nan_inside_the_mask(small_dataset, tmp_path, fmt):
    root = _copy(small_dataset, tmp_path / "d")
    if fmt == "nifti":
        s = _nifti_subject(root)
        f = root / s / "betas_session01.nii.gz"
        img = nib.load(f)
        data = np.asarray(img.dataobj).copy()
        mask = np.asarray(nib.load(root / s / "nsdgeneral.nii.gz").dataobj) > 0
        ijk = np.argwhere(mask)[3]
        data[tuple(ijk)][2] = np.nan
        data[0, 0, 0, 0] = np.nan if not mask[0, 0, 0] else data[0, 0, 0, 0]  # outside the mask: allowed
        nib.save(nib.Nifti1Image(data, img.affine), f)
    else:
        s = _h5_subject(root)
        f = root / s / "betas.h5"
        with h5py.File(f, "r+") as h:
            h["betas"][5, 3] = np.nan
    with pytest.raises(DataError, match=r"1 voxel\(s\) inside the mask hold NaN"):
        read_subject(root, s)


def test_refuses_unknown_stimulus_ids(small_dataset, tmp_path):
    root = _copy(small_dataset, tmp_path / "d")
    f = root / "subj01" / "trials.csv"
    t = pd.read_csv(f)
    t.loc[4, "stimulus_id"] = 73001
    t.to_csv(f, index=False)
    with pytest.raises(DataError, match=r"trials.csv: 1 stimulus id\(s\) not in the stimuli file, e.g. \[73001\]"):
        read_subject(root, "subj01")


def test_refuses_voxel_count_mismatch_and_bad_tables(small_dataset, tmp_path):
    root = _copy(small_dataset, tmp_path / "d")
    s = _h5_subject(root)
    with h5py.File(root / s / "betas.h5", "r+") as h:
        b = h["betas"][()]
        del h["betas"]
        h.create_dataset("betas", data=b[:, :-2])
    with pytest.raises(DataError, match=r"betas.h5: 'betas' has \d+ voxel columns but the mask selects \d+ voxels"):
        read_subject(root, s)
    f = root / "subj02" / "trials.csv"
    pd.read_csv(f).drop(columns=["repeat"]).to_csv(f, index=False)
    with pytest.raises(DataError, match=r"trials.csv: missing column\(s\) repeat"):
        read_subject(root, "subj02")
    (root / "subj03" / "betas.h5").unlink(missing_ok=True)
    for p in (root / "subj03").glob("betas_session*"):
        p.unlink()
    with pytest.raises(DataError, match=r"subj03: no betas"):
        read_subject(root, "subj03")
    with pytest.raises(DataError, match=r"subject folder not found"):
        read_subject(root, "subj09")


def test_refuses_empty_mask_and_bad_stimuli(small_dataset, tmp_path):
    root = _copy(small_dataset, tmp_path / "d")
    m = root / "subj01" / "nsdgeneral.nii.gz"
    img = nib.load(m)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.uint8), img.affine), m)
    with pytest.raises(DataError, match=r"nsdgeneral.nii.gz: mask selects no voxel"):
        read_subject(root, "subj01")
    with h5py.File(root / "stimuli.h5", "r+") as h:
        del h["images"]
    with pytest.raises(DataError, match=r"stimuli.h5: no dataset 'images'"):
        read_stimulus_ids(root / "stimuli.h5")


def test_responses_are_driven_by_the_world_latents_not_by_any_network(small_dataset):
    """The simulator's signal is the documented function of the planted latents and mixing maps: recomputed
    from the ground truth alone it predicts each voxel's repeat-averaged betas (no network enters)."""
    from scipy.special import softplus

    gt = read_ground_truth(small_dataset)
    row = {int(s): i for i, s in enumerate(gt["stimulus_id"])}
    for s in list_subjects(small_dataset):
        d = read_subject(small_dataset, s)
        ids = d.stimulus_ids
        z = gt["latents"][[row[int(i)] for i in ids]]
        maps = gt[f"{s}_maps"].astype(np.float64)
        signal = softplus(1.5 * z @ maps / np.sqrt(maps.shape[0]))
        avg = d.average_repeats(ids)
        r = np.array([np.corrcoef(signal[:, v], avg[:, v])[0, 1] for v in range(d.n_voxels)])
        reliable = gt[f"{s}_reliability"] > 0.3
        assert np.median(r[reliable]) > 0.6, (s, np.median(r[reliable]))


def test_the_simulator_runs_with_no_network_importable(tmp_path):
    """No neural network (the pipeline's encoders, MiniLM, any Hugging Face model) can be imported while the
    data set is simulated from the real stimulus world, so no simulated response can come from one."""
    import subprocess
    import sys

    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("transformers", "sentence_transformers", "safetensors") or \\
                name.startswith("neuromodels.networks") or name.startswith("neuromodels.decoding.targets"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
from neuromodels.decoding.simulate import SimulationSettings, simulate_dataset
simulate_dataset({str(tmp_path / "nsd")!r}, SimulationSettings(n_subjects=2, n_test=6, n_train=10, n_pool=20,
                 grid=(8, 10, 8), voxel_mm=8.0, image_size=16), seed=0)
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "nsd" / "ground_truth.npz").is_file()


# ------------------------------------------------------------------------------------------------ string ids
def _string_id_set(root: Path) -> list[str]:
    """A simple-layout set whose ids are NSD-style names ('nsd00007', ...) in stimuli.h5, trials.csv and the
    user's embedding ids (.txt), two subjects sharing four stimuli."""
    mask, affine, _, _ = _subject_arrays()
    names = [f"nsd{i:05d}" for i in (7, 19, 501, 72999, 8, 9)]
    rng = np.random.default_rng(2)
    write_stimuli(root, np.array(names), rng.integers(0, 256, (6, 3, 4, 4), dtype=np.uint8), list("abcdef"))
    for s, own in (("subj01", names[4]), ("subj02", names[5])):
        seen = names[:4] + [own]
        trials = pd.DataFrame(
            {
                "trial": np.arange(10),
                "session": np.repeat([1, 2], 5),
                "stimulus_id": seen * 2,
                "repeat": np.repeat([0, 1], 5),
            }
        )
        write_subject(root, s, mask, affine, rng.standard_normal((10, int(mask.sum()))), trials)
    np.save(root / "emb.npy", rng.standard_normal((6, 5)).astype(np.float32))
    (root / "emb_ids.txt").write_text("\n".join(names) + "\n")
    return names


def test_string_ids_are_ids_everywhere(tmp_path):
    from neuromodels.decoding.data import choose_test_split, open_dataset, read_id_list
    from neuromodels.decoding.targets import make_targets, read_targets, write_targets
    from neuromodels.decoding.train import DecodingData

    names = _string_id_set(tmp_path)
    assert read_stimulus_ids(tmp_path / "stimuli.h5").tolist() == names  # strings kept, order kept
    data = read_subject(tmp_path, "subj01")
    assert data.stimulus_ids.tolist() == sorted(names[:5])
    assert np.array_equal(data.repeats("nsd00019"), [1, 6])
    # targets keyed by string ids from an .npy + ids .txt, written and read back exactly
    targets = make_targets(
        tmp_path, str(tmp_path / "emb.npy"), ids_path=str(tmp_path / "emb_ids.txt"), standardise=False
    )
    write_targets(tmp_path / "t.h5", targets)
    back = read_targets(tmp_path / "t.h5")
    assert back.stimulus_id.tolist() == names
    assert np.array_equal(back.take(["nsd00501"])["image"], np.load(tmp_path / "emb.npy")[[2]])
    # the test split of what both saw, and a file split in every id-list format
    split = choose_test_split(open_dataset(tmp_path), "shared")
    assert split.ids.tolist() == sorted(names[:4]) and split.describe()["n_test"] == 4
    (tmp_path / "test.csv").write_text("stimulus_id\nnsd00007\nnsd00019\n")
    assert read_id_list(tmp_path / "test.csv").tolist() == ["nsd00007", "nsd00019"]
    d = DecodingData(tmp_path, back, ["subj01", "subj02"], split={"kind": "file", "file": str(tmp_path / "test.csv")})
    assert d.test_ids.tolist() == ["nsd00007", "nsd00019"]
    assert d.train_ids["subj01"].tolist() == sorted([names[2], names[3], names[4]])


def test_integer_like_strings_are_integers_and_mixed_kinds_are_refused(tmp_path):
    from neuromodels.core.errors import DataError
    from neuromodels.decoding.data import canonical_ids, read_id_list

    assert canonical_ids(np.array(["007", "19", " 501 "])).tolist() == [7, 19, 501]
    assert canonical_ids(np.array([b"nsd1", b"nsd2"])).tolist() == ["nsd1", "nsd2"]
    assert canonical_ids(np.array([[3.0], [4.0]])).tolist() == [3, 4]
    with pytest.raises(DataError, match="non-integer"):
        canonical_ids(np.array([1.5, 2.0]))
    (tmp_path / "ids.txt").write_text("# test ids\n3\n\n4\n")
    assert read_id_list(tmp_path / "ids.txt").tolist() == [3, 4]
    with h5py.File(tmp_path / "ids.h5", "w") as f:
        f.create_dataset("stimulus_id", data=np.array(["a1", "b2"], dtype=object), dtype=h5py.string_dtype())
    assert read_id_list(tmp_path / "ids.h5").tolist() == ["a1", "b2"]


def test_stimuli_without_ids_are_numbered_with_a_logged_count(tmp_path, caplog, monkeypatch):
    import logging

    images = np.zeros((5, 3, 4, 4), np.uint8)
    with h5py.File(tmp_path / "stimuli.h5", "w") as f:
        f["images"] = images
    monkeypatch.setattr(logging.getLogger("neuromodels"), "propagate", True)  # the CLI's logging may have run
    report: dict = {}
    with caplog.at_level(logging.WARNING, logger="neuromodels"):
        ids = read_stimulus_ids(tmp_path / "stimuli.h5", report)
    assert ids.tolist() == [0, 1, 2, 3, 4] and report == {"stimuli_numbered_by_row": 5}
    assert any("no 'stimulus_id'" in r.getMessage() and "5 images" in r.getMessage() for r in caplog.records)


def test_the_issue_s_nsd_style_set_reads_without_renaming(tmp_path):
    """The set the issue describes, as the user had it: stimuli.hdf5 with string `stimulus_ids`, betas.hdf5,
    string ids in trials.csv, embeddings as .npy with the ids in a .txt."""
    from neuromodels.decoding.targets import make_targets
    from neuromodels.decoding.train import DecodingData

    names = _string_id_set(tmp_path)
    with h5py.File(tmp_path / "stimuli.h5") as f:
        images = f["images"][()]
    (tmp_path / "stimuli.h5").unlink()
    with h5py.File(tmp_path / "stimuli.hdf5", "w") as f:
        f["images"] = images.transpose(0, 2, 3, 1)  # channels last
        f.create_dataset("stimulus_ids", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    for s in ("subj01", "subj02"):
        (tmp_path / s / "betas.h5").rename(tmp_path / s / "betas.hdf5")
    targets = make_targets(tmp_path, str(tmp_path / "emb.npy"), ids_path=str(tmp_path / "emb_ids.txt"))
    data = DecodingData(tmp_path, targets, ["subj01", "subj02"])
    assert data.test_ids.tolist() == sorted(names[:4])
    assert data.subjects["subj02"].stimulus_ids.tolist() == sorted(names[:4] + [names[5]])
    got, _ = data.dataset.images(["nsd00501"])
    assert np.array_equal(got[0], images[2].transpose(1, 2, 0))
