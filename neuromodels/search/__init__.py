"""Visual search asymmetry (eccNET; Gupta, Zhang & Kreiman, NeurIPS 2021): the six classic asymmetry
experiments in both directions, eccNET and its baselines searching them, RT slopes and asymmetry indices
against the human ones, and the training-diet experiment.

One way in per task::

    displays = make_trials(["curvature", "lighting"], n_trials=4, seed=0, px_per_deg=30)
    write_trials("trials/", displays); trials = read_trials("trials/")      # PNGs + trials.csv
    backbone = train_backbone("upright", "default").model                 # or any module with 5 `blocks`
    fixations = run_model("eccnet", trials, backbone)                     # one row per trial
    indices = index_table(condition_slopes(fixations), read_human_slopes())
"""

from ..core.lazy import lazy_names

# Public names and the module that defines each; imported on first use so `neuromodels search --help`
# does not pay for torch.
_WHERE = {
    **dict.fromkeys(["EXPERIMENTS", "Experiment", "get_experiment", "make_trial", "make_trials"], "experiments"),
    **dict.fromkeys(["TrialSet", "read_human_slopes", "read_trials", "write_trials"], "data"),
    **dict.fromkeys(
        [
            "EccNet",
            "EccentricityPool",
            "EccentricitySettings",
            "MODEL_KINDS",
            "VGGBackbone",
            "chance_fixations",
            "naive_eccentricity_pool",
            "pixel_priority",
            "run_search",
        ],
        "models",
    ),
    **dict.fromkeys(["DIETS", "MODELS", "PRESETS", "SearchPreset", "get_preset"], "presets"),
    **dict.fromkeys(["diet_images", "load_backbone", "save_backbone", "train_backbone"], "train"),
    **dict.fromkeys(
        [
            "analyze",
            "asymmetry_index",
            "condition_slopes",
            "index_table",
            "reaction_time_ms",
            "run_model",
            "slope_correlation",
        ],
        "evaluate",
    ),
}
__getattr__ = lazy_names(__name__, _WHERE)


__all__ = sorted(_WHERE)
