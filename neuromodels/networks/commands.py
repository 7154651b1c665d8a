"""``neuromodels networks <step>``: train an encoder on a stimulus set, embed a stimulus set; and
``neuromodels bench networks``. Heavy imports stay inside the command functions so ``--help`` is fast."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from neuromodels.core.args import add_params_argument, add_runtime_arguments, load_params

# settings of the `networks` config section that override a preset when set (not None)
OVERRIDE_KEYS = ("epochs", "batch_size", "lr", "stem", "captions")


def _overrides(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in OVERRIDE_KEYS if params.get(k) is not None}


def cmd_train(args: argparse.Namespace) -> None:
    from neuromodels.core.runtime import select_device

    from .evaluate import plot_training_curve, write_training_metrics
    from .train import train_image_encoder

    params = load_params(args.params, "networks")
    device = select_device(args.device)
    bundle = train_image_encoder(
        args.stimuli,
        args.objective,
        preset=args.preset,
        seed=args.seed,
        device=device,
        checkpoint_path=args.checkpoint,
        out_path=args.out,
        precision=args.precision,
        overrides=_overrides(params),
    )
    if args.metrics:
        write_training_metrics(args.metrics, bundle, {"latent_probe": _probe(args.stimuli, bundle, device)})
    if args.curve:
        plot_training_curve(args.curve, bundle)
    if args.checkpoint and not args.keep_checkpoint:
        # the checkpoint exists to resume a killed run; once the bundle is written, a later run (new code,
        # forced rerun) must train afresh rather than "resume" a finished one
        Path(args.checkpoint).unlink(missing_ok=True)


def _probe(stimuli_dir: str, bundle: Any, device: Any) -> dict[str, Any]:
    """Latent read-out from the held-out stimuli's embeddings, trained encoder vs its random-init copy."""
    import numpy as np

    from neuromodels.stimuli import latent_matrix, read_stimulus_set

    from .evaluate import latent_probe
    from .features import embed_images

    stimuli = read_stimulus_set(stimuli_dir)
    held_out = [int(i) for i in bundle.meta.get("val_stimulus_ids", [])]
    if len(held_out) < 10:
        return {}
    rows = stimuli.table.set_index("stimulus_id").loc[held_out].reset_index()
    latents, names = latent_matrix(rows)
    images = stimuli.images(held_out)
    seed = int(bundle.meta.get("seed", 0))
    out = {
        "n_stimuli": len(held_out),
        "what": "5-fold cross-validated ridge R^2 from the image embedding to "
        "each latent attribute of the held-out stimuli",
    }
    for name, random_init in (("trained", False), ("random_init", True)):
        features = embed_images(bundle, images, device=device, random_init=random_init, seed=seed)
        out[name] = latent_probe(features, np.asarray(latents), names, seed=seed)
    return out


def cmd_embed(args: argparse.Namespace) -> None:
    from neuromodels.core.errors import ConfigError
    from neuromodels.core.runtime import get_logger, select_device
    from neuromodels.stimuli import read_stimulus_set

    from .data import write_embeddings
    from .features import TEXT_ENCODERS, embed_images, embed_texts
    from .train import stimulus_captions

    device = select_device(args.device)
    stimuli = read_stimulus_set(args.stimuli)
    ids = [str(i) for i in stimuli.table["stimulus_id"]]
    if args.what == "images":
        if args.encoder in TEXT_ENCODERS:
            raise ConfigError("--encoder", f"{args.encoder} embeds captions, not images (use --what captions)")
        emb = embed_images(
            args.encoder,
            stimuli.images(),
            device=device,
            batch_size=args.batch_size,
            random_init=args.random_init,
            seed=args.seed,
        )
    else:
        emb = embed_texts(
            stimulus_captions(stimuli.table),
            args.encoder,
            device=device,
            batch_size=args.batch_size,
            random_init=args.random_init,
            seed=args.seed,
        )
    write_embeddings(
        args.out,
        ids,
        emb,
        attrs={"encoder": args.encoder, "what": args.what, "random_init": args.random_init, "seed": args.seed},
    )
    get_logger(__name__).info(
        "embedded %d %s with %s%s -> %s %s",
        len(ids),
        args.what,
        args.encoder,
        " (random init)" if args.random_init else "",
        args.out,
        emb.shape,
    )


