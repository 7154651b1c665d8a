"""Trains a small transformer regressor through the Trainer, in one process or under torchrun (gloo), and saves
the final weights; used by test_distributed.py. Arguments: out checkpoint max_steps."""

from __future__ import annotations

import sys

import torch
from torch import nn

from neuromodels.core import distributed
from neuromodels.core.attention import TransformerEncoderLayer
from neuromodels.core.io import torch_save
from neuromodels.core.training import Trainer, TrainSettings

GLOBAL_BATCH, STEPS_PER_EPOCH, EPOCHS = 12, 5, 2


class Regressor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 32)
        self.block = TransformerEncoderLayer(32, 4, 64)
        self.head = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.embed(x)).mean(dim=1)).squeeze(-1)


def data(epoch: int) -> list:
    g = torch.Generator().manual_seed(100 + epoch)
    batches = []
    for _ in range(STEPS_PER_EPOCH):
        x = torch.randn(GLOBAL_BATCH, 6, 4, generator=g)
        batches.append((x, x.sum(dim=(1, 2)).sin()))
    return batches


def loss_fn(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def main(out: str, checkpoint: str, max_steps: str) -> None:
    torch.set_num_threads(1)
    distributed.init_from_env()
    torch.manual_seed(0)
    model = Regressor()
    settings = TrainSettings(
        epochs=EPOCHS,
        lr=3e-3,
        max_steps=int(max_steps) or None,
        scheduler="onecycle",
        checkpoint_path=checkpoint,
        checkpoint_every=2,
        progress=False,
    )
    result = Trainer(model, loss_fn, settings).fit(data, steps_per_epoch=STEPS_PER_EPOCH)
    torch_save(out, {"model": model.state_dict(), "history": result.history, "world": distributed.world_size()})
    distributed.barrier()
    distributed.destroy()


if __name__ == "__main__":
    main(*sys.argv[1:])
