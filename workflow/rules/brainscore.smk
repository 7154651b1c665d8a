# The brainscore family: a classification set (the stimulus world's categories unless `brainscore.image_data`
# names one) and V4/IT recordings (simulated unless `brainscore.assembly` names one), each drawn per seed ->
# one CrossViT per variant and seed, and per seed the untrained CrossViT control (the seed's initialisation) ->
# robustness and neural scores per model -> per-seed statistics for the claims registry, a table and a figure;
# a throughput benchmark. Declared models named in `brainscore.models` are scored per seed beside them.
import re

from neuromodels.brainscore.data import stimulus_table_path

BS = config["brainscore"]
BS_SEEDS = family_seeds("brainscore")
BS_OUT = f"{RESULTS}/brainscore"
# simulated data follow the seed (a user's files are the same for every seed; the seed then draws the splits)
BS_IMAGES = BS["image_data"] or f"{DATA}/brainscore/seed{{seed}}/images.h5"
BS_ASSEMBLY = BS["assembly"] or f"{DATA}/brainscore/seed{{seed}}/neural/assembly.nc"
BS_STIMULI = BS["stimuli"] or f"{DATA}/brainscore/seed{{seed}}/neural/stimuli"

# the stimulus set's CSV: the file named, a folder's stimuli.csv, or a folder's only CSV (Brain-Score's store)
BS_STIMULUS_TABLE = str(stimulus_table_path(BS_STIMULI))
if BS["assembly"] and not BS["stimuli"]:
    sys.exit("neuromodels: config key 'brainscore.stimuli': needed with brainscore.assembly")

# images, simulation and training read only the preset overrides: pointing the family at recordings, or
# changing how they are scored (regions, time_bins), reruns the scoring jobs and not the training
BS_PRESET_PARAMS = shlex.quote(json.dumps({"overrides": BS["overrides"]}, sort_keys=True))

BENCHMARKS.append(f"{BENCH}/brainscore.json")

wildcard_constraints:
    bs_variant="|".join(BS["variants"] + BS["controls"]),
# every variant's and every control's summary, for every seed
BS_SUMMARIES = expand(f"{BS_OUT}/{{variant}}/seed{{seed}}/summary.json", variant=BS["variants"] + BS["controls"],
                      seed=BS_SEEDS)

# declared models (brainscore.models) scored beside them, each with its random-init copy when the declaration can
# build one; their rows carry their names (results/brainscore/<name>/seed<seed>/)
check_models("brainscore.models", BS["models"], kinds=["vision", "vision_text"])
BS_MODELS = list(dict.fromkeys(
    name for m in BS["models"]
    for name in ([m, f"{m}-random"] if m == m.removesuffix("-random") and DECLARED[m].can_randomise else [m])))
for _name in BS_MODELS:
    if "." in _name:
        sys.exit(f"neuromodels: config key 'brainscore.models': {_name!r} holds a dot (statistics are named "
                 "<model>.<metric>); give the declared model another name")
    if _name in BS["variants"] + BS["controls"] + ["base", "rotation", "adversarial", "rotation_adversarial",
                                                   "untrained_crossvit"]:
        sys.exit(f"neuromodels: config key 'brainscore.models': {_name!r} is the name of a CrossViT variant or "
                 "control; give the declared model another name")
BS_DECLARED_SUMMARIES = expand(f"{BS_OUT}/{{model}}/seed{{seed}}/summary.json", model=BS_MODELS, seed=BS_SEEDS)
# the scoring steps' settings without the model list: declaring a model reruns no CrossViT scoring
BS_SCORE_PARAMS = shlex.quote(json.dumps({k: v for k, v in BS.items() if k != "models"}, sort_keys=True))


