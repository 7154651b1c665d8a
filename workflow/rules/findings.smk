# `findings` gathers every family's summary.json into one table (in the report too).


rule findings:
    input:
        SUMMARIES,
    output:
        report(f"{RESULTS}/findings.csv", caption="../report/findings.rst", category="findings"),
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
        "neuromodels findings --inputs {input} --table {output} 2> {log}"
