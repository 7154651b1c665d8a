# `snakemake report` builds every output marked for the report, then renders results/report.html.


rule report:
    input:
        rules.all.input,
    output:
        f"{RESULTS}/report.html",
    params:
        preset=PRESET,
        device=DEVICE,
    log:
        f"{RESULTS}/logs/report.log",
    conda:
        ENV
    localrule: True
    shell:
        "snakemake --nolock --report {output} --config preset={params.preset} device={params.device} 2> {log}"
