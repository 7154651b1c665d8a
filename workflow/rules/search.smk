# The search family (eccNET, Gupta, Zhang & Kreiman 2021): the six classic search asymmetry experiments (or a
# trial set of your own, `search.trials`) -> the VGG backbone trained on each world diet -> eccNET and its
# baselines search every display -> RT slopes, asymmetry indices beside the human ones, the diet experiment,
# figures and summary.json; a benchmark of the search loop.
from neuromodels.search.presets import MODELS as SR_KINDS, get_preset as search_preset

SR = config["search"]
SR_OUT = f"{RESULTS}/search"
SR_SEEDS = [int(s) for s in family_seeds("search")]
# Every seed draws its own displays (item jitter), trains its own backbones (initialisation, image draw, order)
# and runs every model on them: seed{s}/ folders. A trial set of the user's (`search.trials`) is the same for
# every seed; only the models follow the seed then.
SR_TRIALS = SR["trials"] or f"{DATA}/search/seed{{sr_seed}}/trials"
SR_DIETS = SR["diets"]
SR_FIRST = "upright" if "upright" in SR_DIETS else SR_DIETS[0]
# the models are compared on the user's backbone ("own") when one is given, else on the first diet's
SR_MAIN = "own" if SR["backbone"] else SR_FIRST
# the models compared there: the config's, else the preset's (the untrained-backbone control re-initialises
# SR_MAIN's backbone with the seed: the same architecture, never trained)
SR_MODELS = list(SR["models"] or search_preset(PRESET).models)
SR_NO_BACKBONE = ("pixel", "chance")
# a name that is not one of the family's kinds is a declared vision model (the config's models:, or search_vgg):
# eccNET on its spatial layers, its runs labelled with the diet "declared"
SR_DECLARED = [m for m in SR_MODELS if m not in SR_KINDS]
check_models("search.models", SR_DECLARED, kinds=("vision", "vision_text"))
for _name in SR_DECLARED:  # its statistics are <name>.<metric>; eccnet_<diet> are eccNET's per diet
    if "." in _name or _name.startswith("eccnet_"):
        sys.exit(f"neuromodels: config key 'search.models': {_name!r}: a declared model's name may hold no dot "
                 "nor start with 'eccnet_'")
# eccNET on every diet (the diet experiment), every model on SR_MAIN: (model, diet) pairs
SR_PAIRS = sorted(
    {(m, "none" if m in SR_NO_BACKBONE else "declared" if m in SR_DECLARED else SR_MAIN) for m in SR_MODELS}
    | {("eccnet", d) for d in SR_DIETS}
)
SR_RUN = f"{SR_OUT}/seed{{sr_seed}}/runs/{{model}}_{{diet}}.csv"
SR_RUNS = [SR_RUN.replace("{model}", m).replace("{diet}", d) for m, d in SR_PAIRS]
# the backbone each run searches with: none for pixel and chance, the user's for "own", else the seed's diet's
SR_BACKBONES = [
    "none"
    if d in ("none", "declared")
    else SR["backbone"] if d == "own" else f"{SR_OUT}/seed{{sr_seed}}/backbones/{d}.pt"
    for _, d in SR_PAIRS
]


BENCHMARKS.append(f"{BENCH}/search.json")

wildcard_constraints:
    sr_diet="|".join(["none", "own", "upright", "rotated_90", "lit_from_below"]),
    sr_seed=r"\d+",


rule search_stimuli:
    output:
        f"{DATA}/search/seed{{sr_seed}}/trials/trials.csv",
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
        f"{RESULTS}/logs/search/stimuli_seed{{sr_seed}}.log",
    benchmark:
        timing("search_stimuli", "sr_seed")
    shell:
        "neuromodels search stimuli --out-dir {params.out} --preset {params.preset} --params {params.family} "
        "--seed {wildcards.sr_seed} --threads {threads} 2> {log}"


rule search_train:
    output:
        model=f"{SR_OUT}/seed{{sr_seed}}/backbones/{{sr_diet}}.pt",
        history=f"{SR_OUT}/seed{{sr_seed}}/backbones/{{sr_diet}}_history.json",
    params:
        checkpoint=f"{SR_OUT}/seed{{sr_seed}}/backbones/{{sr_diet}}_checkpoint.pt",
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
        f"{RESULTS}/logs/search/train_seed{{sr_seed}}_{{sr_diet}}.log",
    benchmark:
        timing("search_train", "sr_seed", "sr_diet")
    shell:
        "neuromodels search train --diet {wildcards.sr_diet} --out {output.model} --checkpoint {params.checkpoint} "
        "--history {output.history} --preset {params.preset} --params {params.family} --seed {wildcards.sr_seed} "
        "--device {params.device} --threads {threads} 2> {log}"


# Every run (model x backbone) of one seed in one job: one start-up and one read of the trials for all of them.
# A declared model's files (builder file, weights; search_vgg's backbone) are inputs too.
rule search_run:
    input:
        trials=f"{SR_TRIALS}/trials.csv",
        backbones=sorted(set(SR_BACKBONES) - {"none"}),
        models=lambda wildcards: model_files(SR_DECLARED, wildcards.sr_seed),
    output:
        SR_RUNS,
    params:
        trials=lambda wildcards, input: os.path.dirname(input.trials),
        models=" ".join(m for m, _ in SR_PAIRS),
        diets=" ".join(d for _, d in SR_PAIRS),
        backbones=lambda wildcards: " ".join(b.replace("{sr_seed}", wildcards.sr_seed) for b in SR_BACKBONES),
        family=params("search"),
        declared=declarations_json(SR_DECLARED),
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
        f"{RESULTS}/logs/search/run_seed{{sr_seed}}.log",
    benchmark:
        timing("search_run", "sr_seed")
    shell:
        "neuromodels search run --model {params.models} --trials {params.trials} --backbone {params.backbones} "
        "--diet {params.diets} --out {output} --preset {params.preset} --params {params.family} "
        "--models {params.declared} --seed {wildcards.sr_seed} --device cpu --threads {threads} 2> {log}"


# The analysis gathers every seed's runs: indices per seed, summary.json with each claim's statistics per seed.
rule search_analyze:
    input:
        runs=[p.replace("{sr_seed}", str(s)) for s in SR_SEEDS for p in SR_RUNS],
        trials=f"{SR_TRIALS}/trials.csv".replace("{sr_seed}", str(SR_SEEDS[0])),
        # each trained backbone's held-out accuracy goes to the summary
        histories=[f"{SR_OUT}/seed{s}/backbones/{d}_history.json" for s in SR_SEEDS for d in SR_DIETS],
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
        preset_code=preset_code("search"),
        seed=SR_SEEDS[0],
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
        "neuromodels search analyze --runs {input.runs} --trials {params.trials} --histories {input.histories} "
        "--out-dir {params.out} "
        "--preset {params.preset} --params {params.family} --seed {params.seed} 2> {log}"


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
