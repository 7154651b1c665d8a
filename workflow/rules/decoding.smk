# The decoding family: NSD-style data (simulated unless `decoding.data` names a real set, in the simple layout
# or NSD's own release) -> target embeddings -> joint models over the source subjects -> the held-out subject
# fitted per method and n_train (one job each) and single-subject baselines per source subject -> tables,
# figures and a benchmark. A job's inputs are the data files it reads (a changed betas or trials file reruns
# it); its --params leave out the lists of sizes and methods (adding a size runs only the new jobs).
from neuromodels.decoding.workflow import DecodingWorkflow

try:
    DEC = DecodingWorkflow(config["decoding"], PRESET, family_seeds("decoding"), data=DATA, results=RESULTS,
                           models=config["models"])
except ConfigError as exc:
    sys.exit(f"neuromodels: {exc}")

BENCHMARKS.append(f"{BENCH}/decoding.json")


if DEC.simulated:

    rule decoding_simulate:
        output:
            truth=f"{DEC.data}/truth.json",
        params:
            out=lambda wildcards, output: os.path.dirname(output.truth),
            preset=PRESET,
            preset_code=preset_code("decoding"),
            settings=DEC.simulate_settings(),
        conda:
            ENV
        threads: 1
        priority: CRITICAL_PATH
        resources:
            mem_mb=2000,
            runtime=20,
        benchmark:
            timing("decoding_simulate")
        log:
            f"{RESULTS}/logs/decoding/simulate.log",
        shell:
            "neuromodels decoding simulate --out {params.out} --preset {params.preset} --seed 0 "
            "--threads {threads} --params {params.settings} 2> {log}"


rule decoding_targets:
    input:
        data=DEC.target_inputs,
        encoder=DEC.encoder,
    output:
        DEC.targets,
    params:
        data=DEC.data,
        image=DEC.target_source("image"),
        text=DEC.target_source("text"),
        ids=DEC.ids_args(),
        settings=DEC.data_settings(),
        declared=declarations_json([DEC.target_source("image"), DEC.target_source("text")]),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(4000),
        runtime=20,
        gpu=gpus,
    benchmark:
        timing("decoding_targets")
    log:
        f"{RESULTS}/logs/decoding/targets.log",
    shell:
        "neuromodels decoding targets --data {params.data} --out {output} --image {params.image} "
        "--text {params.text} {params.ids} --seed 0 --device {params.device} --threads {threads} "
        "--params {params.settings} --models {params.declared} 2> {log}"


rule decoding_train:
    input:
        data=DEC.train_inputs,
        targets=DEC.targets,
    output:
        model=f"{DEC.out}/joint/{{model}}/seed{{seed}}/model.pt",
        metrics=f"{DEC.out}/joint/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher,
        data=DEC.data,
        subjects=" ".join(DEC.sources),
        checkpoint=f"{DEC.out}/checkpoints/joint_{{model}}_seed{{seed}}.pt",
        preset=PRESET,
        preset_code=preset_code("decoding"),
        device=DEVICE,
        settings=DEC.job_settings(),
    wildcard_constraints:
        model="mindbridge|linear",
        seed=r"\d+",
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(4000),
        runtime=60,
        gpu=gpus,
    benchmark:
        timing("decoding_train", "model", "seed")
    log:
        f"{RESULTS}/logs/decoding/train_{{model}}_seed{{seed}}.log",
    shell:
        "{params.launch} decoding train --model {wildcards.model} --data {params.data} --targets {input.targets} "
        "--subjects {params.subjects} --out {output.model} --metrics {output.metrics} "
        "--checkpoint {params.checkpoint} --preset {params.preset} --seed {wildcards.seed} "
        "--device {params.device} --threads {threads} --params {params.settings} 2> {log}"


