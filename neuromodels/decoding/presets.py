"""Sizes of the decoding family per preset, and how the workflow's ``decoding`` settings override them.

- ``tiny``: CI; seconds per step, checks that everything runs.
- ``default``: a laptop CPU in a few minutes; shows the scientific result (retrieval far above chance for
  every subject; adapting to a new subject beats training from scratch at small n).
- ``full``: the paper's dimensions (8192 pooled voxels, 2048 hidden, rank-128 adapters; learning curve at
  n = 250, 500, 1500, all, set in the workflow); meant for a GPU cluster.

In ``tiny`` and ``default`` the pooled size, pooling mode, embedder dropout and joint learning rate are left
automatic, so they follow the data a run is pointed at (``ModelConfig.resolved``, ``train.auto_lr``): on the
simulator (948-1160 voxels, 240 or 600 images per subject) they resolve to the values measured best there
(2048 max-pooled values, dropout 0.2, learning rate 3e-3 for tiny's 320 joint steps and 3e-4 for default's
475); on NSD-sized data (6-7k voxels, ~200 images) to 8192 values, dropout 0.2 and 3e-3. A value set in the
workflow's ``decoding.model`` / ``decoding.train`` settings is used as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from neuromodels.core.errors import ConfigError

from .settings import LossWeights, ModelConfig, TrainConfig
from .simulate import SimulationSettings


@dataclass
class DecodingPreset:
    simulate: SimulationSettings
    model: ModelConfig
    train: TrainConfig
    loss: LossWeights = field(default_factory=LossWeights)


PRESETS: dict[str, DecodingPreset] = {
    # tiny: 100 test stimuli (chance 1%: retrieval differences of a few stimuli are not noise), 240 images per
    # source subject (with 120 the shared decoder knew too little to help a new subject: reset-tuning and
    # scratch tied at n = 30); automatic pooled size 2048 on the simulator (the power of two holding its
    # largest subject's voxels; it was 512 from the smallest, where 256 lost half the joint model's retrieval)
    # and joint learning rate 3e-3 (3e-4 left 320 steps far from converged)
    "tiny": DecodingPreset(
        simulate=SimulationSettings(n_subjects=5, n_test=100, n_train=240, n_pool=400, image_size=32),
        model=ModelConfig(hidden=64, rank=8, n_blocks=2),
        train=TrainConfig(
            batch_size=32,
            epochs=40,
            adapt_epochs=10,
            adapt_min_steps=60,
            adapt_lr=3e-3,
            checkpoint_every=50,
            eval_draws=5,
        ),
    ),
    "default": DecodingPreset(
        simulate=SimulationSettings(n_subjects=5, n_test=100, n_train=600, n_pool=1200, image_size=64),
        # automatic dropout 0.2 rather than the paper's 0.5: 600 images per subject here, ~9000 in NSD
        model=ModelConfig(hidden=256, rank=32, n_blocks=4),
        # 150-step adaptations: the findings at n = 25 measured the same as with 250 (reset-tuning minus
        # scratch 0.046 vs 0.063, frozen 0.078 vs 0.078, fine-tuning 0.061 vs 0.033) at 60% of the time
        train=TrainConfig(batch_size=32, epochs=25, adapt_epochs=12, adapt_min_steps=150, adapt_lr=3e-3),
    ),
    "full": DecodingPreset(
        simulate=SimulationSettings(
            n_subjects=5, n_test=1000, n_train=9000, n_pool=20000, grid=(40, 48, 40), voxel_mm=2.0, image_size=224
        ),
        model=ModelConfig(pooled=8192, hidden=2048, rank=128, n_blocks=4, pool="max", embed_dropout=0.5),
        train=TrainConfig(batch_size=50, epochs=100, adapt_epochs=100, adapt_min_steps=2000, lr=3e-4),
    ),
}


def _override(obj: Any, values: Mapping[str, Any], key: str) -> Any:
    names = {f.name for f in fields(obj)}
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown setting (known: {', '.join(sorted(names))})")
    values = {k: (tuple(v) if isinstance(getattr(obj, k), tuple) else v) for k, v in values.items()}
    return replace(obj, **values)


def get_preset(name: str, params: Mapping[str, Any] | None = None) -> DecodingPreset:
    """The preset ``name`` with the workflow's ``decoding`` settings (``params``) applied.

    Recognised sections of ``params``: ``simulate``, ``model``, ``train``, ``loss`` (each overrides the
    dataclass of the same name); other keys (subjects, methods, the learning curve's n values) are the
    workflow's and ignored here.
    """
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (one of {', '.join(PRESETS)})")
    p = PRESETS[name]
    params = dict(params or {})
    out = DecodingPreset(
        simulate=_override(p.simulate, params.get("simulate", {}) or {}, "decoding.simulate"),
        model=_override(p.model, params.get("model", {}) or {}, "decoding.model"),
        train=_override(p.train, params.get("train", {}) or {}, "decoding.train"),
        loss=_override(p.loss, params.get("loss", {}) or {}, "decoding.loss"),
    )
    return out
