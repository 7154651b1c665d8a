# Helpers shared by the workflow: the checked config, the CLI prefix, resources.
import json
import os
import shlex
import sys

from snakemake.utils import validate

from neuromodels.core.config import check_config, module_digest
from neuromodels.core.errors import ConfigError
from neuromodels.core.gpus import visible_gpus

SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")

# Our check first: it fills defaults through each family's schema and names the wrong key in one line.
try:
    _checked = check_config(config, SCHEMA)
except ConfigError as exc:
    sys.exit(f"neuromodels: {exc}")
config.clear()
config.update(_checked)
validate(config, SCHEMA)

# Declared models (the config's models: section): checked in full now, one line naming the key
from neuromodels.networks.declared import declarations as _declarations

try:
    DECLARED = _declarations(config["models"])
except ConfigError as exc:
    sys.exit(f"neuromodels: {exc}")


# The free-form sections (seeg.simulation and the families' overrides) name fields of the settings they override:
# built now from the preset, as each job builds them, so that a wrong key stops the run before any job starts.
def _check_free_sections():
    from neuromodels.brainscore.presets import get_preset as brainscore
    from neuromodels.gaze.presets import get_preset as gaze
    from neuromodels.search.presets import get_preset as search
    from neuromodels.seeg.presets import get_preset as seeg

    for family, section, build in (("brainscore", "overrides", brainscore), ("gaze", "overrides", gaze),
                                   ("search", "overrides", search), ("seeg", "simulation", seeg)):
        try:
            build(config["preset"], config[family][section] or None)
        except ConfigError as exc:
            key = exc.key
            if key.startswith(f"{family}.") and not key.startswith(f"{family}.{section}."):
                key = f"{family}.{section}.{key.split('.', 1)[1]}"
            sys.exit(f"neuromodels: config key '{key}': {exc.problem}")
        except (TypeError, ValueError) as exc:  # a value the settings cannot take
            sys.exit(f"neuromodels: config key '{family}.{section}': {exc}")


_check_free_sections()


def check_models(key, names, kinds=None):
    """Stop the workflow with one line when a family's model list names no declared model (or one of the wrong
    kind)."""
    for name in names:
        base = name.removesuffix("-random")
        if base not in DECLARED:
            sys.exit(f"neuromodels: config key '{key}': {base!r} is not a declared model; "
                     f"declared: {', '.join(sorted(DECLARED))}")
        if kinds and DECLARED[base].kind not in kinds:
            sys.exit(f"neuromodels: config key '{key}': {base} is a {DECLARED[base].kind} model; "
                     f"this needs {' or '.join(kinds)}")


def declarations_json(names):
    """The config's declarations the named models need (their own and their text sides'; names that are no
    declared model, e.g. a family's own, are left out), quoted for the shell: a job given only these does not
    rerun when another model is declared."""
    bases = [n.removesuffix("-random") for n in names]
    needed = bases + [DECLARED[b].text for b in bases if b in DECLARED and DECLARED[b].text]
    return shlex.quote(json.dumps({n: config["models"][n] for n in needed if n in config["models"]}, sort_keys=True))


def model_files(names, seed):
    """Files the named declared models are built from (builder file, weights, bundles): a rule's inputs."""
    return [f for name in names if name in DECLARED for f in DECLARED[name].files(seed)]


PRESET = config["preset"]
DEVICE = config["device"]
SEEDS = config["seeds"]


def family_seeds(family):
    """The seeds of one family: `family_seeds.<family>` where the config gives them, else `seeds`."""
    return config["family_seeds"].get(family) or SEEDS


DATA = "data"
RESULTS = "results"
BENCH = f"{RESULTS}/benchmarks"
# Benchmark outputs: each family appends its own; the `benchmarks` target collects them.
BENCHMARKS = []
# Benchmark threads in a local run: `bench_threads` (default 1: a benchmark runs beside the DAG's other jobs, which
# keeps both cores of a laptop busy; its ratios come from turns in one process). 0 gives it every core of --cores,
# so that no other job runs beside it (`make benchmarks`); where no --cores is given (a dry run, a cluster
# executor, where each job has its own allocation) that is 2.
try:
    CORES = max(1, int(workflow.cores))
