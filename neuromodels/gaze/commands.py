"""``neuromodels gaze <step>``: scanpaths simulated or read, OAT trained per split, scored against viewers."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.args import add_models_argument, add_params_argument, add_runtime_arguments, load_models, load_params

PRESET_CHOICES = ("tiny", "default", "full")


def _settings(args: argparse.Namespace):
    from .presets import get_preset

    params = load_params(getattr(args, "params", None), "gaze")
    return get_preset(args.preset, params.get("overrides") or {}), params


def _skip(exc, args: argparse.Namespace, dataset, p, out_dir) -> None:
    """A split the data cannot form: one log line, and outputs that say so (the summary counts them)."""
    import pandas as pd

    from ..core.io import torch_save, write_json, write_table
    from ..core.runtime import get_logger

    get_logger(__name__).warning("skipping the %s split (seed %d): %s", args.split, args.seed, exc.reason)
    info = {"skipped": exc.reason, "split": args.split, "seed": args.seed}
    if getattr(args, "out", None):
        torch_save(args.out, info)
    if getattr(args, "history", None):
        write_json(args.history, info)
    if out_dir:
        out = Path(out_dir)
        positional = getattr(args, "positional", None) or "gaussian"
        write_table(
            out / "metrics.csv",
            pd.DataFrame(
                [
                    {
                        "split": args.split,
                        "model": SKIPPED,
                        "seed": args.seed,
                        "positional": positional,
                        "skipped": exc.reason,
                    }
                ]
            ),
        )
        write_json(out / "scanpaths.json", {**info, "notes": data_notes(dataset, p.max_length)})


SKIPPED = "skipped"


def _split(dataset, name: str, params: dict, seed: int) -> dict:
    from .data import split_trials

    return split_trials(
        dataset, name, seed, test_fraction=params["test_fraction"], heldout_layout=params["heldout_layout"]
    )


def cmd_simulate(args: argparse.Namespace) -> None:
    from .simulate import SimulationSettings, simulate_dataset

    p, params = _settings(args)
    simulate_dataset(
        args.out_dir, SimulationSettings.from_preset(p), seed=args.seed, fixations_format=params["fixations_format"]
    )


def cmd_features(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger, select_device
    from .data import load_data
    from .declared import declared_object_features

    p, params = _settings(args)
    dataset = load_data(args.data, params)
    features = declared_object_features(
        args.model, load_models(args.models), dataset, p.crop_hw, seed=args.seed, device=str(select_device(args.device))
    )
    features.save(args.out)
    get_logger(__name__).info(
        "%s: layer %s, %d features per crop, %d crops of %d trials",
        features.name,
        features.layer,
        features.dim,
        sum(len(f) for f in features.features.values()),
        len(features.features),
    )


def _features(args: argparse.Namespace):
    """The declared model's crop features of ``--features`` (None without)."""
    if not getattr(args, "features", None):
        return None
    from .declared import ObjectFeatures

    return ObjectFeatures.load(args.features)


def cmd_train(args: argparse.Namespace) -> None:
    from ..core.io import write_json
    from ..core.runtime import select_device
    from .data import SplitUnavailable, load_data
    from .train import save_model, train_oat

    p, params = _settings(args)
    device = select_device(args.device)
    features = _features(args)
    if features is not None and args.image_blind:
        from ..core.errors import ConfigError

        raise ConfigError("--features", "the image-blind control is OAT's own; train it without --features")
    dataset = load_data(args.data, params)
    try:
        split = _split(dataset, args.split, params, args.seed)
    except SplitUnavailable as exc:
        _skip(exc, args, dataset, p, args.evaluate_dir)
        return
    trained = train_oat(
        dataset,
        split,
        p,
        seed=args.seed,
        positional=args.positional or params["positional"],
        device=device,
        checkpoint_path=args.checkpoint,
        precision=args.precision,
        image_blind=args.image_blind,
        features=features,
    )
    trained.meta["data_notes"] = dataset.notes
    save_model(args.out, trained)
    if args.history:
        write_json(args.history, trained.meta)
    if args.evaluate_dir:
        # the saved model, read back as `evaluate` reads it, on the data and split already loaded; under torchrun
        # by rank 0 alone (it wrote the model; evaluation is not data-parallel)
        from ..core import distributed
        from .train import load_model

        if distributed.is_main():
            _evaluate(
                load_model(args.out, device, features),
                args.out,
                dataset,
                args.split,
                split,
                p,
                args.seed,
                device,
                args.evaluate_dir,
            )


