"""How much the distractors' appearance is worth in the gaze world, with no model trained: the Sequence Score
against the simulated viewers of the generator's own guided-search walk (the viewers' mean weights) that knows

* ``oracle``: every object's latent similarity to the target (what a model reading the crops could learn),
* ``target_only``: only which object is the target (what OAT's image-blind control knows: the target's flag),
* ``distance_only``: nothing (the walk on distance and inhibition of return alone),

beside the human ceiling (viewers against each other). ``oracle - target_only`` bounds what appearance can add
to a model that knows where the target is: OAT's lead over its image-blind copy cannot exceed it by much.

    python workflow/scripts/gaze_appearance.py [--preset default] [--seeds 0 1 2] [--walk '{"w_distance": 1.5}']
        [--overrides '{"lookalikes": 0.5}']

``--walk`` overrides the walk's parameters (``neuromodels.gaze.simulate.WalkParameters``), over the preset's
``walk`` setting (which ``--overrides '{"walk": {...}}'`` sets as the DAG's ``gaze.overrides`` does). The
displays and viewers are drawn as ``neuromodels gaze simulate`` draws them (the same law; fixation positions are not drawn).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from neuromodels.gaze.metrics import sequence_score
from neuromodels.gaze.presets import get_preset
from neuromodels.gaze.simulate import (
    SimulationSettings,
    attribute_similarity,
    draw_displays,
    draw_viewers,
    guided_search_walk,
    product_catalogue,
)


def world_value(
    preset: str, seed: int, walk: dict, samples: int = 20, overrides: dict | None = None
) -> dict[str, float]:
    settings = SimulationSettings.from_preset(get_preset(preset, overrides), walk)
    params = settings.walk
    rng = np.random.default_rng([seed, 3])
    catalogue = product_catalogue(settings.n_products, seed)
    viewers = list(draw_viewers(params, settings.viewers, rng).values())
    mean_viewer = {"w_similarity": params.w_similarity, "w_distance": params.w_distance}
    model_rng = np.random.default_rng([seed, 7])
    scores: dict[str, list[float]] = {"oracle": [], "target_only": [], "distance_only": [], "ceiling": []}
    for trial, products, _ in draw_displays(settings, catalogue, rng):
        t_index = trial.target_index
        target = products.iloc[t_index]
        similarity = attribute_similarity(products, target, params.similarity_weights)
        humans = [guided_search_walk(trial, similarity, rng, v, params) for v in viewers]
        only = np.where(np.arange(len(similarity)) == t_index, similarity[t_index], 0.0)
        for name, sim in (("oracle", similarity), ("target_only", only), ("distance_only", 0 * similarity)):
            paths = [guided_search_walk(trial, sim, model_rng, mean_viewer, params) for _ in range(samples)]
            scores[name].append(float(np.mean([sequence_score(a, h) for a in paths for h in humans])))
        pairs = [sequence_score(a, b) for i, a in enumerate(humans) for j, b in enumerate(humans) if i != j]
        scores["ceiling"].append(float(np.mean(pairs)))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--walk", type=json.loads, default={})
    parser.add_argument("--overrides", type=json.loads, default={}, help="preset settings, e.g. lookalikes")
    args = parser.parse_args()
    for seed in args.seeds:
        row = world_value(args.preset, seed, args.walk, overrides=args.overrides)
        row["appearance_gain"] = row["oracle"] - row["target_only"]
        head = {"preset": args.preset, "seed": seed, "walk": args.walk, "overrides": args.overrides}
        print(json.dumps({**head, **{k: round(v, 3) for k, v in row.items()}}))


if __name__ == "__main__":
    main()
