"""Brain-Score-style CrossViT study (Berrios & Deza 2022): CrossViT variants trained with rotation invariance
and/or fast adversarial training, their robustness, and their V4/IT predictivity.

One way in per task::

    model = build_crossvit("crossvit_tiny", n_classes=10)          # layers addressable by name
    trained = train_variant(data, "rotation_adversarial", "default", seed=0, checkpoint_path=...)
    table = robustness_table(trained.model, images, labels, eps=2/255, step=0.5/255, steps=10)
    assembly = read_assembly("assembly.nc")                       # ours or a Brain-Score netCDF file (3 or 4)
    assembly, notes = map_regions(assembly, {"IT": ["pIT", "cIT", "aIT"]})
    (assembly,), used = select_time_bins(assembly, [70, 170])     # or "all", or "each" (one per bin)
    scores, layers = score_model(model, layer_names, assembly, images_by_id, image_size=32)
    score = NeuralBenchmark(assembly, images_by_id, "IT")(any_brain_model)  # start_recording / look_at
"""

from ..core.lazy import lazy_names

# Public names and the module that defines each; imported on first use so `neuromodels brainscore --help`
# (which imports this package) does not pay for torch, xarray and scikit-learn.
_WHERE = {
    **dict.fromkeys(
        [
            "ImageDataset",
            "StimulusImages",
            "average_repetitions",
            "make_assembly",
            "read_assembly",
            "read_image_dataset",
            "world_image_dataset",
            "write_assembly",
            "write_image_dataset",
            "read_stimulus_table",
            "select_time_bins",
            "map_regions",
            "read_activations",
            "write_activations",
        ],
        "data",
    ),
    **dict.fromkeys(
        [
            "BrainModel",
            "LayerModel",
            "PrecomputedActivations",
            "MetricSettings",
            "NeuralBenchmark",
            "commit_layers",
            "pgd_accuracy",
            "pgd_attack",
            "pls_cross_validated",
            "public_heldout_split",
            "robustness_table",
            "score_model",
            "split_half_ceiling",
            "ceiling_error_bound",
            "variant_statistics",
        ],
        "evaluate",
    ),
    **dict.fromkeys(
        ["CROSSVIT_CONFIGS", "CrossViT", "CrossViTConfig", "block_output_layers", "build_crossvit", "crossvit_config"],
        "models",
    ),
    **dict.fromkeys(["PRESETS", "VARIANTS", "BrainScorePreset", "get_preset"], "presets"),
    **dict.fromkeys(["SimulationSettings", "simulate_recordings", "write_simulation"], "simulate"),
    **dict.fromkeys(
        [
            "TrainedModel",
            "fgsm_example",
            "load_model",
            "random_rotation",
            "save_model",
            "train_variant",
            "untrained_model",
            "init_crossvit",
        ],
        "train",
    ),
}
__getattr__ = lazy_names(__name__, _WHERE)


__all__ = [
    "BrainModel",
    "BrainScorePreset",
    "CROSSVIT_CONFIGS",
    "CrossViT",
    "CrossViTConfig",
    "ImageDataset",
    "LayerModel",
    "MetricSettings",
    "NeuralBenchmark",
    "PRESETS",
    "SimulationSettings",
    "StimulusImages",
    "TrainedModel",
    "VARIANTS",
    "average_repetitions",
    "block_output_layers",
    "build_crossvit",
    "commit_layers",
    "crossvit_config",
    "fgsm_example",
    "get_preset",
    "load_model",
    "make_assembly",
    "pgd_accuracy",
    "pgd_attack",
    "pls_cross_validated",
    "public_heldout_split",
    "random_rotation",
    "read_assembly",
    "read_image_dataset",
    "robustness_table",
    "save_model",
    "score_model",
    "simulate_recordings",
    "split_half_ceiling",
    "train_variant",
    "untrained_model",
    "init_crossvit",
    "world_image_dataset",
    "write_assembly",
    "write_image_dataset",
    "write_simulation",
    "ceiling_error_bound",
    "variant_statistics",
    "read_stimulus_table",
    "select_time_bins",
    "map_regions",
    "read_activations",
    "write_activations",
    "PrecomputedActivations",
]
