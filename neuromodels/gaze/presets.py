"""Sizes of the gaze family: ``tiny`` (CI, seconds), ``default`` (a laptop CPU, about two minutes for the whole
family) and ``full`` (OAT's own dimensions: d 512, 4 + 4 layers, 93 x 150 crops; a GPU).

The simulator's sizes (displays per layout, viewers, cell size in pixels) and OAT's sizes live together here, so
one ``--preset`` sizes a whole run; single settings are replaced through ``overrides``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.config import override_settings
from ..core.errors import ConfigError

__all__ = ["GazePreset", "PRESETS", "get_preset", "SPLITS", "POSITIONAL_ENCODINGS", "SELECT_ON"]

# The ways test trials are held out (see :func:`neuromodels.gaze.data.split_trials`).
SPLITS: tuple[str, ...] = ("trials", "layouts", "targets")
# OAT's two positional encodings of grid indices: the fitted Gaussian-similarity table or sinusoids.
POSITIONAL_ENCODINGS: tuple[str, ...] = ("gaussian", "sinusoidal")
# What selects OAT's checkpoint on the validation trials: its behavioural delta (OAT's) or its loss.
SELECT_ON: tuple[str, ...] = ("delta", "loss")


@dataclass(frozen=True)
class GazePreset:
    """Simulation, model, training and evaluation settings.

    Simulation: ``displays_per_layout`` shelf displays on each layout, ``viewers`` simulated viewers per
    display, ``cell_px`` the side of one shelf cell in pixels, ``n_products`` the catalogue the shelves are
    stocked from, ``lookalikes`` the share of each display's distractors stocked from the target's look-alikes
    (products sharing its colour or category; 0: every distractor drawn at random), ``walk`` the simulated
    viewers' law where it departs from :class:`~neuromodels.gaze.simulate.WalkParameters` (e.g.
    ``{"w_similarity": 6.0, "similarity_weights": [1, 0, 0]}``: guided by colour alone). Model: object crops
    resized to ``crop_hw``; the crop CNN's two conv layers have ``cnn_channels`` and max-pool by ``cnn_pools``;
    its feature has ``d_feature`` dims and the positional encoding ``d_position`` (the token is both joined:
    d = d_feature + d_position); ``heads``, ``ffn``, ``encoder_layers``, ``decoder_layers``, ``dropout`` as in a
    transformer. The Gaussian table is fitted with
    ``pe_sigma`` to convergence: Adam until its loss falls by less than ``pe_fit_tol`` over 100 steps, at most
    ``pe_fit_steps`` steps (OAT's 10,000). ``mark_target``: the target object's token is flagged in the
    positional code's is-target part (False: only the target's own crop, appended last, is).
    ``decoder_input``: a fixated object enters the decoder as its crop's feature joined to its position code
    (``crop``, as published) or as the encoder's output for it (``memory``, the ablation). ``target_match``
    (not in OAT): each object's appearance feature also carries its elementwise product with the target
    crop's, through a learned linear map, so that matching an object to the target is one layer away (an
    image-blind model gains nothing from it: its crops are all zeros). Training: at most
    ``epochs`` epochs; after each, the validation behavioural delta of ``n_samples`` sampled scanpaths per
    validation trial selects the checkpoint (the best is restored at the end) and training stops after
    ``patience`` epochs without a better one (OAT: 30); ``select_on: loss`` selects on the validation loss
    (the viewers' next fixations' negative log-likelihood) instead, ``delta`` (OAT's) is the default.
    ``scheduler`` of the learning rate (none, onecycle, cosine), ``batch_size`` trials per batch (with every
    training scanpath on them, so each display is encoded once per step), ``lr``. Decoding: ``n_samples``
    sampled scanpaths per trial and at most ``max_length`` fixations. Evaluation: MultiMatch over every test
    trial and viewer against each model's first ``multimatch_samples`` paths per trial (short paths padded as
    OAT pads them; OAT scores all 100 samples); ``margin`` is the lead a headline finding asks of OAT.
    """

    displays_per_layout: int = 40
    viewers: int = 6
    cell_px: int = 24
    n_products: int = 40
    lookalikes: float = 0.0
    walk: Mapping[str, Any] = field(default_factory=dict)
    crop_hw: tuple[int, int] = (12, 12)
    cnn_channels: tuple[int, int] = (16, 32)
    cnn_pools: tuple[int, int] = (2, 2)
    d_feature: int = 48
    d_position: int = 48
    heads: int = 4
    ffn: int = 192
    encoder_layers: int = 2
    decoder_layers: int = 2
    dropout: float = 0.0
    pe_sigma: float = 2.0
    pe_fit_steps: int = 10000
    pe_fit_tol: float = 1e-6
    max_positions: int = 32
    mark_target: bool = True
    decoder_input: str = "crop"
    target_match: bool = False
    epochs: int = 30
    select_on: str = "delta"
    patience: int = 10
    batch_size: int = 6
    lr: float = 2e-3
    scheduler: str = "none"
    n_samples: int = 20
    max_length: int = 30
    multimatch_samples: int = 5
    margin: float = 0.02
    checkpoint_every: int = 0
    bench_steps: int = 5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __post_init__(self) -> None:
        # checked here, so a preset built in code is checked as one from a config file is
        if self.select_on not in SELECT_ON:
            raise ConfigError(
                "gaze.overrides.select_on", f"must be one of {', '.join(SELECT_ON)}, got {self.select_on!r}"
            )

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> GazePreset:
        """A copy with some settings replaced (``None`` ignored); unknown names raise :class:`ConfigError`, also
        inside ``walk`` (``gaze.overrides.walk.<name>``)."""
        out = override_settings(self, dict(overrides or {}), "gaze")
        if out.walk:
            from .simulate import walk_parameters

            walk_parameters(out.walk)
        return out


PRESETS: dict[str, GazePreset] = {
    "tiny": GazePreset(
        displays_per_layout=24,
        viewers=4,
        cell_px=20,
        n_products=30,
        crop_hw=(12, 12),
        cnn_channels=(8, 16),
        d_feature=32,
        d_position=32,
        ffn=128,
        encoder_layers=2,
        decoder_layers=1,
        epochs=30,
        patience=10,
        batch_size=4,
        lr=2e-3,
        n_samples=20,
        max_length=24,
        multimatch_samples=2,
        bench_steps=3,
    ),
    # The default world rewards appearance: viewers guided sharply by the target's colour, every look-alike of
    # the target on the shelf (appearance worth 0.14-0.18 of Sequence Score to a walk that knows it, measured
    # before OAT was trained on it; the world of `tiny` rewards it by 0.02-0.06). OAT departs from the
    # published model in two measured ways (docs/gaze.md): objects are matched to the target crop
    # (`target_match`) and the checkpoint is selected on the validation loss (`select_on`), the behavioural
    # delta having picked an untrained epoch 0 there. Up to 60 epochs, early stopping deciding: at 30 the cap
    # cut OAT's training while its validation loss still fell (held-out targets, seed 2: best epoch 23 of 30;
    # with the room, 34 of 45; seeds 0 and 1 stopped early either way, at the same epochs).
    "default": GazePreset(
        lookalikes=1.0,
        walk={"similarity_weights": [1.0, 0.0, 0.0], "w_similarity": 6.0},
        target_match=True,
        select_on="loss",
        epochs=60,
    ),
    "full": GazePreset(
        displays_per_layout=300,
        viewers=15,
        cell_px=150,
        n_products=120,
        crop_hw=(93, 150),
        cnn_channels=(16, 32),
        cnn_pools=(5, 3),
        d_feature=256,
        d_position=256,
        heads=4,
        ffn=512,
        encoder_layers=4,
        decoder_layers=4,
        dropout=0.1,
        pe_fit_steps=10000,
        max_positions=32,
        epochs=500,
        patience=30,
        batch_size=2,
        lr=1e-4,
        n_samples=100,
        max_length=60,
        multimatch_samples=100,
        bench_steps=10,
    ),
}


def get_preset(name: str | GazePreset, overrides: Mapping[str, Any] | None = None) -> GazePreset:
    """A preset by name (tiny, default, full), with optional overrides."""
    if isinstance(name, GazePreset):
        return name.with_overrides(overrides)
    if name not in PRESETS:
        raise ConfigError("preset", f"must be one of {sorted(PRESETS)}; got {name!r}")
    return PRESETS[name].with_overrides(overrides)
