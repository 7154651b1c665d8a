"""A small transformer text encoder over the stimulus world's caption words (for CLIP/SLIP training).

Words are lower-cased runs of letters and digits; the vocabulary is built from the training captions, with
``<pad>`` (0), ``<unk>`` (1) and ``<cls>`` (2) in front. Layer names: ``token_embed`` (word embeddings,
``(B, L, dim)``), ``blocks.0`` ... ``blocks.{depth-1}``, ``norm`` and ``head`` (the CLS projection,
``(B, embed_dim)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from neuromodels.core.attention import Backend, TransformerEncoderLayer, init_transformer_weights

__all__ = ["CaptionEncoder", "build_vocab", "split_words", "SPECIAL_TOKENS"]

SPECIAL_TOKENS = ("<pad>", "<unk>", "<cls>")
PAD, UNK, CLS = 0, 1, 2
_WORD = re.compile(r"[a-z0-9]+")


def split_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (runs of letters and digits; punctuation dropped)."""
    return _WORD.findall(text.lower())


def build_vocab(captions: Iterable[str]) -> list[str]:
    """Special tokens followed by every word of ``captions`` in sorted order (deterministic)."""
    words = sorted({w for text in captions for w in split_words(text)})
    return [*SPECIAL_TOKENS, *[w for w in words if w not in SPECIAL_TOKENS]]


class CaptionEncoder(nn.Module):
    """Transformer over caption words; the CLS token's projection is the caption embedding.

    Parameters
    ----------
    vocab:
        Word list (from :func:`build_vocab`); position i is token id i.
    dim, depth, num_heads:
        Token width, number of encoder layers, attention heads.
    embed_dim:
        Output embedding width (match the image encoder's for CLIP); defaults to ``dim``.
    max_len:
        Longest caption in words (longer ones are cut); the CLS token comes on top.
    """

    def __init__(
        self,
        vocab: Sequence[str],
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 4,
        embed_dim: int | None = None,
        max_len: int = 32,
        mlp_ratio: float = 4.0,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        vocab = list(vocab)
        if tuple(vocab[:3]) != SPECIAL_TOKENS:
            raise ValueError(f"vocab must start with {SPECIAL_TOKENS}")
        embed_dim = dim if embed_dim is None else embed_dim
        self.config: dict[str, Any] = dict(
            vocab=vocab,
            dim=dim,
            depth=depth,
            num_heads=num_heads,
            embed_dim=embed_dim,
            max_len=max_len,
            mlp_ratio=mlp_ratio,
        )
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}
        self.dim, self.embed_dim, self.max_len = dim, embed_dim, max_len
        self.token_embed = nn.Embedding(len(vocab), dim, padding_idx=PAD)
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + max_len, dim))
        self.blocks = nn.ModuleList(
            TransformerEncoderLayer(dim, num_heads, mlp_ratio=mlp_ratio, backend=backend) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, embed_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        with torch.no_grad():
            self.token_embed.weight[PAD].zero_()
        init_transformer_weights(self)

    def tokenize(self, captions: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Captions -> ``(token_ids, key_mask)``, both ``(B, 1 + L)`` with ``L`` the longest caption (at most
        ``max_len`` words). Token 0 is ``<cls>``; ``key_mask`` is True for real tokens (CLS included)."""
        ids = [[CLS, *[self.index.get(w, UNK) for w in split_words(text)][: self.max_len]] for text in captions]
        length = max((len(row) for row in ids), default=1)
        tokens = torch.full((len(ids), length), PAD, dtype=torch.long)
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return tokens, tokens != PAD

    def forward_tokens(self, tokens: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """Token ids ``(B, L)`` -> normalised token states ``(B, L, dim)``."""
        if key_mask is None:
            key_mask = tokens != PAD
        x = self.token_embed(tokens) + self.pos_embed[:, : tokens.shape[1]]
        for block in self.blocks:
            x = block(x, key_mask=key_mask)
        return self.norm(x)

    def forward(self, tokens: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """Token ids ``(B, L)`` (from :meth:`tokenize`) -> caption embedding ``(B, embed_dim)``."""
        return self.head(self.forward_tokens(tokens, key_mask)[:, 0])

    @torch.no_grad()
    def encode(self, captions: Sequence[str], batch_size: int = 256) -> Tensor:
        """Embed captions with the model's current device; returns ``(n, embed_dim)`` on the CPU."""
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, len(captions), batch_size):
            tokens, mask = self.tokenize(captions[start : start + batch_size])
            out.append(self(tokens.to(device), mask.to(device)).float().cpu())
        self.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, self.embed_dim)

    @property
    def layer_names(self) -> list[str]:
        return ["token_embed", *[f"blocks.{i}" for i in range(len(self.blocks))], "norm", "head"]
