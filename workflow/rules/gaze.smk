# The gaze family, per seed: scanpaths on shelf displays (simulated guided-search viewers, one data draw per seed,
# unless `gaze.data` or `gaze.coco_fixations` names real ones) -> one OAT and one image-blind control (OAT with
# zeroed crops, trained the same way) per split (held-out trials, layouts, targets) -> metrics of OAT, the
# controls (image-blind, the guided walk fitted on the training trials), the baselines and the human ceiling per
# split -> one table, example scanpaths and summary.json (statistics per seed, judged by the claims registry);
# a speed benchmark against the reference attention. Each declared vision model named in `gaze.models` adds an
# OAT variant per split and seed whose object tokens are that model's crop features (computed once per seed).
import re

from neuromodels.core.errors import ConfigError as _GzConfigError
from neuromodels.gaze.declared import check_names as _gz_check_names

GZ = config["gaze"]
GZ_SEEDS = family_seeds("gaze")
GZ_OUT = f"{RESULTS}/gaze"
GZ_SIMULATED = not (GZ["data"] or GZ["coco_fixations"])
GZ_MODELS = list(GZ["models"])
check_models("gaze.models", GZ_MODELS, kinds=("vision", "vision_text"))
try:
    _gz_check_names(GZ_MODELS)
except _GzConfigError as exc:
    sys.exit(f"neuromodels: {exc}")
# the section as the steps' --params, without gaze.models: exactly as before the setting existed, so that
# naming a declared model adds its jobs and reruns none of OAT's; the summary, which names the models' rows,
# gets them when there are some
GZ_PARAMS = shlex.quote(json.dumps({k: v for k, v in GZ.items() if k != "models"}, sort_keys=True))
GZ_SUMMARY_PARAMS = shlex.quote(json.dumps({k: v for k, v in GZ.items() if k != "models" or v}, sort_keys=True))


if GZ["coco_fixations"] and not GZ["coco_images"]:
    sys.exit("neuromodels: config key 'gaze.coco_images': needed with gaze.coco_fixations")
# the tiny preset (CI) runs the two splits the headline findings need
GZ_SPLITS = [s for s in GZ["splits"] if PRESET != "tiny" or s != "targets"] or GZ["splits"][:1]
GZ_OTHER_PE = {"gaussian": "sinusoidal", "sinusoidal": "gaussian"}[GZ["positional"]]
GZ_RUNS = [(s, GZ["positional"]) for s in GZ_SPLITS]
if GZ["ablation"] and "trials" in GZ_SPLITS:
    GZ_RUNS.append(("trials", GZ_OTHER_PE))
GZ_FIGURE_SPLIT = "trials" if "trials" in GZ_SPLITS else GZ_SPLITS[0]

BENCHMARKS.append(f"{BENCH}/gaze.json")

wildcard_constraints:
    gz_split="trials|layouts|targets",
    gz_pe="gaussian|sinusoidal",
    gz_model="|".join(re.escape(m) for m in GZ_MODELS) or "(?!)",


rule gaze_simulate:
    wildcard_constraints:
        seed=r"\d+",
    output:
        displays=f"{DATA}/gaze/scanpaths/seed{{seed}}/displays.jsonl",
        truth=f"{DATA}/gaze/scanpaths/seed{{seed}}/truth.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.displays),
        family=GZ_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/gaze/simulate_seed{{seed}}.log",
    benchmark:
        timing("gaze_simulate", "seed")
    shell:
        "neuromodels gaze simulate --out-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} 2> {log}"


# One job per split and seed: OAT trained, then evaluated (OAT, the baselines, the guided walk and the human
# ceiling on the test trials) in the same process, which reads the data once.
rule gaze_train:
    wildcard_constraints:
        seed=r"\d+",
    input:
        data=lambda wildcards: gz_input(wildcards.seed),
    output:
        model=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/model.pt",
        history=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/history.json",
        metrics=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/metrics.csv",
        scanpaths=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/scanpaths.json",
    params:
        launch=launcher,
        data=lambda wildcards, input: gz_folder(input.data),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
        checkpoint=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/checkpoint.pt",
        family=GZ_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/gaze/train_{{gz_split}}_{{gz_pe}}_seed{{seed}}.log",
    benchmark:
        timing("gaze_train", "gz_split", "gz_pe", "seed")
    shell:
        "{params.launch} gaze train --data {params.data} --split {wildcards.gz_split} --positional {wildcards.gz_pe} "
        "--out {output.model} --checkpoint {params.checkpoint} --history {output.history} "
        "--evaluate-dir {params.out} --preset {params.preset} --params {params.family} --seed {wildcards.seed} "
        "--device {params.device} --threads {threads} 2> {log}"


# The image-blind control of each split and seed: OAT with every crop replaced by zeros, trained exactly as
# OAT is (same seed, data, split and settings), evaluated on the same test trials.
rule gaze_train_image_blind:
    wildcard_constraints:
        seed=r"\d+",
    input:
        data=lambda wildcards: gz_input(wildcards.seed),
    output:
        model=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/image_blind/model.pt",
        history=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/image_blind/history.json",
        metrics=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/image_blind/metrics.csv",
        scanpaths=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/image_blind/scanpaths.json",
    params:
        launch=launcher,
        data=lambda wildcards, input: gz_folder(input.data),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
        checkpoint=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/image_blind/checkpoint.pt",
        family=GZ_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/gaze/train_image_blind_{{gz_split}}_{{gz_pe}}_seed{{seed}}.log",
    benchmark:
        timing("gaze_train_image_blind", "gz_split", "gz_pe", "seed")
    shell:
        "{params.launch} gaze train --image-blind --data {params.data} --split {wildcards.gz_split} "
        "--positional {wildcards.gz_pe} --out {output.model} --checkpoint {params.checkpoint} "
        "--history {output.history} --evaluate-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


