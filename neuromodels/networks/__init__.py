"""Trainable encoders shared by several families, trained on the procedural stimulus world.

* :class:`VisionTransformer` (on the package's attention library) and :class:`CaptionEncoder` (caption words),
  trained with SimCLR, CLIP or SLIP (:func:`train_image_encoder`, :func:`fit_encoder`) through the one
  training loop; saved and loaded as bundles (:func:`save_encoder`, :func:`load_encoder`), with
  :func:`random_init_copy` as the random-init control.
* :class:`MiniLMEncoder`: the packaged trained sentence encoder all-MiniLM-L6-v2 (the ``text`` extra) and
  its re-initialised copy.
* Features: :func:`embed_images`, :func:`embed_texts`, :func:`image_layer_features`,
  :func:`text_layer_features`; embedding files keyed by stimulus id (:func:`write_embeddings`,
  :func:`read_embeddings`).

Imports only ``neuromodels.core`` (and ``neuromodels.stimuli`` to read stimulus sets).
"""

from ..core.lazy import lazy_names

# Public names and the module that defines each, imported on first use (every CLI step imports this package
# to build its parser; most never touch an encoder).
_WHERE = {
    **dict.fromkeys(
        [
            "Augmentation",
            "caption_safe_augmentation",
            "color_jitter",
            "random_grayscale",
            "random_resized_crop",
            "simclr_augmentation",
        ],
        "augment",
    ),
    **dict.fromkeys(["read_embeddings", "write_embeddings"], "data"),
    **dict.fromkeys(["ImageEncoder", "load_encoder", "random_init_copy", "save_encoder"], "encoders"),
    **dict.fromkeys(["embed_images", "embed_texts", "image_layer_features", "text_layer_features"], "features"),
    **dict.fromkeys(["MINILM_DIM", "MiniLMEncoder", "minilm_available"], "minilm"),
    **dict.fromkeys(["OBJECTIVES", "ContrastiveModel", "simclr_loss"], "objectives"),
    **dict.fromkeys(["PRESETS", "NetworkPreset", "get_preset"], "presets"),
    **dict.fromkeys(["CaptionEncoder", "build_vocab"], "text"),
    **dict.fromkeys(["fit_encoder", "retrieval_accuracy", "train_image_encoder"], "train"),
    **dict.fromkeys(["VisionTransformer", "prepare_images"], "vit"),
}
__getattr__ = lazy_names(__name__, _WHERE)

__all__ = [
    "Augmentation",
    "caption_safe_augmentation",
    "color_jitter",
    "random_grayscale",
    "random_resized_crop",
    "simclr_augmentation",
    "read_embeddings",
    "write_embeddings",
    "ImageEncoder",
    "load_encoder",
    "random_init_copy",
    "save_encoder",
    "embed_images",
    "embed_texts",
    "image_layer_features",
    "text_layer_features",
    "MINILM_DIM",
    "MiniLMEncoder",
    "minilm_available",
    "OBJECTIVES",
    "ContrastiveModel",
    "simclr_loss",
    "PRESETS",
    "NetworkPreset",
    "get_preset",
    "CaptionEncoder",
    "build_vocab",
    "fit_encoder",
    "retrieval_accuracy",
    "train_image_encoder",
    "VisionTransformer",
    "prepare_images",
]
