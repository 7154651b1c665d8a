"""Training OAT: trials to tensors, teacher-forced cross-entropy through the shared Trainer, saving and loading.

Every scanpath of a training trial is one sequence: decoder inputs BOS, o_1..o_L; targets o_1..o_L, END (the
target token's index). Batches are drawn from a permutation seeded by (seed, epoch), so a killed run resumes to
the same numbers. Training stops early when the validation loss has not improved for ``patience`` epochs (OAT
stops on the validation behavioural delta; the loss needs no decoding). The best-loss count starts afresh after a
resume, so with ``patience`` below ``epochs`` a resumed run may stop later than an uninterrupted one; the tiny and
default presets set ``patience`` to ``epochs`` (no early stop), so their resumed runs match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.io import PathLike, torch_load, torch_save
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings
from .data import Scanpath, ScanpathDataset, object_crops
from .models import OAT, TARGET_ALONE, TARGET_OBJECT, OATConfig, oat_config
from .presets import GazePreset

__all__ = ["TrialTensors", "trial_tensors", "sequences", "make_batch", "pointer_loss", "train_oat",
           "TrainedOAT", "save_model", "load_model"]

log = get_logger(__name__)
IGNORE = -100


@dataclass
class TrialTensors:
    """Trials padded to ``N`` objects; token ``N`` (last) is the target alone."""

    ids: list[str]
    crops: Tensor       # uint8 (T, N + 1, 3, h, w)
    rows: Tensor        # long (T, N + 1)
    cols: Tensor
    is_target: Tensor   # long (T, N + 1): 1 on the target object, 2 on the target alone (last), else 0
    token_mask: Tensor  # bool (T, N + 1): False = padding
    centre: Tensor      # long (T, 2): BOS row, col
    crops_np: list[np.ndarray] = field(default_factory=list)  # unpadded (n + 1, 3, h, w) per trial

    @property
    def n_tokens(self) -> int:
        return int(self.crops.shape[1])

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.ids)}

    def select(self, rows: Sequence[int]) -> dict[str, Tensor]:
        r = torch.as_tensor(rows, dtype=torch.long)
        return {"crops": self.crops[r], "rows": self.rows[r], "cols": self.cols[r], "is_target": self.is_target[r],
                "token_mask": self.token_mask[r], "centre": self.centre[r]}


def trial_tensors(dataset: ScanpathDataset, trial_ids: Sequence[str], crop_hw: tuple[int, int],
                  mark_target: bool = True) -> TrialTensors:
    """Crops and grid positions of ``trial_ids``, padded to their largest object count. ``mark_target``: the
    target object's token carries ``is_target`` 1 (else only the target alone, the last token, is marked)."""
    trials = [dataset.trials[t] for t in trial_ids]
    n_max = max(t.n_objects for t in trials)
    count, h, w = len(trials), *crop_hw
    crops = torch.zeros(count, n_max + 1, 3, h, w, dtype=torch.uint8)
    rows = torch.zeros(count, n_max + 1, dtype=torch.long)
    cols = torch.zeros_like(rows)
    is_target = torch.zeros_like(rows)
    mask = torch.zeros(count, n_max + 1, dtype=torch.bool)
    centre = torch.zeros(count, 2, dtype=torch.long)
    kept = []
    for i, t in enumerate(trials):
        c = object_crops(t, crop_hw)
        kept.append(c)
        n = t.n_objects
        crops[i, :n] = torch.from_numpy(c[:n])
        crops[i, -1] = torch.from_numpy(c[-1])
        rows[i, :n] = torch.from_numpy(t.rows)
        cols[i, :n] = torch.from_numpy(t.cols)
        if mark_target:
            is_target[i, t.target_index] = TARGET_OBJECT
        is_target[i, -1] = TARGET_ALONE
        mask[i, :n] = True
        mask[i, -1] = True
        centre[i] = torch.tensor([int(round(t.rows.max() / 2)), int(round(t.cols.max() / 2))])
    return TrialTensors(list(trial_ids), crops, rows, cols, is_target, mask, centre, kept)


def sequences(scanpaths: Sequence[Scanpath], tensors: TrialTensors, max_length: int) -> list[tuple[int, list[int]]]:
    """(row in ``tensors``, object sequence) per scanpath with at least one fixation on an object, cut to
    ``max_length``."""
    index = tensors.index()
    out = []
    empty = cut = 0
    for s in scanpaths:
        full = s.object_sequence()
        seq = [int(o) for o in full[:max_length]]
        empty += not seq
        cut += len(full) > max_length
        if seq and s.trial in index:
            out.append((index[s.trial], seq))
    if empty or cut:
        log.warning("%d scanpaths without a fixation on an object left out; %d cut to %d fixations", empty, cut,
                    max_length)
    return out


def make_batch(tensors: TrialTensors, items: Sequence[tuple[int, list[int]]]) -> dict[str, Tensor]:
    """A training batch: the tensors of the trials involved (each once), ``sequence_trial`` (S,) the trial of each
    scanpath, ``prefix`` (S, T) padded with -1 and ``target`` (S, T + 1) padded with -100, whose last real entry
    is the end token (index N)."""
    trials = sorted({r for r, _ in items})
    where = {r: i for i, r in enumerate(trials)}
    batch = tensors.select(trials)
    batch["sequence_trial"] = torch.tensor([where[r] for r, _ in items], dtype=torch.long)
    t_max = max(len(seq) for _, seq in items)
    prefix = torch.full((len(items), t_max), -1, dtype=torch.long)
    target = torch.full((len(items), t_max + 1), IGNORE, dtype=torch.long)
    end = tensors.n_tokens - 1
    for i, (_, seq) in enumerate(items):
        prefix[i, : len(seq)] = torch.tensor(seq)
        target[i, : len(seq)] = torch.tensor(seq)
        target[i, len(seq)] = end
    batch["prefix"], batch["target"] = prefix, target
    return batch