# A declared model's features of every object crop of a seed's data (its last layer read, mean-pooled), once,
# for every split's OAT variant; the files the model is built from are inputs (<name>-random: its random-init
# copy).
rule gaze_features:
    wildcard_constraints:
        seed=r"\d+",
    input:
        data=lambda wildcards: gz_input(wildcards.seed),
        models=lambda wildcards: model_files([wildcards.gz_model.removesuffix("-random")], wildcards.seed),
    output:
        f"{GZ_OUT}/features/{{gz_model}}/seed{{seed}}/features.npz",
    params:
        data=lambda wildcards, input: gz_folder(input.data),
        declared=lambda wildcards: declarations_json([wildcards.gz_model]),
        family=GZ_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/gaze/features_{{gz_model}}_seed{{seed}}.log",
    benchmark:
        timing("gaze_features", "gz_model", "seed")
    shell:
        "neuromodels gaze features --data {params.data} --model {wildcards.gz_model} --models {params.declared} "
        "--out {output} --preset {params.preset} --params {params.family} --seed {wildcards.seed} "
        "--device {params.device} --threads {threads} 2> {log}"


# OAT on a declared model's crop features (frozen; a learned projection to OAT's width) per split and seed,
# trained and evaluated as OAT is; its rows carry the model's name.
rule gaze_train_declared:
    wildcard_constraints:
        seed=r"\d+",
    input:
        data=lambda wildcards: gz_input(wildcards.seed),
        features=f"{GZ_OUT}/features/{{gz_model}}/seed{{seed}}/features.npz",
    output:
        model=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/declared/{{gz_model}}/model.pt",
        history=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/declared/{{gz_model}}/history.json",
        metrics=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/declared/{{gz_model}}/metrics.csv",
        scanpaths=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/declared/{{gz_model}}/scanpaths.json",
    params:
        launch=launcher,
        data=lambda wildcards, input: gz_folder(input.data),
        out=lambda wildcards, output: os.path.dirname(output.metrics),
        checkpoint=f"{GZ_OUT}/{{gz_split}}/{{gz_pe}}/seed{{seed}}/declared/{{gz_model}}/checkpoint.pt",
        family=GZ_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/gaze/train_{{gz_model}}_{{gz_split}}_{{gz_pe}}_seed{{seed}}.log",
    benchmark:
        timing("gaze_train_declared", "gz_model", "gz_split", "gz_pe", "seed")
    shell:
        "{params.launch} gaze train --features {input.features} --data {params.data} --split {wildcards.gz_split} "
        "--positional {wildcards.gz_pe} --out {output.model} --checkpoint {params.checkpoint} "
        "--history {output.history} --evaluate-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


# Every seed's metrics (OAT and the baselines per split, the ablation's rows, the image-blind control per main
# split, each declared model's OAT variant per main split) -> one table and summary.json with the statistics of
# every seed.
rule gaze_summary:
    input:
        metrics=[f"{GZ_OUT}/{split}/{pe}/seed{seed}/metrics.csv" for seed in GZ_SEEDS for split, pe in GZ_RUNS]
        + [f"{GZ_OUT}/{split}/{GZ['positional']}/seed{seed}/image_blind/metrics.csv"
           for seed in GZ_SEEDS for split in GZ_SPLITS]
        + [f"{GZ_OUT}/{split}/{GZ['positional']}/seed{seed}/declared/{name}/metrics.csv"
           for seed in GZ_SEEDS for split in GZ_SPLITS for name in GZ_MODELS],
        scanpaths=[f"{GZ_OUT}/{GZ_FIGURE_SPLIT}/{GZ['positional']}/seed{seed}/scanpaths.json" for seed in GZ_SEEDS],
        declared_scanpaths=[f"{GZ_OUT}/{GZ_FIGURE_SPLIT}/{GZ['positional']}/seed{GZ_SEEDS[0]}/declared/{name}/scanpaths.json"
                            for name in GZ_MODELS],
        data=gz_input(GZ_SEEDS[0]),
    output:
        table=report(f"{GZ_OUT}/metrics.csv", caption="../report/gaze_metrics.rst", category="gaze"),
        figure=report(f"{GZ_OUT}/scanpaths.png", caption="../report/gaze_scanpaths.rst", category="gaze"),
        summary=f"{GZ_OUT}/summary.json",
    params:
        data=lambda wildcards, input: gz_folder(input.data),
        declared_figure=lambda wildcards, input: " ".join(["--declared-scanpaths", *input.declared_scanpaths])
        if GZ_MODELS else "",
        family=GZ_SUMMARY_PARAMS,
        preset=PRESET,
        preset_code=preset_code("gaze"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/gaze/summary.log",
    benchmark:
        timing("gaze_summary")
    shell:
        "neuromodels gaze summarize --inputs {input.metrics} --scanpaths {input.scanpaths} --data {params.data} "
        "--table {output.table} --figure {output.figure} --summary {output.summary} --preset {params.preset} "
        "--params {params.family} {params.declared_figure} 2> {log}"


rule bench_gaze:
    output:
        f"{BENCH}/gaze.json",
    params:
        preset=PRESET,
        preset_code=preset_code("gaze"),
        device=DEVICE,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(2000),
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/bench_gaze.log",
    benchmark:
        timing("bench_gaze")
    shell:
        "neuromodels bench gaze --out {output} --preset {params.preset} --device {params.device} "
        "--threads {threads} 2> {log}"


SUMMARIES.append(rules.gaze_summary.output.summary)


rule gaze:
    input:
        rules.gaze_summary.output,
