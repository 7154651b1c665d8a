"""``neuromodels brainscore <step>``: CrossViT variants trained, attacked and scored against V4/IT recordings."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.args import add_models_argument, add_params_argument, add_runtime_arguments, load_models, load_params

PRESET_CHOICES = ("tiny", "default", "full")


def _preset(args: argparse.Namespace):
    from .presets import get_preset

    params = load_params(getattr(args, "params", None), "brainscore")
    overrides = dict(params.get("overrides") or {})
    return get_preset(args.preset, overrides)


def cmd_images(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger
    from .data import world_image_dataset, write_image_dataset

    p = _preset(args)
    data = world_image_dataset(p.n_train, p.n_test, p.image_size, seed=args.seed, categories=p.categories or None)
    write_image_dataset(args.out, data)
    get_logger(__name__).info(
        "wrote %d train + %d test images (%d px, %d classes) to %s",
        p.n_train,
        p.n_test,
        p.image_size,
        data.n_classes,
        args.out,
    )


def cmd_simulate(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger
    from .simulate import SimulationSettings, write_simulation

    p = _preset(args)
    settings = SimulationSettings(
        n_stimuli=p.n_stimuli,
        image_size=p.stimulus_size,
        repetitions=p.repetitions,
        n_v4=p.n_v4,
        n_it=p.n_it,
        v4_reliability=p.v4_reliability,
        it_reliability=p.it_reliability,
    )
    paths = write_simulation(args.out_dir, settings, seed=args.seed)
    get_logger(__name__).info(
        "simulated %d V4 and %d IT sites on %d stimuli x %d repetitions: %s",
        p.n_v4,
        p.n_it,
        p.n_stimuli,
        p.repetitions,
        paths["assembly"],
    )


def cmd_train(args: argparse.Namespace) -> None:
    from ..core.io import write_json
    from ..core.runtime import select_device
    from .data import read_image_dataset
    from .train import save_model, train_variant

    p = _preset(args)
    device = select_device(args.device)
    data = read_image_dataset(args.data, size=p.image_size)
    trained = train_variant(
        data, args.variant, p, seed=args.seed, device=device, checkpoint_path=args.checkpoint, precision=args.precision
    )
    save_model(args.out, trained)
    if args.history:
        write_json(args.history, trained.meta)


def cmd_init(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger
    from .data import read_image_dataset
    from .train import save_model, untrained_model

    p = _preset(args)
    data = read_image_dataset(args.data, size=p.image_size)
    control = untrained_model(data, p, seed=args.seed)
    save_model(args.out, control)
    get_logger(__name__).info(
        "wrote the untrained CrossViT %s (%d classes, initialisation of seed %d) to %s",
        p.model,
        data.n_classes,
        args.seed,
        args.out,
    )


def load_scoring_data(args: argparse.Namespace, params: dict, need_images: bool):
    """The assembly, its stimulus set and the notes of what reading them dropped or averaged.

    Returns ``(parts, images, notes)``: one assembly per scored time bin (the ``time_bins`` setting),
    :class:`StimulusImages` (or None without images) and notes for the summary.
    """
    from ..core.errors import DataError
    from .data import StimulusImages, map_regions, read_assembly, read_stimulus_table, select_time_bins

    p = _preset(args)
    _, table = read_stimulus_table(args.stimuli)
    assembly = read_assembly(args.assembly, stimuli=table)  # every stimulus of the assembly in the set
    if len(set(assembly["repetition"].values.tolist())) < 2:
        raise DataError(
            args.assembly,
            "a split-half ceiling needs at least two repetitions per stimulus; the file has one repetition value",
        )
    assembly, region_notes = map_regions(assembly, params.get("regions") or None, args.assembly)
    parts, bins_text = select_time_bins(assembly, params.get("time_bins", "all"), args.assembly)
    images = StimulusImages(args.stimuli, size=p.stimulus_size) if need_images else None
    notes = {
        "time_bins": bins_text,
        **{key: int(assembly.attrs.get(key, 0)) for key in ("nan_presentations_dropped", "nan_neuroids_dropped")},
        **region_notes,
    }
    return parts, images, notes


def _score_parts(model, layers, parts, images, p, settings, device, regions):
    """Score each time-bin part; one table (a row per region, and per bin when there are several)."""
    import pandas as pd

    from .evaluate import score_model

    cache: dict = {}
    neural_tables, layer_tables = [], []
    for part in parts:
        neural, layer_table = score_model(
            model,
            layers,
            part,
            images,
            image_size=p.image_size,
            regions=regions,
            settings=settings,
            public_fraction=p.public_fraction,
            pooling=p.pooling,
            device=device,
            cache=cache,
        )
        if len(parts) > 1:
            for table in (neural, layer_table):
                for at, coord in enumerate(c for c in ("time_bin_start", "time_bin_end") if c in part.coords):
                    table.insert(1 + at, coord, float(part[coord].values[0]))
        neural_tables.append(neural)
        layer_tables.append(layer_table)
    return pd.concat(neural_tables, ignore_index=True), pd.concat(layer_tables, ignore_index=True)


def declared_subject(name: str, user: dict | None, seed: int, pooling: str, device) -> tuple:
    """A declared vision model by name (``brainscore.models``; ``<name>-random`` is its random-init copy, its
    weights drawn from :func:`random_init_seed`) as a :class:`~.evaluate.DeclaredLayerModel`, with its candidate
    layers and what the summary notes of it."""
    from ..networks.declared import build_named
    from .evaluate import DeclaredLayerModel
    from .models import candidate_layers

    base = name.removesuffix("-random")
    random = name != base
    model = build_named(
        name,
        user,
        where="brainscore.models",
        seed=seed,
        device=str(device),
        vision_for="Brain-Score scores vision models",
    )
    decl = model.declaration
    init_seed = model.seed if random else None
    layers = candidate_layers(model)
    info = {
        "name": name,
        "declared": base,
        "kind": decl.kind,
        "trained": not random,
        "init_seed": init_seed,
        "image_size": model.image_size,
        "candidate_layers": layers,
        "pooling": pooling,
    }
    return DeclaredLayerModel(model, pooling=pooling), layers, info


def _declared_crossvit(path, variant: str, seed: int, pooling: str, device):
    """A CrossViT model file as Brain-Score scores it: built from its declaration (:func:`.models.
    checkpoint_declaration`, as ``crossvit_<variant>`` is declared for other families), weights loaded with
    ``weights_only=True``, frozen, in eval mode, read through :class:`~.evaluate.DeclaredLayerModel`."""
    from ..networks.declared import build_model
    from .evaluate import DeclaredLayerModel
    from .models import checkpoint_declaration

    model = build_model(checkpoint_declaration(path, f"crossvit_{variant}"), seed=seed, device=str(device))
    return DeclaredLayerModel(model, pooling=pooling)


def cmd_score(args: argparse.Namespace) -> None:
    import numpy as np

    from ..core.errors import ConfigError
    from ..core.io import write_json, write_table
    from ..core.runtime import get_logger, select_device
    from .data import read_activations, read_image_dataset
    from .evaluate import MetricSettings, PrecomputedActivations, robustness_table, summary_row
    from .models import candidate_layers
    from .train import load_model, train_settings_summary

    p = _preset(args)
    params = load_params(getattr(args, "params", None), "brainscore")
    precomputed = args.activations is not None
    declared = args.declared is not None
    if precomputed and declared:
        raise ConfigError("--declared", "give either --declared or --activations")
    if not (precomputed or declared) and (args.model is None or args.data is None):
        raise ConfigError(
            "--model" if args.model is None else "--data", "needed unless --activations or --declared is given"
        )
    device = select_device(args.device)
    user = load_models(args.models)
    declared_info = None
    if declared:  # a declared model fails on its declaration before any data is read
        subject, layers, declared_info = declared_subject(args.declared, user, args.seed, p.pooling, device)
        layers = args.layers or layers
        variant = args.name or args.declared
        meta: dict = {}
    parts, images, notes = load_scoring_data(args, params, need_images=not precomputed)
    regions = notes["regions_scored"]
    settings = MetricSettings(
        n_components=p.pls_components, n_splits=p.n_splits, train_fraction=p.train_fraction, seed=args.seed
    )
    robustness = None
    if precomputed:
        ids, layer_arrays = read_activations(args.activations)
        subject = PrecomputedActivations(ids, layer_arrays, source=args.activations)
        subject.activations_by_id(np.unique(np.asarray(parts[0]["stimulus_id"].values).astype(str)), [])
        variant = args.name or args.activations.stem
        layers = args.layers or list(layer_arrays)
        meta = {}
    elif not declared:
        trained = load_model(args.model, device)
        data = read_image_dataset(args.data, size=p.image_size)
        test_images, labels = data.part("test")
        robustness = robustness_table(
            trained.model,
            test_images,
            labels,
            p.pgd_eps_255 / 255,
            p.pgd_step_255 / 255,
            p.pgd_steps,
            device,
            p.eval_batch_size,
            seed=args.seed,
        )
        variant = args.name or trained.variant
        robustness.insert(0, "variant", variant)
        # the neural scores read the model file through its declaration, the one path of every declared model
        # (crossvit_<variant> in models.yaml, a user's CNN): its layers, input and pooling as any family reads them
        subject, meta = _declared_crossvit(args.model, variant, args.seed, p.pooling, device), trained.meta
        layers = args.layers or candidate_layers(subject.declared)
    neural, layer_table = _score_parts(subject, layers, parts, images, p, settings, device, regions)
    neural.insert(0, "variant", variant)
    layer_table.insert(0, "variant", variant)
    out = Path(args.out_dir)
    if robustness is not None:
        write_table(out / "robustness.csv", robustness)
    write_table(out / "neural.csv", neural)
    write_table(out / "layers.csv", layer_table)
    row = summary_row(variant, args.seed, robustness, neural)
    if robustness is not None:
        row["n_test"] = int(len(labels))
        row["n_classes"] = int(len(trained.label_names))
        row.update(train_settings_summary(meta))
    row["time_bins"] = notes["time_bins"]
    row["notes"] = notes
    if declared_info is not None:
        row["model"] = {**declared_info, "candidate_layers": list(layers)}
    write_json(out / "summary.json", row)
    accuracy = f"clean {row['clean_accuracy']:.3f}, PGD {row['pgd_accuracy']:.3f}, " if robustness is not None else ""
    get_logger(__name__).info(
        "%s: %s%s", variant, accuracy, ", ".join(f"{r} {row.get(f'{r}_ceiled', float('nan')):.3f}" for r in regions)
    )


def cmd_summarize(args: argparse.Namespace) -> None:
    import pandas as pd

    from ..core.findings import write_summary
    from ..core.io import read_json, save_figure, write_table
    from ..core.runtime import get_logger
    from .evaluate import plot_variants, variant_statistics
    from .presets import VARIANTS
    from .train import UNTRAINED

    rows = [read_json(path) for path in args.inputs]
    # what scoring dropped or averaged: the same assembly for every variant, so the first row's notes stand
    data_notes = next((row["notes"] for row in rows if row.get("notes")), None)
    # the declared models scored (brainscore.models): what each was, for the notes (not a column of the table)
    declared = {str(row["variant"]): row["model"] for row in rows if isinstance(row.get("model"), dict)}
    table = pd.DataFrame([{k: v for k, v in row.items() if k not in ("notes", "model")} for row in rows])
    for column in table.columns:  # counts stay integers beside a declared model's empty cells (n_test, ...)
        given = [row[column] for row in rows if row.get(column) is not None]
        if table[column].isna().any() and given and all(type(v) is int for v in given):
            table[column] = table[column].astype("Int64")
    rank = {v: i for i, v in enumerate((*VARIANTS, UNTRAINED))}
    table = table.sort_values(
        ["variant", "seed"], key=lambda c: c.map(rank).fillna(len(rank)) if c.name == "variant" else c, kind="stable"
    ).reset_index(drop=True)
    write_table(args.table, table)
    save_figure(args.figure, plot_variants(table))
    if args.findings:
        truths = {}
        for path in args.truth or []:  # each simulation's truth.json names the seed it was drawn with
            truth = read_json(path)
            if not isinstance(truth, dict) or "seed" not in truth:
                from ..core.errors import DataError

                raise DataError(path, "not a simulation's truth.json (no 'seed')")
            truths[int(truth["seed"])] = truth
        summary = variant_statistics(table, truths, preset=args.preset, data_notes=data_notes, declared=declared)
        write_summary(args.findings, summary)
        log = get_logger(__name__)
        for seed, stats in sorted(summary.statistics.items(), key=lambda kv: int(kv[0])):
            log.info(
                "seed %s: %s",
                seed,
                ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} undefined" for k, v in stats.items()),
            )


def cmd_bench(args: argparse.Namespace) -> None:
    from ..core.runtime import select_device
    from .bench import run_benchmark

    device = select_device(args.device)
    run_benchmark(
        args.out, preset=args.preset, device=device, precision=args.precision, steps=args.steps, seed=args.seed
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    from .presets import VARIANTS

    parser = subparsers.add_parser(
        "brainscore",
        help="CrossViT variants scored on robustness and V4/IT predictivity (Brain-Score style)",
        description="Train CrossViT (base, +rotation, +adversarial, +both), measure robustness, and score "
        "layers against V4/IT assemblies with PLS, split-half ceilings and layer commitment.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
        add_params_argument(p)
        add_runtime_arguments(p, device=device)

    img = steps.add_parser(
        "images",
        help="write the stimulus world's object-category classification set (HDF5)",
        description="Render train and test scenes of the stimulus world, labelled by object "
        "category, into one HDF5 file (images n x 3 x H x W uint8, labels, split).",
    )
    img.add_argument("--out", type=Path, required=True, help="output HDF5 file")
    common(img, device=False)
    img.set_defaults(func=cmd_images)

    sim = steps.add_parser(
        "simulate",
        help="simulate V4-like and IT-like recordings (netCDF) on world stimuli",
        description="Write stimuli/ (stimulus set), assembly.nc (presentation x neuroid x "
        "time_bin), sites.csv (planted reliabilities) and truth.json.",
    )
    sim.add_argument("--out-dir", type=Path, required=True, help="output folder")
    common(sim, device=False)
    sim.set_defaults(func=cmd_simulate)

    tr = steps.add_parser(
        "train",
        help="train one CrossViT variant (resumable)",
        description="Train CrossViT on an image classification set: HDF5 (images, labels, "
        "split) or an image folder (class subfolders).",
    )
    tr.add_argument("--variant", required=True, choices=VARIANTS, help="training regime")
    tr.add_argument("--data", type=Path, required=True, help="HDF5 file or image folder")
    tr.add_argument("--out", type=Path, required=True, help="trained model file (.pt)")
    tr.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file; an existing one is resumed")
    tr.add_argument("--history", type=Path, default=None, help="JSON with settings, history and samples/s")
    common(tr)
    tr.set_defaults(func=cmd_train)

    ini = steps.add_parser(
        "init",
        help="write the untrained CrossViT control (the seed's initialisation)",
        description="The control of the neural claims: the preset's CrossViT for the "
        "classification set's classes, initialised from --seed exactly as every "
        "variant of that seed starts training, and never trained. Score it "
        "with `score` like a trained model.",
    )
    ini.add_argument("--data", type=Path, required=True, help="classification set (for its classes)")
    ini.add_argument("--out", type=Path, required=True, help="model file (.pt), as `train` writes")
    common(ini, device=False)
    ini.set_defaults(func=cmd_init)

    sc = steps.add_parser(
        "score",
        help="robustness table and V4/IT scores of a trained model (or of a declared model, or of activations)",
        description="Clean, rotated, PGD and corrupted accuracy; layer commitment on the public "
        "stimuli and ceiled V4/IT scores on the held-out ones. With --declared, only the neural scores of a "
        "declared vision "
        "model (the config's models: section), its declared layers the candidates. With --activations, "
        "only the neural scores, from precomputed activations keyed by stimulus_id "
        "(no model, no images: the stimulus set needs no filename column). Regions "
        "and time bins follow --params' `regions` and `time_bins`.",
    )
    sc.add_argument("--model", type=Path, default=None, help="model file written by `train`")
    sc.add_argument("--data", type=Path, default=None, help="classification set (its test part is used)")
    sc.add_argument(
        "--activations",
        type=Path,
        default=None,
        help="precomputed activations instead of --model/--data: HDF5 (stimulus_id, layers/<name> "
        "n x features) or .npz (stimulus_id and one array per layer)",
    )
    sc.add_argument(
        "--declared",
        default=None,
        metavar="NAME",
        help="a declared vision model instead of --model/--data (the config's models: section through --models, "
        "or the package's own, e.g. crossvit_base); NAME-random is its random-init copy (weights drawn from "
        "--seed and the name). Only "
        "the neural scores: its declared layers are the candidates of layer commitment",
    )
    add_models_argument(sc)
    sc.add_argument(
        "--name",
        default=None,
        help="the row's name in the tables (default: the model's variant, the declared name, or the activations "
        "file's stem)",
    )
    sc.add_argument(
        "--assembly", type=Path, required=True, help="netCDF assembly (ours or Brain-Score's; netCDF3 or netCDF4)"
    )
    sc.add_argument(
        "--stimuli",
        type=Path,
        required=True,
        help="stimulus set: folder with stimuli.csv (or its only CSV, as Brain-Score stores it), or the "
        "CSV; stimulus_id (or image_id), filename unless --activations",
    )
    sc.add_argument(
        "--layers",
        nargs="+",
        default=None,
        help="candidate layers (default: every block output, a declared model's layers, or every layer of "
        "--activations)",
    )
    sc.add_argument(
        "--out-dir", type=Path, required=True, help="writes robustness.csv, neural.csv, layers.csv and summary.json"
    )
    common(sc)
    sc.set_defaults(func=cmd_score)

    sm = steps.add_parser(
        "summarize",
        help="table and figure comparing the variants",
        description="Collect each variant's summary.json into one table and a bar figure.",
    )
    sm.add_argument("--inputs", type=Path, nargs="+", required=True, help="summary.json files")
    sm.add_argument("--table", type=Path, required=True, help="output CSV")
    sm.add_argument("--figure", type=Path, required=True, help="output PNG")
    sm.add_argument(
        "--findings",
        type=Path,
        default=None,
        help="the family's statistics per seed, for its claims registry (summary.json through core.findings)",
    )
    sm.add_argument(
        "--truth",
        type=Path,
        nargs="*",
        default=None,
        help="each seed's truth.json of simulated recordings (planted reliabilities, with the seed "
        "they were drawn with); omit for real recordings",
    )
    sm.add_argument("--preset", default=None, choices=PRESET_CHOICES, help="preset name, recorded in the findings")
    sm.set_defaults(func=cmd_summarize)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    b = bench_subparsers.add_parser(
        "brainscore",
        help="CrossViT training images/s per variant; adversarial / base",
        description="Training throughput of the four variants in one process (same "
        "model, data and device); writes JSON with ratios to base.",
    )
    b.add_argument("--out", type=Path, required=True, help="output JSON")
    b.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
    b.add_argument("--steps", type=int, default=None, help="timed optimizer steps per variant")
    add_runtime_arguments(b)
    b.set_defaults(func=cmd_bench)
