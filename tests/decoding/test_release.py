"""NSD's own release read as it is published, from a small fixture written here in that exact layout.

The fixture is written by a generator of its own (not the project's simulator): each image of the brick is
rendered from planted attributes (colour blobs whose positions, sizes and hues are the attributes), each voxel
responds to the attributes through its own weights plus noise, in percent signal change, stored as NSD stores
it (int16 x 300, MATLAB's X x Y x Z x trials order as h5py reads it, nsdgeneral with -1/0/1); the design file
follows NSD's (1-based masterordering into each subject's 10k list, subjectim, sharedix; the shared images
come first in every subject's list). The user-supplied targets are a fixed nonlinear function of the attributes
(an .npy of embeddings with its ids in a .txt), standing for CLIP embeddings of the images, for the images shown in
the sessions written only (as a user's embeddings cover them: the release lacks sessions, so the design lists
images no trial shows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest

from neuromodels.decoding.data import (
    BETA_SCALE,
    RELEASE_BETAS,
    RELEASE_EXPDESIGN,
    RELEASE_ROI,
    RELEASE_STIMULI,
    NSDRelease,
    choose_test_split,
    detect_layout,
    open_dataset,
)

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ReleaseSpec:
    """Sizes of a small release: NSD's structure, far fewer images, trials and voxels."""

    n_subjects: int = 3
    n_shared: int = 24  # NSD: 1000
    n_unique: int = 60  # images only one subject sees (NSD: 9000)
    n_unseen: int = 10  # brick images no subject sees (NSD: 73000 - 70566)
    repeats: int = 2  # NSD: 3
    trials_per_session: int = 42  # NSD: 750
    sessions: tuple = (4, 4, 3)  # per subject (NSD: 40 40 32 30 40 32 40 30); the last subject stops early
    grid: tuple = (10, 12, 9)  # X, Y, Z (NSD func1pt8mm subj01: 81 104 83)
    image_size: int = 32  # NSD: 425
    n_attributes: int = 6
    embed_dim: int = 32
    snr: float = 1.0
    betas_format: str = "hdf5"  # or "nifti" (betas_sessionNN.nii.gz), or "mixed"


def _render(attrs: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, size, size, 3): two colour blobs per image placed, sized and coloured by the attributes."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.zeros((len(attrs), size, size, 3))
    for i, a in enumerate(np.tanh(attrs)):
        for b in range(2):
            cx, cy = 0.5 + 0.35 * a[(2 * b) % len(a)], 0.5 + 0.35 * a[(2 * b + 1) % len(a)]
            r = 0.12 + 0.06 * (a[(b + 4) % len(a)] + 1)
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            hue = 0.5 + 0.5 * np.array([a[(b + 1) % len(a)], a[(b + 3) % len(a)], -a[(b + 5) % len(a)]])
            out[i] += blob[..., None] * hue
    return np.clip(out * 200 + 20, 0, 255).astype(np.uint8)


