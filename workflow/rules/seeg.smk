# The seeg family: recordings in the Brain Treebank release layout (simulated, or real ones named by `seeg.data`) ->
# event-locked targets -> per-layer features of trained and random-init networks -> grouped-CV ridge per
# alignment (each trained model also against its own features shifted in time: the shuffled_time control) -> test
# ladder, tables, figures and per-seed statistics -> the family summary over every seed (claims.yaml is judged on it).
SEEG = config["seeg"]
SEEG_SEEDS = family_seeds("seeg")
SEEG_SIMULATED = not SEEG["data"]
SEEG_DIR = f"{DATA}/seeg/seed{{seed}}"
# The recordings: simulated per seed, or every file of the real folder (the same for every seed), so that a
# changed recording, table or transcript reruns the targets.
SEEG_DATA = SEEG["data"].rstrip("/")
SEEG_RECORDINGS_MARKER = (f"{SEEG_DIR}/recordings/ground_truth.csv" if SEEG_SIMULATED
                          else f"{SEEG_DATA}/subject_metadata")
SEEG_RECORDING_FILES = ([] if SEEG_SIMULATED else
                        sorted(os.path.join(d, f) for d, _, names in os.walk(SEEG_DATA) for f in names)
                        + ([SEEG["scene_cuts"]] if SEEG["scene_cuts"] else []))
# The images shown at each scene cut: the stimulus world, or the real movie's frames.
SEEG_FRAMES_TABLE = (rules.stimuli_world.output.table if SEEG_SIMULATED
                     else f"{SEEG['frames'].rstrip('/')}/stimuli.csv")
SEEG_OUT = f"{RESULTS}/seeg/seed{{seed}}"
SEEG_ALIGNMENTS = ["language", "vision"]
# Every compared network and its random-init control (when its declaration can build one).
check_models("seeg.models", SEEG["models"])
check_models("seeg.multimodal_model", [SEEG["multimodal_model"]], kinds=["vision_text"])
SEEG_MODELS = [name for m in SEEG["models"]
               for name in ([m, f"{m}-random"] if DECLARED[m].can_randomise else [m])]
SEEG_TARGETS = expand(f"{SEEG_DIR}/targets/{{alignment}}.npz", alignment=SEEG_ALIGNMENTS, allow_missing=True)
SEEG_FEATURES = expand(f"{SEEG_DIR}/features/{{model}}.npz", model=SEEG_MODELS, allow_missing=True)
SEEG_ENCODED = expand(f"{SEEG_OUT}/encoded/{{alignment}}.npz", alignment=SEEG_ALIGNMENTS, allow_missing=True)
SEEG_BENCH_TARGETS = 500 if PRESET == "tiny" else SEEG["benchmark_targets"]
# tiny (CI): a smaller problem and 5 targets of the per-target scikit-learn loop (16 s of CPU at the full
# problem, 5 s at this one); the other presets time the benchmark's own problem
SEEG_BENCH_SIZES = "--samples 1000 --features 256 --loop-targets 5" if PRESET == "tiny" else ""


wildcard_constraints:
    alignment="language|vision",


if SEEG_SIMULATED:

    # The recordings are planted in the stimulus world only: no network (and no network weights) goes in.
    rule seeg_simulate:
        input:
            world=rules.stimuli_world.output.table,
        output:
            truth=f"{SEEG_DIR}/recordings/ground_truth.csv",
        params:
            stimuli=lambda wildcards, input: os.path.dirname(input.world),
            out=lambda wildcards, output: os.path.dirname(output.truth),
            settings=params("seeg"),
            preset=PRESET,
            preset_code=preset_code("seeg"),
        conda:
            ENV
        threads: 1
        priority: CRITICAL_PATH
        resources:
            mem_mb=4000,
            runtime=20,
        log:
            f"{RESULTS}/logs/seeg/simulate_seed{{seed}}.log",
        benchmark:
            timing("seeg_simulate", "seed")
        shell:
            "neuromodels seeg simulate --stimuli {params.stimuli} --out {params.out} --preset {params.preset} "
            "--seed {wildcards.seed} --threads {threads} --params {params.settings} 2> {log}"


# Both alignments from one pass over the recordings (each trial preprocessed once).
rule seeg_targets:
    input:
        recordings=SEEG_RECORDINGS_MARKER,
        files=SEEG_RECORDING_FILES,
    output:
        SEEG_TARGETS,
    params:
        data=lambda wildcards, input: os.path.dirname(input.recordings),
        alignments=" ".join(SEEG_ALIGNMENTS),
        settings=params("seeg"),
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(4000),
        runtime=20,
    log:
        f"{RESULTS}/logs/seeg/targets_seed{{seed}}.log",
    benchmark:
        timing("seeg_targets", "seed")
    shell:
        "neuromodels seeg targets --data {params.data} --alignment {params.alignments} --out {output} "
        "--seed {wildcards.seed} --threads {threads} --params {params.settings} 2> {log}"


