# The seeg family: simulated Brain Treebank-style recordings -> event-locked targets -> per-layer features of
# trained and random-init networks -> grouped-CV ridge per alignment -> test ladder, tables and figures.
SEEG = config["seeg"]
SEEG_ALIGNMENTS = ["language", "vision"]
SEEG_ENCODERS = ["simclr", "clip", "slip"]


def seeg_models():
    """Every compared network and its random-init control."""
    return [name for m in SEEG["models"] for name in (m, f"{m}-random")]


def seeg_encoder(wildcards):
    """The trained bundle a model needs (none for MiniLM)."""
    base = wildcards.model.removesuffix("-random")
    if base in SEEG_ENCODERS:
        return f"{RESULTS}/networks/{base}/seed{wildcards.seed}/encoder.pt"
    return []


def seeg_encoder_arg(wildcards, input):
    return f"--encoder {input.encoder}" if input.encoder else ""


def seeg_targets(wildcards):
    return expand(f"{DATA}/seeg/seed{wildcards.seed}/targets/{{alignment}}.npz", alignment=SEEG_ALIGNMENTS)


def seeg_features(wildcards):
    return expand(f"{DATA}/seeg/seed{wildcards.seed}/features/{{model}}.npz", model=seeg_models())


def seeg_encoded(wildcards):
    return expand(f"{RESULTS}/seeg/seed{wildcards.seed}/encoded/{{alignment}}.npz", alignment=SEEG_ALIGNMENTS)


rule seeg_simulate:
    input:
        world=rules.stimuli_world.output.table,
    output:
        truth=f"{DATA}/seeg/seed{{seed}}/recordings/ground_truth.csv",
    params:
        stimuli=lambda wildcards, input: os.path.dirname(input.world),
        out=lambda wildcards, output: os.path.dirname(output.truth),
        settings=params("seeg"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        f"{RESULTS}/logs/seeg_simulate_seed{{seed}}.log",
    shell:
        "neuromodels seeg simulate --stimuli {params.stimuli} --out {params.out} --preset {PRESET} "
        "--seed {wildcards.seed} --threads {threads} --params {params.settings} 2> {log}"


rule seeg_targets:
    input:
        truth=rules.seeg_simulate.output.truth,
    output:
        f"{DATA}/seeg/seed{{seed}}/targets/{{alignment}}.npz",
    params:
        data=lambda wildcards, input: os.path.dirname(input.truth),
        settings=params("seeg"),
    wildcard_constraints:
        alignment="language|vision",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        f"{RESULTS}/logs/seeg_targets_{{alignment}}_seed{{seed}}.log",
    shell:
        "neuromodels seeg targets --data {params.data} --alignment {wildcards.alignment} --out {output} "
        "--seed {wildcards.seed} --threads {threads} --params {params.settings} 2> {log}"


rule seeg_features:
    input:
        targets=seeg_targets,
        world=rules.stimuli_world.output.table,
        encoder=seeg_encoder,
    output:
        f"{DATA}/seeg/seed{{seed}}/features/{{model}}.npz",
    params:
        stimuli=lambda wildcards, input: os.path.dirname(input.world),
        encoder=seeg_encoder_arg,
    threads: 2
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg_features_{{model}}_seed{{seed}}.log",
    shell:
        "neuromodels seeg features --model {wildcards.model} --targets {input.targets} "
        "--stimuli {params.stimuli} {params.encoder} --out {output} --seed {wildcards.seed} "
        "--device {DEVICE} --threads {threads} 2> {log}"


rule seeg_encode:
    input:
        targets=f"{DATA}/seeg/seed{{seed}}/targets/{{alignment}}.npz",
        features=seeg_features,
    output:
        f"{RESULTS}/seeg/seed{{seed}}/encoded/{{alignment}}.npz",
    params:
        settings=params("seeg"),
    wildcard_constraints:
        alignment="language|vision",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg_encode_{{alignment}}_seed{{seed}}.log",
    shell:
        "neuromodels seeg encode --targets {input.targets} --features {input.features} --out {output} "
        "--preset {PRESET} --seed {wildcards.seed} --device {DEVICE} --threads {threads} "
        "--params {params.settings} 2> {log}"


rule seeg_evaluate:
    input:
        targets=seeg_targets,
        encoded=seeg_encoded,
        truth=rules.seeg_simulate.output.truth,
    output:
        electrodes=report(f"{RESULTS}/seeg/seed{{seed}}/electrodes.csv",
                          caption="../report/seeg_electrodes.rst", category="seeg"),
        regions=report(f"{RESULTS}/seeg/seed{{seed}}/regions.csv",
                       caption="../report/seeg_regions.rst", category="seeg"),
        summary=f"{RESULTS}/seeg/seed{{seed}}/summary.json",
        brain=report(f"{RESULTS}/seeg/seed{{seed}}/glass_brain.png",
                     caption="../report/seeg_glass_brain.rst", category="seeg"),
        bins=report(f"{RESULTS}/seeg/seed{{seed}}/r_by_bin.png",
                    caption="../report/seeg_r_by_bin.rst", category="seeg"),
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        settings=params("seeg"),
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
    log:
        f"{RESULTS}/logs/seeg_evaluate_seed{{seed}}.log",
    shell:
        "neuromodels seeg evaluate --targets {input.targets} --encoded {input.encoded} --truth {input.truth} "
        "--out-dir {params.out} --preset {PRESET} --seed {wildcards.seed} --threads {threads} "
        "--params {params.settings} 2> {log}"


rule seeg_bench_ridge:
    output:
        f"{BENCH}/seeg_ridge.json",
    params:
        targets=500 if PRESET == "tiny" else SEEG["benchmark_targets"],
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg_bench_ridge.log",
    shell:
        "neuromodels bench seeg-ridge --out {output} --targets {params.targets} --device {DEVICE} "
        "--threads {threads} 2> {log}"


BENCHMARKS.append(rules.seeg_bench_ridge.output[0])


rule seeg:
    input:
        expand(f"{RESULTS}/seeg/seed{{seed}}/summary.json", seed=SEEDS),
        expand(f"{RESULTS}/seeg/seed{{seed}}/glass_brain.png", seed=SEEDS),