def cmd_evaluate(args: argparse.Namespace) -> None:
    from ..core.runtime import select_device
    from .data import SplitUnavailable, load_data
    from .train import load_model

    p, params = _settings(args)
    device = select_device(args.device)
    dataset = load_data(args.data, params)
    try:
        split = _split(dataset, args.split, params, args.seed)
    except SplitUnavailable as exc:
        _skip(exc, args, dataset, p, args.out_dir)
        return
    trained = load_model(args.model, device, _features(args))
    _evaluate(trained, args.model, dataset, args.split, split, p, args.seed, device, args.out_dir)


def _evaluate(trained, model_path, dataset, split_name: str, split: dict, p, seed: int, device, out_dir) -> None:
    """Metrics on the test trials (OAT, the baselines, the guided walk and the human ceiling; or the image-blind
    control's own rows); metrics.csv and scanpaths.json (with the data's counts of what was dropped)."""
    from ..core.io import write_json, write_table
    from ..core.runtime import get_logger
    from .evaluate import evaluate_split

    if split["test"] != trained.meta["split"]["test"]:
        from ..core.errors import DataError

        raise DataError(model_path, f"trained on another {split_name} split (other data or seed)")
    table, generated = evaluate_split(
        trained, dataset, split_name, split, p.n_samples, p.max_length, p.multimatch_samples, seed=seed, device=device
    )
    table.insert(1, "seed", seed)
    table.insert(2, "positional", trained.meta["positional"])
    out = Path(out_dir)
    write_table(out / "metrics.csv", table)
    generated["notes"] = data_notes(dataset, p.max_length)
    generated["training"] = {
        "positional_fit": trained.meta.get("positional_fit", {}),
        "selection": trained.meta.get("selection", {}),
    }
    write_json(out / "scanpaths.json", generated)
    rows = table.set_index("model")
    name = "image_blind" if trained.meta.get("image_blind") else (trained.config.features_of or "oat_sampled")
    get_logger(__name__).info(
        "%s split, seed %d: %s Sequence Score %.3f, delta %.3f",
        split_name,
        seed,
        name,
        rows.loc[name, "sequence_score"],
        rows.loc[name, "delta"],
    )


def data_notes(dataset, max_length: int) -> dict:
    """The data set's counts of what reading or training left out or replaced."""
    return {
        "fixations_on_no_object_left_out": int(dataset.notes.get("fixations_on_no_object", 0)),
        "fixations": int(dataset.notes.get("fixations", 0)),
        "target_absent_scanpaths_read": int(dataset.notes.get("target_absent_scanpaths", 0)),
        "fixations_off_screen_clipped": int(dataset.notes.get("fixations_off_screen_clipped", 0)),
        "scanpaths_without_object_fixations_not_trained_on": int(
            sum(len(sp.object_sequence()) == 0 for sp in dataset.scanpaths)
        ),
        "scanpaths_cut_to_max_length_in_training": int(
            sum(len(sp.object_sequence()) > max_length for sp in dataset.scanpaths)
        ),
    }