def write_release(root: str | Path, spec: ReleaseSpec | None = None, seed: int = 0) -> dict:
    """Write a small data set in NSD's release layout under ``root``; return what was planted."""
    spec = spec or ReleaseSpec()
    import scipy.io

    root = Path(root)
    rng = np.random.default_rng(seed)
    n_images = spec.n_shared + spec.n_subjects * spec.n_unique + spec.n_unseen
    attrs = rng.standard_normal((n_images, spec.n_attributes))
    # the brick (73k ids are its rows, 0-based here, 1-based in the design file)
    brick_path = root / RELEASE_STIMULI
    brick_path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(brick_path, "w") as f:
        f.create_dataset(
            "imgBrick", data=_render(attrs, spec.image_size), chunks=(1, spec.image_size, spec.image_size, 3)
        )
    # the design: the shared images come first in every subject's list, then its own
    perm = rng.permutation(n_images)
    shared = np.sort(perm[: spec.n_shared])
    own = [
        np.sort(perm[spec.n_shared + s * spec.n_unique : spec.n_shared + (s + 1) * spec.n_unique])
        for s in range(spec.n_subjects)
    ]
    subjectim = np.stack([np.concatenate([shared, o]) for o in own]) + 1  # 1-based 73k ids
    per_subject = subjectim.shape[1]
    # trial order through the 10k list (1-based): each image `repeats` times; the first few shared images
    # only at the very end, so a subject that stops early never sees them (as in NSD)
    late = np.arange(min(3, spec.n_shared))
    rest = np.setdiff1d(np.arange(per_subject), late)
    master = (
        np.concatenate(
            [rng.permutation(rest) for _ in range(spec.repeats)] + [rng.permutation(np.repeat(late, spec.repeats))]
        )
        + 1
    )
    total = max(spec.sessions) * spec.trials_per_session
    assert total == len(master), f"the sessions hold {total} trials, the design {len(master)}"
    design_path = root / RELEASE_EXPDESIGN
    design_path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(
        design_path,
        {
            "masterordering": master[None, :].astype(np.float64),
            "subjectim": subjectim.astype(np.float64),
            "sharedix": (shared + 1)[None, :].astype(np.float64),
            "basiccnt": np.zeros((3, 40)),
        },
    )
    # targets: a fixed nonlinear map of the attributes, as .npy with ids in a .txt (the subjects' images only)
    w1 = rng.standard_normal((spec.n_attributes, 4 * spec.embed_dim)) / np.sqrt(spec.n_attributes)
    w2 = rng.standard_normal((4 * spec.embed_dim, spec.embed_dim)) / np.sqrt(4 * spec.embed_dim)
    emb = (np.tanh(attrs @ w1) @ w2).astype(np.float32)
    # the images shown in the sessions written (a subject with fewer sessions never sees part of its list)
    shown = np.unique(
        np.concatenate(
            [(subjectim[s] - 1)[master[: n * spec.trials_per_session] - 1] for s, n in enumerate(spec.sessions)]
        )
    )
    np.save(root / "embeddings.npy", emb[shown])
    (root / "embedding_ids.txt").write_text("".join(f"{i}\n" for i in shown))
    # subjects
    affine = np.diag([1.8, 1.8, 1.8, 1.0])
    affine[:3, 3] = [-80.0, -100.0, -60.0]
    planted: dict = {
        "shared": shared,
        "subjectim0": subjectim - 1,
        "masterordering0": master - 1,
        "shown": shown,
        "subjects": {},
    }
    for s in range(spec.n_subjects):
        subject = f"subj{s + 1:02d}"
        brain = np.zeros(spec.grid, bool)
        X, Y, Z = spec.grid
        brain[1 : X - 1, 1 : Y - 1, 1 : Z - 1] = True
        roi = np.zeros(spec.grid, bool)
        roi[2 + s % 2 : X - 2, 3 : Y - 2, 2 : Z - 2 - s % 2] = True  # masks differ between subjects
        nsdgeneral = np.where(brain, 0, -1).astype(np.int16)
        nsdgeneral[roi] = 1
        roi_path = root / RELEASE_ROI.format(subject=subject, space="func1pt8mm", roi="nsdgeneral")
        roi_path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(nsdgeneral, affine), str(roi_path))
        n_vox = int(brain.sum())
        weights = rng.standard_normal((spec.n_attributes, n_vox)) / np.sqrt(spec.n_attributes)
        folder = root / RELEASE_BETAS.format(subject=subject, space="func1pt8mm", betas="betas_fithrf_GLMdenoise_RR")
        folder.mkdir(parents=True, exist_ok=True)
        n_trials = spec.sessions[s] * spec.trials_per_session
        ids = (subjectim[s] - 1)[master[:n_trials] - 1]
        signal = np.tanh(attrs[ids]) @ weights
        psc = signal * spec.snr + rng.standard_normal(signal.shape)
        psc += rng.normal(0, 2.0, (spec.sessions[s], n_vox)).repeat(spec.trials_per_session, axis=0)  # drift
        scaled = np.clip(np.round(psc * BETA_SCALE), -32768, 32767).astype(np.int16)
        fmt = spec.betas_format if spec.betas_format != "mixed" else ("hdf5", "nifti")[s % 2]
        for k in range(spec.sessions[s]):
            rows = slice(k * spec.trials_per_session, (k + 1) * spec.trials_per_session)
            vol = np.zeros((*spec.grid, spec.trials_per_session), np.int16)  # X, Y, Z, trials (zero outside brain)
            vol[brain] = scaled[rows].T
            if fmt == "hdf5":
                with h5py.File(folder / f"betas_session{k + 1:02d}.hdf5", "w") as f:
                    # MATLAB wrote X x Y x Z x trials column-major: h5py reads (trials, Z, Y, X)
                    f.create_dataset("betas", data=vol.transpose(3, 2, 1, 0), chunks=(spec.trials_per_session, 1, 1, 1))
            else:
                nib.save(nib.Nifti1Image(vol, affine), str(folder / f"betas_session{k + 1:02d}.nii.gz"))
        planted["subjects"][subject] = {"roi": roi, "brain": brain, "psc": psc, "ids": ids, "affine": affine}
    return planted


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("nsd_release")
    return root, write_release(root, ReleaseSpec(betas_format="mixed"))


