"""Robustness of classifiers and Brain-Score-style neural benchmarks (after Schrimpf et al. 2018, as the 2022
Brain-Score board ran it), re-exported from the modules that hold them:

* :mod:`.robustness`: clean accuracy, accuracy under an L-inf PGD attack, under the four rotations and under
  corruptions (Gaussian noise, Gaussian blur, contrast reduction), as one table (:func:`robustness_table`).
* :mod:`.metric`: the neural metric (cross-validated PLS, :func:`pls_cross_validated`) and its split-half
  ceiling (:func:`split_half_ceiling`).
* :mod:`.neural_benchmark`: the model interface (:class:`BrainModel`, :class:`LayerModel`,
  :class:`DeclaredLayerModel`, :class:`PrecomputedActivations`), one region's :class:`NeuralBenchmark`, layer
  commitment on a public half of the stimuli and :func:`score_model`.
* :mod:`.variants`: the variants table's rows (:func:`summary_row`), the family's statistics
  (:func:`variant_statistics`) and its figure (:func:`plot_variants`).
"""

from __future__ import annotations

from .metric import (
    MetricSettings,
    ceiling_error_bound,
    pearson_per_column,
    pls_cross_validated,
    split_half_ceiling,
)
from .neural_benchmark import (
    BrainModel,
    DeclaredLayerModel,
    LayerModel,
    NeuralBenchmark,
    PrecomputedActivations,
    commit_layers,
    public_heldout_split,
    score_model,
)
from .robustness import (
    CORRUPTIONS,
    GRADIENT_SIGN_SCALE,
    accuracy,
    gaussian_blur,
    gaussian_noise,
    input_gradient_sign,
    pgd_accuracy,
    pgd_attack,
    reduce_contrast,
    robustness_table,
)
from .variants import CEILING_FLOOR, CHANCE_SE, plot_variants, summary_row, variant_statistics

__all__ = [
    "accuracy",
    "pgd_attack",
    "pgd_accuracy",
    "gaussian_noise",
    "gaussian_blur",
    "reduce_contrast",
    "robustness_table",
    "pearson_per_column",
    "pls_cross_validated",
    "split_half_ceiling",
    "ceiling_error_bound",
    "MetricSettings",
    "BrainModel",
    "LayerModel",
    "DeclaredLayerModel",
    "PrecomputedActivations",
    "NeuralBenchmark",
    "public_heldout_split",
    "commit_layers",
    "score_model",
    "summary_row",
    "variant_statistics",
    "plot_variants",
    "CEILING_FLOOR",
    "CHANCE_SE",
    "CORRUPTIONS",
    "GRADIENT_SIGN_SCALE",
    "input_gradient_sign",
]
