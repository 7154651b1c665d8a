"""``neuromodels search <step>``: eccNET's visual search asymmetry on the six classic experiments."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.args import add_models_argument, add_params_argument, add_runtime_arguments, load_models, load_params

PRESET_CHOICES = ("tiny", "default", "full")
# config keys that replace a preset setting of the same name when set
_PRESET_KEYS = ("px_per_deg", "n_trials", "models")


def _settings(args: argparse.Namespace):
    """(preset with the config's overrides, the family's config section)."""
    from .presets import get_preset

    params = load_params(getattr(args, "params", None), "search")
    overrides = dict(params.get("overrides") or {})
    for key in _PRESET_KEYS:
        if params.get(key) is not None:
            overrides[key] = params[key]
    return get_preset(args.preset, overrides), params


def cmd_stimuli(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger
    from .data import write_trials
    from .experiments import make_trials
    from .presets import EXPERIMENT_NAMES

    p, params = _settings(args)
    experiments = params.get("experiments") or list(EXPERIMENT_NAMES)
    per_experiment = (
        {e: p.intersection_n_trials for e in ("intersection", "t_vs_l")} if p.intersection_n_trials else None
    )
    displays = make_trials(
        experiments,
        p.n_trials,
        seed=args.seed,
        px_per_deg=p.px_per_deg,
        jitter=p.jitter,
        published=p.published_stimuli,
        n_trials_by_experiment=per_experiment,
    )
    path = write_trials(args.out_dir, displays)
    get_logger(__name__).info(
        "wrote %d search trials (%d experiments, %g px/deg) to %s", len(displays), len(experiments), p.px_per_deg, path
    )


def cmd_train(args: argparse.Namespace) -> None:
    from ..core.io import write_json
    from ..core.runtime import select_device
    from .train import save_backbone, train_backbone

    p, _ = _settings(args)
    trained = train_backbone(
        args.diet,
        p,
        seed=args.seed,
        device=select_device(args.device),
        checkpoint_path=args.checkpoint,
        precision=args.precision,
    )
    save_backbone(args.out, trained)
    if args.history:
        write_json(args.history, trained.meta)


def cmd_run(args: argparse.Namespace) -> None:
    """Each run (model, diet, backbone -> table) in turn over one read of the trials; a backbone named by several
    runs is loaded once. ``--diet`` and ``--backbone`` give one value for every run or one per run.

    Backbone files are built through the ``search_vgg`` declaration (:func:`~.declared.declared_backbone`); a
    model that is not one of the family's kinds is a declared model (``--models``: the config's ``models:``),
    searched as eccNET on its pyramid (:mod:`.declared`), its backbone and diet ignored."""
    from ..core.errors import ConfigError
    from ..core.io import write_table
    from ..core.runtime import get_logger
    from ..stimuli import CATEGORY_NAMES
    from .data import read_trials
    from .declared import build_declared, declared_backbone, is_declared, search_layers
    from .evaluate import run_model
    from .models import VGGBackbone
    from .train import untrained_copy

    n = len(args.model)

    def per_run(values: list, name: str) -> list:
        if len(values) == 1:
            return values * n
        if len(values) != n:
            raise ConfigError(name, f"one value, or one per --model ({n}); got {len(values)}")
        return values

    diets = per_run(args.diet, "--diet")
    backbones = per_run(args.backbone or ["none"], "--backbone")
    if len(args.out) != n:
        raise ConfigError("--out", f"one table per --model ({n}); got {len(args.out)}")
    p, params = _settings(args)
    user = load_models(args.models)
    # every declared model is checked before the first search (an unknown name is one line)
    declared = {m: build_declared(m, user, seed=args.seed) for m in dict.fromkeys(args.model) if is_declared(m)}
    trials = read_trials(args.trials)
    loaded: dict[str, object] = {}
    allow_pickle = bool(params.get("allow_pickle", False))
    log = get_logger(__name__)
    for model, diet, path, out in zip(args.model, diets, backbones, args.out):
        backbone = None
        if model in declared:
            log.info("%s (declared): eccNET on its layers: %s", model, search_layers(declared[model]).describe())
        elif path != "none" and model == "untrained_backbone":
            # the named backbone's random-init copy (its declaration's), re-initialised with the seed
            backbone = declared_backbone(
                path, seed=args.seed, untrained=True, allow_pickle=allow_pickle and diet == "own"
            )
        elif path != "none":
            if path not in loaded:
                # a pickled module only on the config's explicit opt-in (search.allow_pickle; its risk stated there)
                loaded[path] = declared_backbone(path, seed=args.seed, allow_pickle=allow_pickle and diet == "own")
            backbone = loaded[path]
        elif model == "untrained_backbone":
            # no backbone named: the preset's VGG, initialised with the seed
            backbone = untrained_copy(VGGBackbone(p.widths, p.convs, n_classes=len(CATEGORY_NAMES)), args.seed)
        table = run_model(
            model,
            trials,
            backbone,
            chance_draws=p.chance_draws,
            seed=args.seed,
            batch_size=p.batch_trials,
            relative_to_background=p.relative_to_background,
            recrop=p.recrop,
            dog=p.dog,
            empty_cells=p.empty_cells,
            declared=declared.get(model),
        )
        table.insert(1, "diet", diet)
        table.insert(2, "seed", int(args.seed))
        write_table(out, table)
        log.info(
            "%s (%s): %d trials, %.2f fixations per trial, %d not found",
            model,
            diet,
            len(table),
            table["fixations"].mean(),
            int((~table["found"]).sum()),
        )


def cmd_analyze(args: argparse.Namespace) -> None:
    from .evaluate import analyze

    _, params = _settings(args)
    analyze(
        args.runs,
        args.trials,
        args.out_dir,
        human_path=params.get("human_slopes") or None,
        preset=args.preset,
        seed=args.seed,
        histories=args.histories or (),
    )


def cmd_bench(args: argparse.Namespace) -> None:
    from ..core.runtime import select_device
    from .bench import run_benchmark

    run_benchmark(args.out, preset=args.preset, device=select_device(args.device), seed=args.seed)


def register(subparsers: argparse._SubParsersAction) -> None:
    from .presets import DIETS, MODELS

    parser = subparsers.add_parser(
        "search",
        help="eccNET visual search asymmetry against human RT slopes (six experiments, diets)",
        description="Generate the six search asymmetry experiments, train the VGG backbone on a world diet, "
        "search with eccNET and its baselines, and compare RT slopes and asymmetry indices with "
        "the human ones.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
        add_params_argument(p)
        add_runtime_arguments(p, device=device)

    st = steps.add_parser(
        "stimuli",
        help="write the six experiments' search displays (PNG + trials.csv)",
        description="Search image, target image and a trial table (experiment, condition, "
        "set size, target box, item boxes) for both directions of each "
        "experiment at the preset's px/deg.",
    )
    st.add_argument("--out-dir", type=Path, required=True, help="output folder")
    common(st, device=False)
    st.set_defaults(func=cmd_stimuli)

    tr = steps.add_parser(
        "train",
        help="train the VGG backbone on one world diet (resumable)",
        description="Object categories of the stimulus world, upright and lit from above, "
        "rotated by 90 degrees, or lit from below.",
    )
    tr.add_argument("--diet", required=True, choices=DIETS, help="training diet")
    tr.add_argument("--out", type=Path, required=True, help="backbone file (.pt)")
    tr.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file; an existing one is resumed")
    tr.add_argument("--history", type=Path, default=None, help="JSON with settings and training history")
    common(tr)
    tr.set_defaults(func=cmd_train)

    rn = steps.add_parser(
        "run",
        help="search every trial with one or more models; fixations per trial (CSV)",
        description="eccNET, its ablations (no eccentricity pooling, top layer only), IVSN, "
        "pixel matching or chance over a trial set; several runs in one call read "
        "the trials once.",
    )
    rn.add_argument(
        "--model",
        required=True,
        nargs="+",
        help=f"search model(s), one per run: {', '.join(MODELS)}, or a declared vision model's name (--models)",
    )
    rn.add_argument("--trials", type=Path, required=True, help="trial set folder (trials.csv + images)")
    rn.add_argument(
        "--backbone",
        nargs="+",
        default=None,
        help="backbone file (ours, or a torch.save'd module with 5 'blocks'), or 'none' for "
        "pixel/chance: one for every run or one per run",
    )
    rn.add_argument(
        "--diet",
        nargs="+",
        default=["none"],
        help="label of the backbone's diet, recorded in the table: one for every run or one per run",
    )
    rn.add_argument("--out", type=Path, nargs="+", required=True, help="output CSV, one per run")
    add_models_argument(rn)
    common(rn)
    rn.set_defaults(func=cmd_run)

    an = steps.add_parser(
        "analyze",
        help="RT slopes, asymmetry indices, human comparison, figures, summary",
        description="Reads the run tables; writes slopes.csv, indices.csv, diets.csv, the figures and summary.json.",
    )
    an.add_argument("--runs", type=Path, nargs="+", required=True, help="tables written by `run`")
    an.add_argument("--trials", type=Path, required=True, help="the trial set (for the example figure)")
    an.add_argument(
        "--histories",
        type=Path,
        nargs="*",
        default=None,
        help="the backbones' training histories (JSON of `train`): held-out accuracy in the summary",
    )
    an.add_argument("--out-dir", type=Path, required=True, help="output folder")
    common(an, device=False)
    an.set_defaults(func=cmd_analyze)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    b = bench_subparsers.add_parser(
        "search",
        help="fixations/s of eccNET's search loop; vectorised / per-ring",
        description="The search loop with the vectorised eccentricity pooling "
        "against the same loop with a naive per-ring pooling, in "
        "one process on the same displays; JSON with the ratio.",
    )
    b.add_argument("--out", type=Path, required=True, help="output JSON")
    b.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
    add_runtime_arguments(b)
    b.set_defaults(func=cmd_bench)
