"""``neuromodels decoding <step>``: simulate, targets, train, adapt, report; and ``neuromodels bench decoding``."""

from __future__ import annotations

import argparse

from neuromodels.core.args import (
    add_models_argument,
    add_params_argument,
    add_runtime_arguments,
    load_models,
    load_params,
)

from .workflow import ADAPT_METHODS, BASE_KIND, WITH_SOURCES

PRESET_CHOICES = ["tiny", "default", "full"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "decoding",
        help="cross-subject fMRI decoding (MindBridge, linear adapters)",
        description="Cross-subject fMRI decoding on NSD-style data.",
    )
    sub = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    p = sub.add_parser("simulate", help="write a simulated NSD-style data set with planted ground truth")
    p.add_argument("--out", required=True, help="data set folder to write")
    p.add_argument("--preset", default="default", choices=PRESET_CHOICES)
    add_runtime_arguments(p, device=False)
    add_params_argument(p)
    p.set_defaults(func=_simulate)

    p = sub.add_parser("targets", help="target embeddings per stimulus id (cached as HDF5)")
    p.add_argument("--data", required=True, help="data set folder (simple layout or NSD's release)")
    p.add_argument("--out", required=True, help="targets file to write (.h5)")
    p.add_argument(
        "--image",
        required=True,
        help="'latents', a declared model (clip, slip, simclr or one of --models), an encoder bundle (.pt) or "
        "an embedding file (.npy/.npz/.h5) keyed by id",
    )
    p.add_argument(
        "--image-ids", default=None, help="stimulus ids (.txt, .csv, .npy or .h5) for an .npy of image embeddings"
    )
    p.add_argument(
        "--text",
        default="none",
        help="'none', 'latents', a declared model with a text side (minilm, clip, slip or one of --models), an "
        "encoder bundle or a file",
    )
    p.add_argument(
        "--text-ids", default=None, help="stimulus ids (.txt, .csv, .npy or .h5) for an .npy of text embeddings"
    )
    p.add_argument("--dim", type=int, default=64, help="width of 'latents' targets (default 64)")
    p.add_argument(
        "--raw",
        action="store_true",
        help="keep embeddings as given (default: standardise each feature over the stimuli)",
    )
    add_runtime_arguments(p)
    add_params_argument(p)
    add_models_argument(p)
    p.set_defaults(func=_targets)

    p = sub.add_parser("train", help="train one model over the source subjects (MindBridge or linear adapters)")
    _common(p)
    p.add_argument("--model", required=True, choices=["mindbridge", "linear"])
    p.add_argument("--subjects", nargs="+", required=True, help="source subjects")
    p.add_argument("--out", required=True, help="model file to write (.pt)")
    p.add_argument("--metrics", required=True, help="metrics JSON (one record per source subject)")
    p.set_defaults(func=_train)

    p = sub.add_parser(
        "adapt",
        help="fit one subject with n training images by one or more methods "
        "(adaptations or baselines), the data read once",
    )
    _common(p)
    p.add_argument(
        "--method",
        required=True,
        nargs="+",
        choices=list(ADAPT_METHODS),
        help="methods, fitted one after the other on the same data",
    )
    p.add_argument("--subject", required=True)
    p.add_argument("--n-train", default="all", help="training images of the subject: a number or 'all'")
    p.add_argument(
        "--base", nargs="*", default=[], help="joint models (.pt) to adapt from: each method takes the one of its kind"
    )
    p.add_argument(
        "--sources", nargs="*", default=[], help="source subjects the reset-tuning methods train beside the new one"
    )
    p.add_argument(
        "--role",
        default="heldout",
        choices=["heldout", "source"],
        help="how the report files the result (learning curve or per-subject table)",
    )
    p.add_argument("--metrics", required=True, nargs="+", help="metrics JSON to write, one per method in order")
    p.add_argument(
        "--draws",
        type=int,
        default=1,
        help="fits per method, each with its own training subset and initialisation (seeds seed + "
        "1000 d); the metrics file holds one record per draw (default 1)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="fitted model to write (optional; one method, one draw): a state_dict with its config (.pt), or for "
        "ridge plain arrays (.npz)",
    )
    p.set_defaults(func=_adapt)

    p = sub.add_parser("report", help="tables (CSV), figures (PNG) and summary.json from the metrics JSONs")
    p.add_argument("--metrics", nargs="+", required=True)
    p.add_argument(
        "--targets", default=None, help="the targets file the runs decoded: its sources go into the summary's notes"
    )
    p.add_argument("--out-dir", required=True)
    p.add_argument("--preset", default=None, choices=PRESET_CHOICES, help="recorded in summary.json")
    p.add_argument("--seed", type=int, default=None, help="recorded in summary.json")
    p.set_defaults(func=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="data set folder")
    p.add_argument("--targets", required=True, help="targets file (.h5)")
    p.add_argument("--preset", default="default", choices=PRESET_CHOICES)
    p.add_argument("--checkpoint", default=None, help="checkpoint file (resumes when it exists)")
    add_runtime_arguments(p)
    add_params_argument(p)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    p = bench_subparsers.add_parser("decoding", help="training samples/s of the decoders at default and paper sizes")
    p.add_argument("--out", required=True, help="JSON to write")
    p.add_argument("--sizes", nargs="+", default=["default", "paper"], choices=["tiny", "default", "paper"])
    p.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    add_runtime_arguments(p)
    p.set_defaults(func=_bench)


