"""One entry point: ``neuromodels <family> <step> [options]``.

Each part of the package that offers steps has a ``commands.py`` with ``register(subparsers)`` (and, for
benchmarks, ``register_bench(bench_subparsers)``; ``bench_trainers`` times every family's trainer); this module
only assembles them, sets up logging and threads, and turns user-fixable errors into one line. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from . import __version__

# Modules with a ``commands.py``: a step family each, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "neuromodels.stimuli.commands",
    "neuromodels.networks.commands",
    "neuromodels.networks.model_commands",
    "neuromodels.decoding.commands",
    "neuromodels.seeg.commands",
    "neuromodels.brainscore.commands",
    "neuromodels.gaze.commands",
    "neuromodels.search.commands",
    "neuromodels.core.commands",
    "neuromodels.bench_trainers",  # every family's trainer on each device: assembles families, like this module
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuromodels",
        description="Run, compare and fine-tune brain-facing models reproducibly.",
    )
    parser.add_argument("--version", action="version", version=f"neuromodels {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging verbosity (default INFO)",
    )
    sub = parser.add_subparsers(dest="family", metavar="<family>", required=True)
    bench = sub.add_parser(
        "bench",
        help="benchmarks: timings and ratios as JSON under results/benchmarks/",
        description="Benchmarks that time our code against a baseline run in the same process.",
    )
    bench_sub = bench.add_subparsers(dest="step", metavar="<benchmark>", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_bench"):
            module.register_bench(bench_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .core.errors import NeuromodelsError
    from .core.runtime import launched_by_torchrun, set_threads, setup_logging

    # torch.distributed (and torch with it) only under torchrun: most steps start faster without it
    if launched_by_torchrun():
        from .core import distributed
    else:
        distributed = None

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    set_threads(getattr(args, "threads", None))
    if distributed is not None:
        distributed.init_from_env()  # a torchrun launch: one process group for the trainer (see core.distributed)
    func = getattr(args, "func", None)
    if func is None:
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    try:
        func(args)
        if distributed is not None:
            distributed.barrier()  # rank 0 may still be writing what the others computed too
    except NeuromodelsError as exc:
        print(f"neuromodels: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the output went into a pipe that closed early (e.g. `| head`): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if distributed is not None:
            distributed.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