# Every compared network and its random-init control in one process (one start-up, one read of the frames).
# Each is a declared model (the project's own or the config's models:); the files it is built from (the networks
# family's bundles, a user's builder file and weights) are the rule's inputs.


rule seeg_features:
    input:
        targets=SEEG_TARGETS,
        frames=SEEG_FRAMES_TABLE,
        models=lambda wildcards: model_files(SEEG["models"], wildcards.seed),
    output:
        SEEG_FEATURES,
    params:
        stimuli=lambda wildcards, input: os.path.dirname(input.frames),
        models=" ".join(SEEG_MODELS),
        declared=declarations_json(SEEG["models"]),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(4000),
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg/features_seed{{seed}}.log",
    benchmark:
        timing("seeg_features", "seed")
    shell:
        "neuromodels seeg features --model {params.models} --targets {input.targets} "
        "--stimuli {params.stimuli} --models {params.declared} --out {output} --seed {wildcards.seed} "
        "--device {params.device} --threads {threads} 2> {log}"


rule seeg_encode:
    input:
        targets=f"{SEEG_DIR}/targets/{{alignment}}.npz",
        features=SEEG_FEATURES,
    output:
        f"{SEEG_OUT}/encoded/{{alignment}}.npz",
    params:
        settings=params("seeg"),
        preset=PRESET,
        preset_code=preset_code("seeg"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(8000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg/encode_{{alignment}}_seed{{seed}}.log",
    benchmark:
        timing("seeg_encode", "alignment", "seed")
    shell:
        "neuromodels seeg encode --targets {input.targets} --features {input.features} --out {output} "
        "--preset {params.preset} --seed {wildcards.seed} --device {params.device} --threads {threads} "
        "--params {params.settings} 2> {log}"


rule seeg_evaluate:
    input:
        targets=SEEG_TARGETS,
        encoded=SEEG_ENCODED,
        # the planted ground truth scores detection; real recordings have none
        truth=rules.seeg_simulate.output.truth if SEEG_SIMULATED else [],
    output:
        electrodes=report(f"{SEEG_OUT}/electrodes.csv", caption="../report/seeg_electrodes.rst",
                          category="seeg"),
        regions=report(f"{SEEG_OUT}/regions.csv", caption="../report/seeg_regions.rst", category="seeg"),
        summary=f"{SEEG_OUT}/summary.json",
        details=f"{SEEG_OUT}/details.json",
        models=report(f"{SEEG_OUT}/models.csv", caption="../report/seeg_models.rst", category="seeg"),
        references=f"{SEEG_OUT}/references.csv",
        brain=report(f"{SEEG_OUT}/glass_brain.png", caption="../report/seeg_glass_brain.rst", category="seeg"),
        bins=report(f"{SEEG_OUT}/r_by_bin.png", caption="../report/seeg_r_by_bin.rst", category="seeg"),
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        truth=lambda wildcards, input: f"--truth {input.truth}" if input.truth else "",
        settings=params("seeg"),
        preset=PRESET,
        preset_code=preset_code("seeg"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(8000),
        runtime=30,
    log:
        f"{RESULTS}/logs/seeg/evaluate_seed{{seed}}.log",
    benchmark:
        timing("seeg_evaluate", "seed")
    shell:
        "neuromodels seeg evaluate --targets {input.targets} --encoded {input.encoded} {params.truth} "
        "--out-dir {params.out} --preset {params.preset} --seed {wildcards.seed} --threads {threads} "
        "--params {params.settings} 2> {log}"


rule seeg_bench_ridge:
    output:
        f"{BENCH}/seeg_ridge.json",
    params:
        targets=SEEG_BENCH_TARGETS,
        sizes=SEEG_BENCH_SIZES,
        device=DEVICE,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(8000),
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/seeg/bench_ridge.log",
    benchmark:
        timing("seeg_bench_ridge")
    shell:
        "neuromodels bench seeg-ridge --out {output} --targets {params.targets} {params.sizes} "
        "--device {params.device} --threads {threads} 2> {log}"


BENCHMARKS.append(rules.seeg_bench_ridge.output[0])


rule seeg_summary:
    input:
        expand(f"{SEEG_OUT}/summary.json", seed=SEEG_SEEDS),
    output:
        f"{RESULTS}/seeg/summary.json",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=5,
    log:
        f"{RESULTS}/logs/seeg/summary.log",
    benchmark:
        timing("seeg_summary")
    shell:
        "neuromodels seeg summarize --inputs {input} --out {output} 2> {log}"


SUMMARIES.append(rules.seeg_summary.output[0])


rule seeg:
    input:
        rules.seeg_summary.output,
        expand(f"{SEEG_OUT}/glass_brain.png", seed=SEEG_SEEDS),
