# The decoding family: NSD-style data (simulated unless `decoding.data` names a real set) -> target embeddings
# -> joint models over the source subjects -> the held-out subject fitted per method and n_train (one job
# each) and single-subject baselines per source subject -> tables, figures and a benchmark.
DEC = config["decoding"]
DEC_SIMULATED = not DEC["data"]
DEC_DATA = DEC["data"] or f"{DATA}/decoding/nsd"
DEC_SUBJECTS = DEC["subjects"] or [
    f"subj{i + 1:02d}" for i in range(DEC["simulate"].get("n_subjects", 5))
]
DEC_SOURCES = [s for s in DEC_SUBJECTS if s != DEC["heldout"]]
# Learning-curve sizes per preset (scaled down from the paper's 250/500/1500/all; the captions say so).
DEC_N_PRESET = {
    "tiny": [30, "all"],
    "default": [25, 75, 200, "all"],
    "full": [250, 500, 1500, "all"],
}
DEC_N = [str(n) for n in (DEC["n_train"] or DEC_N_PRESET[PRESET])]
DEC_CLIP = f"{RESULTS}/networks/clip/seed{DEC['targets']['encoder_seed']}/encoder.pt"
DEC_BENCH_SIZES = "tiny" if PRESET == "tiny" else "default paper"
DEC_OUT = f"{RESULTS}/decoding"

BENCHMARKS.append(f"{BENCH}/decoding.json")


def dec_data_marker(wildcards=None):
    """The file that stands for the data set: the simulator's truth, or a real set's stimuli."""
    return f"{DEC_DATA}/truth.json" if DEC_SIMULATED else f"{DEC_DATA}/stimuli.h5"


def dec_target_source(name):
    """A targets source as the CLI takes it ('clip' is the networks package's CLIP-trained bundle)."""
    value = DEC["targets"][name]
    return DEC_CLIP if value == "clip" else value


def dec_encoder(wildcards=None):
    uses_clip = "clip" in (DEC["targets"]["image"], DEC["targets"]["text"])
    return [DEC_CLIP] if uses_clip else []


def dec_ids_args():
    t = DEC["targets"]
    args = f"--image-ids {t['image_ids']} " if t["image_ids"] else ""
    return args + (f"--text-ids {t['text_ids']}" if t["text_ids"] else "")


def dec_base(wildcards):
    """The joint model a method starts from (none for scratch and ridge)."""
    if wildcards.method.startswith("mindbridge"):
        return f"{DEC_OUT}/joint/mindbridge/seed{wildcards.seed}/model.pt"
    if wildcards.method.startswith("linear"):
        return f"{DEC_OUT}/joint/linear/seed{wildcards.seed}/model.pt"
    return []


def dec_base_arg(wildcards, input):
    return f"--base {input.base}" if input.base else ""


def dec_joint_models():
    kinds = {m.split("_")[0] for m in DEC["methods"] if m.startswith(("mindbridge", "linear"))}
    return sorted(kinds | {"mindbridge", "linear"})


def dec_metrics(wildcards=None):
    """Every metrics file the report collects."""
    joint = expand(f"{DEC_OUT}/joint/{{model}}/seed{{seed}}/metrics.json", model=dec_joint_models(), seed=SEEDS)
    source = expand(f"{DEC_OUT}/source/{{method}}/{{subject}}/seed{{seed}}/metrics.json",
                    method=DEC["source_baselines"], subject=DEC_SOURCES, seed=SEEDS)
    heldout = expand(f"{DEC_OUT}/heldout/{{method}}/{{subject}}/n{{n_train}}/seed{{seed}}/metrics.json",
                     method=DEC["methods"], subject=[DEC["heldout"]], n_train=DEC_N, seed=SEEDS)
    return joint + source + heldout


if DEC_SIMULATED:

    rule decoding_simulate:
        output:
            truth=f"{DEC_DATA}/truth.json",
        params:
            out=DEC_DATA,
            settings=params("decoding"),
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=2000,
            runtime=20,
        log:
            f"{RESULTS}/logs/decoding/simulate.log",
        shell:
            "neuromodels decoding simulate --out {params.out} --preset {PRESET} --seed 0 --threads {threads} "
            "--params {params.settings} 2> {log}"


rule decoding_targets:
    input:
        data=dec_data_marker,
        encoder=dec_encoder,
    output:
        f"{DATA}/decoding/targets.h5",
    params:
        data=DEC_DATA,
        image=dec_target_source("image"),
        text=dec_target_source("text"),
        ids=dec_ids_args(),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/decoding/targets.log",
    shell:
        "neuromodels decoding targets --data {params.data} --out {output} --image {params.image} "
        "--text {params.text} {params.ids} --seed 0 --device {DEVICE} --threads {threads} 2> {log}"