def cmd_summarize(args: argparse.Namespace) -> None:
    import pandas as pd

    from ..core.errors import DataError
    from ..core.findings import write_summary
    from ..core.io import read_json, save_figure, write_table
    from .data import load_data
    from .evaluate import plot_scanpaths, seed_summary

    p, params = _settings(args)
    table = pd.concat([pd.read_csv(path) for path in args.inputs], ignore_index=True)
    if "seed" not in table.columns:
        raise DataError(args.inputs[0], "no 'seed' column (written by an older `neuromodels gaze train`)")
    skipped = table[table["model"] == SKIPPED]
    table = table[table["model"] != SKIPPED].drop(columns=["skipped"], errors="ignore")
    write_table(args.table, table)
    # the statistics use the configured positional encoding; an ablation's rows stay in the table
    main = table[table["positional"] == params["positional"]]
    generated = [read_json(path) for path in args.scanpaths]
    # counts over every seed's data (each seed's data draw; the same data counted once per seed when real)
    notes: dict = {}
    for g in generated:
        for key, value in (g.get("notes") or {}).items():
            notes[key] = notes.get(key, 0) + int(value)
    notes["seeds_counted"] = len(generated)
    # splits the data cannot form (e.g. held-out layouts on COCO-Search18's one layout): jobs skipped, not errors
    notes["split_jobs_skipped"] = int(len(skipped))
    if len(skipped):
        notes["splits_skipped"] = {f"{r.split} seed {int(r.seed)}": str(r.skipped) for r in skipped.itertuples()}
    notes["multimatch_pairs"] = int(table["mm_pairs"].sum())
    notes["multimatch_pairs_padded"] = int(table["mm_pairs_short"].sum())
    notes["multimatch_short_paths"] = (
        "every test trial and viewer is scored; a path of fewer than 3 fixations is "
        "padded to 3 with rows of ones as OAT pads it; the mm_*_dropped columns "
        "leave such pairs out"
    )
    fits = [g["training"]["positional_fit"] for g in generated if (g.get("training") or {}).get("positional_fit")]
    if fits:  # the Gaussian table is fitted alone, the same for every seed: its fit once
        notes["positional_table_fit"] = fits[0]
    notes["oat_selection_per_seed"] = {
        str(g.get("seed", i)): (g.get("training") or {}).get("selection", {}) for i, g in enumerate(generated)
    }
    walks = [g["guided_walk"] for g in generated if g.get("guided_walk")]
    if walks:
        notes["guided_walk_weights_first_seed"] = walks[0]["weights"]
    declared = list(params.get("models") or [])
    summary = seed_summary(main, args.preset, notes, declared)
    write_summary(args.summary, summary)
    dataset = load_data(args.data, params)
    drawn = [g for g in generated if not g.get("skipped")]
    first = drawn[0] if drawn else {"test": [], "paths": {}}
    models = ["oat_greedy", "oat_sampled"]
    # the declared models' OAT variants on the same test trials (same split and seed) beside OAT's
    for path in args.declared_scanpaths or []:
        other = read_json(path)
        if other.get("skipped") or other.get("test") != first.get("test"):
            continue
        for name in declared:
            if name in (other.get("paths") or {}) and name not in models:
                first = {**first, "paths": {**first["paths"], name: other["paths"][name]}}
                models.append(name)
    save_figure(args.figure, plot_scanpaths(dataset, first, models=tuple(models)))


def cmd_bench(args: argparse.Namespace) -> None:
    from ..core.runtime import select_device
    from .bench import run_benchmark

    run_benchmark(
        args.out,
        preset=args.preset,
        device=select_device(args.device),
        precision=args.precision,
        steps=args.steps,
        seed=args.seed,
    )


