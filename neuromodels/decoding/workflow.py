"""Helpers of the decoding rules (``workflow/rules/decoding.smk``): paths, subjects and input functions.

Plain Python without heavy imports, so Snakemake parses the workflow quickly.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from neuromodels.core.errors import ConfigError

# Learning-curve sizes per preset (scaled down from the paper's 250/500/1500/all; the captions say so). The
# default preset's curve had 200 too: its job paid for the draws below.
N_TRAIN_PRESET: dict[str, list[int | str]] = {
    "tiny": [25, "all"],
    "default": [25, 75, "all"],
    "full": [250, 500, 1500, "all"],
}
# Fits of every method at the smallest n of the learning curve (where the adaptation findings are read), each
# with its own training images and initialisation: with 100 test stimuli and one fit, differences of 2-3 trials
# between methods are draws, not findings (on the second generator one fit put reset-tuning 0.02 below scratch
# where ten paired draws put it 0.02 above, in 9 of 10). Other sizes are fitted once per seed.
DRAWS_PRESET: dict[str, int] = {"tiny": 3, "default": 3, "full": 3}
ADAPT_METHODS = (
    "mindbridge_reset",
    "mindbridge_reset_frozen",
    "mindbridge_finetune",
    "linear_adapter",
    "linear_finetune",
    "scratch",
    "ridge",
    "shuffled_stimuli",
)
# The joint model each held-out method starts from (None: none). ``shuffled_stimuli`` is the control of the
# adaptation claims: MindBridge's published reset-tuning run as is, with the new subject's training betas paired
# with the wrong images (a seeded derangement of the training pairs; the test pairs intact). The same method
# with the pairing broken, so whatever it retrieves comes from anything but the new subject's stimulus-response
# pairs (the shared model, the source subjects, the evaluation).
BASE_KIND: dict[str, str | None] = {
    "mindbridge_reset": "mindbridge",
    "mindbridge_reset_frozen": "mindbridge",
    "mindbridge_finetune": "mindbridge",
    "linear_adapter": "linear",
    "linear_finetune": "linear",
    "scratch": None,
    "ridge": None,
    "shuffled_stimuli": "mindbridge",
}
# Methods that train the source subjects beside the new one (their data are loaded by the held-out job).
WITH_SOURCES = ("mindbridge_reset", "mindbridge_reset_frozen", "shuffled_stimuli")
# settings that only say which jobs exist: left out of each job's --params, so that adding a size (or a method)
# runs the new jobs alone instead of rerunning every job whose params would have changed
JOB_LIST_KEYS = ("n_train", "methods", "source_baselines", "draws")

# the two layouts' file names (neuromodels.decoding.data reads them; here so the workflow can list its inputs
# without importing numpy or pandas)
MASK_NAME = "nsdgeneral.nii.gz"
TRIALS_NAME = "trials.csv"
BETAS_H5 = "betas.h5"
BETAS_NAMES = (BETAS_H5, "betas.hdf5")
STIMULI_NAMES = ("stimuli.h5", "stimuli.hdf5")
CAPTIONS_NAME = "captions.csv"
SIMPLE_SESSION = re.compile(r"betas_session(\d+)\.nii(\.gz)?$")
RELEASE_STIMULI = "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"
RELEASE_EXPDESIGN = "nsddata/experiments/nsd/nsd_expdesign.mat"
RELEASE_ROI = "nsddata/ppdata/{subject}/{space}/roi/{roi}.nii.gz"
RELEASE_BETAS = "nsddata_betas/ppdata/{subject}/{space}/{betas}"
RELEASE_SESSION = re.compile(r"^betas_session(\d+)\.(hdf5|nii\.gz|nii)$")


def detect_layout(root: str | Path) -> str:
    """``nsd_release`` when the root holds NSD's design file, else ``simple``."""
    return "nsd_release" if (Path(root) / RELEASE_EXPDESIGN).exists() else "simple"