def test_release_layout_is_detected_and_read_as_published(release):
    root, planted = release
    assert detect_layout(root) == "nsd_release"
    ds = open_dataset(root)
    assert isinstance(ds, NSDRelease) and ds.subjects == ["subj01", "subj02", "subj03"]
    for subject, truth in planted["subjects"].items():
        # trials from the design: trial t showed subjectim[s, masterordering[t] - 1] - 1 (0-based brick rows)
        trials = ds.trials(subject)
        assert np.array_equal(trials["stimulus_id"].to_numpy(), truth["ids"])
        assert trials["session"].iloc[-1] == len(trials) // 42
        data = ds.read_subject(subject, zscore=False)
        # nsdgeneral: only value 1 is the ROI (-1 outside the brain, 0 elsewhere)
        assert np.array_equal(data.mask, truth["roi"])
        assert np.allclose(data.affine, truth["affine"])
        # betas in percent signal change: int16 / 300, voxels in the mask's C order, whichever file format
        expected = truth["psc"][:, truth["roi"][truth["brain"]]]
        assert np.max(np.abs(data.betas - expected)) <= 0.5 / BETA_SCALE + 1e-6
        assert data.n_voxels == int(truth["roi"].sum())
        # repeats: each image's trials, in trial order
        sid = truth["ids"][0]
        assert np.array_equal(data.repeats(sid), np.flatnonzero(truth["ids"] == sid))
        z = ds.read_subject(subject)
        assert np.allclose(z.betas[:42].mean(0), 0, atol=1e-4)  # z-scored per session


def test_release_images_and_target_ids(release):
    root, planted = release
    ds = open_dataset(root, "nsd_release")
    images, ids = ds.images([5, 2])
    with h5py.File(root / RELEASE_STIMULI) as f:
        assert np.array_equal(images, f["imgBrick"][[2, 5]][::-1])  # rows of imgBrick, channels last as published
    assert ids.tolist() == [5, 2]
    assert np.array_equal(ds.target_ids(), planted["shown"])  # the images shown, not the whole brick


def test_targets_cover_the_images_shown_when_the_release_lacks_sessions(tmp_path):
    """NSD's public release lacks sessions: a subject with one of its four sessions never sees most of its
    design list. The targets need embeddings for the images shown in the sessions present only (the user's
    file has no others), the design's unshown images are counted, and the subjects load with them."""
    from neuromodels.decoding.targets import make_targets
    from neuromodels.decoding.train import DecodingData

    planted = write_release(tmp_path, ReleaseSpec(sessions=(4, 4, 1)))
    design = np.unique(planted["subjectim0"])
    assert len(np.setdiff1d(design, planted["shown"])) > 20  # subj03 saw 42 of its 84 images' trials
    ds = open_dataset(tmp_path)
    assert np.array_equal(ds.target_ids(), planted["shown"])
    assert ds.notes["design_images_not_shown"] == len(np.setdiff1d(design, planted["shown"]))
    targets = make_targets(
        tmp_path, image=str(tmp_path / "embeddings.npy"), ids_path=str(tmp_path / "embedding_ids.txt")
    )
    assert np.array_equal(targets.stimulus_id, planted["shown"])
    data = DecodingData(tmp_path, targets, ["subj01", "subj02", "subj03"])
    assert set(data.train_ids["subj03"]) <= set(planted["shown"]) and len(data.test_ids) > 0


