"""Cross-subject decoders built from shared components, and the per-subject ridge baseline.

- :class:`MindBridge` (Wang et al., CVPR 2024): each subject's voxel vector is pooled to a fixed length
  (adaptive max / avg pooling or linear interpolation), a per-subject *embedder* (low-rank residual adapter, then
  Linear -> LayerNorm -> GELU -> Dropout) maps it into a shared hidden space, a per-subject *builder* maps back
  (Linear + adapter) for the reconstruction and cycle losses, and a shared *translator* (residual MLP blocks)
  feeds image and text heads. Here the heads predict one pooled embedding vector per stimulus (the paper
  predicts CLIP's 257 image and 77 text tokens).
- :class:`LinearAdapterModel` ("See Through Their Minds" / MindEye2 style): a per-subject linear adapter from
  raw voxels into a shared space, then a deeper shared decoder (the same residual blocks) and heads.
- :class:`RidgeDecoder`: per-subject ridge regression from voxels to embeddings (alpha by cross-validation).

MindBridge's pooled size, pooling mode and embedder dropout follow the data unless set
(:meth:`ModelConfig.resolved`): the smallest power of two holding the largest subject's voxels, at most the
paper's 8192 (2048 from the simulator's ~1000-1160; 8192 from 6-7k and from NSD's 13-15k, ~2 voxels per value
there), so no subject loses voxels to pooling below 8192 (measured on three generators: ``docs/notes/decoding.md``);
max pooling while a window holds at most three voxels and average pooling beyond (an explicit size smaller than
the voxel count; on 6-7k voxels and ~200 images, 512 max-pooled values retrieved 0.09-0.12 top-1 of 100, 512
averaged 0.16-0.26, 4096 max-pooled 0.70-0.80 with the automatic learning rate), dropout 0.2 below 2000 images
per subject and the paper's 0.5 above.

Both networks expose ``add_subject(name, n_voxels)``, ``embed(subject, voxels)``, ``decode(hidden)`` and
``forward(subject, voxels) -> (image, text)``, and ``shared_parameters()`` vs ``subject_parameters(name)`` for
reset-tuning and adapter training.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

# the settings (sizes with the values that follow the data, loss weights) live in the torch-free settings module
from .settings import (  # noqa: F401
    DROPOUT_LARGE_N,
    DROPOUT_SMALL_N,
    LARGE_N,
    POOL_AUTO_WINDOW,
    POOL_MODES,
    LossWeights,
    ModelConfig,
    auto_embed_dropout,
    auto_pool_mode,
    auto_pooled,
)


# ------------------------------------------------------------------------------------------------ components
class VoxelPool(nn.Module):
    """Pool a voxel vector of any length to ``size`` values: adaptive max / avg pooling or linear interpolation.

    ``forward(voxels: (B, V)) -> (B, size)``. With fewer voxels than ``size``, max/avg pooling repeat voxels.
    """

    def __init__(self, size: int, mode: str = "max") -> None:
        super().__init__()
        if mode not in POOL_MODES:
            raise ValueError(f"pool mode must be one of {POOL_MODES}, got {mode!r}")
        self.size, self.mode = int(size), mode

    def forward(self, voxels: Tensor) -> Tensor:
        x = voxels.unsqueeze(1)
        if self.mode == "max":
            x = F.adaptive_max_pool1d(x, self.size)
        elif self.mode == "avg":
            x = F.adaptive_avg_pool1d(x, self.size)
        else:
            x = F.interpolate(x, size=self.size, mode="linear", align_corners=True)
        return x.squeeze(1)

    def extra_repr(self) -> str:
        return f"size={self.size}, mode={self.mode}"


class LowRankAdapter(nn.Module):
    """Residual low-rank adapter ``x + up(gelu(down(x)))`` with a zero-initialised up-projection (starts as
    the identity)."""

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, rank)
        self.up = nn.Linear(rank, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.up(F.gelu(self.down(x)))


class Embedder(nn.Module):
    """Per-subject pooled voxels (B, P) -> shared hidden (B, H): adapter, Linear, LayerNorm, GELU, Dropout."""

    def __init__(self, pooled: int, hidden: int, rank: int, dropout: float) -> None:
        super().__init__()
        self.adapter = LowRankAdapter(pooled, rank)
        self.proj = nn.Sequential(nn.Linear(pooled, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.adapter(x))


class Builder(nn.Module):
    """Per-subject hidden (B, H) -> pooled voxels (B, P): Linear then adapter (the embedder's inverse)."""

    def __init__(self, pooled: int, hidden: int, rank: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden, pooled)
        self.adapter = LowRankAdapter(pooled, rank)

    def forward(self, h: Tensor) -> Tensor:
        return self.adapter(self.proj(h))


class ResidualBlock(nn.Module):
    """``x + Dropout(GELU(LayerNorm(Linear(x))))``."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.GELU(), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.net(x)


class Translator(nn.Module):
    """Shared stack of residual MLP blocks (B, H) -> (B, H)."""

    def __init__(self, dim: int, n_blocks: int, dropout: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[ResidualBlock(dim, dropout) for _ in range(n_blocks)])

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


class Heads(nn.Module):
    """Image and (optional, ``text_dim`` 0) text heads (B, H) -> (B, image_dim), (B, text_dim) | None."""

    def __init__(self, hidden: int, image_dim: int, text_dim: int) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, image_dim))
        self.text = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, text_dim)) if text_dim else None

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.image(h), (self.text(h) if self.text is not None else None)


# ------------------------------------------------------------------------------------------------ models
class DecoderBase(nn.Module):
    """Shared translator + heads; subclasses add the per-subject parts."""

    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config = config.resolved()  # own copy (add_subject changes it), automatic values fixed
        self.config = config
        self.translator = Translator(config.hidden, config.n_blocks, config.block_dropout)
        self.heads = Heads(config.hidden, config.image_dim, config.text_dim)

    @property
    def subjects(self) -> list[str]:
        return list(self.config.subjects)

    def decode(self, h: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.heads(self.translator(h))

    def embed(self, subject: str, voxels: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, subject: str, voxels: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.decode(self.embed(subject, voxels))

    def shared_parameters(self) -> Iterator[nn.Parameter]:
        yield from self.translator.parameters()
        yield from self.heads.parameters()

    def subject_parameters(self, subject: str) -> Iterator[nn.Parameter]:  # pragma: no cover - abstract
        raise NotImplementedError

    def train_only(self, subjects: list[str], shared: bool) -> None:
        """Freeze everything except the parts of ``subjects`` (and the shared parts when ``shared``)."""
        for p in self.parameters():
            p.requires_grad_(False)
        for s in subjects:
            for p in self.subject_parameters(s):
                p.requires_grad_(True)
        if shared:
            for p in self.shared_parameters():
                p.requires_grad_(True)


class MindBridge(DecoderBase):
    """One decoder for many subjects (see the module docstring)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.pool = VoxelPool(self.config.pooled, self.config.pool)  # type: ignore[arg-type]
        self.embedders = nn.ModuleDict()
        self.builders = nn.ModuleDict()
        for name in self.config.subjects:
            self._make_subject(name)

    def _make_subject(self, name: str) -> None:
        c = self.config
        self.embedders[name] = Embedder(c.pooled, c.hidden, c.rank, c.embed_dropout)  # type: ignore[arg-type]
        self.builders[name] = Builder(c.pooled, c.hidden, c.rank)  # type: ignore[arg-type]

    def add_subject(self, name: str, n_voxels: int) -> None:
        """A fresh embedder and builder for ``name`` (replacing any it had: reset-tuning)."""
        self.config.subjects[name] = int(n_voxels)
        self._make_subject(name)

    def pooled(self, voxels: Tensor) -> Tensor:
        return self.pool(voxels)

    def embed(self, subject: str, voxels: Tensor) -> Tensor:
        return self.embedders[subject](self.pool(voxels))

    def build(self, subject: str, h: Tensor) -> Tensor:
        return self.builders[subject](h)

    def subject_parameters(self, subject: str) -> Iterator[nn.Parameter]:
        yield from self.embedders[subject].parameters()
        yield from self.builders[subject].parameters()


class LinearAdapterModel(DecoderBase):
    """Per-subject linear adapter from raw voxels to the shared space, then the shared decoder."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.adapters = nn.ModuleDict()
        for name, n_vox in dict(config.subjects).items():
            self.adapters[name] = nn.Linear(int(n_vox), config.hidden)

    def add_subject(self, name: str, n_voxels: int) -> None:
        self.config.subjects[name] = int(n_voxels)
        self.adapters[name] = nn.Linear(int(n_voxels), self.config.hidden)

    def embed(self, subject: str, voxels: Tensor) -> Tensor:
        return self.adapters[subject](voxels)

    def subject_parameters(self, subject: str) -> Iterator[nn.Parameter]:
        yield from self.adapters[subject].parameters()


MODELS = {"mindbridge": MindBridge, "linear": LinearAdapterModel}


def build_model(config: ModelConfig) -> DecoderBase:
    """A decoder of ``config.kind`` (mindbridge or linear)."""
    try:
        cls = MODELS[config.kind]
    except KeyError:
        from neuromodels.core.errors import ConfigError

        raise ConfigError("decoding.model", f"unknown model {config.kind!r} (one of {', '.join(MODELS)})") from None
    return cls(config)


def model_from_state(state: Mapping) -> DecoderBase:
    """Rebuild a decoder saved as ``{"config": ModelConfig dict, "model": state_dict}``."""
    model = build_model(ModelConfig(**state["config"]))
    model.load_state_dict(state["model"])
    return model


# ------------------------------------------------------------------------------------------------ losses
def embedding_losses(
    pred: Tensor, target: Tensor, w_clip: float, w_mse: float, temperature: float
) -> dict[str, Tensor]:
    """SoftCLIP and normalised MSE between predicted and target embeddings (B, d)."""
    from neuromodels.core.losses import soft_clip_loss

    out = {}
    if w_clip:
        out["clip"] = w_clip * soft_clip_loss(pred, target, temperature)
    if w_mse:
        out["mse"] = w_mse * F.mse_loss(F.normalize(pred.float(), dim=-1), F.normalize(target.float(), dim=-1))
    return out


def cycle_pairs(subjects: list[str], new_subject: str | None = None, both_ways: bool = False) -> list[tuple[str, str]]:
    """The (a, b) pairs whose cycle ``embedder_b(builder_b(h_a)) ~ h_a`` a step's loss holds.

    - joint training (``new_subject`` None): a ring over the batch's subjects (each one through the next);
    - adapting to ``new_subject``: each other subject of the batch through the new subject's builder and
      embedder (MindBridge's reset-tuning: a source subject's embedding must survive the new subject's
      round trip); with ``both_ways`` also the new subject through each other subject's parts.
    """
    if new_subject is None:
        return sorted(
            {
                (a, subjects[(i + 1) % len(subjects)])
                for i, a in enumerate(subjects)
                if subjects[(i + 1) % len(subjects)] != a
            }
        )
    others = [s for s in subjects if s != new_subject]
    if new_subject not in subjects:
        return []
    pairs = [(a, new_subject) for a in others]
    if both_ways:
        pairs += [(new_subject, a) for a in others]
    return sorted(pairs)


def decoder_loss(
    model: DecoderBase,
    batch: Mapping[str, Mapping[str, Tensor]],
    weights: LossWeights,
    new_subject: str | None = None,
    cycle_both_ways: bool = False,
) -> tuple[Tensor, dict[str, float]]:
    """The training objective over a multi-subject batch ``{subject: {"voxels", "image"[, "text"]}}``.

    Every subject whose batch has targets (``image``) adds the embedding losses and, for MindBridge, the
    reconstruction loss; a subject with voxels only (the frozen reset-tuning's source subjects) adds only to
    the cycle loss. The cycle pairs are :func:`cycle_pairs` of the batch's subjects, averaged.
    """
    total = torch.zeros((), device=next(model.parameters()).device)
    parts: dict[str, float] = {}
    hidden: dict[str, Tensor] = {}

    def add(name: str, value: Tensor) -> None:
        nonlocal total
        total = total + value
        parts[name] = parts.get(name, 0.0) + float(value.detach())

    is_bridge = isinstance(model, MindBridge)
    for subject, item in batch.items():
        voxels = item["voxels"]
        # MindBridge pools once: the embedder's input is also the reconstruction's target
        pooled = model.pooled(voxels) if is_bridge else None
        h = model.embedders[subject](pooled) if is_bridge else model.embed(subject, voxels)
        hidden[subject] = h
        if "image" in item:
            img, txt = model.decode(h)
            for k, v in embedding_losses(
                img, item["image"], weights.clip_image, weights.mse_image, weights.temperature
            ).items():
                add(f"image_{k}", v)
            if txt is not None and "text" in item:
                for k, v in embedding_losses(
                    txt, item["text"], weights.clip_text, weights.mse_text, weights.temperature
                ).items():
                    add(f"text_{k}", v)
        if is_bridge and weights.reconstruction and "image" in item:
            rec = model.build(subject, h)
            add("reconstruction", weights.reconstruction * F.mse_loss(rec.float(), pooled.float()))
    if is_bridge and weights.cycle and len(hidden) > 1:
        pairs = cycle_pairs(list(hidden), new_subject, cycle_both_ways)
        cyc = torch.zeros((), device=total.device)
        for a, b in pairs:
            h_a = hidden[a]
            back = model.embedders[b](model.builders[b](h_a))
            cyc = cyc + F.mse_loss(back.float(), h_a.float())
        if pairs:
            add("cycle", weights.cycle * cyc / len(pairs))
    return total, parts


# ------------------------------------------------------------------------------------------------ ridge
class RidgeDecoder:
    """Per-subject ridge regression from voxels (n, V) to each embedding (n, d).

    Voxels are standardised with the training statistics; one alpha per embedding kind (image, text) chosen
    by efficient leave-one-out (generalised) cross-validation over ``alphas``. Training samples are
    repeat-averaged betas of distinct stimuli, so leaving one out does not leak across samples.
    """

    def __init__(self, alphas: np.ndarray | None = None) -> None:
        self.alphas = np.logspace(-1, 5, 13) if alphas is None else np.asarray(alphas)
        self.models: dict[str, object] = {}

    def fit(self, voxels: np.ndarray, targets: Mapping[str, np.ndarray]) -> RidgeDecoder:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        for name, y in targets.items():
            self.models[name] = make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas)).fit(voxels, y)
        return self

    def predict(self, voxels: np.ndarray) -> dict[str, np.ndarray]:
        return {name: m.predict(voxels).astype(np.float32) for name, m in self.models.items()}  # type: ignore

    def chosen_alphas(self) -> dict[str, float]:
        return {name: float(m[-1].alpha_) for name, m in self.models.items()}  # type: ignore

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted decoder as plain arrays (``<kind>.mean``, ``.scale``, ``.coef``, ``.intercept``,
        ``.alpha``), to save with ``np.savez`` and read back without pickles (:meth:`from_arrays`)."""
        out: dict[str, np.ndarray] = {"alphas": np.asarray(self.alphas, dtype=np.float64)}
        for name, m in self.models.items():
            scaler, ridge = m[0], m[-1]  # type: ignore[index]
            out.update(
                {
                    f"{name}.mean": scaler.mean_,
                    f"{name}.scale": scaler.scale_,
                    f"{name}.coef": ridge.coef_,
                    f"{name}.intercept": np.asarray(ridge.intercept_),
                    f"{name}.alpha": np.asarray(ridge.alpha_),
                }
            )
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RidgeDecoder:
        """A decoder that predicts as the one :meth:`to_arrays` saved."""
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        decoder = cls(np.asarray(arrays["alphas"]))
        for name in sorted({k.rsplit(".", 1)[0] for k in arrays if k != "alphas"}):
            scaler = StandardScaler()
            scaler.mean_, scaler.scale_ = np.asarray(arrays[f"{name}.mean"]), np.asarray(arrays[f"{name}.scale"])
            scaler.var_ = scaler.scale_**2
            scaler.n_features_in_ = len(scaler.mean_)
            ridge = Ridge(alpha=float(arrays[f"{name}.alpha"]))
            ridge.coef_, ridge.intercept_ = np.asarray(arrays[f"{name}.coef"]), np.asarray(arrays[f"{name}.intercept"])
            ridge.n_features_in_ = scaler.n_features_in_
            ridge.alpha_ = float(arrays[f"{name}.alpha"])  # as RidgeCV reports the alpha it chose
            decoder.models[name] = make_pipeline(scaler, ridge)
        return decoder