class DataFiles:
    """The files of a real data set, listed without reading them (the rules' inputs, so that a changed file
    reruns the jobs that read it)."""

    def __init__(self, root: str | Path, layout: str = "auto", release: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.layout = detect_layout(self.root) if layout == "auto" else layout
        self.release = {
            "space": "func1pt8mm",
            "betas": "betas_fithrf_GLMdenoise_RR",
            "roi": "nsdgeneral",
            **dict(release or {}),
        }

    def subjects(self) -> list[str]:
        if not self.root.is_dir():
            return []
        if self.layout == "simple":
            return sorted(p.name for p in self.root.iterdir() if (p / MASK_NAME).exists())
        base = self.root / "nsddata" / "ppdata"
        names = sorted(p.name for p in base.iterdir() if re.fullmatch(r"subj\d+", p.name)) if base.is_dir() else []
        return [s for s in names if (self.root / RELEASE_ROI.format(subject=s, **self.release)).exists()]

    def stimuli(self) -> list[str]:
        """The stimulus file (and the release's design, which names each subject's images)."""
        if self.layout == "simple":
            found = [self.root / n for n in STIMULI_NAMES if (self.root / n).exists()]
            return [str(p) for p in found[:1]] or [str(self.root / STIMULI_NAMES[0])]
        return [str(self.root / RELEASE_STIMULI), str(self.root / RELEASE_EXPDESIGN)]

    def trial_tables(self) -> list[str]:
        """What every job's test split reads: each subject's trial table (the release: its design)."""
        if self.layout == "simple":
            return [str(self.root / s / TRIALS_NAME) for s in self.subjects()]
        return [str(self.root / RELEASE_EXPDESIGN)]

    def subject_files(self, subject: str) -> list[str]:
        """One subject's mask, trials and betas."""
        if self.layout == "simple":
            folder = self.root / subject
            h5 = [folder / n for n in BETAS_NAMES if (folder / n).exists()][:1]
            betas = h5 or (
                sorted(p for p in folder.iterdir() if SIMPLE_SESSION.search(p.name)) if folder.is_dir() else []
            )
            return [str(p) for p in [folder / MASK_NAME, folder / TRIALS_NAME, *betas]]
        folder = self.root / RELEASE_BETAS.format(subject=subject, **self.release)
        betas = sorted(p for p in folder.iterdir() if RELEASE_SESSION.match(p.name)) if folder.is_dir() else []
        return [str(self.root / RELEASE_ROI.format(subject=subject, **self.release)), *map(str, betas)]


class DecodingWorkflow:
    """Everything the rules derive from the ``decoding`` config section."""

    def __init__(
        self,
        section: Mapping[str, Any],
        preset: str,
        seeds: Sequence[int],
        data: str = "data",
        results: str = "results",
        models: Mapping[str, Any] | None = None,
    ) -> None:
        self.section = section
        self.models = dict(models or {})  # the config's declared models
        self.preset = preset
        self.seeds = list(seeds)
        self.simulated = not section["data"]
        self.data = section["data"] or f"{data}/decoding/nsd"
        self.files = (
            None if self.simulated else DataFiles(self.data, section.get("layout", "auto"), section.get("release"))
        )
        n_subjects = section["simulate"].get("n_subjects", 5)
        found = [f"subj{i + 1:02d}" for i in range(n_subjects)] if self.files is None else self.files.subjects()
        self.subjects = list(section["subjects"]) or found
        self.heldout = section["heldout"]
        if self.files is not None and not self.subjects:
            raise ConfigError("decoding.data", f"no subject found in {self.data} (layout {self.files.layout})")
        if self.files is not None and self.heldout not in self.subjects:
            raise ConfigError(
                "decoding.heldout",
                f"{self.heldout} is not among the subjects of {self.data} ({', '.join(self.subjects)})",
            )
        self.sources = [s for s in self.subjects if s != self.heldout]
        self.n_train = [str(n) for n in (section["n_train"] or N_TRAIN_PRESET[preset])]
        self.draws = int(section.get("draws") or DRAWS_PRESET[preset])
        self.out = f"{results}/decoding"
        self.targets = f"{data}/decoding/targets.h5"
        self.bench_sizes = "tiny" if preset == "tiny" else "default paper"
        self.bench_steps = 3 if preset == "tiny" else 10

    # ---------------------------------------------------------------------------------------- settings
    def job_settings(self) -> str:
        """The decoding section for a training job's --params, quoted for the shell, without the keys that only
        list jobs (:data:`JOB_LIST_KEYS`)."""
        kept = {k: v for k, v in self.section.items() if k not in JOB_LIST_KEYS}
        return shlex.quote(json.dumps(kept, sort_keys=True))

    def simulate_settings(self) -> str:
        """What the simulator reads (its own section), quoted for the shell."""
        return shlex.quote(json.dumps({"simulate": self.section["simulate"]}, sort_keys=True))

    def data_settings(self) -> str:
        """What the targets step reads (the layout, where in NSD's release, the targets), quoted for the shell."""
        return shlex.quote(
            json.dumps(
                {k: self.section[k] for k in ("layout", "release", "targets") if k in self.section}, sort_keys=True
            )
        )

    # ---------------------------------------------------------------------------------------- inputs
    def data_marker(self, wildcards: Any = None) -> str:
        """The file that stands for the data set: the simulator's truth, or a real set's stimuli."""
        return f"{self.data}/truth.json" if self.simulated else self.files.stimuli()[0]

    def _job_files(self, subjects: Sequence[str]) -> list[str]:
        """What a training job reads: the simulator's truth; or every trial table (the test split), the test id
        list, and the loaded subjects' masks, trials and betas."""
        if self.files is None:
            return [f"{self.data}/truth.json"]
        out = self.files.trial_tables() + ([self.section["test_ids"]] if self.section.get("test_ids") else [])
        for s in subjects:
            out += self.files.subject_files(s)
        return list(dict.fromkeys(out))

    def train_inputs(self, wildcards: Any = None) -> list[str]:
        return self._job_files(self.sources)

    def adapt_inputs(self, wildcards: Any) -> list[str]:
        """A held-out job's files: its subject's, and the source subjects' when a reset-tuning method is among
        the methods (they train beside the new subject)."""
        reset = any(m in WITH_SOURCES for m in self.section["methods"])
        return self._job_files([wildcards.subject] + (self.sources if reset else []))

    def source_inputs(self, wildcards: Any) -> list[str]:
        return self._job_files([wildcards.subject])

    def adapt_outputs(self, role: str) -> list[str]:
        """The metrics files of one job (one subject, size and seed; every method of the role, in the order of
        the config), with the subject, n_train and seed left as wildcards: ``heldout`` jobs fit the new subject
        by every method of ``methods``, ``source`` jobs a source subject by every ``source_baselines``
        method."""
        if role == "heldout":
            return [
                f"{self.out}/heldout/{m}/{{subject}}/n{{n_train}}/seed{{seed}}/metrics.json"
                for m in self.section["methods"]
            ]
        return [
            f"{self.out}/source/{m}/{{subject}}/seed{{seed}}/metrics.json" for m in self.section["source_baselines"]
        ]

    def method_args(self, role: str) -> str:
        """The methods of a job, in the order of :meth:`adapt_outputs`."""
        return " ".join(self.section["methods"] if role == "heldout" else self.section["source_baselines"])

    def smallest_n(self) -> str:
        """The smallest size of the learning curve ('all' only when it is the only one)."""
        sizes = [n for n in self.n_train if n != "all"]
        return str(min(sizes, key=int)) if sizes else "all"

    def draws_arg(self, wildcards: Any) -> str:
        """``--draws K`` for the held-out job at the smallest n (every method fitted K times), else one fit."""
        return f"--draws {self.draws}" if wildcards.n_train == self.smallest_n() and self.draws > 1 else ""

    def target_inputs(self, wildcards: Any = None) -> list[str]:
        """The stimuli (and the release's design), captions when a text encoder reads them, embedding files."""
        if self.files is None:
            return [f"{self.data}/truth.json"]
        t = self.section["targets"]
        out = self.files.stimuli()
        if t["text"] not in ("none", "latents") and not self._embedding_file(t["text"]):
            out.append(str(Path(self.data) / CAPTIONS_NAME))
        for key in ("image", "image_ids", "text", "text_ids"):
            value = t.get(key, "")
            if value and Path(value).suffix.lower() in (".npy", ".npz", ".h5", ".hdf5", ".txt", ".csv"):
                out.append(value)
        return out

    @staticmethod
    def _embedding_file(value: str) -> bool:
        return Path(value).suffix.lower() in (".npy", ".npz", ".h5", ".hdf5")

    def target_source(self, name: str) -> str:
        """A targets source as the CLI takes it: 'latents', a declared model's name, a bundle or a file."""
        return self.section["targets"][name]

    def encoder(self, wildcards: Any = None) -> list[str]:
        """The files the targets' declared models are built from (the networks family's bundles of
        ``encoder_seed``, a user's builder file and weights)."""
        from neuromodels.networks.declared import declarations

        declared = declarations(self.models)
        t = self.section["targets"]
        out = []
        for value in (t["image"], t["text"]):
            name = value.removesuffix("-random")
            if name in declared:
                out += declared[name].files(int(t["encoder_seed"]))
            elif value.endswith(".pt"):
                out.append(value)
        return list(dict.fromkeys(out))

    def ids_args(self) -> str:
        t = self.section["targets"]
        args = f"--image-ids {t['image_ids']} " if t["image_ids"] else ""
        return args + (f"--text-ids {t['text_ids']}" if t["text_ids"] else "")

    def base(self, wildcards: Any) -> list[str]:
        """The joint models the held-out methods start from (one per kind; none for scratch and ridge)."""
        kinds = dict.fromkeys(BASE_KIND[m] for m in self.section["methods"])
        return [f"{self.out}/joint/{k}/seed{wildcards.seed}/model.pt" for k in kinds if k]

    def base_arg(self, wildcards: Any, input: Any) -> str:
        return f"--base {' '.join(input.base)}" if input.base else ""

    def baseline_subjects(self) -> list[str]:
        """Source subjects that get single-subject baselines: every one (the claim that the joint model matches
        single-subject models is a claim about each of its subjects)."""
        return list(self.sources)

    def joint_models(self) -> list[str]:
        return ["linear", "mindbridge"]

    def metrics(self, wildcards: Any = None) -> list[str]:
        """Every metrics file the report collects."""
        out = [f"{self.out}/joint/{m}/seed{s}/metrics.json" for m in self.joint_models() for s in self.seeds]
        out += [
            f"{self.out}/source/{m}/{subj}/seed{s}/metrics.json"
            for m in self.section["source_baselines"]
            for subj in self.baseline_subjects()
            for s in self.seeds
        ]
        out += [
            f"{self.out}/heldout/{m}/{self.heldout}/n{n}/seed{s}/metrics.json"
            for m in self.section["methods"]
            for n in self.n_train
            for s in self.seeds
        ]
        return out