def test_release_shared_split_is_sharedix_seen_by_every_subject(release, caplog):
    root, planted = release
    ds = open_dataset(root)
    split = choose_test_split(ds, "shared")
    seen3 = set(planted["subjects"]["subj03"]["ids"].tolist())  # the subject that stopped after 3 sessions
    expected = [i for i in planted["shared"] if i in seen3]
    assert split.ids.tolist() == expected
    d = split.describe()
    assert d["test_split"] == "shared" and d["n_test"] == len(expected)
    assert d["shared_listed"] == len(planted["shared"])
    assert d["not_seen_by_all"] == len(planted["shared"]) - len(expected) > 0
    assert "sharedix" in d["source"]


def test_release_fraction_and_file_splits(release, tmp_path):
    root, planted = release
    ds = open_dataset(root)
    shared = choose_test_split(ds, "shared").ids
    a = choose_test_split(ds, "fraction", fraction=0.25, seed=3)
    b = choose_test_split(ds, "fraction", fraction=0.25, seed=3)
    c = choose_test_split(ds, "fraction", fraction=0.25, seed=4)
    assert np.array_equal(a.ids, b.ids) and not np.array_equal(a.ids, c.ids)
    assert len(a.ids) == round(0.25 * len(shared)) and set(a.ids) <= set(shared)
    # a file of ids: .txt, .csv, .npy and HDF5 give the same split; ids not seen by all are left out, counted
    unseen_by_3 = [i for i in planted["shared"] if i not in set(shared)]
    listed = np.array(list(shared[:5]) + unseen_by_3[:1])
    (tmp_path / "t.txt").write_text("\n".join(str(i) for i in listed) + "\n")
    (tmp_path / "t.csv").write_text("stimulus_id\n" + "\n".join(str(i) for i in listed) + "\n")
    np.save(tmp_path / "t.npy", listed)
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["stimulus_id"] = listed
    for name in ("t.txt", "t.csv", "t.npy", "t.h5"):
        split = choose_test_split(ds, "file", file=str(tmp_path / name))
        assert split.ids.tolist() == sorted(shared[:5].tolist())
        assert split.detail["not_seen_by_all"] == len(unseen_by_3[:1]) and split.detail["listed"] == len(listed)