# The held-out subject: one job per size and seed fits it by every method in turn (one start-up and one read of
# the data for all of them; each fit seeded on its own, so a method's numbers are those of a job of its own).
# At the smallest n (where the findings are read) every method is fitted decoding.draws times, each draw with its
# own training images and initialisation.
# Adding a size runs only its job; adding a method reruns the jobs of every size.
rule decoding_adapt:
    input:
        data=DEC.adapt_inputs,
        targets=DEC.targets,
        base=DEC.base,
    output:
        metrics=DEC.adapt_outputs("heldout"),
    params:
        methods=DEC.method_args("heldout"),
        draws=DEC.draws_arg,
        data=DEC.data,
        base=DEC.base_arg,
        sources=" ".join(DEC.sources),
        checkpoint=f"{DEC.out}/checkpoints/heldout_{{subject}}_n{{n_train}}_seed{{seed}}.pt",
        preset=PRESET,
        preset_code=preset_code("decoding"),
        device=DEVICE,
        settings=DEC.job_settings(),
    wildcard_constraints:
        n_train=r"\d+|all",
        seed=r"\d+",
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(4000),
        runtime=60,
        gpu=gpus,
    benchmark:
        timing("decoding_adapt", "subject", "n_train", "seed")
    log:
        f"{RESULTS}/logs/decoding/heldout_{{subject}}_n{{n_train}}_seed{{seed}}.log",
    shell:
        "neuromodels decoding adapt --method {params.methods} --subject {wildcards.subject} "
        "--n-train {wildcards.n_train} {params.draws} {params.base} --sources {params.sources} --role heldout "
        "--data {params.data} --targets {input.targets} --metrics {output.metrics} "
        "--checkpoint {params.checkpoint} --preset {params.preset} --seed {wildcards.seed} "
        "--device {params.device} --threads {threads} --params {params.settings} 2> {log}"


# The single-subject baselines of a source subject: every method of source_baselines in one job
# (none when source_baselines is empty).
if DEC.section["source_baselines"]:

    rule decoding_source:
        input:
            data=DEC.source_inputs,
            targets=DEC.targets,
        output:
            metrics=DEC.adapt_outputs("source"),
        params:
            methods=DEC.method_args("source"),
            data=DEC.data,
            checkpoint=f"{DEC.out}/checkpoints/source_{{subject}}_seed{{seed}}.pt",
            preset=PRESET,
            preset_code=preset_code("decoding"),
            device=DEVICE,
            settings=DEC.job_settings(),
        wildcard_constraints:
            seed=r"\d+",
        conda:
            ENV
        threads: 1
        resources:
            mem_mb=memory(4000),
            runtime=60,
            gpu=gpus,
        benchmark:
            timing("decoding_source", "subject", "seed")
        log:
            f"{RESULTS}/logs/decoding/source_{{subject}}_seed{{seed}}.log",
        shell:
            "neuromodels decoding adapt --method {params.methods} --subject {wildcards.subject} --n-train all "
            "--role source --data {params.data} --targets {input.targets} --metrics {output.metrics} "
            "--checkpoint {params.checkpoint} --preset {params.preset} --seed {wildcards.seed} "
            "--device {params.device} --threads {threads} --params {params.settings} 2> {log}"


# The report gathers every seed's runs (the joint models, the source baselines and the held-out fits of each seed
# in its seeds): summary.json holds the statistics per seed that the claims registry is evaluated on.
rule decoding_report:
    input:
        metrics=DEC.metrics,
        targets=DEC.targets,
    output:
        runs=f"{DEC.out}/all_runs.csv",
        sources=report(
            f"{DEC.out}/source_subjects.csv",
            caption="../report/decoding_sources.rst",
            category="Decoding",
        ),
        curve=report(
            f"{DEC.out}/learning_curve.csv",
            caption="../report/decoding_curve.rst",
            category="Decoding",
        ),
        curve_png=report(
            f"{DEC.out}/learning_curve.png",
            caption="../report/decoding_curve.rst",
            category="Decoding",
        ),
        sources_png=report(
            f"{DEC.out}/source_subjects.png",
            caption="../report/decoding_sources.rst",
            category="Decoding",
        ),
        summary=f"{DEC.out}/summary.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.runs),
        preset=PRESET,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=10,
    benchmark:
        timing("decoding_report")
    log:
        f"{RESULTS}/logs/decoding/report.log",
    shell:
        "neuromodels decoding report --metrics {input.metrics} --targets {input.targets} --out-dir {params.out} "
        "--preset {params.preset} 2> {log}"


SUMMARIES.append(rules.decoding_report.output.summary)


rule bench_decoding:
    output:
        f"{BENCH}/decoding.json",
    params:
        sizes=DEC.bench_sizes,
        steps=DEC.bench_steps,
        device=DEVICE,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(8000),
        runtime=30,
        gpu=gpus,
    benchmark:
        timing("bench_decoding")
    log:
        f"{RESULTS}/logs/bench_decoding.log",
    shell:
        "neuromodels bench decoding --out {output} --sizes {params.sizes} --steps {params.steps} "
        "--device {params.device} --threads {threads} 2> {log}"


rule decoding:
    input:
        rules.decoding_report.output,
        f"{BENCH}/decoding.json",
