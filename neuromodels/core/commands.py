"""Core steps: ``neuromodels bench attention`` (the shared attention against the plain-softmax reference),
``neuromodels config check|describe`` (a config file's filled values; a family's settings) and
``neuromodels findings table|readme`` (every family's claims evaluated over seeds; the README's table).

Heavy imports stay inside the command functions so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _lengths(text: str) -> list[int]:
    """``"256,512"`` or ``"256"`` (the option also takes several words) to positive ints."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"lengths must be integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"lengths must be positive integers, got {text!r}")
    return values


def _bench_attention(args: argparse.Namespace) -> None:
    from .bench_attention import run

    lengths = [n for group in args.lengths for n in group]
    result = run(
        lengths=lengths,
        batch=args.batch,
        heads=args.heads,
        head_dim=args.head_dim,
        device=args.device,
        dtype=None if args.dtype == "auto" else args.dtype,
        repeats=args.repeats,
        warmup=args.warmup,
        out_path=args.out,
        max_reference_length=args.max_reference_length,
        threads=args.threads,
        seed=args.seed,
    )
    goal = result["goal"]
    if goal.get("met") is None:
        print(f"goal at L={goal['length']}: not evaluated ({goal.get('reason')})")
    else:
        print(
            f"goal at L={goal['length']} ({goal['device']}): speedup {goal['speedup']:.2f}x "
            f"(>= {goal['min_speedup']:g}x: {'yes' if goal['speedup_met'] else 'no'}), memory ratio "
            f"{goal['memory_ratio']:.3f} (<= {goal['max_memory_ratio']:g}: "
            f"{'yes' if goal['memory_met'] else 'no'}) -> {'met' if goal['met'] else 'not met'}"
        )