# ------------------------------------------------------------------------------------------------ steps
def _simulate(args: argparse.Namespace) -> None:
    from .presets import get_preset
    from .simulate import simulate_dataset

    preset = get_preset(args.preset, load_params(args.params, "decoding"))
    simulate_dataset(args.out, preset.simulate, seed=args.seed)


def _targets(args: argparse.Namespace) -> None:
    from neuromodels.core.runtime import select_device

    from .targets import make_targets, write_targets

    device = select_device(args.device)
    settings = load_params(args.params, "decoding")
    targets = make_targets(
        args.data,
        args.image,
        args.text,
        args.image_ids,
        args.text_ids,
        str(device),
        dim=args.dim,
        seed=args.seed,
        standardise=not args.raw,
        layout=settings["layout"],
        release=settings["release"],
        models=load_models(args.models),
        encoder_seed=settings["targets"]["encoder_seed"],
    )
    write_targets(args.out, targets)


def data_options(settings: dict) -> dict:
    """DecodingData's layout, test split and release options from the decoding settings."""
    return {
        "layout": settings["layout"],
        "release": settings["release"],
        "split": {
            "kind": settings["test_split"],
            "file": settings["test_ids"] or None,
            "fraction": settings["test_fraction"],
            "seed": settings["split_seed"],
        },
    }


def _load(args: argparse.Namespace, subjects: list[str]):
    from neuromodels.core.runtime import select_device

    from .presets import get_preset
    from .targets import read_targets
    from .train import DecodingData

    settings = load_params(args.params, "decoding")
    preset = get_preset(args.preset, settings)
    preset.train.precision = args.precision
    device = select_device(args.device)
    data = DecodingData(args.data, read_targets(args.targets), subjects, **data_options(settings))
    args.split = {**data.split.describe(), **getattr(data.dataset, "notes", {})}
    return preset, device, data


SPLIT_FIELDS = {
    "test_split": "test_split",
    "n_test": "n_test",
    "source": "test_split_source",
    "listed": "test_ids_listed",
    "not_seen_by_all": "test_ids_not_seen_by_all",
    "shared_listed": "test_shared_listed",
    "fraction": "test_fraction",
    "seed": "test_split_seed",
    "stimuli_numbered_by_row": "stimuli_numbered_by_row",
}


def _record(base: dict, metrics: dict, args: argparse.Namespace) -> dict:
    """One metrics record: what was run, its metrics, and the test split (with the counts of what it left out)."""
    split = {SPLIT_FIELDS[k]: v for k, v in getattr(args, "split", {}).items() if k in SPLIT_FIELDS}
    return {**base, **metrics, **split, "preset": args.preset, "device": str(args.device)}


