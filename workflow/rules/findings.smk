# `findings` evaluates every family's claims registry (neuromodels/<family>/claims.yaml) over the run's seeds,
# from the families' summary.json files: one table (in the report too) and each claim's numbers per seed.
FINDINGS_FAMILIES = ("decoding", "seeg", "brainscore", "gaze", "search")


rule findings:
    input:
        summaries=SUMMARIES,
        # a changed claim or margin re-evaluates the table
        registries=[os.path.join(workflow.basedir, "neuromodels", family, "claims.yaml") for family in FINDINGS_FAMILIES],
    output:
        table=report(f"{RESULTS}/findings.csv", caption="../report/findings.rst", category="findings"),
        seeds=f"{RESULTS}/findings_seeds.csv",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=5,
    log:
        f"{RESULTS}/logs/findings.log",
    benchmark:
        timing("findings")
    shell:
        "neuromodels findings table --inputs {input.summaries} --table {output.table} --seeds-table {output.seeds} 2> {log}"
