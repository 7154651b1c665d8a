"""Training OAT: trials to tensors, teacher-forced cross-entropy through the shared Trainer, saving and loading.

Every scanpath of a training trial is one sequence: decoder inputs BOS, o_1..o_L; targets o_1..o_L, END (the
target token's index). Batches are drawn from a permutation seeded by (seed, epoch), so a killed run resumes to
the same numbers.

As OAT is trained: after every epoch the model samples ``n_samples`` scanpaths per validation trial (a generator
seeded by (seed, epoch)) and their behavioural delta against the validation viewers selects the checkpoint;
training stops after ``patience`` epochs without a better delta, and the best epoch's weights are restored at
the end (the validation loss is recorded too). With a checkpoint file the best weights are also kept beside it
(``<checkpoint>.best.pt``, tied to the run by the trainer's fingerprint), so a run killed and resumed selects and
stops exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.io import PathLike, torch_load, torch_save
from ..core.runtime import get_logger, seed_everything
from ..core.training import Trainer, TrainSettings, batch_digest
from .data import Scanpath, ScanpathDataset, object_crops
from .declared import ObjectFeatures
from .metrics import BEHAVIOUR, behaviour_delta, behaviour_table
from .models import OAT, TARGET_ALONE, TARGET_OBJECT, OATConfig, oat_config
from .presets import GazePreset

__all__ = [
    "TrialTensors",
    "trial_tensors",
    "sequences",
    "make_batch",
    "pointer_loss",
    "train_oat",
    "TrainedOAT",
    "save_model",
    "load_model",
]

log = get_logger(__name__)
IGNORE = -100


@dataclass
class TrialTensors:
    """Trials padded to ``N`` objects; token ``N`` (last) is the target alone."""

    ids: list[str]
    crops: Tensor  # uint8 (T, N + 1, 3, h, w)
    rows: Tensor  # long (T, N + 1)
    cols: Tensor
    is_target: Tensor  # long (T, N + 1): 1 on the target object, 2 on the target alone (last), else 0
    token_mask: Tensor  # bool (T, N + 1): False = padding
    centre: Tensor  # long (T, 2): BOS row, col
    crops_np: list[np.ndarray] = field(default_factory=list)  # unpadded (n + 1, 3, h, w) per trial

    @property
    def n_tokens(self) -> int:
        return int(self.crops.shape[1])

    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.ids)}

    def select(self, rows: Sequence[int]) -> dict[str, Tensor]:
        r = torch.as_tensor(rows, dtype=torch.long)
        return {
            "crops": self.crops[r],
            "rows": self.rows[r],
            "cols": self.cols[r],
            "is_target": self.is_target[r],
            "token_mask": self.token_mask[r],
            "centre": self.centre[r],
        }


def trial_tensors(
    dataset: ScanpathDataset,
    trial_ids: Sequence[str],
    crop_hw: tuple[int, int],
    mark_target: bool = True,
    features: ObjectFeatures | None = None,
) -> TrialTensors:
    """Crops and grid positions of ``trial_ids``, padded to their largest object count. ``mark_target``: the
    target object's token carries ``is_target`` 1 (else only the target alone, the last token, is marked).
    With ``features`` (a declared model's, :mod:`neuromodels.gaze.declared`), ``crops`` holds their float
    features ``(T, N + 1, dim)`` instead of the pixels (and ``crops_np`` stays empty)."""
    trials = [dataset.trials[t] for t in trial_ids]
    n_max = max(t.n_objects for t in trials)
    count, h, w = len(trials), *crop_hw
    if features is not None:
        return _feature_tensors(dataset, list(trial_ids), n_max, mark_target, features)
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
        if mark_target and t.target_present:
            is_target[i, t.target_index] = TARGET_OBJECT
        is_target[i, -1] = TARGET_ALONE
        mask[i, :n] = True
        mask[i, -1] = True
        centre[i] = torch.tensor([int(round(t.rows.max() / 2)), int(round(t.cols.max() / 2))])
    return TrialTensors(list(trial_ids), crops, rows, cols, is_target, mask, centre, kept)


def _feature_tensors(
    dataset: ScanpathDataset, trial_ids: list[str], n_max: int, mark_target: bool, features: ObjectFeatures
) -> TrialTensors:
    """:func:`trial_tensors` with a declared model's crop features in place of the crops."""
    count = len(trial_ids)
    crops = torch.zeros(count, n_max + 1, features.dim, dtype=torch.float32)
    rows = torch.zeros(count, n_max + 1, dtype=torch.long)
    cols = torch.zeros_like(rows)
    is_target = torch.zeros_like(rows)
    mask = torch.zeros(count, n_max + 1, dtype=torch.bool)
    centre = torch.zeros(count, 2, dtype=torch.long)
    for i, tid in enumerate(trial_ids):
        t = dataset.trials[tid]
        n = t.n_objects
        f = torch.from_numpy(np.asarray(features.of(tid, n), dtype=np.float32))
        crops[i, :n] = f[:n]
        crops[i, -1] = f[-1]
        rows[i, :n] = torch.from_numpy(t.rows)
        cols[i, :n] = torch.from_numpy(t.cols)
        if mark_target and t.target_present:
            is_target[i, t.target_index] = TARGET_OBJECT
        is_target[i, -1] = TARGET_ALONE
        mask[i, :n] = True
        mask[i, -1] = True
        centre[i] = torch.tensor([int(round(t.rows.max() / 2)), int(round(t.cols.max() / 2))])
    return TrialTensors(trial_ids, crops, rows, cols, is_target, mask, centre, [])


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
        log.warning(
            "%d scanpaths without a fixation on an object left out; %d cut to %d fixations", empty, cut, max_length
        )
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
    groups = [set(order[i : i + trials_per_batch].tolist()) for i in range(0, len(order), trials_per_batch)]
    return [make_batch(tensors, [it for it in items if it[0] in g]) for g in groups]


@dataclass
class TrainedOAT:
    model: OAT
    config: OATConfig
    meta: dict[str, Any]
    #: the declared model's crop features its object tokens are made of (None: OAT's own crop CNN)
    features: ObjectFeatures | None = None


def train_oat(
    dataset: ScanpathDataset,
    split: dict[str, list[str]],
    preset: GazePreset,
    seed: int = 0,
    positional: str = "gaussian",
    device: torch.device | str = "cpu",
    checkpoint_path: PathLike | None = None,
    precision: str = "auto",
    progress: bool = True,
    image_blind: bool = False,
    features: ObjectFeatures | None = None,
) -> TrainedOAT:
    """Train OAT on the ``train`` trials of ``split``; the ``val`` trials decide early stopping. ``image_blind``:
    the control, OAT with every crop replaced by zeros, trained exactly the same way (same seed, batches,
    settings). ``features``: a declared model's crop features (:mod:`neuromodels.gaze.declared`) are the
    object tokens, through a learned linear projection, instead of OAT's crop CNN; trained the same way."""
    seed_everything(seed)
    if features is not None and tuple(features.crop_hw) != tuple(preset.crop_hw):
        from ..core.errors import DataError

        raise DataError(features.name, f"features of {features.crop_hw} crops; the preset's crops are {preset.crop_hw}")
    config = oat_config(
        preset,
        positional,
        image_blind=image_blind,
        object_features=features.dim if features is not None else 0,
        features_of=features.name if features is not None else "",
    )
    model = OAT(config)
    if features is not None:
        model.blank_feature.copy_(torch.from_numpy(np.asarray(features.blank, dtype=np.float32)))
    train_t = trial_tensors(dataset, split["train"], config.crop_hw, config.mark_target, features)
    items = sequences(dataset.scanpaths_of(split["train"]), train_t, config.max_length)
    val_items: list = []
    val_t = None
    if split.get("val"):
        val_t = trial_tensors(dataset, split["val"], config.crop_hw, config.mark_target, features)
        val_items = sequences(dataset.scanpaths_of(split["val"]), val_t, config.max_length)
    if not items:
        from ..core.errors import DataError

        raise DataError(dataset.root, "no training scanpath has a fixation on an object")
    steps_per_epoch = -(-len({r for r, _ in items}) // preset.batch_size)
    desc = f"oat[{positional}{', image-blind' if image_blind else ''}{f', {features.name}' if features else ''}]"
    settings = TrainSettings(
        epochs=preset.epochs,
        lr=preset.lr,
        weight_decay=0.0,
        grad_clip=1.0,
        precision=precision,
        scheduler=preset.scheduler,
        checkpoint_path=str(checkpoint_path) if checkpoint_path else None,
        checkpoint_every=preset.checkpoint_every,
        progress=progress,
        desc=desc,
    )
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=preset.lr)
    trainer = Trainer(
        model,
        pointer_loss,
        settings,
        device=device,
        optimizer=optimizer,
        run_identity={
            "positional": positional,
            "n_sequences": len(items),
            "seed": seed,
            "selection": f"validation {preset.select_on}",
            "patience": preset.patience,
            "n_samples": preset.n_samples,
            "decoder_input": config.decoder_input,
            **({"image_blind": True} if image_blind else {}),
            **({"object_features": features.name, "feature_layer": features.layer} if features else {}),
        },
    )
    data = lambda epoch: _batches(items, preset.batch_size, seed, epoch, train_t)  # noqa: E731
    selector = _Selector(
        dataset, split.get("val") or [], val_t, val_items, preset, seed, trainer, checkpoint_path, steps_per_epoch, data
    )
    trainer.on_epoch_end = selector
    result = trainer.fit(data, steps_per_epoch)
    restored = selector.restore(trainer.model)
    meta = {
        "positional": positional,
        "seed": seed,
        "image_blind": image_blind,
        "n_train_sequences": len(items),
        "n_val_sequences": len(val_items),
        "train": result.to_dict(),
        "selection": {
            "on": "validation behavioural delta" if preset.select_on == "delta" else "validation loss",
            "patience": preset.patience,
            "best_epoch": selector.best_epoch,
            "best_score": selector.best_score,
            "best_val_delta": selector.best_delta,
            "restored": restored,
            "epochs_trained": result.epochs,
        },
        "positional_fit": dict(model.position.fit_info),
        "mean_train_length": float(np.mean([len(s) for _, s in items])),
        "mean_duration_s": float(np.mean(np.concatenate([s.duration for s in dataset.scanpaths_of(split["train"])]))),
        "config": config.to_dict(),
        "split": split,
    }
    if features is not None:
        meta["object_features"] = {"model": features.name, "layer": features.layer, "dim": features.dim}
    return TrainedOAT(trainer.model.cpu().eval(), config, meta, features)


def validation_delta(
    model: OAT,
    dataset: ScanpathDataset,
    val_t: TrialTensors,
    human_means: dict[str, float],
    n_samples: int,
    max_length: int,
    generator: torch.Generator,
    batch_size: int = 64,
) -> float:
    """Behavioural delta (OAT's) of ``n_samples`` sampled scanpaths per validation trial against the validation
    viewers' means."""
    device = next(model.parameters()).device
    paths, targets = [], []
    for i in range(0, len(val_t.ids), batch_size):
        rows = list(range(i, min(i + batch_size, len(val_t.ids))))
        batch = {k: v.to(device) for k, v in val_t.select(rows).items()}
        for r, sampled in zip(rows, model.generate(batch, n_samples, max_length, generator=generator)):
            paths += sampled
            targets += [dataset.trials[val_t.ids[r]].target_index] * len(sampled)
    means = behaviour_table(paths, targets).mean()
    return behaviour_delta({k: float(means[k]) for k in BEHAVIOUR}, human_means)


class _Selector:
    """The trainer's epoch-end hook: validation loss and delta, the best epoch by the preset's ``select_on``
    (delta, as OAT, or loss; its weights kept in memory and, with a checkpoint, in ``<checkpoint>.best.pt``),
    and the stop after ``patience`` epochs."""

    def __init__(
        self,
        dataset: ScanpathDataset,
        val_ids: Sequence[str],
        val_t: TrialTensors | None,
        val_items: list,
        preset: GazePreset,
        seed: int,
        trainer: Trainer,
        checkpoint_path: PathLike | None,
        steps_per_epoch: int,
        data,
    ) -> None:
        self.dataset, self.val_t, self.val_items, self.preset, self.seed = dataset, val_t, val_items, preset, seed
        self.trainer, self.steps_per_epoch, self.data = trainer, steps_per_epoch, data
        self.best_file = f"{checkpoint_path}.best.pt" if checkpoint_path else None
        self.best_epoch, self.best_score, self.best_delta = -1, float("inf"), float("inf")
        self.best_state: dict[str, Tensor] | None = None
        self.fingerprint: str | None = None
        self.loaded = False
        humans = dataset.scanpaths_of(val_ids)
        table = behaviour_table(
            [s.object_sequence() for s in humans], [dataset.trials[s.trial].target_index for s in humans]
        )
        self.human_means = {k: float(table[k].mean()) for k in BEHAVIOUR} if len(table) else {}

    def _run_fingerprint(self) -> str:
        # the trainer's own fingerprint of this run (settings, step plan, model, data, identity), as fit computes it
        if self.fingerprint is None:
            total = self.preset.epochs * self.steps_per_epoch
            self.fingerprint = self.trainer.fingerprint(
                total, self.steps_per_epoch, batch_digest(next(iter(self.data(0)), None))
            )
        return self.fingerprint

    def _load_best(self, epoch: int) -> None:
        """A best-weights file of this very run from an epoch already passed (left by a killed run) is taken
        over, so selection and the stop continue as if uninterrupted."""
        self.loaded = True
        if not self.best_file or not Path(self.best_file).is_file():
            return
        try:
            saved = torch_load(self.best_file, map_location="cpu")
        except Exception as exc:  # an unreadable leftover: start selection afresh
            log.warning("%s: not reading %s (%s)", self.trainer.settings.desc, self.best_file, exc)
            return
        if saved.get("fingerprint") == self._run_fingerprint() and int(saved.get("epoch", 1 << 30)) <= epoch:
            self.best_epoch, self.best_delta = int(saved["epoch"]), float(saved["delta"])
            self.best_score = float(saved.get("score", saved["delta"]))
            self.best_state = saved["state"]

    def __call__(self, model: OAT, epoch: int) -> dict[str, Any]:
        if not self.loaded:
            self._load_best(epoch)
        if not self.val_items or self.val_t is None:
            return {}
        losses = [
            float(pointer_loss(model, to_model(make_batch(self.val_t, self.val_items[i : i + 256]), model))[0])
            * len(self.val_items[i : i + 256])
            for i in range(0, len(self.val_items), 256)
        ]
        record: dict[str, Any] = {"val_loss": sum(losses) / len(self.val_items)}
        gen = torch.Generator().manual_seed(int(np.random.default_rng([self.seed, 23, epoch]).integers(2**62)))
        delta = validation_delta(
            model, self.dataset, self.val_t, self.human_means, self.preset.n_samples, self.preset.max_length, gen
        )
        record["val_delta"] = delta
        score = delta if self.preset.select_on == "delta" else record["val_loss"]
        if np.isfinite(score) and score < self.best_score:
            self.best_epoch, self.best_score, self.best_delta = epoch, float(score), float(delta)
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if self.best_file:
                torch_save(
                    self.best_file,
                    {
                        "fingerprint": self._run_fingerprint(),
                        "epoch": epoch,
                        "delta": float(delta),
                        "score": float(score),
                        "state": self.best_state,
                    },
                )
        record["best_epoch"] = self.best_epoch
        record["stop"] = epoch - self.best_epoch >= self.preset.patience
        return record

    def restore(self, model: OAT) -> bool:
        """Load the best epoch's weights into ``model`` (True), or keep the last ones when nothing was selected
        (no validation trials or no finite delta)."""
        if not self.loaded:  # a finished run resumed: the trainer trained nothing and called no hook
            self._load_best(1 << 30)
        if self.best_state is None:
            return False
        model.load_state_dict({k: v.to(next(model.parameters()).device) for k, v in self.best_state.items()})
        return True


def to_model(batch: dict[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    device = next(model.parameters()).device
    return {k: v.to(device) for k, v in batch.items()}


def save_model(path: PathLike, trained: TrainedOAT) -> None:
    torch_save(path, {"config": trained.config.to_dict(), "state": trained.model.state_dict(), "meta": trained.meta})


def load_model(
    path: PathLike, device: torch.device | str = "cpu", features: ObjectFeatures | None = None
) -> TrainedOAT:
    """A model file of :func:`save_model`; one trained on a declared model's crop features needs those
    (``features``, the file it was trained with)."""
    from ..core.errors import DataError

    state = torch_load(path, map_location="cpu")
    if not isinstance(state, dict) or "config" not in state:
        raise DataError(path, "not an OAT model file (written by `neuromodels gaze train`)")
    cfg = dict(state["config"])
    for key in ("crop_hw", "cnn_channels", "cnn_pools"):
        cfg[key] = tuple(cfg[key])
    cfg = {k: v for k, v in cfg.items() if k in OATConfig.__dataclass_fields__}
    cfg.setdefault("decoder_input", "memory")  # model files written before the setting fed the encoder output
    config = OATConfig(**cfg)
    model = OAT(config, fit_positions=False)
    model.load_state_dict(state["state"])
    if config.object_features:
        if features is None:
            raise DataError(path, f"trained on {config.features_of}'s crop features: give its features file")
        if features.name != config.features_of or features.dim != config.object_features:
            raise DataError(path, f"trained on {config.features_of}'s crop features, not {features.name}'s")
    return TrainedOAT(model.to(device).eval(), config, state["meta"], features if config.object_features else None)
