"""Sizes of the brainscore family: ``tiny`` (CI, seconds per variant), ``default`` (a laptop CPU, a few minutes
for all four variants) and ``full`` (the paper's CrossViT-18-dagger at 224 px; a GPU cluster).

Budgets are in pixel units of [0, 1] images times 255. ``full`` keeps the paper's 2/255 (step 2.5/255) at 224 px;
``tiny`` and ``default`` train and attack at 4/255 (step 5/255, the paper's 1.25 x eps) because their 32 px images
hold 49 times fewer pixels, and at 2/255 the PGD gap between adversarial and base training at tiny (0.035 on 200
test images) was within the sampling error of the test set.

``default`` was chosen by measuring clean accuracy per CPU second of training (one core; 2000 held-out world images;
the tiny CrossViT's 624 steps of 32 as the reference, 0.35-0.38 over three seeds). Optimizer steps buy most: at
equal CPU time the micro CrossViT (a third of the tiny one's cost per step) given 1875 steps on 20 000 fresh images
x 3 epochs reaches 0.50-0.69 (mean 0.58, four seeds), the tiny one with a single block and 1250 steps 0.49-0.51 in
1.2 times the time, the tiny one itself 0.62-0.66 with 2500 steps (four times the time). At the tiny model's 624
steps the recipe mattered less than the seed (0.2 apart): warm-up 0.3, AdamW beta2 0.95, MLP ratio 2, learning rate
5e-3 and label smoothing 0.1 stayed within that spread, and learning rate 2e-3, no weight decay, a tighter crop
(0.85-1), 20 000 images x 1 epoch instead of 10 000 x 2 and linear patch embeddings lost accuracy. For the micro
model neither beta2 0.95 (0.49-0.74, four seeds) nor warm-up 0.3 (0.48 and 0.81) moved base's mean beyond the seeds'
spread, and 10 000 images x 6 epochs did worse (0.43, one seed); but with beta2 0.999 and warm-up 0.1 FGSM training
sat at chance for whole epochs (training seed 1: adversarial 0.23, rotation + adversarial 0.09 after three), and
beta2 0.95 (0.47), warm-up 0.3 (0.50) or both (0.53; adversarial 0.56) got it learning, so ``default`` uses both.
Training the four variants costs the same CPU time as the tiny model's 624 steps (206 s either way, measured
interleaved in one process), and attacking the micro model costs a third as much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.config import override_settings
from ..core.errors import ConfigError

__all__ = ["BrainScorePreset", "PRESETS", "get_preset", "VARIANTS", "variant_flags"]

# The four training regimes of Berrios & Deza (2022).
VARIANTS: tuple[str, ...] = ("base", "rotation", "adversarial", "rotation_adversarial")


def variant_flags(variant: str) -> tuple[bool, bool]:
    """``(rotation, adversarial)`` for a variant name."""
    if variant not in VARIANTS:
        raise ConfigError("variant", f"must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return "rotation" in variant, "adversarial" in variant


@dataclass(frozen=True)
class BrainScorePreset:
    """Model, data, training, robustness and neural-benchmark settings.

    Classification: the stimulus world's object ``categories`` (empty: all ten).
    Training: ``lr`` is AdamW's peak (one-cycle, the first ``warmup_fraction`` of the steps rising to it),
    ``adam_beta2`` its second-moment decay; ``crop_scale`` the random-resized-crop area range.
    Adversarial training: fast FGSM with a random start, L-inf budget ``train_eps_255`` and step
    ``train_step_255``. Robustness: PGD with ``pgd_steps`` steps of ``pgd_step_255`` within ``pgd_eps_255``.
    Neural benchmark: simulated recordings of ``n_stimuli`` images x ``repetitions``; PLS with
    ``pls_components``; ``n_splits`` splits with ``train_fraction`` of the stimuli for training;
    ``public_fraction`` of the stimuli choose the layer, the rest report the score.
    """

    model: str = "crossvit_tiny"
    categories: tuple[str, ...] = ()
    image_size: int = 32
    n_train: int = 10000
    n_test: int = 400
    epochs: int = 2
    batch_size: int = 32
    lr: float = 3e-3
    warmup_fraction: float = 0.1
    adam_beta2: float = 0.999
    weight_decay: float = 0.05
    crop_scale: tuple[float, float] = (0.7, 1.0)
    train_eps_255: float = 4.0
    train_step_255: float = 5.0
    pgd_eps_255: float = 4.0
    pgd_step_255: float = 1.0
    pgd_steps: int = 10
    eval_batch_size: int = 128
    checkpoint_every: int = 20
    n_stimuli: int = 200
    stimulus_size: int = 64
    repetitions: int = 8
    n_v4: int = 48
    n_it: int = 48
    v4_reliability: float = 0.8
    it_reliability: float = 0.8
    pls_components: int = 25
    n_splits: int = 10
    train_fraction: float = 0.9
    public_fraction: float = 0.5
    pooling: str = "flatten"
    bench_steps: int = 5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> BrainScorePreset:
        """A copy with some settings replaced (``None`` ignored); unknown names raise :class:`ConfigError`."""
        return override_settings(self, dict(overrides or {}), "brainscore")


PRESETS: dict[str, BrainScorePreset] = {
    # CI: four well-separated categories so a micro model learns them in 256 small steps; 600 test images so a
    # robustness difference of ~0.06 is two standard errors
    "tiny": BrainScorePreset(
        model="crossvit_micro",
        categories=("disc", "triangle", "cross", "bar"),
        n_train=1024,
        n_test=600,
        epochs=4,
        batch_size=16,
        lr=2e-3,
        pgd_step_255=1.0,
        pgd_steps=5,
        checkpoint_every=64,
        n_stimuli=80,
        stimulus_size=32,
        repetitions=4,
        n_v4=16,
        n_it=16,
        pls_components=10,
        n_splits=3,
        bench_steps=2,
    ),
    # AdamW's beta2 0.95 and a longer warm-up keep a small CrossViT from sitting at chance under FGSM training
    "default": BrainScorePreset(model="crossvit_micro", n_train=20000, epochs=3, warmup_fraction=0.3, adam_beta2=0.95),
    "full": BrainScorePreset(
        model="crossvit_18_dagger",
        image_size=224,
        n_train=20000,
        n_test=2000,
        epochs=30,
        batch_size=64,
        lr=5e-4,
        weight_decay=1e-4,
        crop_scale=(0.08, 1.0),
        pgd_steps=20,
        train_eps_255=2.0,
        train_step_255=2.5,
        pgd_eps_255=2.0,
        pgd_step_255=0.25,
        eval_batch_size=64,
        checkpoint_every=200,
        n_stimuli=640,
        stimulus_size=224,
        repetitions=40,
        n_v4=88,
        n_it=168,
        bench_steps=10,
    ),
}


def get_preset(name: str | BrainScorePreset, overrides: Mapping[str, Any] | None = None) -> BrainScorePreset:
    """A preset by name (tiny, default, full), with optional overrides."""
    if isinstance(name, BrainScorePreset):
        return name.with_overrides(overrides)
    if name not in PRESETS:
        raise ConfigError("preset", f"must be one of {sorted(PRESETS)}; got {name!r}")
    return PRESETS[name].with_overrides(overrides)
