"""``neuromodels models <step>``: declared models (``models:`` in the config; see
:mod:`neuromodels.networks.declared`): list them, check one on world images and captions."""

from __future__ import annotations

import argparse

from neuromodels.core.args import add_models_argument, add_runtime_arguments, load_models

DEFAULT_CONFIG = "workflow/config/config.yaml"


def _user_models(value: str | None) -> dict:
    from pathlib import Path

    if value is None and Path(DEFAULT_CONFIG).exists():
        value = DEFAULT_CONFIG
    return load_models(value)


def _world_batch(stimuli: str | None, n: int, seed: int):
    """``n`` images and captions of the stimulus world: from a stimulus set folder, or drawn afresh."""
    import numpy as np

    from neuromodels.stimuli import captions, read_stimulus_set, render_scenes, sample_scenes

    if stimuli:
        sset = read_stimulus_set(stimuli)
        ids = list(sset.table["stimulus_id"])[:n]
        table = sset.table.set_index("stimulus_id").loc[ids].reset_index()
        return np.asarray(sset.images(ids)), captions(table)
    table = sample_scenes(n, seed=seed)
    return render_scenes(table, size=64), captions(table)


def cmd_check(args: argparse.Namespace) -> None:
    from neuromodels.core.io import write_json
    from neuromodels.core.runtime import get_logger, select_device

    from .declared import check_model, lookup

    log = get_logger(__name__)
    user = _user_models(args.models)
    decl = lookup(args.name, user, where="models")
    device = select_device(args.device)
    images, texts = _world_batch(args.stimuli, args.n, args.seed)
    log.info("checking %s (%s) on %s with %d world images", decl.name, decl.kind, device, len(images))
    report = check_model(
        decl, images, texts, seed=args.seed, device=str(device), user=user, require_spatial=args.spatial
    )
    width = max([len(row["layer"]) for row in report["layers"]] + [5])
    print(f"{decl.name}: {decl.kind} model on {report['device']}")
    for row in report["layers"]:
        shape = " x ".join(str(s) for s in row["shape"])
        print(f"  {row['tower']:5s} {row['layer']:{width}s} {shape}{'  (spatial)' if row['spatial'] else ''}")
    if "search_layers" in report:
        print(f"  search reads: {', '.join(report['search_layers'])}")
    print(
        f"  deterministic: {'yes' if report['deterministic'] else 'no'}; outputs finite: yes; "
        f"random-init copy: {'yes' if report['random_init_copy'] else 'no (declare weights or untrained_options)'}"
    )
    if args.out:
        write_json(args.out, report)


def cmd_list(args: argparse.Namespace) -> None:
    from .declared import declarations

    known = declarations(_user_models(args.models))
    width = max(len(name) for name in known)
    for name, decl in known.items():
        where = "built-in" if decl.builtin else decl.builder
        print(f"{name:{width}s}  {decl.kind:11s}  {where}" + (f"  {decl.description}" if decl.description else ""))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="declared models (the config's models: section): list, check",
        description="Models declared once in the config's `models:` section, read by every family.",
    )
    steps = parser.add_subparsers(dest="step", metavar="<step>", required=True)
    check = steps.add_parser(
        "check",
        help="build a declared model, run world images (and captions), list its layers",
        description="Build a declared model, run a batch of world images (and captions) through it twice, list "
        "the layers read with their output shapes, and check determinism, finite outputs and the device. "
        "What cannot work is refused with one line.",
    )
    check.add_argument("name", help="the model's name in the models: section (or a built-in one)")
    add_models_argument(check)
    check.add_argument("--stimuli", default=None, help="a stimulus set folder (default: world images drawn afresh)")
    check.add_argument("--n", type=int, default=8, help="images in the batch (default 8)")
    check.add_argument("--spatial", action="store_true", help="require spatial maps (the search family's need)")
    check.add_argument("--out", default=None, help="the report as JSON")
    add_runtime_arguments(check)
    check.set_defaults(func=cmd_check)

    listing = steps.add_parser("list", help="the declared models, built-in and yours")
    add_models_argument(listing)
    listing.set_defaults(func=cmd_list)
