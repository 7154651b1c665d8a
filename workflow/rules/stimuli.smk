# The shared procedural stimulus world: images of objects with known latent attributes, captions, search displays.


rule stimuli_world:
    output:
        table=f"{DATA}/stimuli/world/stimuli.csv",
        sheet=report(f"{RESULTS}/stimuli/contact_sheet.png",
                     caption="../report/stimuli_contact_sheet.rst", category="Stimuli"),
    params:
        out=lambda wildcards, output: os.path.dirname(output.table),
        n=min(config["stimuli"]["n_images"], 32) if PRESET == "tiny" else config["stimuli"]["n_images"],
        size=config["stimuli"]["image_size"],
    conda:
        ENV
    threads: 1
    priority: CRITICAL_PATH
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/stimuli_world.log",
    benchmark:
        timing("stimuli_world")
    shell:
        "neuromodels stimuli generate --out {params.out} --sheet {output.sheet} --n {params.n} "
        "--size {params.size} --seed 0 2> {log}"


rule stimuli_displays:
    output:
        index=f"{DATA}/stimuli/displays/displays.csv",
    params:
        out=lambda wildcards, output: os.path.dirname(output.index),
        set_sizes=" ".join(map(str, config["stimuli"]["display_set_sizes"])),
        n=config["stimuli"]["n_displays"],
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=memory(1000),
        runtime=10,
    log:
        f"{RESULTS}/logs/stimuli_displays.log",
    benchmark:
        timing("stimuli_displays")
    shell:
        "neuromodels stimuli displays --out {params.out} --n {params.n} "
        "--set-sizes {params.set_sizes} --seed 0 2> {log}"


rule stimuli:
    input:
        rules.stimuli_world.output,
        rules.stimuli_displays.output,
