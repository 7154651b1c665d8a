# The search family (eccNET, Gupta, Zhang & Kreiman 2021): the six classic search asymmetry experiments (or a
# trial set of your own, `search.trials`) -> the VGG backbone trained on each world diet -> eccNET and its
# baselines search every display -> RT slopes, asymmetry indices beside the human ones, the diet experiment,
# figures and summary.json; a benchmark of the search loop.
from neuromodels.search.presets import get_preset as search_preset

SR = config["search"]
SR_OUT = f"{RESULTS}/search"
SR_TRIALS = SR["trials"] or f"{DATA}/search/trials"
SR_DIETS = SR["diets"]
SR_FIRST = "upright" if "upright" in SR_DIETS else SR_DIETS[0]
# the models are compared on the user's backbone ("own") when one is given, else on the first diet's
SR_MAIN = "own" if SR["backbone"] else SR_FIRST
# the models compared there: the config's, else the preset's
SR_MODELS = list(SR["models"] or search_preset(PRESET).models)
SR_NO_BACKBONE = ("pixel", "chance")
# eccNET on every diet (the diet experiment), every model on SR_MAIN: (model, diet) pairs
SR_PAIRS = sorted(
    {(m, "none" if m in SR_NO_BACKBONE else SR_MAIN) for m in SR_MODELS} | {("eccnet", d) for d in SR_DIETS}
)
SR_RUNS = [f"{SR_OUT}/runs/{m}_{d}.csv" for m, d in SR_PAIRS]
# the backbone each run searches with: none for pixel and chance, the user's for "own", else the diet's
SR_BACKBONES = [
    "none" if d == "none" else SR["backbone"] if d == "own" else f"{SR_OUT}/backbones/{d}.pt" for _, d in SR_PAIRS
]

BENCHMARKS.append(f"{BENCH}/search.json")

wildcard_constraints:
    sr_diet="|".join(["none", "own", "upright", "rotated_90", "lit_from_below"]),


rule search_stimuli:
    output:
        f"{DATA}/search/trials/trials.csv",
    params:
        out=lambda wildcards, output: os.path.dirname(output[0]),
        family=params("search"),
        preset=PRESET,
        preset_code=preset_code("search"),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/search/stimuli.log",
    benchmark:
        timing("search_stimuli")
    shell:
        "neuromodels search stimuli --out-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed 0 --threads {threads} 2> {log}"


rule search_train:
    output:
        model=f"{SR_OUT}/backbones/{{sr_diet}}.pt",
        history=f"{SR_OUT}/backbones/{{sr_diet}}_history.json",
    params:
        checkpoint=f"{SR_OUT}/backbones/{{sr_diet}}_checkpoint.pt",
        family=params("search"),
        preset=PRESET,
        preset_code=preset_code("search"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=60,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/search/train_{{sr_diet}}.log",
    benchmark:
        timing("search_train", "sr_diet")
    shell:
        "neuromodels search train --diet {wildcards.sr_diet} --out {output.model} --checkpoint {params.checkpoint} "
        "--history {output.history} --preset {params.preset} --params {params.family} --seed 0 "
        "--device {params.device} --threads {threads} 2> {log}"


# Every run (model x backbone) in one job: one start-up and one read of the trials for all of them.
rule search_run:
    input:
        trials=f"{SR_TRIALS}/trials.csv",
        backbones=sorted(set(SR_BACKBONES) - {"none"}),
    output:
        SR_RUNS,
    params:
        trials=lambda wildcards, input: os.path.dirname(input.trials),
        models=" ".join(m for m, _ in SR_PAIRS),
        diets=" ".join(d for _, d in SR_PAIRS),
        backbones=" ".join(SR_BACKBONES),
        family=params("search"),
        preset=PRESET,
        preset_code=preset_code("search"),
        device=DEVICE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=30,
    log:
        f"{RESULTS}/logs/search/run.log",
    benchmark:
        timing("search_run")
    shell:
        "neuromodels search run --model {params.models} --trials {params.trials} --backbone {params.backbones} "
        "--diet {params.diets} --out {output} --preset {params.preset} --params {params.family} --seed 0 "
        "--device cpu --threads {threads} 2> {log}"


rule search_analyze:
    input:
        runs=SR_RUNS,
        trials=f"{SR_TRIALS}/trials.csv",
    output:
        slopes=report(f"{SR_OUT}/slopes.csv", caption="../report/search_slopes.rst", category="search"),
        indices=report(f"{SR_OUT}/indices.csv", caption="../report/search_indices_table.rst", category="search"),
        diets=f"{SR_OUT}/diets.csv",
        rt=report(f"{SR_OUT}/rt_vs_set_size.png", caption="../report/search_rt.rst", category="search"),
        figure=report(f"{SR_OUT}/indices.png", caption="../report/search_indices.rst", category="search"),
        fixations=report(f"{SR_OUT}/fixations.png", caption="../report/search_fixations.rst",
                         category="search"),
        diet_figure=report(f"{SR_OUT}/diets.png", caption="../report/search_diets.rst", category="search"),
        summary=f"{SR_OUT}/summary.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.summary),
        trials=lambda wildcards, input: os.path.dirname(input.trials),
        family=params("search"),
        preset=PRESET,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(2000),
        runtime=10,
    log:
        f"{RESULTS}/logs/search/analyze.log",
    benchmark:
        timing("search_analyze")
    shell:
        "neuromodels search analyze --runs {input.runs} --trials {params.trials} --out-dir {params.out} "
        "--preset {params.preset} --params {params.family} --seed 0 2> {log}"


rule bench_search:
    output:
        f"{BENCH}/search.json",
    params:
        preset=PRESET,
        preset_code=preset_code("search"),
        device=DEVICE,
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(2000),
        runtime=20,
    log:
        f"{RESULTS}/logs/bench_search.log",
    benchmark:
        timing("bench_search")
    shell:
        "neuromodels bench search --out {output} --preset {params.preset} --device {params.device} "
        "--threads {threads} 2> {log}"


SUMMARIES.append(rules.search_analyze.output.summary)


rule search:
    input:
        rules.search_analyze.output,