except Exception:
    CORES = 2
BENCH_THREADS = config["bench_threads"] or CORES


# Scheduling priority of the DAG's two longest chains (world -> encoders -> SEEG features -> encoding, and the
# decoding data -> CLIP targets -> joint models -> held-out subject): started first, they run beside the many
# short jobs instead of alone at the end with a core idle. Snakemake does not pass a priority on to the jobs a
# job waits for: every rule of a chain carries it, its first (stimuli_world, decoding_simulate) too.
CRITICAL_PATH = 10


def neuromodels(family, step):
    """The one CLI every rule calls."""
    return f"neuromodels {family} {step}"


def params(section):
    """A family's validated config section, quoted for the shell (passed as --params)."""
    return shlex.quote(json.dumps(config[section], sort_keys=True))


def preset_code(family):
    """A digest of a family's presets module (its defaults per size preset), found without importing it.
    Rules that take --preset list it among their params, so that a changed default reruns them (Snakemake's
    params trigger), as a changed config value does."""
    return module_digest(f"neuromodels.{family}.presets")


# `auto` asks for a GPU only where the machine building the DAG shows one: on a CPU machine the `gpu: 1` limit
# of the default profile would otherwise let only one GPU-capable job run at a time and leave cores idle.
# On a cluster whose login node has no GPU, set `device: cuda` to have GPU-capable jobs ask for one.
ASK_GPU = DEVICE == "cuda" or (DEVICE == "auto" and visible_gpus() > 0)


def gpus(wildcards=None):
    """GPUs asked for by steps that can use one: 1 under `device: cuda`, or `auto` on a machine with a GPU."""
    return 1 if ASK_GPU else 0

# The software environment every rule declares (documents what runs; used with --sdm conda).
ENV = "../envs/neuromodels.yaml"
# Each family's findings summary (results/<family>/summary.json): family rule files append theirs; the
# `findings` rule gathers them into one table for the report.
SUMMARIES = []


def timing(rule, *wildcards):
    """Where a rule's jobs write Snakemake's benchmark file (wall and CPU seconds, peak memory), one per job:
    results/benchmarks/rules/<rule>[_<wildcard values>].tsv; `neuromodels bench dag` sums them per rule."""
    return f"{BENCH}/rules/{rule}" + "".join(f"_{{{w}}}" for w in wildcards) + ".tsv"


def memory(mb):
    """A rule's memory in MB, doubled on each retry (a job killed for memory on a cluster comes back with more;
    the SLURM profile sets the retries)."""

    def mem_mb(wildcards, attempt):
        return mb * 2 ** (attempt - 1)

    return mem_mb


def launcher(wildcards, resources):
    """How a training step starts the CLI: plainly, or, when its job was given several GPUs (e.g. through the
    SLURM profile's set-resources), through torchrun with one data-parallel process per GPU."""
    n = int(resources.get("gpu", 0) or 0)
    if n > 1:
        return f"torchrun --standalone --nproc-per-node {n} -m neuromodels.cli"
    return "neuromodels"


def rule_names(wildcards):
    """Every rule of the workflow (to group job benchmark files by rule)."""
    return " ".join(sorted(r.name for r in workflow.rules))


# gaze: where a seed's scanpath data set is (the gaze section, GZ, is read in gaze.smk)
def gz_folder(data):
    """The folder of a rule's data input (one file, or the first of several)."""
    return os.path.dirname(data if isinstance(data, str) else list(data)[0])


def gz_input(seed):
    """The file(s) a seed's data set is known by (COCO-Search18: the fixation files themselves; simulated: that
    seed's draw); rules pass the first one's folder as --data."""
    section = config["gaze"]
    if section["coco_fixations"]:
        return section["coco_fixations"]
    if section["data"]:
        return f"{section['data']}/displays.jsonl"
    return f"{DATA}/gaze/scanpaths/seed{seed}/displays.jsonl"
