# Benchmarks: each writes JSON under results/benchmarks/ with timings and ratios against a baseline run in the
# same process. Family rule files (included before this one) append their outputs to BENCHMARKS.

BENCHMARKS.append(f"{BENCH}/attention.json")
# The longest lengths of the list run at `full` only: at 4096 the reference's (L, L) score matrices alone take
# most of the benchmark's minute on a 2-core CPU. tiny (CI) times the shortest only: each length measures peak
# memory in a fresh interpreter per variant, and a second length cost CI 4 s of CPU for numbers no one reads.
ATTENTION_LENGTH_CAP = {"tiny": 256, "default": 2048}


rule bench_attention:
    output:
        f"{BENCH}/attention.json",
    params:
        device=DEVICE,
        lengths=" ".join(
            str(n)
            for n in config["benchmarks"]["attention_lengths"]
            if n <= ATTENTION_LENGTH_CAP.get(PRESET, n)
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
