"""The decoding family's settings, free of torch: the networks' sizes (:class:`ModelConfig`) with the values that
follow the data, the loss weights (:class:`LossWeights`) and the training settings (:class:`TrainConfig`,
:func:`auto_lr`). The presets and the simulator's command read them without importing torch; ``models`` and
``train`` re-export them.

MindBridge's pooled size, pooling mode and embedder dropout follow the data unless set
(:meth:`ModelConfig.resolved`), as do the joint learning rate (:func:`auto_lr`); the measurements behind each rule
are in the docstrings of :mod:`neuromodels.decoding.models` and :mod:`neuromodels.decoding.train`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np

POOL_MODES = ("max", "avg", "interp")

POOL_AUTO_WINDOW = 3.0  # voxels per pooled value above which ``pool="auto"`` averages instead of taking the max
DROPOUT_SMALL_N, DROPOUT_LARGE_N, LARGE_N = 0.2, 0.5, 2000


def auto_pooled(n_voxels: int) -> int:
    """The pooled size that follows the voxel count: the smallest power of two holding the largest subject's
    voxels, within [64, 8192] (the paper's size). No subject loses voxels to pooling below 8192 voxels (a
    smaller subject's vector is stretched: adaptive pooling to more values than voxels repeats voxels, losing
    nothing), and above it windows stay within the paper's ~2 voxels per value (NSD's 12.7-15.7k to 8192).

    Measured on three generators (issue 20; ``docs/notes/decoding.md``): from the smallest subject's count (the
    rule before), 400-6000 voxels pooled to 256 and the joint model fell 0.20-0.58 top-1 below ridge on every
    source subject; half the largest subject's count (4096 for 6-7k voxels) left it 0.05-0.08 below ridge on
    the receptive-field generator, and 8192 brought it within 0.035."""
    return int(2 ** np.clip(np.ceil(np.log2(max(n_voxels, 2))), 6, 13))


def auto_pool_mode(n_voxels: int, pooled: int) -> str:
    """``max`` while a pooled value covers at most :data:`POOL_AUTO_WINDOW` voxels (the paper's ~2), else
    ``avg``: the maximum of a wide window of noisy voxels is mostly the noise's extreme (it grows like
    sqrt(2 ln k) noise sd) while averaging keeps the window's shared signal."""
    return "max" if n_voxels / max(pooled, 1) <= POOL_AUTO_WINDOW else "avg"


def auto_embed_dropout(n_train: int | None) -> float:
    """Embedder dropout that follows the training-set size: 0.2 below :data:`LARGE_N` images per subject
    (measured best at 240-600 images on the simulator), the paper's 0.5 from there on (NSD's ~9000)."""
    return DROPOUT_LARGE_N if n_train is not None and n_train >= LARGE_N else DROPOUT_SMALL_N


@dataclass
class ModelConfig:
    """Sizes of a decoder (``pooled`` and ``rank`` only matter to MindBridge).

    Paper dimensions: pooled 8192, hidden 2048, rank 128, 4 translator blocks. ``pooled``, ``pool`` and
    ``embed_dropout`` left at ``None`` / ``"auto"`` follow the data when the model is built
    (:meth:`resolved`): pooled size from the largest subject's voxel count (:func:`auto_pooled`), pooling
    mode from its voxels per pooled value (:func:`auto_pool_mode`) and dropout from the training images per
    subject (:func:`auto_embed_dropout`). A saved model holds the resolved values.
    """

    kind: str = "mindbridge"
    pooled: int | None = None
    hidden: int = 256
    rank: int = 32
    n_blocks: int = 4
    pool: str = "auto"
    embed_dropout: float | None = None
    block_dropout: float = 0.15
    image_dim: int = 128
    text_dim: int = 0
    subjects: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def resolved(self, n_train: int | None = None) -> ModelConfig:
        """This configuration with every automatic value fixed from ``subjects`` (voxel counts) and
        ``n_train`` (training images per subject; unknown: the small-n dropout)."""
        from neuromodels.core.errors import ConfigError

        if self.pool not in POOL_MODES + ("auto",):
            raise ConfigError(
                "decoding.model.pool", f"unknown pooling {self.pool!r} (one of auto, {', '.join(POOL_MODES)})"
            )
        if self.pooled is not None and int(self.pooled) < 1:
            raise ConfigError("decoding.model.pooled", f"must be a positive size, got {self.pooled}")
        n_vox = max(self.subjects.values()) if self.subjects else 2 * 1024
        pooled = auto_pooled(n_vox) if self.pooled is None else int(self.pooled)
        pool = auto_pool_mode(n_vox, pooled) if self.pool == "auto" else self.pool
        dropout = auto_embed_dropout(n_train) if self.embed_dropout is None else float(self.embed_dropout)
        return replace(self, pooled=pooled, pool=pool, embed_dropout=dropout, subjects=dict(self.subjects))

    def automatic(self) -> list[str]:
        """Names of the settings left to follow the data."""
        return [
            n
            for n, v in (("pooled", self.pooled), ("pool", self.pool), ("embed_dropout", self.embed_dropout))
            if v is None or v == "auto"
        ]


@dataclass
class LossWeights:
    """Weights of the MindBridge objective (the linear-adapter model uses the first four).

    ``mse_*`` multiply the mean squared error between L2-normalised predicted and target embeddings (per
    element, as in the paper, where the weight is 1e4 on 257x768 tokens). ``temperature`` is SoftCLIP's.
    """

    clip_image: float = 1.0
    mse_image: float = 100.0
    clip_text: float = 1.0
    mse_text: float = 100.0
    reconstruction: float = 1.0
    cycle: float = 1.0
    temperature: float = 0.05


@dataclass
class TrainConfig:
    """How to train. ``epochs`` for joint training; an adaptation runs
    ``max(adapt_min_steps, adapt_epochs * steps per epoch)`` steps (the same for every method at a given n)."""

    batch_size: int = 32
    epochs: int = 40
    lr: float | None = None  # None: :func:`auto_lr` of the joint training's number of steps
    adapt_epochs: int = 30
    adapt_min_steps: int = 300
    adapt_lr: float = 1e-3
    weight_decay: float = 1e-2
    scheduler: str = "onecycle"
    grad_clip: float = 1.0
    precision: str = "auto"
    checkpoint_every: int = 200
    eval_batch: int = 300
    eval_draws: int = 30
    balance: str = "trials"  # each subject's share of a joint step: trials (by its training images), or equal


BALANCES = ("equal", "trials")

AUTO_LR_FEW_STEPS, AUTO_LR_MANY_STEPS, FEW_STEPS = 3e-3, 3e-4, 400


def auto_lr(steps: int) -> float:
    """Joint learning rate that follows the training length: 3e-3 for fewer than :data:`FEW_STEPS` steps
    (few images per subject: 3e-4 left 320 steps far from converged), 3e-4 (the paper's) from there on."""
    return AUTO_LR_FEW_STEPS if steps < FEW_STEPS else AUTO_LR_MANY_STEPS
