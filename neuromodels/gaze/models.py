"""OAT (object-level attention transformer) on the shared attention library, its crop CNN and both positional
encodings.

Shapes: a batch holds ``B`` trials padded to ``N`` objects; encoder tokens are the ``N`` objects then the target
alone (index ``N``, which is also the end-of-scanpath class). Decoder inputs are BOS (a blank object at the
display centre) then the fixated objects; the pointer head scores every encoder token for each decoder step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.attention import TransformerDecoderLayer, TransformerEncoderLayer, init_transformer_weights

__all__ = [
    "OATConfig",
    "OAT",
    "CropCNN",
    "GridPositionalEncoding",
    "sinusoidal_table",
    "fit_gaussian_table",
    "gaussian_fit_report",
    "gaussian_fit_error",
    "gaussian_target",
    "oat_config",
    "DECODER_INPUTS",
]

# What a fixated object enters the decoder as: its own input token (crop feature joined to its position code, as
# published) or the encoder's output for it (the ablation).
DECODER_INPUTS: tuple[str, ...] = ("crop", "memory")


@dataclass(frozen=True)
class OATConfig:
    crop_hw: tuple[int, int] = (16, 16)
    cnn_channels: tuple[int, int] = (16, 32)
    cnn_pools: tuple[int, int] = (2, 2)
    d_feature: int = 48
    d_position: int = 48
    heads: int = 4
    ffn: int = 192
    encoder_layers: int = 2
    decoder_layers: int = 2
    dropout: float = 0.1
    positional: str = "gaussian"
    pe_sigma: float = 2.0
    pe_fit_steps: int = 10000
    pe_fit_tol: float = 1e-6
    max_positions: int = 32
    max_length: int = 30
    mark_target: bool = True
    decoder_input: str = "crop"
    target_match: bool = False
    image_blind: bool = False
    # object tokens from a declared model (neuromodels.networks.declared): the width of its precomputed crop
    # features (0: OAT's own crop CNN, trained end to end) and the model's name
    object_features: int = 0
    features_of: str = ""

    @property
    def d_model(self) -> int:
        return self.d_feature + self.d_position

    def to_dict(self) -> dict:
        return asdict(self)


def oat_config(
    preset, positional: str = "gaussian", image_blind: bool = False, object_features: int = 0, features_of: str = ""
) -> OATConfig:
    """The model part of a :class:`~neuromodels.gaze.presets.GazePreset` (``image_blind``: the control whose
    crops are all zeros; ``object_features``: the width of a declared model's crop features that replace the
    crop CNN, ``features_of`` that model's name)."""
    fields = OATConfig.__dataclass_fields__
    if getattr(preset, "decoder_input", "crop") not in DECODER_INPUTS:
        from ..core.errors import ConfigError

        raise ConfigError(
            "gaze.overrides.decoder_input", f"must be one of {', '.join(DECODER_INPUTS)}, got {preset.decoder_input!r}"
        )
    return OATConfig(
        **{k: getattr(preset, k) for k in fields if hasattr(preset, k) and k != "image_blind"},
        positional=positional,
        image_blind=image_blind,
        object_features=int(object_features),
        features_of=str(features_of),
    )


# ---------------------------------------------------------------------------------------- encodings
def sinusoidal_table(n: int, dim: int) -> Tensor:
    """(n, dim) sinusoids of positions 0..n-1 (sin on even, cos on odd dims, wavelengths up to 10000)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table


def gaussian_target(n: int, sigma: float) -> Tensor:
    """(n, n) the cosine similarity the learned table is fitted to: exp(-(i - j)^2 / (2 sigma^2))."""
    i = torch.arange(n, dtype=torch.float32)
    return torch.exp(-((i[:, None] - i[None]) ** 2) / (2 * sigma**2))


def gaussian_fit_error(table: Tensor, sigma: float) -> dict[str, float]:
    """How far a table's cosine similarities are from exp(-(i - j)^2 / (2 sigma^2)): mean and largest absolute
    error over every pair of rows."""
    unit = F.normalize(table.float(), dim=1)
    err = (unit @ unit.T - gaussian_target(table.shape[0], sigma)).abs()
    return {"mean_error": float(err.mean()), "max_error": float(err.max())}


#: the tables of the presets' arguments, fitted once by :func:`write_gaussian_tables` (``neuromodels gaze
#: positions``): every OAT of a run used to refit the same table (3-6 s each, a third of a tiny training job)
SHIPPED_TABLES = Path(__file__).with_name("gaussian_tables.npz")
_INFO_KEYS = ("steps", "loss", "converged", "mean_error", "max_error")


def _table_key(n: int, dim: int, sigma: float, steps: int, lr: float, seed: int, tol: float) -> str:
    return f"n{n}_dim{dim}_sigma{sigma!r}_steps{steps}_lr{lr!r}_seed{seed}_tol{tol!r}"


@lru_cache(maxsize=1)
def _shipped_tables() -> dict[str, tuple[Tensor, tuple[tuple[str, float], ...]]]:
    import numpy as np

    if not SHIPPED_TABLES.exists():
        return {}
    with np.load(SHIPPED_TABLES, allow_pickle=False) as f:
        keys = {name.rsplit("/", 1)[0] for name in f.files}
        return {
            k: (torch.from_numpy(f[f"{k}/table"].copy()), tuple(zip(_INFO_KEYS, map(float, f[f"{k}/info"]))))
            for k in keys
        }


@lru_cache(maxsize=8)
def _fit_gaussian(
    n: int, dim: int, sigma: float, steps: int, lr: float, seed: int, tol: float
) -> tuple[Tensor, tuple[tuple[str, float], ...]]:
    shipped = _shipped_tables().get(_table_key(n, dim, sigma, steps, lr, seed, tol))
    if shipped is not None:
        return shipped
    return _adam_fit(n, dim, sigma, steps, lr, seed, tol)


def _adam_fit(
    n: int, dim: int, sigma: float, steps: int, lr: float, seed: int, tol: float
) -> tuple[Tensor, tuple[tuple[str, float], ...]]:
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(n, dim, generator=gen).requires_grad_(True)
    target = gaussian_target(n, sigma)
    opt = torch.optim.Adam([w], lr=lr)
    window, previous, done, converged = 100, float("inf"), 0, False
    loss = torch.tensor(float("nan"))
    for done in range(1, steps + 1):
        opt.zero_grad()
        unit = F.normalize(w, dim=1)
        loss = F.mse_loss(unit @ unit.T, target) + w.norm(dim=1).var()
        loss.backward()
        opt.step()
        if tol > 0 and done % window == 0:  # converged: the loss fell by less than tol over the last window
            if previous - float(loss.detach()) < tol:
                converged = True
                break
            previous = float(loss.detach())
    table = w.detach().clone()
    info = {
        "steps": float(done),
        "loss": float(loss.detach()),
        "converged": float(converged),
        **gaussian_fit_error(table, sigma),
    }
    return table, tuple(info.items())


def preset_table_arguments(config: OATConfig) -> tuple:
    """The arguments of the Gaussian table an OAT of ``config`` fits (see :class:`GridPositionalEncoding`)."""
    part = -(-config.d_position // 3)
    return (
        config.max_positions,
        part,
        float(config.pe_sigma),
        int(config.pe_fit_steps),
        0.01,
        0,
        float(config.pe_fit_tol),
    )


def write_gaussian_tables(path: str | Path, configs: list[OATConfig]) -> dict[str, dict[str, float]]:
    """Fit the Gaussian table of each config (Adam, as :func:`fit_gaussian_table` does without a shipped
    table) and write them to ``path`` (npz: ``<key>/table`` and ``<key>/info``); return each fit's report."""
    import numpy as np

    from ..core.io import atomic_path

    arrays, reports = {}, {}
    for args in dict.fromkeys(preset_table_arguments(c) for c in configs):
        table, info = _adam_fit(*args)
        key = _table_key(*args)
        arrays[f"{key}/table"] = table.numpy().astype(np.float32)
        arrays[f"{key}/info"] = np.array([dict(info)[k] for k in _INFO_KEYS], dtype=np.float64)
        reports[key] = dict(info)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return reports


def fit_gaussian_table(
    n: int, dim: int, sigma: float = 2.0, steps: int = 10000, lr: float = 0.01, seed: int = 0, tol: float = 0.0
) -> Tensor:
    """A table W (n, dim) fitted alone, as in OAT, so that cos(W_i, W_j) = exp(-(i - j)^2 / (2 sigma^2)):
    Adam on the mean squared error plus the variance of the row norms (rows of equal length), for at most
    ``steps`` steps; with ``tol`` > 0 it stops once the loss falls by less than ``tol`` over 100 steps
    (converged). Deterministic for its arguments; the result is frozen in the model. The presets' tables ship
    with the package (:data:`SHIPPED_TABLES`, the same fit done once); other arguments are fitted here. See
    :func:`gaussian_fit_report` for how well it fits."""
    return _fit_gaussian(n, dim, float(sigma), int(steps), float(lr), int(seed), float(tol))[0].clone()


def gaussian_fit_report(
    n: int, dim: int, sigma: float = 2.0, steps: int = 10000, lr: float = 0.01, seed: int = 0, tol: float = 0.0
) -> dict[str, float]:
    """The fit of :func:`fit_gaussian_table` with the same arguments: steps taken, final loss, whether it
    converged (1/0) before ``steps``, and the mean and largest absolute error of its cosine similarities."""
    return dict(_fit_gaussian(n, dim, float(sigma), int(steps), float(lr), int(seed), float(tol))[1])


# ``is_target`` of a token: another object, the target object on the display, the target shown alone (last token)
OTHER, TARGET_OBJECT, TARGET_ALONE = 0, 1, 2


class GridPositionalEncoding(nn.Module):
    """Token position ``[T[row], T[col], T[is_target]]`` cut to ``dim``, with T a frozen table (the fitted
    Gaussian-similarity table or sinusoids). ``is_target`` is 0 (another object), 1 (the target object) or 2
    (the target alone, appended last; its row and col are set far from every grid index)."""

    def __init__(
        self,
        dim: int,
        kind: str = "gaussian",
        max_positions: int = 32,
        sigma: float = 2.0,
        fit_steps: int = 10000,
        fit: bool = True,
        fit_tol: float = 0.0,
    ) -> None:
        super().__init__()
        part = -(-dim // 3)
        #: the Gaussian table's fit (steps, loss, converged, mean_error, max_error); empty otherwise
        self.fit_info: dict[str, float] = {}
        if kind == "gaussian" and not fit:  # the fitted table comes with the weights (load_state_dict)
            table = torch.zeros(max_positions, part)
        elif kind == "gaussian":
            args = (max_positions, part, float(sigma), int(fit_steps))
            table = fit_gaussian_table(*args, tol=float(fit_tol))
            self.fit_info = gaussian_fit_report(*args, tol=float(fit_tol))
        elif kind == "sinusoidal":
            table = sinusoidal_table(max_positions, part)
        else:
            raise ValueError(f"positional encoding must be 'gaussian' or 'sinusoidal', got {kind!r}")
        self.register_buffer("table", table.clone())
        self.dim, self.kind, self.max_positions = dim, kind, max_positions

    def forward(self, row: Tensor, col: Tensor, is_target: Tensor) -> Tensor:
        # the target token sits far from every grid index in all three parts, so that the smooth table tells
        # it apart (neighbouring indices of the Gaussian table are nearly parallel)
        far = self.max_positions - 1
        alone = is_target == TARGET_ALONE
        row = torch.where(alone, far, row.clamp(max=far - 1))
        col = torch.where(alone, far, col.clamp(max=far - 1))
        parts = [self.table[row], self.table[col], self.table[is_target * (far // 2)]]
        return torch.cat(parts, dim=-1)[..., : self.dim]


class CropCNN(nn.Module):
    """OAT's small object CNN: conv 3->c1 5x5, ReLU, max-pool p1; conv c1->c2 3x3, ReLU, max-pool p2; flatten;
    linear -> ``out_dim``. Input float (..., 3, h, w) in [0, 1]."""

    def __init__(
        self,
        out_dim: int,
        crop_hw: tuple[int, int],
        channels: tuple[int, int] = (16, 32),
        pools: tuple[int, int] = (5, 3),
    ) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(pools[0]),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(pools[1]),
            nn.Flatten(),
        )
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, 3, *crop_hw)).shape[1]
        self.fc = nn.Linear(n_flat, out_dim)

    def forward(self, crops: Tensor) -> Tensor:
        lead = crops.shape[:-3]
        return self.fc(self.features(crops.reshape(-1, *crops.shape[-3:]))).reshape(*lead, -1)


class PointerHead(nn.Module):
    """Scores ``(W_e enc) . (W_d dec) / sqrt(d)`` over encoder tokens, two such heads mixed by Linear(2 -> 1)."""

    def __init__(self, dim: int, heads: int = 2) -> None:
        super().__init__()
        self.enc = nn.ModuleList(nn.Linear(dim, dim) for _ in range(heads))
        self.dec = nn.ModuleList(nn.Linear(dim, dim) for _ in range(heads))
        self.mix = nn.Linear(heads, 1)
        self.scale = 1.0 / math.sqrt(dim)

    def forward(self, memory: Tensor, queries: Tensor) -> Tensor:
        scores = [torch.einsum("btd,bnd->btn", d(queries), e(memory)) * self.scale for e, d in zip(self.enc, self.dec)]
        return self.mix(torch.stack(scores, dim=-1)).squeeze(-1)


class OAT(nn.Module):
    """Object-level attention transformer for visual-search scanpaths.

    With ``config.object_features`` > 0 the object tokens are a declared model's features of the crops,
    computed beforehand (frozen: the declared network is not part of OAT) and passed in ``batch["crops"]`` as
    float ``(B, N + 1, object_features)``; a learned linear projection (``project``) takes them to
    ``d_feature`` in place of the crop CNN. BOS is then the declared model's feature of a blank crop
    (``blank_feature``, set with the features)."""

    def __init__(self, config: OATConfig, fit_positions: bool = True) -> None:
        """``fit_positions=False`` skips fitting the Gaussian table, for a model whose weights (the table
        included) are loaded next."""
        super().__init__()
        self.config = config
        d = config.d_model
        if config.object_features:
            self.project = nn.Linear(config.object_features, config.d_feature)
            self.register_buffer("blank_feature", torch.zeros(config.object_features))
        else:
            self.cnn = CropCNN(config.d_feature, config.crop_hw, config.cnn_channels, config.cnn_pools)
        self.position = GridPositionalEncoding(
            config.d_position,
            config.positional,
            config.max_positions,
            config.pe_sigma,
            config.pe_fit_steps,
            fit=fit_positions,
            fit_tol=config.pe_fit_tol,
        )
        if config.decoder_input not in DECODER_INPUTS:
            raise ValueError(f"decoder_input must be one of {DECODER_INPUTS}, got {config.decoder_input!r}")
        self.register_buffer("time_table", sinusoidal_table(config.max_length + 2, d))
        mlp_ratio = config.ffn / d
        self.encoder = nn.ModuleList(
            TransformerEncoderLayer(d, config.heads, mlp_ratio=mlp_ratio, dropout=config.dropout)
            for _ in range(config.encoder_layers)
        )
        self.decoder = nn.ModuleList(
            TransformerDecoderLayer(d, config.heads, mlp_ratio=mlp_ratio, dropout=config.dropout)
            for _ in range(config.decoder_layers)
        )
        self.norm_enc = nn.LayerNorm(d)
        self.norm_dec = nn.LayerNorm(d)
        self.pointer = PointerHead(d)
        # the CNN feature enters on the scale of the position code
        self.cnn_norm = nn.LayerNorm(config.d_feature)
        if config.target_match:  # each object's feature times the target crop's, mapped back into the feature
            self.match = nn.Linear(config.d_feature, config.d_feature)
        init_transformer_weights(self.encoder)
        init_transformer_weights(self.decoder)

    # tokens ---------------------------------------------------------------------------------------
    def tokens(
        self, crops: Tensor, rows: Tensor, cols: Tensor, is_target: Tensor, target: Tensor | None = None
    ) -> Tensor:
        """(B, L, d): CNN feature of each crop (uint8 or float in [0, 1]) joined to its position (a declared
        model's precomputed crop features, projected, when ``object_features`` is set). An ``image_blind``
        model (the control) replaces every crop by zeros here, so nothing of the image reaches it: only the
        positions and which object is the target. With ``target_match`` each feature gains a linear map of
        its elementwise product with ``target`` (B, 1, d_feature), the target crop's feature (default: that
        of the last crop, the appended target)."""
        x = crops.float() / 255.0 if crops.dtype == torch.uint8 else crops
        if self.config.image_blind:
            x = torch.zeros_like(x)
        appearance = self.cnn_norm(self.project(x) if self.config.object_features else self.cnn(x))
        if self.config.target_match:
            reference = appearance[:, -1:] if target is None else target
            appearance = appearance + self.match(appearance * reference)
        return torch.cat([appearance, self.position(rows, cols, is_target)], dim=-1)

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """Encoder input tokens, encoder output (B, N + 1, d) and the key mask (True = real token)."""
        rows, cols = (
            batch["rows"].clamp(max=self.config.max_positions - 1),
            batch["cols"].clamp(max=self.config.max_positions - 1),
        )
        tokens = self.tokens(batch["crops"], rows, cols, batch["is_target"])
        mask = batch["token_mask"]
        x = tokens
        for layer in self.encoder:
            x = layer(x, key_mask=mask)
        return tokens, self.norm_enc(x), mask

    def bos(self, batch: dict[str, Tensor]) -> Tensor:
        """(B, 1, d): a blank object at the display centre."""
        b = batch["crops"].shape[0]
        if self.config.object_features:  # the declared model's feature of a blank crop
            blank = self.blank_feature.expand(b, 1, -1)
        else:
            blank = torch.zeros(b, 1, *batch["crops"].shape[-3:], device=batch["crops"].device)
        rows = batch["centre"][:, :1].clamp(max=self.config.max_positions - 1)
        cols = batch["centre"][:, 1:].clamp(max=self.config.max_positions - 1)
        # the blank is matched with nothing (a zero target feature), so BOS is the same token on every trial
        nothing = torch.zeros(b, 1, self.config.d_feature, device=rows.device) if self.config.target_match else None
        return self.tokens(blank, rows, cols, torch.zeros_like(rows), target=nothing)

    def decode(
        self,
        tokens: Tensor,
        memory: Tensor,
        mask: Tensor,
        bos: Tensor,
        prefix: Tensor,
        prefix_mask: Tensor | None = None,
    ) -> Tensor:
        """Pointer logits (B, T + 1, N + 1) after BOS and each fixated object of ``prefix`` (B, T)."""
        b = tokens.shape[0]
        idx = prefix.clamp(min=0)
        # a fixated object enters the decoder as its own token, the crop's feature joined to its position code
        # (as published; decoder_input "crop"), or as the encoder's output for it ("memory", the ablation), plus
        # the time step's sinusoidal code
        source = tokens if self.config.decoder_input == "crop" else memory
        fixated = source.gather(1, idx[..., None].expand(-1, -1, source.shape[-1]))
        x = torch.cat([bos, fixated], dim=1)
        t = x.shape[1]
        x = x + self.time_table[:t][None]
        key_mask = None
        if prefix_mask is not None:
            key_mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), prefix_mask], dim=1)
        for layer in self.decoder:
            x = layer(x, memory, key_mask=key_mask, memory_key_mask=mask, is_causal=True)
        logits = self.pointer(memory, self.norm_dec(x))
        logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
        # the end of the scanpath (the target token, last) cannot come first
        logits[:, 0, -1] = float("-inf")
        return logits

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Teacher-forced pointer logits (S, T + 1, N + 1) for ``batch["prefix"]`` (S, T), -1 = padding; with
        ``batch["sequence_trial"]`` (S,) the S scanpaths index the B trials of the batch, else S = B."""
        tokens, memory, mask = self.encode(batch)
        bos = self.bos(batch)
        prefix = batch["prefix"]
        if "sequence_trial" in batch:  # several scanpaths per trial: encode each trial once, then share it
            r = batch["sequence_trial"]
            tokens, memory, mask, bos = tokens[r], memory[r], mask[r], bos[r]
        return self.decode(tokens, memory, mask, bos, prefix, prefix >= 0)

    @torch.no_grad()
    def generate(
        self,
        batch: dict[str, Tensor],
        n_samples: int = 0,
        max_length: int | None = None,
        generator: torch.Generator | None = None,
    ) -> list[list[list[int]]]:
        """Scanpaths per trial: greedy (``n_samples`` 0, one path) or ``n_samples`` multinomial samples. A path
        ends when the target token is chosen (it is not part of the path) or at ``max_length`` fixations."""
        # the time code covers config.max_length fixations
        max_length = min(max_length or self.config.max_length, self.config.max_length)
        tokens, memory, mask = self.encode(batch)
        bos = self.bos(batch)
        b, n_tok = mask.shape
        k = max(n_samples, 1)
        rep = lambda t: t.repeat_interleave(k, dim=0)  # noqa: E731
        tokens, memory, mask, bos = rep(tokens), rep(memory), rep(mask), rep(bos)
        prefix = torch.zeros(b * k, 0, dtype=torch.long, device=tokens.device)
        done = torch.zeros(b * k, dtype=torch.bool, device=tokens.device)
        for _ in range(max_length):
            logits = self.decode(tokens, memory, mask, bos, prefix)[:, -1].float()
            if n_samples:
                probs = torch.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)
            else:
                nxt = logits.argmax(-1)
            done = done | (nxt == n_tok - 1)
            nxt = torch.where(done, torch.full_like(nxt, -1), nxt)
            prefix = torch.cat([prefix, nxt[:, None]], dim=1)
            if done.all():
                break
        # entries after a path's end are -1 (fed back clamped to 0, they only ever feed finished paths)
        paths = [[int(o) for o in row if o >= 0] for row in prefix.cpu().tolist()]
        return [paths[i * k : (i + 1) * k] for i in range(b)]
