# Benchmarks: each writes JSON under results/benchmarks/ with timings and ratios against a baseline run in the
# same process. Family rule files (included before this one) append their outputs to BENCHMARKS.

BENCHMARKS.append(f"{BENCH}/attention.json")


rule bench_attention:
    output:
        f"{BENCH}/attention.json",
    params:
        device=DEVICE,
        lengths=" ".join(
            str(n)
            for n in config["benchmarks"]["attention_lengths"]
            if PRESET != "tiny" or n <= 512
        ),
    conda:
        ENV
    threads: BENCH_THREADS
    resources:
        mem_mb=memory(8000),
        runtime=20,
        gpu=gpus,
    log:
        f"{RESULTS}/logs/bench_attention.log",
    benchmark:
        timing("bench_attention")
    shell:
        "neuromodels bench attention --lengths {params.lengths} --device {params.device} --threads {threads} "
        "--out {output} 2> {log}"


rule benchmarks:
    input:
        BENCHMARKS,
