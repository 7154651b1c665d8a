# `snakemake report` builds every output marked for the report, then renders results/report.html.


rule report:
    input:
        rules.all.input,
    output:
        f"{RESULTS}/report.html",
    localrule: True
    shell:
        "snakemake --nolock --report {output} --configfile workflow/config/config.yaml "
        "--config preset={PRESET} device={DEVICE}"
