# Where the run's time went: every job writes Snakemake's benchmark file (the `benchmark:` of each rule, see
# `timing` in common.smk); `dag_timings` runs after everything else and sums them per rule.



rule dag_timings:
    input:
        TARGETS,
    output:
        json=f"{BENCH}/dag.json",
        table=report(f"{BENCH}/dag_rules.csv", caption="../report/dag_timings.rst", category="timings"),
    params:
        rules_dir=f"{BENCH}/rules",
        rules=rule_names,
        cores=CORES,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{RESULTS}/logs/dag_timings.log",
    shell:
        "neuromodels bench dag --rules-dir {params.rules_dir} --rules {params.rules} --cores {params.cores} "
        "--out {output.json} --table {output.table} 2> {log}"