def cmd_positions(args: argparse.Namespace) -> None:
    from ..core.runtime import get_logger
    from .models import SHIPPED_TABLES, oat_config, write_gaussian_tables
    from .presets import PRESETS

    log = get_logger(__name__)
    out = args.out or SHIPPED_TABLES
    reports = write_gaussian_tables(out, [oat_config(PRESETS[name]) for name in sorted(PRESETS)])
    for key, info in reports.items():
        log.info(
            "%s: %d steps, mean error %.4f, largest %.4f", key, info["steps"], info["mean_error"], info["max_error"]
        )
    log.info("wrote %d table(s) to %s", len(reports), out)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gaze",
        help="OAT scanpath prediction for visual search, scored against viewers",
        description="Simulate (or read) visual-search scanpaths on shelf displays, train OAT per split, and score "
        "it and the baselines with Sequence Score, edit distance, MultiMatch and behaviour.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    def common(p: argparse.ArgumentParser, device: bool = True) -> None:
        p.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
        add_params_argument(p)
        add_runtime_arguments(p, device=device)

    from .presets import POSITIONAL_ENCODINGS, SPLITS

    sim = steps.add_parser(
        "simulate",
        help="simulate shelf displays and guided-search viewers",
        description="Write displays.jsonl, fixations.jsonl (or .csv), images/ and truth.json "
        "(the walk's parameters and the behaviour it produced).",
    )
    sim.add_argument("--out-dir", type=Path, required=True, help="output folder")
    common(sim, device=False)
    sim.set_defaults(func=cmd_simulate)

    fe = steps.add_parser(
        "features",
        help="a declared model's features of every object crop (OAT's object tokens for gaze.models)",
        description="Build the declared model (the project's or the config's models:), run every object crop "
        "and target crop of the data set through it (resized to its input) and write its last layer read, "
        "mean-pooled, per crop: the object tokens of that model's OAT variant.",
    )
    fe.add_argument("--data", type=Path, default=None, help="scanpath data set folder (or coco_* in --params)")
    fe.add_argument("--model", required=True, help="a declared vision model's name (as in gaze.models)")
    fe.add_argument("--out", type=Path, required=True, help="output features file (.npz)")
    add_models_argument(fe)
    common(fe)
    fe.set_defaults(func=cmd_features)

    tr = steps.add_parser(
        "train",
        help="train OAT on one split's training trials (resumable)",
        description="Teacher-forced OAT training through the shared trainer; early stopping on the validation loss.",
    )
    tr.add_argument("--data", type=Path, default=None, help="scanpath data set folder (or coco_* in --params)")
    tr.add_argument("--split", required=True, choices=SPLITS, help="how test trials are held out")
    tr.add_argument(
        "--positional", default=None, choices=POSITIONAL_ENCODINGS, help="positional encoding (default: the config's)"
    )
    tr.add_argument("--out", type=Path, required=True, help="trained model file (.pt)")
    tr.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file; an existing one is resumed")
    tr.add_argument("--history", type=Path, default=None, help="JSON with settings, split and history")
    tr.add_argument(
        "--image-blind",
        action="store_true",
        help="train the image-blind control: OAT with every crop replaced by zeros, trained the same way",
    )
    tr.add_argument(
        "--features",
        type=Path,
        default=None,
        help="a declared model's crop features (from `gaze features`) as the object tokens, through a learned "
        "projection, instead of OAT's crop CNN",
    )
    tr.add_argument(
        "--evaluate-dir",
        type=Path,
        default=None,
        help="also evaluate the trained model here, as `evaluate --out-dir` would (metrics.csv, "
        "scanpaths.json), without reading the data again",
    )
    common(tr)
    tr.set_defaults(func=cmd_train)

    ev = steps.add_parser(
        "evaluate",
        help="score OAT, the baselines and the human ceiling on held-out trials",
        description="Greedy and sampled OAT scanpaths and every baseline against the held-out "
        "viewers: metrics.csv and scanpaths.json.",
    )
    ev.add_argument("--model", type=Path, required=True, help="model file written by `train`")
    ev.add_argument("--data", type=Path, default=None, help="scanpath data set folder")
    ev.add_argument("--split", required=True, choices=SPLITS, help="the split the model was trained on")
    ev.add_argument("--out-dir", type=Path, required=True, help="writes metrics.csv and scanpaths.json")
    ev.add_argument("--features", type=Path, default=None, help="the features file the model was trained with")
    common(ev)
    ev.set_defaults(func=cmd_evaluate)

    sm = steps.add_parser(
        "summarize",
        help="the metrics table of every split, the figure and summary.json",
        description="Join every seed's and split's tables, draw example scanpaths (human and OAT "
        "side by side) and write summary.json: the statistics per seed that the "
        "claims registry (neuromodels/gaze/claims.yaml) judges.",
    )
    sm.add_argument("--inputs", type=Path, nargs="+", required=True, help="metrics.csv files")
    sm.add_argument(
        "--scanpaths",
        type=Path,
        nargs="+",
        required=True,
        help="scanpaths.json of each seed (the first is drawn; their notes are summed)",
    )
    sm.add_argument(
        "--declared-scanpaths",
        type=Path,
        nargs="*",
        default=[],
        help="scanpaths.json of the declared models' OAT variants (gaze.models) on the drawn split and seed: "
        "drawn beside OAT's",
    )
    sm.add_argument("--data", type=Path, default=None, help="the first seed's scanpath data set folder")
    sm.add_argument("--table", type=Path, required=True, help="output CSV")
    sm.add_argument("--figure", type=Path, required=True, help="output PNG")
    sm.add_argument("--summary", type=Path, required=True, help="output summary.json")
    common(sm, device=False)
    sm.set_defaults(func=cmd_summarize)

    po = steps.add_parser(
        "positions",
        help="fit the presets' Gaussian position tables once (the file that ships with the package)",
        description="OAT's Gaussian-similarity position table depends only on its sizes: fit it for every "
        "preset (Adam to convergence, as a model would) and write the file models read it from instead of "
        "refitting it in every training job. Other sizes are still fitted where they are used.",
    )
    po.add_argument("--out", type=Path, default=None, help="output .npz (default: the package's own file)")
    add_runtime_arguments(po, device=False)
    po.set_defaults(func=cmd_positions)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    b = bench_subparsers.add_parser(
        "gaze",
        help="OAT training sequences/s and decoding latency vs reference attention",
        description="Training throughput (scanpaths/s) and per-scanpath decoding latency "
        "(greedy and sampled) of OAT with the fused attention and with the "
        "plain softmax reference, in one process.",
    )
    b.add_argument("--out", type=Path, required=True, help="output JSON")
    b.add_argument("--preset", default="default", choices=PRESET_CHOICES, help="sizes (default: default)")
    b.add_argument("--steps", type=int, default=None, help="timed repeats per measurement")
    add_runtime_arguments(b)
    b.set_defaults(func=cmd_bench)