rule brainscore_images:
    output:
        f"{DATA}/brainscore/seed{{seed}}/images.h5",
    params:
        family=BS_PRESET_PARAMS,
        preset=PRESET,
        preset_code=preset_code("brainscore"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=10,
    log:
        f"{RESULTS}/logs/brainscore/images_seed{{seed}}.log",
    benchmark:
        timing("brainscore_images", "seed")
    shell:
        "neuromodels brainscore images --out {output} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} 2> {log}"


rule brainscore_simulate:
    output:
        assembly=f"{DATA}/brainscore/seed{{seed}}/neural/assembly.nc",
        stimuli=f"{DATA}/brainscore/seed{{seed}}/neural/stimuli/stimuli.csv",
        truth=f"{DATA}/brainscore/seed{{seed}}/neural/truth.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.assembly),
        family=BS_PRESET_PARAMS,
        preset=PRESET,
        preset_code=preset_code("brainscore"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=10,
    log:
        f"{RESULTS}/logs/brainscore/simulate_seed{{seed}}.log",
    benchmark:
        timing("brainscore_simulate", "seed")
    shell:
        "neuromodels brainscore simulate --out-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} 2> {log}"


rule brainscore_train:
    wildcard_constraints:
        bs_variant="|".join(BS["variants"]),
    input:
        data=BS_IMAGES,
    output:
        model=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/model.pt",
        history=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/history.json",
    params:
        launch=launcher,
        checkpoint=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/checkpoint.pt",
        family=BS_PRESET_PARAMS,
        preset=PRESET,
        preset_code=preset_code("brainscore"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(4000),
        runtime=120,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/brainscore/train_{{bs_variant}}_seed{{seed}}.log",
    benchmark:
        timing("brainscore_train", "bs_variant", "seed")
    shell:
        "{params.launch} brainscore train --variant {wildcards.bs_variant} --data {input.data} --out {output.model} "
        "--checkpoint {params.checkpoint} --history {output.history} --preset {params.preset} "
        "--params {params.family} --seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


# the control: the seed's initialisation of the same CrossViT, never trained (no training job: a model file)
rule brainscore_untrained:
    wildcard_constraints:
        bs_variant="|".join(BS["controls"]) or "untrained_crossvit",
    input:
        data=BS_IMAGES,
    output:
        model=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/model.pt",
    params:
        family=BS_PRESET_PARAMS,
        preset=PRESET,
        preset_code=preset_code("brainscore"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=10,
    log:
        f"{RESULTS}/logs/brainscore/init_{{bs_variant}}_seed{{seed}}.log",
    benchmark:
        timing("brainscore_untrained", "bs_variant", "seed")
    shell:
        "neuromodels brainscore init --data {input.data} --out {output.model} --preset {params.preset} "
        "--params {params.family} --seed {wildcards.seed} 2> {log}"


rule brainscore_score:
    input:
        model=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/model.pt",
        data=BS_IMAGES,
        assembly=BS_ASSEMBLY,
        stimuli=BS_STIMULUS_TABLE,
    output:
        robustness=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/robustness.csv",
        neural=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/neural.csv",
        layers=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/layers.csv",
        summary=f"{BS_OUT}/{{bs_variant}}/seed{{seed}}/summary.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        family=BS_SCORE_PARAMS,
        preset=PRESET,
        preset_code=preset_code("brainscore"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(4000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/brainscore/score_{{bs_variant}}_seed{{seed}}.log",
    benchmark:
        timing("brainscore_score", "bs_variant", "seed")
    shell:
        "neuromodels brainscore score --model {input.model} --data {input.data} --assembly {input.assembly} "
        "--stimuli {input.stimuli} --out-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


# a declared model: the same commitment and ceiled predictivity on its declared layers (no robustness table: it
# is not a classifier of the set's classes)
rule brainscore_score_declared:
    wildcard_constraints:
        bs_model="|".join(re.escape(m) for m in BS_MODELS) or "(?!)",
    input:
        assembly=BS_ASSEMBLY,
        stimuli=BS_STIMULUS_TABLE,
        models=lambda wildcards: model_files([wildcards.bs_model.removesuffix("-random")], wildcards.seed),
    output:
        neural=f"{BS_OUT}/{{bs_model}}/seed{{seed}}/neural.csv",
        layers=f"{BS_OUT}/{{bs_model}}/seed{{seed}}/layers.csv",
        summary=f"{BS_OUT}/{{bs_model}}/seed{{seed}}/summary.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        family=BS_SCORE_PARAMS,
        declared=lambda wildcards: declarations_json([wildcards.bs_model]),
        preset=PRESET,
        preset_code=preset_code("brainscore"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(4000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/brainscore/score_{{bs_model}}_seed{{seed}}.log",
    benchmark:
        timing("brainscore_score_declared", "bs_model", "seed")
    shell:
        "neuromodels brainscore score --declared {wildcards.bs_model} --models {params.declared} "
        "--assembly {input.assembly} --stimuli {input.stimuli} --out-dir {params.out} --preset {params.preset} "
        "--params {params.family} --seed {wildcards.seed} --device {params.device} --threads {threads} 2> {log}"


rule brainscore_summary:
    input:
        summaries=BS_SUMMARIES + BS_DECLARED_SUMMARIES,
        # each seed's planted reliabilities of simulated recordings (none for a real assembly: no ceiling
        # statistics then)
        truth=[] if BS["assembly"] else expand(f"{DATA}/brainscore/seed{{seed}}/neural/truth.json", seed=BS_SEEDS),
    output:
        table=report(f"{BS_OUT}/variants.csv", caption="../report/brainscore_variants_table.rst",
                     category="brainscore"),
        figure=report(f"{BS_OUT}/variants.png", caption="../report/brainscore_variants.rst",
                      category="brainscore"),
        findings=f"{BS_OUT}/summary.json",
    params:
        truth=lambda wildcards, input: f"--truth {' '.join(input.truth)}" if input.truth else "",
        preset=PRESET,
        preset_code=preset_code("brainscore"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/brainscore/summary.log",
    benchmark:
        timing("brainscore_summary")
    shell:
        "neuromodels brainscore summarize --inputs {input.summaries} --table {output.table} "
        "--figure {output.figure} --findings {output.findings} {params.truth} --preset {params.preset} 2> {log}"


SUMMARIES.append(rules.brainscore_summary.output.findings)


rule bench_brainscore:
    output:
        f"{BENCH}/brainscore.json",
    params:
        preset=PRESET,
        preset_code=preset_code("brainscore"),
        device=DEVICE,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(4000),
        runtime=30,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/bench_brainscore.log",
    benchmark:
        timing("bench_brainscore")
    shell:
        "neuromodels bench brainscore --out {output} --preset {params.preset} --device {params.device} --threads {threads} "
        "2> {log}"


rule brainscore:
    input:
        rules.brainscore_summary.output,
