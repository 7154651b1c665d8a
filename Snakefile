# neuromodels: the whole DAG. Loads and checks the config, includes one rule file per family, names the targets.
# Threads and resources live in the rules and in workflow/profiles/, never in the config.

configfile: "workflow/config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/stimuli.smk"
include: "workflow/rules/networks.smk"
include: "workflow/rules/decoding.smk"
include: "workflow/rules/seeg.smk"
include: "workflow/rules/brainscore.smk"
include: "workflow/rules/gaze.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/benchmarks.smk"
include: "workflow/rules/findings.smk"

# What a run makes: every family's tables and figures, the benchmarks and the findings table. The per-rule
# timings of the run (results/benchmarks/dag.json) come last, after all of it.
TARGETS = [
    rules.stimuli.input,
    rules.decoding.input,
    rules.seeg.input,
    rules.brainscore.input,
    rules.gaze.input,
    rules.search.input,
    rules.benchmarks.input,
    rules.findings.output,
]


include: "workflow/rules/timings.smk"


rule all:
    default_target: True
    input:
        TARGETS,
        rules.dag_timings.output,


include: "workflow/rules/report.smk"
