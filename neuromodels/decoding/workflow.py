"""Helpers of the decoding rules (``workflow/rules/decoding.smk``): paths, subjects and input functions.

Plain Python without heavy imports, so Snakemake parses the workflow quickly.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

# Learning-curve sizes per preset (scaled down from the paper's 250/500/1500/all; the captions say so).
N_TRAIN_PRESET: dict[str, list[int | str]] = {
    "tiny": [25, "all"],
    "default": [25, 75, 200, "all"],
    "full": [250, 500, 1500, "all"],
}
ADAPT_METHODS = ("mindbridge_reset", "mindbridge_reset_frozen", "mindbridge_finetune", "linear_adapter",
                 "linear_finetune", "scratch", "ridge")


class DecodingWorkflow:
    """Everything the rules derive from the ``decoding`` config section."""

    def __init__(self, section: Mapping[str, Any], preset: str, seeds: Sequence[int], data: str = "data",
                 results: str = "results") -> None:
        self.section = section
        self.preset = preset
        self.seeds = list(seeds)
        self.simulated = not section["data"]
        self.data = section["data"] or f"{data}/decoding/nsd"
        n_subjects = section["simulate"].get("n_subjects", 5)
        self.subjects = list(section["subjects"]) or [f"subj{i + 1:02d}" for i in range(n_subjects)]
        self.heldout = section["heldout"]
        self.sources = [s for s in self.subjects if s != self.heldout]
        self.n_train = [str(n) for n in (section["n_train"] or N_TRAIN_PRESET[preset])]
        self.out = f"{results}/decoding"
        self.targets = f"{data}/decoding/targets.h5"
        self.clip = f"{results}/networks/clip/seed{section['targets']['encoder_seed']}/encoder.pt"
        self.bench_sizes = "tiny" if preset == "tiny" else "default paper"
        self.bench_steps = 3 if preset == "tiny" else 10

    # ---------------------------------------------------------------------------------------- inputs
    def data_marker(self, wildcards: Any = None) -> str:
        """The file that stands for the data set: the simulator's truth, or a real set's stimuli."""
        return f"{self.data}/truth.json" if self.simulated else f"{self.data}/stimuli.h5"

    def target_source(self, name: str) -> str:
        """A targets source as the CLI takes it ('clip' is the networks package's CLIP-trained bundle)."""
        value = self.section["targets"][name]
        return self.clip if value == "clip" else value

    def encoder(self, wildcards: Any = None) -> list[str]:
        t = self.section["targets"]
        return [self.clip] if "clip" in (t["image"], t["text"]) else []

    def ids_args(self) -> str:
        t = self.section["targets"]
        args = f"--image-ids {t['image_ids']} " if t["image_ids"] else ""
        return args + (f"--text-ids {t['text_ids']}" if t["text_ids"] else "")

    def base(self, wildcards: Any) -> list[str]:
        """The joint model a method starts from (none for scratch and ridge)."""
        kind = wildcards.method.split("_")[0]
        if kind in ("mindbridge", "linear"):
            return [f"{self.out}/joint/{kind}/seed{wildcards.seed}/model.pt"]
        return []

    def base_arg(self, wildcards: Any, input: Any) -> str:
        return f"--base {input.base}" if input.base else ""

    def baseline_subjects(self) -> list[str]:
        """Source subjects that get single-subject baselines: all at the full preset, the first two otherwise
        (the DAG's time budget)."""
        return self.sources if self.preset == "full" else self.sources[:2]

    def joint_models(self) -> list[str]:
        return ["linear", "mindbridge"]

    def metrics(self, wildcards: Any = None) -> list[str]:
        """Every metrics file the report collects."""
        out = [f"{self.out}/joint/{m}/seed{s}/metrics.json" for m in self.joint_models() for s in self.seeds]
        out += [f"{self.out}/source/{m}/{subj}/seed{s}/metrics.json"
                for m in self.section["source_baselines"] for subj in self.baseline_subjects() for s in self.seeds]
        out += [f"{self.out}/heldout/{m}/{self.heldout}/n{n}/seed{s}/metrics.json"
                for m in self.section["methods"] for n in self.n_train for s in self.seeds]
        return out
