"""``neuromodels seeg <step>``: simulate, targets, features, encode, evaluate, summarize; ``neuromodels bench seeg-ridge``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.args import add_models_argument, add_params_argument, add_runtime_arguments, load_models, load_params


def _params(args: argparse.Namespace) -> dict:
    return load_params(getattr(args, "params", None), "seeg")  # the schema's defaults filled in


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "seeg",
        help="SEEG encoding comparisons (vision, language, multimodal networks)",
        description="SEEG encoding comparisons on Brain Treebank-style recordings.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    p = steps.add_parser(
        "simulate",
        help="write a simulated Brain Treebank-style dataset with classes planted "
        "in the stimulus world (no network involved)",
    )
    p.add_argument("--stimuli", required=True, help="stimulus set folder (neuromodels stimuli generate)")
    p.add_argument("--out", required=True, help="dataset folder to write")
    p.add_argument("--preset", default="default", choices=["tiny", "default", "full"])
    add_params_argument(p)
    add_runtime_arguments(p, device=False)
    p.set_defaults(func=_simulate)

    p = steps.add_parser("targets", help="preprocess recordings and bin activity around the events of each alignment")
    p.add_argument("--data", required=True, help="dataset folder (the Brain Treebank release layout)")
    p.add_argument(
        "--alignment",
        required=True,
        nargs="+",
        choices=["language", "vision"],
        help="one or both alignments (each trial is preprocessed once for all of them)",
    )
    p.add_argument("--out", required=True, nargs="+", help="output .npz, one per alignment (same order)")
    add_params_argument(p)
    add_runtime_arguments(p, device=False)
    p.set_defaults(func=_targets)

    p = steps.add_parser("features", help="per-layer features of networks for the events of both alignments")
    p.add_argument(
        "--model",
        required=True,
        nargs="+",
        help="declared models: simclr, clip, slip, minilm or one of the config's models: section, or one of them "
        "with -random (the random-init control); several models run in one process",
    )
    p.add_argument("--targets", nargs="+", required=True, help="targets .npz of the alignments")
    p.add_argument(
        "--stimuli",
        required=True,
        help="frames folder: stimuli.csv (stimulus_id, filename; movie and "
        "time when the scene cuts name no stimulus_id) and the images",
    )
    add_models_argument(p)
    p.add_argument("--out", required=True, nargs="+", help="output .npz per model, same order (keys alignment/layer)")
    add_runtime_arguments(p)
    p.set_defaults(func=_features)

    p = steps.add_parser("encode", help="grouped-CV ridge from every layer of every model, held-out predictions")
    p.add_argument("--targets", required=True, help="targets .npz of one alignment")
    p.add_argument("--features", nargs="+", required=True, help="features .npz, one per model")
    p.add_argument("--out", required=True, help="output .npz of held-out predictions")
    p.add_argument("--preset", default="default", choices=["tiny", "default", "full"])
    add_params_argument(p)
    add_runtime_arguments(p)
    p.set_defaults(func=_encode)

    p = steps.add_parser("evaluate", help="test ladder, tables and figures")
    p.add_argument("--targets", nargs=2, required=True, help="targets .npz: language then vision")
    p.add_argument("--encoded", nargs=2, required=True, help="encode outputs: language then vision")
    p.add_argument("--truth", default=None, help="ground_truth.csv of a simulated dataset (scores detection)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--preset", default="default", choices=["tiny", "default", "full"])
    add_params_argument(p)
    add_runtime_arguments(p, device=False)
    p.set_defaults(func=_evaluate)
    _register_summarize(steps)


def _register_summarize(steps) -> None:
    p = steps.add_parser(
        "summarize",
        help="the family's summary.json: every seed's statistics (what the claims registry is evaluated on)",
    )
    p.add_argument("--inputs", nargs="+", required=True, help="summary.json of each seed's evaluate step")
    p.add_argument("--out", required=True, help="the family's summary.json")
    add_runtime_arguments(p, device=False)
    p.set_defaults(func=_summarize)


def _summarize(args: argparse.Namespace) -> None:
    from .evaluate import combine_summaries

    combine_summaries(args.inputs, args.out)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser(
        "seeg-ridge", help="grouped-CV ridge for many targets against himalaya, scikit-learn and the GEMM bound"
    )
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--targets", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--features", type=int, default=512)
    p.add_argument("--loop-targets", type=int, default=20, help="targets for the per-target scikit-learn loop")
    p.add_argument("--skip-sklearn-loo", action="store_true")
    add_runtime_arguments(p)
    p.set_defaults(func=_bench)

    p = bench_subparsers.add_parser(
        "seeg-memory",
        help="peak memory and time of the seeg targets step on a long "
        "recording written in the Brain Treebank release layout",
    )
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--workdir", required=True, help="scratch folder for the recordings (about 7.7 GB at full size)")
    p.add_argument("--duration", type=float, default=7200.0, help="recording length (s)")
    p.add_argument("--channels", type=int, default=130)
    p.add_argument("--sfreq", type=float, default=2048.0)
    p.add_argument(
        "--baseline-duration",
        type=float,
        default=120.0,
        help="length (s) of the short recording on which the whole-recording path is measured too",
    )
    p.add_argument("--keep", action="store_true", help="keep the written recordings")
    add_runtime_arguments(p, device=False)
    p.set_defaults(func=_bench_memory)


# ------------------------------------------------------------------------------------------------ steps
def _simulate(args: argparse.Namespace) -> None:
    from ..stimuli import latent_matrix, read_stimulus_set
    from .presets import get_preset
    from .simulate import simulate_dataset

    params = _params(args)
    preset = get_preset(args.preset, {**params["simulation"], "line_freq": params["line_freq"]})
    stim = read_stimulus_set(args.stimuli)
    lat, names = latent_matrix(stim.table)
    cols = [i for i, n in enumerate(names) if any(n.startswith(a) for a in params["vision_attributes"])]
    from ..core.errors import ConfigError

    if not cols:
        raise ConfigError("seeg.vision_attributes", f"matches none of the latent columns {names}")
    vision = lat[:, cols]
    simulate_dataset(args.out, stim.table, vision, preset.simulation, seed=args.seed)


def _preprocess_settings(params: dict):
    from .preprocess import PreprocessSettings

    return PreprocessSettings(
        line_freq=params["line_freq"],
        reference=params["reference"],
        high_gamma=params["high_gamma"],
        bad_flat=params["bad_flat"],
        bad_variance=params["bad_variance"],
        edge_contacts=params["edge_contacts"],
    )


def _targets(args: argparse.Namespace) -> None:
    from ..core.errors import ConfigError
    from .targets import build_all_targets, save_targets

    params = _params(args)
    if len(args.out) != len(args.alignment):
        raise ConfigError("--out", f"needs one file per alignment ({len(args.alignment)}), got {len(args.out)}")
    built = build_all_targets(
        args.data,
        tuple(args.alignment),
        _preprocess_settings(params),
        tuple(params["window"]),
        params["bin_width"],
        params["bin_step"],
        sfreq=params["sfreq"],
        movies=list(params["movies"]),
        scene_cuts=params["scene_cuts"] or None,
    )
    for alignment, out in zip(args.alignment, args.out):
        save_targets(out, built[alignment])


def _features(args: argparse.Namespace) -> None:
    import numpy as np

    from ..core.errors import ConfigError
    from ..core.io import write_npz
    from ..core.runtime import select_device
    from .features import declared_models, event_features, frame_key, frames_on_screen, load_frames, read_frames
    from .targets import load_targets

    if len(args.out) != len(args.model):
        raise ConfigError("--out", f"needs one file per model ({len(args.model)}), got {len(args.out)}")
    device = str(select_device(args.device))
    models = {m.name: m for m in declared_models(args.model, load_models(args.models), seed=args.seed, device=device)}
    frames = read_frames(args.stimuli)
    targets = [(Path(path).stem, load_targets(path)) for path in args.targets]
    for _, t in targets:
        t.events["stimulus_id"] = frames_on_screen(t.events, frames, str(Path(args.stimuli) / "stimuli.csv"))
    ids = sorted({frame_key(s) for _, t in targets for s in t.events["stimulus_id"].tolist()})
    images = load_frames(args.stimuli, frames, ids)
    for name, out in zip(args.model, args.out):
        model = models[name]
        arrays = {
            "modality": np.array(model.modality),
            "trained": np.array(model.trained),
            "image_output": np.array(model.image_output or ""),
            "text_output": np.array(model.text_output or ""),
            "random_init_seed": np.array(-1 if model.seed is None else model.seed),
        }
        for alignment, t in targets:
            feats = event_features(
                model, images, [frame_key(s) for s in t.events["stimulus_id"]], t.events["text"].tolist()
            )
            for layer, x in feats.items():
                arrays[f"{alignment}/{layer}"] = x
        write_npz(out, **arrays)


def _encode(args: argparse.Namespace) -> None:
    import numpy as np

    from ..core.io import write_npz
    from ..core.runtime import select_device
    from .encoding import encode_alignment, read_model_features, shuffled_offset
    from .presets import get_preset
    from .ridge import DEFAULT_ALPHAS
    from .targets import load_targets

    params = _params(args)
    preset = get_preset(args.preset)
    device = select_device(args.device)
    backend = "torch_cuda" if device.type == "cuda" else "torch"
    t = load_targets(args.targets)
    alignment = Path(args.targets).stem
    Y = t.Y.reshape(len(t.Y), -1)
    models = {}
    for path in args.features:
        m = read_model_features(path, alignment, len(Y))
        models[m.name] = m
    alphas = np.logspace(-2, 7, preset.n_alphas) if preset.n_alphas != 10 else DEFAULT_ALPHAS
    # the shuffled_time controls: every trained model's features shifted against the events by a seeded offset
    out = encode_alignment(
        Y,
        models,
        preset.n_blocks,
        preset.n_outer,
        preset.n_inner,
        alphas,
        backend,
        params["interaction_components"],
        shuffle_offset=shuffled_offset(len(Y), args.seed, alignment),
    )
    out["modalities"] = np.array([f"{k}={m.modality}" for k, m in models.items()])
    out["random_init_seeds"] = np.array([f"{k}={'' if m.seed is None else m.seed}" for k, m in models.items()])
    write_npz(args.out, **out)


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluate import evaluate_all

    params = _params(args)
    evaluate_all(args.targets, args.encoded, args.truth, args.out_dir, args.preset, params, args.seed)


def _bench(args: argparse.Namespace) -> None:
    from ..core.runtime import select_device
    from .bench import run_benchmark

    device = select_device(args.device)
    run_benchmark(
        args.out,
        n_targets=args.targets,
        n_samples=args.samples,
        n_features=args.features,
        loop_targets=args.loop_targets,
        device=device,
        precision=args.precision,
        sklearn_loo=not args.skip_sklearn_loo,
        seed=args.seed,
    )


def _bench_memory(args: argparse.Namespace) -> None:
    from .memory_bench import run_memory_benchmark

    run_memory_benchmark(
        args.out,
        args.workdir,
        n_channels=args.channels,
        duration=args.duration,
        sfreq=args.sfreq,
        baseline_duration=args.baseline_duration,
        seed=args.seed,
        keep=args.keep,
    )
