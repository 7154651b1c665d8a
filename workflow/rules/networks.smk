# The networks family: trainable encoders shared by the seeg and decoding families. The encoders train on a
# stimulus set of their own (same world, own seed, more images than the shared set), one job per objective
# (simclr, clip, slip) and seed; seeg and decoding ask for results/networks/{objective}/seed{seed}/encoder.pt.
NETWORKS = config["networks"]
NETWORKS_OUT = f"{RESULTS}/networks"
NETWORKS_TRAIN_STIMULI = f"{DATA}/networks/train_stimuli"
BENCHMARKS.append(f"{BENCH}/networks.json")


wildcard_constraints:
    objective="simclr|clip|slip",


# The checkpoint sits beside the encoder and is not an output, so it survives a killed job and the rerun
# resumes; it is named by preset so a checkpoint of another size is never resumed. The tiny and default models
# gain little from a second thread (default: 1.5x the speed for 2x the cores), and the three objectives train
# side by side with the rest of the DAG, so each takes one core; the paper-size `full` takes two.
NETWORKS_CHECKPOINT = f"{NETWORKS_OUT}/{{objective}}/seed{{seed}}/checkpoint_{PRESET}.pt"
NETWORKS_THREADS = 2 if PRESET == "full" else 1


rule networks_stimuli:
    output:
        table=f"{NETWORKS_TRAIN_STIMULI}/stimuli.csv",
        sheet=report(f"{NETWORKS_OUT}/train_stimuli.png", caption="../report/networks_train_stimuli.rst",
                     category="Networks"),
    params:
        out=lambda wildcards, output: os.path.dirname(output.table),
        n=NETWORKS["train_images"][PRESET],
        size=NETWORKS["train_image_size"],
        seed=NETWORKS["train_stimuli_seed"],
        p_second=NETWORKS["p_second"],
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(2000),
        runtime=20,
    log:
        f"{RESULTS}/logs/networks/stimuli.log",
    benchmark:
        timing("networks_stimuli")
    shell:
        "neuromodels stimuli generate --out {params.out} --sheet {output.sheet} --n {params.n} "
        "--size {params.size} --p-second {params.p_second} --seed {params.seed} --threads {threads} 2> {log}"


rule networks_train:
    input:
        table=rules.networks_stimuli.output.table,
    output:
        encoder=f"{NETWORKS_OUT}/{{objective}}/seed{{seed}}/encoder.pt",
        metrics=f"{NETWORKS_OUT}/{{objective}}/seed{{seed}}/metrics.json",
        curve=report(f"{NETWORKS_OUT}/{{objective}}/seed{{seed}}/training_curve.png",
                     caption="../report/networks_training_curve.rst", category="Networks",
                     subcategory="{objective}"),
    params:
        stimuli=lambda wildcards, input: os.path.dirname(input.table),
        checkpoint=NETWORKS_CHECKPOINT,
        settings=params("networks"),
        preset=PRESET,
        preset_code=preset_code("networks"),
        device=DEVICE,
    conda:
        ENV
    threads: NETWORKS_THREADS
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(6000),
        runtime=120,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/networks/train_{{objective}}_seed{{seed}}.log",
    benchmark:
        timing("networks_train", "objective", "seed")
    shell:
        "neuromodels networks train --stimuli {params.stimuli} --objective {wildcards.objective} "
        "--out {output.encoder} --checkpoint {params.checkpoint} --metrics {output.metrics} "
        "--curve {output.curve} --preset {params.preset} --seed {wildcards.seed} --device {params.device} "
        "--threads {threads} --params {params.settings} 2> {log}"


rule networks_embed:
    input:
        table=rules.stimuli_world.output.table,
        encoder=rules.networks_train.output.encoder,
    output:
        f"{NETWORKS_OUT}/{{objective}}/seed{{seed}}/world_{{what}}.h5",
    wildcard_constraints:
        what="images|captions",
    params:
        stimuli=lambda wildcards, input: os.path.dirname(input.table),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(4000),
        runtime=20,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/networks/embed_{{objective}}_seed{{seed}}_{{what}}.log",
    benchmark:
        timing("networks_embed", "objective", "seed", "what")
    shell:
        "neuromodels networks embed --stimuli {params.stimuli} --encoder {input.encoder} --what {wildcards.what} "
        "--out {output} --seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


rule bench_networks:
    output:
        f"{BENCH}/networks.json",
    params:
        device=DEVICE,
        preset=PRESET,
        preset_code=preset_code("networks"),
        steps=3 if PRESET == "tiny" else 10,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(4000),
        runtime=20,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/bench_networks.log",
    benchmark:
        timing("bench_networks")
    shell:
        "neuromodels bench networks --out {output} --preset {params.preset} --steps {params.steps} "
        "--device {params.device} --threads {threads} 2> {log}"