def cmd_bench(args: argparse.Namespace) -> None:
    from .bench import run_benchmark

    run_benchmark(
        args.out,
        preset=args.preset,
        objective=args.objective,
        steps=args.steps,
        device_preference=args.device,
        seed=args.seed,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "networks",
        help="trainable encoders (ViT with SimCLR/CLIP/SLIP, MiniLM): train and embed",
        description="Train image encoders on a stimulus set and embed stimuli with them (or with MiniLM).",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)

    train = steps.add_parser(
        "train",
        help="train an image encoder (SimCLR, CLIP or SLIP) on a stimulus set",
        description="Train a ViT (and, for CLIP/SLIP, a caption encoder) on a stimulus set written by "
        "`neuromodels stimuli generate`. Resumes from --checkpoint when it exists.",
    )
    train.add_argument("--stimuli", required=True, help="stimulus set folder (neuromodels stimuli generate)")
    train.add_argument(
        "--objective",
        required=True,
        choices=["simclr", "clip", "slip"],
        help="simclr (images only), clip (image-caption pairs) or slip (both)",
    )
    train.add_argument("--out", required=True, help="encoder bundle to write (.pt)")
    train.add_argument(
        "--checkpoint",
        default=None,
        help="training checkpoint: resumed when it exists, removed once the encoder is written",
    )
    train.add_argument(
        "--keep-checkpoint", action="store_true", help="keep the checkpoint after training (default: remove it)"
    )
    train.add_argument("--metrics", default=None, help="JSON of training metrics to write")
    train.add_argument("--curve", default=None, help="training-curve figure to write (.png)")
    train.add_argument(
        "--preset",
        default="default",
        choices=["tiny", "default", "full"],
        help="network and training size (default: default)",
    )
    add_params_argument(train)
    add_runtime_arguments(train)
    train.set_defaults(func=cmd_train)

    embed = steps.add_parser(
        "embed",
        help="embed the images or captions of a stimulus set (.h5/.npz/.npy keyed by stimulus id)",
        description="Embed every stimulus of a set with a trained encoder bundle (images or, for CLIP/SLIP, "
        "captions) or with MiniLM (captions).",
    )
    embed.add_argument("--stimuli", required=True, help="stimulus set folder")
    embed.add_argument(
        "--encoder", required=True, help="encoder bundle path (.pt), or minilm / minilm-random for captions"
    )
    embed.add_argument("--what", default="images", choices=["images", "captions"], help="what to embed")
    embed.add_argument("--out", required=True, help="output file: .h5, .npz or .npy (+ .ids.csv)")
    embed.add_argument(
        "--random-init",
        action="store_true",
        help="use the random-init copy of the encoder (same architecture, weights from --seed)",
    )
    embed.add_argument("--batch-size", type=int, default=256, help="stimuli per forward pass (default 256)")
    add_runtime_arguments(embed)
    embed.set_defaults(func=cmd_embed)


def register_bench(bench_subparsers: argparse._SubParsersAction) -> None:
    bench = bench_subparsers.add_parser(
        "networks",
        help="encoder training steps: SDPA vs reference attention (and bf16 vs fp32 on GPU)",
        description="Time training steps of a preset's encoder with the SDPA attention backend against the plain "
        "softmax reference in the same process (and bf16 autocast against fp32 on a GPU).",
    )
    bench.add_argument("--out", required=True, help="JSON file to write")
    bench.add_argument("--preset", default="default", choices=["tiny", "default", "full"])
    bench.add_argument("--objective", default="simclr", choices=["simclr", "clip", "slip"])
    bench.add_argument("--steps", type=int, default=10, help="timed steps per configuration, in turns (default 10)")
    add_runtime_arguments(bench)
    bench.set_defaults(func=cmd_bench)