def _bench_dag(args: argparse.Namespace) -> None:
    from .io import write_json, write_table
    from .rule_timings import dag_timing, rule_table
    from .runtime import get_logger

    paths = sorted(Path(args.rules_dir).glob("*.tsv"))
    result = dag_timing(paths, args.rules or (), cores=args.cores)
    write_json(args.out, result)
    write_table(args.table, rule_table(paths, args.rules or ()))
    get_logger(__name__).info(
        "%d jobs: %.0f s of wall time, %.0f job-seconds on %s cores",
        result["jobs"],
        result["wall_seconds"],
        result["job_seconds"],
        args.cores,
    )


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    """Add ``neuromodels bench attention`` and ``neuromodels bench dag``."""
    p = bench_subparsers.add_parser(
        "dag",
        help="where the DAG's time goes: Snakemake's per-job benchmark files summed per rule",
        description="Reads the benchmark TSV of every job (results/benchmarks/rules/), sums wall and CPU seconds "
        "per rule, and writes the run's wall time (first job start to last job end) as JSON and the "
        "per-rule table as CSV. After a partial rerun the wall time spans both runs.",
    )
    p.add_argument("--rules-dir", required=True, help="folder of <rule>[_<wildcards>].tsv benchmark files")
    p.add_argument("--rules", nargs="*", help="the workflow's rule names (to group job files by rule)")
    p.add_argument("--cores", type=int, default=None, help="cores the run had (for the busy share)")
    p.add_argument("--out", required=True, help="JSON to write")
    p.add_argument("--table", required=True, help="per-rule CSV to write")
    p.set_defaults(func=_bench_dag)
    p = bench_subparsers.add_parser(
        "attention",
        help="shared attention (SDPA) vs the naive reference: forward+backward time and peak memory per length",
        description="Times forward+backward of neuromodels' attention (scaled_dot_product_attention) and of "
        "the plain-softmax reference on the same (batch, heads, L, head_dim) inputs, in the same "
        "process, and measures each one's peak memory (CPU: peak RSS of a fresh subprocess; CUDA: "
        "max_memory_allocated). Writes the numbers, ratios and the goal check as JSON.",
    )
    p.add_argument(
        "--lengths",
        type=_lengths,
        nargs="+",
        default=[[256, 512, 1024, 2048, 4096]],
        help="sequence lengths, space- or comma-separated (default 256 512 1024 2048 4096)",
    )
    p.add_argument("--batch", type=int, default=1, help="batch size B (default 1)")
    p.add_argument("--heads", type=int, default=8, help="attention heads H (default 8)")
    p.add_argument("--head-dim", type=int, default=64, help="width per head D (default 64)")
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where to run (default auto: CUDA when available)",
    )
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="dtype of q, k, v (default auto: bf16 on CUDA, fp32 on CPU)",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed calls per variant; the median is reported (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls per variant first (default 1)")
    p.add_argument(
        "--max-reference-length",
        type=int,
        default=None,
        help="skip the reference above this length (its cost grows as L^2; default: run it at all)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads for torch, recorded in the JSON (default: torch's own choice)",
    )
    p.add_argument(
        "--out",
        default="results/benchmarks/attention.json",
        help="JSON file to write (default results/benchmarks/attention.json)",
    )
    p.set_defaults(func=_bench_attention)


def _config_check(args: argparse.Namespace) -> None:
    import yaml

    from .config import check_config
    from .errors import DataError

    path = Path(args.configfile)
    if not path.is_file():
        raise DataError(path, "config file not found")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DataError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise DataError(path, "must be a mapping of settings")
    schema = Path(args.schema)
    if not schema.is_file():
        raise DataError(schema, "workflow config schema not found (run from the repository root or pass --schema)")
    filled = check_config(config, schema)
    if args.quiet:
        print(f"{path}: ok")
    else:
        print(yaml.safe_dump(filled, sort_keys=False, default_flow_style=None), end="")


def _config_describe(args: argparse.Namespace) -> None:
    from .config import describe_section

    summary, rows = describe_section(args.family)
    print(f"{args.family}: {summary}")
    for name, kind, default, description in rows:
        print(f"\n  {name}  [{kind}]  default {default}")
        if description:
            print(f"      {description}")


def _findings_table(args: argparse.Namespace) -> None:
    from .claims import claims_table
    from .findings import read_summary
    from .io import write_table
    from .runtime import get_logger

    summaries = [read_summary(path) for path in args.inputs]
    table, seeds = claims_table(summaries)
    write_table(args.table, table)
    if args.seeds_table:
        write_table(args.seeds_table, seeds)
    log = get_logger(__name__)
    counts = table["status"].value_counts()
    log.info(
        "%d claims of %d families: %s",
        len(table),
        table["family"].nunique(),
        ", ".join(f"{int(n)} {s}" for s, n in counts.items()),
    )
    for row in table[table["status"] != "reproduced"].itertuples():
        log.warning("%s: %s/%s (%s)", row.status, row.family, row.id, row.detail[:200])


def _findings_readme(args: argparse.Namespace) -> None:
    import datetime
    import subprocess

    import pandas as pd

    from .claims import markdown_table, replace_block, replace_family_rows
    from .errors import ConfigError, DataError
    from .io import write_text

    def read(path: str):
        try:
            out = pd.read_csv(path, keep_default_na=True)
        except (FileNotFoundError, pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise DataError(path, f"not a readable findings table ({type(exc).__name__})") from None
        out["control"] = out["control"].fillna("")
        return out

    table = read(args.table)
    family_commits = {}
    for spec in args.family_from or []:
        family, _, rest = spec.partition("=")
        path, _, family_commit = rest.partition("@")
        if not family or not path or not family_commit:
            raise ConfigError("--family-from", f"must read FAMILY=TABLE@COMMIT, got {spec!r}")
        table = replace_family_rows(table, family, read(path), path)
        family_commits[family] = family_commit
    commit = args.commit
    if commit is None:
        try:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = ""
    date = args.date or datetime.date.today().isoformat()
    readme = Path(args.readme)
    text = replace_block(readme.read_text(), markdown_table(table, commit, date, family_commits), readme)
    write_text(readme, text)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``neuromodels config check|describe`` and ``neuromodels findings``."""
    parser = subparsers.add_parser(
        "findings",
        help="every family's claims evaluated over seeds, in one table",
        description="The claims registries (neuromodels/<family>/claims.yaml) evaluated on the families' summaries.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)
    p = steps.add_parser(
        "table",
        help="evaluate every family's claims over the seeds of a run",
        description="Reads each family's summary.json (statistics per seed) and its claims "
        "registry; writes one row per claim (mean, 95%% interval over seeds, "
        "status) and logs every claim that is not reproduced.",
    )
    p.add_argument("--inputs", nargs="+", required=True, help="summary.json files, one per family")
    p.add_argument("--table", required=True, help="findings CSV to write")
    p.add_argument("--seeds-table", default=None, help="CSV of each claim's numbers per seed")
    p.set_defaults(func=_findings_table)
    p = steps.add_parser(
        "readme",
        help="write the findings table into the README",
        description="Replaces the README's block between '<!-- findings:start -->' and "
        "'<!-- findings:end -->' with the findings table (commit and date in it).",
    )
    p.add_argument("--table", default="results/findings.csv", help="findings CSV (default results/findings.csv)")
    p.add_argument("--readme", default="README.md", help="Markdown file to update (default README.md)")
    p.add_argument("--commit", default=None, help="commit to name (default: git rev-parse --short HEAD)")
    p.add_argument("--date", default=None, help="date to name (default: today)")
    p.add_argument(
        "--family-from",
        action="append",
        metavar="FAMILY=TABLE@COMMIT",
        help="take one family's rows from another run's findings table, measured at COMMIT (named in the "
        "table's heading); repeatable",
    )
    p.set_defaults(func=_findings_readme)
    parser = subparsers.add_parser(
        "config",
        help="check a config file; describe a family's settings",
        description="The workflow's configuration outside Snakemake.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)
    p = steps.add_parser(
        "check",
        help="validate a config file and print it with every default filled in",
        description="Check a config file against the workflow's schema (as `snakemake` does "
        "before a run) and print the values a run would use.",
    )
    p.add_argument(
        "configfile",
        nargs="?",
        default="workflow/config/config.yaml",
        help="config YAML (default workflow/config/config.yaml)",
    )
    p.add_argument(
        "--schema",
        default="workflow/schemas/config.schema.yaml",
        help="workflow config schema (default workflow/schemas/config.schema.yaml)",
    )
    p.add_argument("--quiet", action="store_true", help="print only whether the file is valid")
    p.set_defaults(func=_config_check)
    p = steps.add_parser(
        "describe",
        help="list a family's settings: type, default and meaning",
        description="Every setting of a family's config section (and of its --params), from the family's schema.",
    )
    p.add_argument("family", help="stimuli, benchmarks, networks, decoding, seeg or brainscore")
    p.set_defaults(func=_config_describe)