# ------------------------------------------------------------------------------------------------ DAG
def _snakemake(work: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--profile",
            str(REPO / "workflow/profiles/default"),
            "--cores",
            "1",
            *args,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def release_config(root: Path, path: Path, **extra) -> Path:
    """A config file pointing the decoding family at a release (nested keys go through --configfile)."""
    import yaml

    section = {
        "data": str(root),
        "heldout": "subj03",
        "targets": {
            "image": str(root / "embeddings.npy"),
            "image_ids": str(root / "embedding_ids.txt"),
            "text": "none",
        },
        **extra,
    }
    path.write_text(yaml.safe_dump({"decoding": section}))
    return path


def dry_run(work: Path, config: Path) -> dict[str, list]:
    """``snakemake -n`` of the decoding target: {rule: [(first output, [inputs]) of each job]}, and the shell
    commands under the key ``"shell"``."""
    run = _snakemake(work, "decoding", "-n", "--configfile", str(config), "--config", "preset=tiny", "device=cpu")
    assert run.returncode == 0, run.stderr[-3000:]
    jobs: dict[str, list] = {"shell": []}
    rule, inputs = None, []
    for line in (run.stdout + run.stderr).splitlines():
        line = line.strip()
        if line.startswith("rule ") and line.endswith(":"):
            rule, inputs = line[5:-1], []
        elif line.startswith("input:"):
            inputs = [x.strip() for x in line[6:].split(",")]
        elif line.startswith("output:") and rule:
            jobs.setdefault(rule, []).append((line[7:].split(",")[0].strip(), inputs))
        elif line.startswith("Shell command:"):
            jobs["shell"].append(line)
    return jobs


def test_dry_run_jobs_read_their_data_files_and_not_the_list_of_sizes(release, tmp_path):
    """Each job's inputs are the data files it reads (so a changed file reruns exactly those jobs), and no
    job's --params holds the list of sizes or methods (so a new size runs only its own jobs)."""
    root, _ = release
    work = tmp_path / "work"
    work.mkdir()
    jobs = dry_run(work, release_config(root, tmp_path / "release.yaml"))
    # the held-out subject: one job per size (every method in it), the source baselines one job per source subject
    # (the joint model is compared with single-subject models on each); only the smallest size is drawn several times
    assert len(jobs["decoding_adapt"]) == 2 and len(jobs["decoding_train"]) == 2 and len(jobs["decoding_source"]) == 2
    params = [cmd for cmd in jobs["shell"] if "--params" in cmd]
    assert params and all(
        '"n_train"' not in c and '"methods"' not in c and '"source_baselines"' not in c and '"draws"' not in c
        for c in params
    )
    drawn = [c for c in jobs["shell"] if "decoding adapt" in c and "--role heldout" in c and "--draws 3" in c]
    assert len(drawn) == 1 and "--n-train 25 " in drawn[0]
    design = str(root / RELEASE_EXPDESIGN)

    def reads(inputs, subject):
        return any(f"/ppdata/{subject}/" in x for x in inputs)

    for rule, entries in jobs.items():
        for out, inputs in entries if rule != "shell" else []:
            if rule in ("decoding_train", "decoding_adapt", "decoding_source", "decoding_targets"):
                assert design in inputs, (rule, out)
            if rule == "decoding_train":  # the joint models read the source subjects only
                assert reads(inputs, "subj01") and reads(inputs, "subj02") and not reads(inputs, "subj03")
            if rule == "decoding_source":
                subject = out.split("/")[4]
                assert reads(inputs, subject) and not reads(inputs, "subj03")
            if rule == "decoding_adapt":  # the held-out subject's betas; the sources' for reset-tuning
                assert reads(inputs, "subj03") and reads(inputs, "subj01"), out
            if rule == "decoding_targets":
                assert str(root / "embeddings.npy") in inputs and str(root / "embedding_ids.txt") in inputs
                assert not reads(inputs, "subj01")
    session_files = [x for _, inp in jobs["decoding_adapt"] for x in inp if "betas_session" in x]
    assert any(x.endswith(".hdf5") for x in session_files) and any(x.endswith(".nii.gz") for x in session_files)


# a whole family DAG of its own (one to two minutes): CI keeps one tiny end-to-end run, `make test-all` runs this
@pytest.mark.slow
def test_tiny_dag_runs_on_the_release_without_hand_edits(release, tmp_path):
    root, planted = release
    work = tmp_path / "work"
    work.mkdir()
    cfg = release_config(root, tmp_path / "release.yaml")
    t0 = time.perf_counter()
    run = _snakemake(work, "decoding", "--configfile", str(cfg), "--config", "preset=tiny", "device=cpu")
    seconds = time.perf_counter() - t0
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((work / "results/decoding/summary.json").read_text())
    split = summary["notes"]["test_split"]
    expected = choose_test_split(open_dataset(root))
    assert split["test_split"] == "shared" and split["n_test"] == len(expected.ids) < len(planted["shared"])
    files = [json.loads(p.read_text()) for p in (work / "results/decoding/heldout").rglob("metrics.json")]
    records = [r for f in files for r in f.get("records", [f])]  # the drawn size: one record per draw
    assert len(records) == len(files) + 2 * len([f for f in files if "records" in f]) > len(files)
    assert records and all(r["test_split"] == "shared" and r["n_test"] == split["n_test"] for r in records)
    # the planted attributes are decodable from these betas: ridge on the new subject beats chance
    ridge = [r for r in records if r["method"] == "ridge" and r["n_train_arg"] == "all"]
    assert ridge and ridge[0]["image_top1_image"] > 4 * ridge[0]["chance_top1"]
    # after the run (params and inputs recorded), what a change reruns: a new size only its own job
    more = dry_run(work, release_config(root, tmp_path / "more.yaml", n_train=[25, 40, "all"]))
    assert set(more) == {"shell", "decoding_adapt", "decoding_report"}
    assert len(more["decoding_adapt"]) == 1 and all("/n40/" in out for out, _ in more["decoding_adapt"])
    # a changed betas file of the held-out subject: its two jobs, not the joint models, sources or targets
    # (the content changes: Snakemake keeps a small input's checksum and ignores a mere touch)
    folder = root / RELEASE_BETAS.format(subject="subj03", space="func1pt8mm", betas="betas_fithrf_GLMdenoise_RR")
    session = sorted(folder.iterdir())[-1]
    with h5py.File(session, "a") as f:
        f["betas"][0, 0, 0, 0] = f["betas"][0, 0, 0, 0] + 1
    changed = dry_run(work, cfg)
    assert set(changed) == {"shell", "decoding_adapt", "decoding_report"}
    assert len(changed["decoding_adapt"]) == 2
    # the design (trial order, shared images) is read by every job
    import scipy.io

    mat = scipy.io.loadmat(str(root / RELEASE_EXPDESIGN))
    scipy.io.savemat(str(root / RELEASE_EXPDESIGN), {k: mat[k] for k in ("masterordering", "subjectim", "sharedix")})
    design = dry_run(work, cfg)
    assert {r: len(v) for r, v in design.items() if r.startswith("decoding_")} == {
        "decoding_targets": 1,
        "decoding_train": 2,
        "decoding_source": 2,
        "decoding_adapt": 2,
        "decoding_report": 1,
    }
    print(
        f"tiny decoding DAG on the release fixture: {seconds:.0f} s; ridge top-1 "
        f"{ridge[0]['image_top1_image']:.2f} (chance {ridge[0]['chance_top1']:.2f}); {split}"
    )


def test_job_inputs_list_the_simple_layout_files_and_the_test_id_list(tmp_path):
    """The rules' input lists without Snakemake: a simple-layout subject's mask, trials and betas, every trial
    table (the split reads them) and a test id list when the split is a file."""
    import pandas as pd

    from neuromodels.decoding.data import write_stimuli, write_subject
    from neuromodels.decoding.workflow import DecodingWorkflow

    write_stimuli(tmp_path, np.arange(4), np.zeros((4, 3, 2, 2), np.uint8))
    trials = pd.DataFrame({"trial": range(4), "session": [1, 1, 2, 2], "stimulus_id": range(4), "repeat": 0})
    for s, fmt in (("subj01", "hdf5"), ("subj02", "nifti")):
        write_subject(tmp_path, s, np.ones((2, 2, 2), bool), np.eye(4), np.zeros((4, 8)), trials, betas_format=fmt)
    (tmp_path / "test.txt").write_text("0\n1\n")
    section = {
        "data": str(tmp_path),
        "subjects": [],
        "heldout": "subj02",
        "simulate": {},
        "n_train": [],
        "targets": {"encoder_seed": 0, "image": "clip", "text": "minilm"},
        "layout": "auto",
        "release": {},
        "test_ids": str(tmp_path / "test.txt"),
    }
    wf = DecodingWorkflow(section, "tiny", [0])
    assert wf.subjects == ["subj01", "subj02"] and wf.sources == ["subj01"]
    train = wf.train_inputs()
    assert str(tmp_path / "test.txt") in train and str(tmp_path / "subj02" / "trials.csv") in train
    assert str(tmp_path / "subj01" / "betas.h5") in train and not any("betas_session" in x for x in train)
    held = wf.source_inputs(type("W", (), {"subject": "subj02"})())
    assert [Path(x).name for x in held if "betas" in x] == ["betas_session01.nii.gz", "betas_session02.nii.gz"]
    assert str(tmp_path / "captions.csv") in wf.target_inputs() and str(tmp_path / "stimuli.h5") in wf.target_inputs()