rule decoding_train:
    input:
        data=dec_data_marker,
        targets=rules.decoding_targets.output,
    output:
        model=f"{DEC_OUT}/joint/{{model}}/seed{{seed}}/model.pt",
        metrics=f"{DEC_OUT}/joint/{{model}}/seed{{seed}}/metrics.json",
    params:
        data=DEC_DATA,
        subjects=" ".join(DEC_SOURCES),
        checkpoint=f"{DEC_OUT}/checkpoints/joint_{{model}}_seed{{seed}}.pt",
        settings=params("decoding"),
    wildcard_constraints:
        model="mindbridge|linear",
        seed=r"\d+",
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/decoding/train_{{model}}_seed{{seed}}.log",
    shell:
        "neuromodels decoding train --model {wildcards.model} --data {params.data} --targets {input.targets} "
        "--subjects {params.subjects} --out {output.model} --metrics {output.metrics} "
        "--checkpoint {params.checkpoint} --preset {PRESET} --seed {wildcards.seed} --device {DEVICE} "
        "--threads {threads} --params {params.settings} 2> {log}"


rule decoding_adapt:
    input:
        data=dec_data_marker,
        targets=rules.decoding_targets.output,
        base=dec_base,
    output:
        metrics=f"{DEC_OUT}/heldout/{{method}}/{{subject}}/n{{n_train}}/seed{{seed}}/metrics.json",
    params:
        data=DEC_DATA,
        base=dec_base_arg,
        sources=" ".join(DEC_SOURCES),
        checkpoint=f"{DEC_OUT}/checkpoints/heldout_{{method}}_{{subject}}_n{{n_train}}_seed{{seed}}.pt",
        settings=params("decoding"),
    wildcard_constraints:
        method="|".join(
            [
                "mindbridge_reset",
                "mindbridge_finetune",
                "linear_adapter",
                "linear_finetune",
                "scratch",
                "ridge",
            ]
        ),
        n_train=r"\d+|all",
        seed=r"\d+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/decoding/heldout_{{method}}_{{subject}}_n{{n_train}}_seed{{seed}}.log",
    shell:
        "neuromodels decoding adapt --method {wildcards.method} --subject {wildcards.subject} "
        "--n-train {wildcards.n_train} {params.base} --sources {params.sources} --role heldout "
        "--data {params.data} --targets {input.targets} --metrics {output.metrics} "
        "--checkpoint {params.checkpoint} --preset {PRESET} --seed {wildcards.seed} --device {DEVICE} "
        "--threads {threads} --params {params.settings} 2> {log}"


rule decoding_source:
    input:
        data=dec_data_marker,
        targets=rules.decoding_targets.output,
    output:
        metrics=f"{DEC_OUT}/source/{{method}}/{{subject}}/seed{{seed}}/metrics.json",
    params:
        data=DEC_DATA,
        checkpoint=f"{DEC_OUT}/checkpoints/source_{{method}}_{{subject}}_seed{{seed}}.pt",
        settings=params("decoding"),
    wildcard_constraints:
        method="scratch|ridge",
        seed=r"\d+",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/decoding/source_{{method}}_{{subject}}_seed{{seed}}.log",
    shell:
        "neuromodels decoding adapt --method {wildcards.method} --subject {wildcards.subject} --n-train all "
        "--role source --data {params.data} --targets {input.targets} --metrics {output.metrics} "
        "--checkpoint {params.checkpoint} --preset {PRESET} --seed {wildcards.seed} --device {DEVICE} "
        "--threads {threads} --params {params.settings} 2> {log}"


rule decoding_report:
    input:
        dec_metrics,
    output:
        runs=f"{DEC_OUT}/all_runs.csv",
        sources=report(
            f"{DEC_OUT}/source_subjects.csv",
            caption="../report/decoding_sources.rst",
            category="Decoding",
        ),
        curve=report(
            f"{DEC_OUT}/learning_curve.csv",
            caption="../report/decoding_curve.rst",
            category="Decoding",
        ),
        curve_png=report(
            f"{DEC_OUT}/learning_curve.png",
            caption="../report/decoding_curve.rst",
            category="Decoding",
        ),
        sources_png=report(
            f"{DEC_OUT}/source_subjects.png",
            caption="../report/decoding_sources.rst",
            category="Decoding",
        ),
    params:
        out=DEC_OUT,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{RESULTS}/logs/decoding/report.log",
    shell:
        "neuromodels decoding report --metrics {input} --out-dir {params.out} 2> {log}"


rule bench_decoding:
    output:
        f"{BENCH}/decoding.json",
    params:
        sizes=DEC_BENCH_SIZES,
        steps=3 if PRESET == "tiny" else 10,
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/bench_decoding.log",
    shell:
        "neuromodels bench decoding --out {output} --sizes {params.sizes} --steps {params.steps} "
        "--device {DEVICE} --threads {threads} 2> {log}"


rule decoding:
    input:
        rules.decoding_report.output,
        f"{BENCH}/decoding.json",
