"""The joint MindBridge model against the best single-subject model on each generator, as the registry's claim
``joint_mindbridge_matches_single_subject_models`` states it, outside the DAG.

    python workflow/scripts/decoding_generators.py {simulator,prf,sparse} OUT_DIR [SEED ...] [--test-images N]

Writes the generator's seed-0 data set under OUT_DIR/data (once), then per training seed (default 0 1 2): the
joint model over every subject but the last (the preset's model and training settings, ``--preset``, default
``default``), and per source subject its top-1 against ridge and scratch fitted on that subject alone with all
its images; prints one JSON line per seed and writes OUT_DIR/result.json. Targets: the generator's latent
attributes (simulator, receptive fields) or its own embeddings (sparse, in NSD's release layout).
``--test-images`` sets the receptive-field generator's shared test set (its default: 100 images).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from neuromodels.decoding.data import open_dataset
from neuromodels.decoding.presets import get_preset
from neuromodels.decoding.targets import make_targets
from neuromodels.decoding.train import DecodingData, adapt, evaluate_subject, train_joint


def simulate(generator: str, root: Path, preset, test_images: int | None = None) -> None:
    if generator == "simulator":
        from neuromodels.decoding.simulate import simulate_dataset

        simulate_dataset(root, preset.simulate, seed=0)
    elif generator == "prf":
        from neuromodels.decoding.simulate_prf import PRFSettings, simulate_prf_dataset

        settings = PRFSettings() if test_images is None else PRFSettings(n_test=test_images)
        simulate_prf_dataset(root, settings, seed=0)
    else:
        from neuromodels.decoding.simulate_sparse import simulate_sparse_dataset

        simulate_sparse_dataset(root, None, seed=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", choices=["simulator", "prf", "sparse"])
    parser.add_argument("out", type=Path)
    parser.add_argument("seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--test-images", type=int, default=None, help="prf: shared test images (default 100)")
    args = parser.parse_args()
    if args.test_images is not None and args.generator != "prf":
        parser.error("--test-images applies to the prf generator only")
    torch.set_num_threads(1)
    p = get_preset(args.preset)
    root = args.out / "data"
    # the marker names what the data set was written with, so a rerun never reuses one written otherwise
    written = json.dumps({"generator": args.generator, "test_images": args.test_images})
    marker = root / ".written"
    found = marker.read_text() if marker.exists() else None
    # an empty marker is an older run's, written with the generator's default test set
    if found is not None and found != written and (found or args.test_images is not None):
        parser.error(
            f"{root} was written as {found or 'an older run (default test set)'}, not {written}: use another OUT_DIR"
        )
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        simulate(args.generator, root, p, args.test_images)
        marker.write_text(written)
    if args.generator == "sparse":
        targets = make_targets(root, image=str(root / "embeddings.npy"), ids_path=str(root / "embedding_ids.txt"))
    else:
        targets = make_targets(root, image="latents", text="latents", dim=32)
    subjects = sorted(open_dataset(root).subjects)
    data = DecodingData(root, targets, subjects)
    sources = subjects[:-1]
    joint_data = DecodingData.__new__(DecodingData)
    joint_data.__dict__.update(data.__dict__)
    joint_data.subjects = {s: data.subjects[s] for s in sources}
    cpu = torch.device("cpu")
    result = {}
    for seed in args.seeds:
        start = time.time()
        model, _ = train_joint(joint_data, p.model, p.train, p.loss, seed, cpu, progress=False)
        rows = {}
        for s in sources:
            top1 = {"joint": evaluate_subject(model, data, s, p.train, seed=seed)["top1"]}
            for method in ("ridge", "scratch"):
                fitted, _ = adapt(data, method, s, "all", p.train, p.loss, seed, cpu, model_cfg=p.model)
                top1[method] = evaluate_subject(fitted, data, s, p.train, seed=seed)["top1"]
            rows[s] = {**top1, "gap": top1["joint"] - max(top1["ridge"], top1["scratch"])}
        worst = min(rows, key=lambda s: rows[s]["gap"])
        result[seed] = {
            "subjects": rows,
            "worst": worst,
            "worst_gap": rows[worst]["gap"],
            "seconds": time.time() - start,
        }
        print(json.dumps({"generator": args.generator, "seed": seed, **result[seed]}), flush=True)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