def pointer_loss(model: OAT, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
    """Teacher-forced cross-entropy of the pointer over encoder tokens (padding ignored)."""
    logits = model(batch).float()
    target = batch["target"]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE)
    with torch.no_grad():
        real = target != IGNORE
        acc = ((logits.argmax(-1) == target) & real).sum() / real.sum().clamp(min=1)
    return loss, {"accuracy": float(acc)}


def _batches(items: list, trials_per_batch: int, seed: int, epoch: int, tensors: TrialTensors) -> list[dict]:
    """Batches of ``trials_per_batch`` trials with every training scanpath on them (trials in a permutation
    seeded by (seed, epoch))."""
    rows = sorted({r for r, _ in items})
    order = np.random.default_rng([seed, 17, epoch]).permutation(rows)
    groups = [set(order[i:i + trials_per_batch].tolist()) for i in range(0, len(order), trials_per_batch)]
    return [make_batch(tensors, [it for it in items if it[0] in g]) for g in groups]


@dataclass
class TrainedOAT:
    model: OAT
    config: OATConfig
    meta: dict[str, Any]


def train_oat(dataset: ScanpathDataset, split: dict[str, list[str]], preset: GazePreset, seed: int = 0,
              positional: str = "gaussian", device: torch.device | str = "cpu", checkpoint_path: PathLike | None = None,
              precision: str = "auto", progress: bool = True, image_blind: bool = False) -> TrainedOAT:
    """Train OAT on the ``train`` trials of ``split``; the ``val`` trials decide early stopping. ``image_blind``:
    the control, OAT with every crop replaced by zeros, trained exactly the same way (same seed, batches,
    settings)."""
    seed_everything(seed)
    config = oat_config(preset, positional, image_blind=image_blind)
    model = OAT(config)
    train_t = trial_tensors(dataset, split["train"], config.crop_hw, config.mark_target)
    items = sequences(dataset.scanpaths_of(split["train"]), train_t, config.max_length)
    val_items: list = []
    val_t = None
    if split.get("val"):
        val_t = trial_tensors(dataset, split["val"], config.crop_hw, config.mark_target)
        val_items = sequences(dataset.scanpaths_of(split["val"]), val_t, config.max_length)
    if not items:
        from ..core.errors import DataError

        raise DataError(dataset.root, "no training scanpath has a fixation on an object")
    steps_per_epoch = -(-len({r for r, _ in items}) // preset.batch_size)
    best = {"loss": float("inf"), "epoch": -1}

    def on_epoch_end(m: OAT, epoch: int) -> dict[str, Any]:
        if not val_items or val_t is None:
            return {}
        losses = [float(pointer_loss(m, make_batch(val_t, val_items[i:i + 256]))[0]) * len(val_items[i:i + 256])
                  for i in range(0, len(val_items), 256)]
        val = sum(losses) / len(val_items)
        if val < best["loss"] - 1e-4:
            best.update(loss=val, epoch=epoch)
        stop = epoch - best["epoch"] >= preset.patience
        return {"val_loss": val, "stop": stop}

    desc = f"oat[{positional}{', image-blind' if image_blind else ''}]"
    settings = TrainSettings(epochs=preset.epochs, lr=preset.lr, weight_decay=0.0, grad_clip=1.0,
                             precision=precision, scheduler=preset.scheduler,
                             checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
                             checkpoint_every=preset.checkpoint_every, progress=progress, desc=desc)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=preset.lr)
    trainer = Trainer(model, pointer_loss, settings, device=device, optimizer=optimizer, on_epoch_end=on_epoch_end,
                      run_identity={"positional": positional, "n_sequences": len(items), "seed": seed,
                                    **({"image_blind": True} if image_blind else {})})
    result = trainer.fit(lambda epoch: _batches(items, preset.batch_size, seed, epoch, train_t), steps_per_epoch)
    meta = {"positional": positional, "seed": seed, "image_blind": image_blind, "n_train_sequences": len(items),
            "n_val_sequences": len(val_items), "train": result.to_dict(),
            "mean_train_length": float(np.mean([len(s) for _, s in items])),
            "mean_duration_s": float(np.mean(np.concatenate([s.duration for s in
                                                             dataset.scanpaths_of(split["train"])]))),
            "config": config.to_dict(), "split": split}
    return TrainedOAT(trainer.model.cpu().eval(), config, meta)


def save_model(path: PathLike, trained: TrainedOAT) -> None:
    torch_save(path, {"config": trained.config.to_dict(), "state": trained.model.state_dict(), "meta": trained.meta})


def load_model(path: PathLike, device: torch.device | str = "cpu") -> TrainedOAT:
    from ..core.errors import DataError

    state = torch_load(path, map_location="cpu")
    if not isinstance(state, dict) or "config" not in state:
        raise DataError(path, "not an OAT model file (written by `neuromodels gaze train`)")
    cfg = dict(state["config"])
    for key in ("crop_hw", "cnn_channels", "cnn_pools"):
        cfg[key] = tuple(cfg[key])
    cfg = {k: v for k, v in cfg.items() if k in OATConfig.__dataclass_fields__}
    config = OATConfig(**cfg)
    model = OAT(config, fit_positions=False)
    model.load_state_dict(state["state"])
    return TrainedOAT(model.to(device).eval(), config, state["meta"])