def _train(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from neuromodels.core.io import torch_save, write_json

    from .train import evaluate_subject, model_state, train_joint

    preset, device, data = _load(args, list(args.subjects))
    model, result = train_joint(
        data,
        replace(preset.model, kind=args.model),
        preset.train,
        preset.loss,
        args.seed,
        device,
        checkpoint=args.checkpoint,
    )
    records = []
    for s in args.subjects:
        m = evaluate_subject(model, data, s, preset.train, args.seed, device)
        records.append(
            _record(
                {
                    "method": f"{args.model}_joint",
                    "subject": s,
                    "role": "source",
                    "n_train": int(len(data.train_ids[s])),
                    "seed": args.seed,
                    "samples_per_second": result.samples_per_second,
                },
                m,
                args,
            )
        )
    torch_save(args.out, model_state(model.cpu(), {"records": records, "history": result.history}))
    write_json(args.metrics, {"records": records})
    _drop_checkpoint(args.checkpoint)


def _adapt(args: argparse.Namespace) -> None:
    """Fit the subject by each method in turn: one start-up and one read of the data for all of them. Each fit
    is seeded on its own (the same numbers as a job of that method alone) and writes its metrics when done;
    with several methods each has its own checkpoint, ``<checkpoint stem>.<method><suffix>``. With ``--draws``
    K > 1 each method is fitted K times (draw d: seed + 1000 d, its own training subset and initialisation;
    checkpoints ``...<method>.draw<d>...``) and its metrics file holds ``{"records": [one per draw]}``, each
    record with the job's ``seed``, its ``draw`` and ``fit_seed``."""
    from neuromodels.core.errors import ConfigError
    from neuromodels.core.io import torch_load, torch_save, write_json, write_npz

    from .models import RidgeDecoder
    from .train import adapt, draw_seeds, evaluate_subject, model_state

    methods = list(dict.fromkeys(args.method))
    if len(methods) != len(args.method):
        raise ConfigError("--method", f"a method is named twice: {' '.join(args.method)}")
    if len(args.metrics) != len(methods):
        raise ConfigError("--metrics", f"one file per method: {len(methods)} method(s), {len(args.metrics)} file(s)")
    if args.out and (len(methods) > 1 or args.draws > 1):
        raise ConfigError("--out", "a fitted model is written for one method and one draw only")
    if args.draws < 1:
        raise ConfigError("--draws", f"at least one draw, got {args.draws}")
    sources = [s for s in args.sources if s != args.subject]
    load = [args.subject] + (sources if any(m in WITH_SOURCES for m in methods) else [])
    preset, device, data = _load(args, load)
    bases = {}  # joint models by kind (mindbridge, linear)
    for path in args.base or []:
        state = torch_load(path)
        bases[state["config"]["kind"]] = state
    for method, metrics_path in zip(methods, args.metrics):
        kind = BASE_KIND[method]
        needs_base = kind is not None
        base = bases.get(kind) if needs_base else None
        if needs_base and base is None:
            raise ConfigError("--base", f"{method} needs a {kind} joint model")
        records = []
        for draw, fit_seed in enumerate(draw_seeds(args.seed, args.draws)):
            checkpoint = _method_checkpoint(args.checkpoint, method, len(methods), draw if args.draws > 1 else None)
            model, record = adapt(
                data,
                method,
                args.subject,
                args.n_train,
                preset.train,
                preset.loss,
                fit_seed,
                device,
                base=base,
                model_cfg=preset.model,
                sources=sources if base else (),
                checkpoint=checkpoint,
            )
            metrics = evaluate_subject(model, data, args.subject, preset.train, args.seed, device)
            draw_info = {"seed": args.seed, "draw": draw, "fit_seed": fit_seed} if args.draws > 1 else {}
            records.append(
                _record({**record, **draw_info, "role": args.role, "n_train_arg": str(args.n_train)}, metrics, args)
            )
            if args.out:
                if isinstance(model, RidgeDecoder):  # plain arrays (np.savez), read back without pickles
                    write_npz(args.out, **model.to_arrays())
                else:
                    torch_save(args.out, model_state(model.cpu(), {"record": records[-1]}))
            _drop_checkpoint(checkpoint)
        write_json(metrics_path, records[0] if args.draws == 1 else {"records": records})


def _method_checkpoint(path: str | None, method: str, n_methods: int, draw: int | None = None) -> str | None:
    """The checkpoint of one fit: the path itself for a single method and draw, else one per method (and draw)."""
    if not path or (n_methods == 1 and draw is None):
        return path
    from pathlib import Path

    p = Path(path)
    tag = (f".{method}" if n_methods > 1 else "") + (f".draw{draw}" if draw is not None else "")
    return str(p.with_name(f"{p.stem}{tag}{p.suffix}"))


def _drop_checkpoint(path: str | None) -> None:
    """A finished job's checkpoint is no longer needed (its outputs exist)."""
    import contextlib
    from pathlib import Path

    if path:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


def _report(args: argparse.Namespace) -> None:
    from pathlib import Path

    from neuromodels.core.io import read_json, write_json

    from .evaluate import collect, write_report

    write_report(args.metrics, args.out_dir, preset=args.preset, seed=args.seed)
    # the test split the runs were scored on goes into the summary's notes (one entry per distinct split)
    table = collect(args.metrics)
    cols = [c for c in SPLIT_FIELDS.values() if c in table.columns]
    path = Path(args.out_dir) / "summary.json"
    summary = read_json(path)
    if cols:
        splits = [{k: v for k, v in r.items() if v == v} for r in table[cols].drop_duplicates().to_dict("records")]
        summary.setdefault("notes", {})["test_split"] = splits[0] if len(splits) == 1 else splits
    if args.targets:
        # what the decoders predicted: the declared models (or files) behind the image and text targets
        from .targets import read_targets

        meta = read_targets(args.targets).meta
        summary.setdefault("notes", {})["targets"] = {
            "image": str(meta.get("image_encoder", "")),
            "text": str(meta.get("text_encoder", "")),
        }
    write_json(path, summary)


def _bench(args: argparse.Namespace) -> None:
    from .bench import run_benchmark

    run_benchmark(
        args.out, sizes=args.sizes, steps=args.steps, device=args.device, precision=args.precision, seed=args.seed
    )
