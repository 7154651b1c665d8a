"""The one training loop of neuromodels.

A family supplies its model, its data (a function of the epoch returning batches) and its loss; the
:class:`Trainer` does the rest: device placement, autocast (bf16/fp16 on GPU), gradient scaling and clipping,
optimizer and learning-rate schedule, checkpoints that resume after a kill to the same numbers, progress (a tqdm
bar on a terminal, periodic log lines in a log file), a history with samples/s, and data-parallel training
under ``torchrun`` (:mod:`.distributed`: each rank trains on its share of the global batch, gradients averaged,
rank 0 writes).

Resuming is exact: the checkpoint holds model, optimizer, scheduler, scaler and RNG states and the step; data
for an epoch must be a deterministic function of the epoch (seed your shuffling with it), so batches already
seen in a half-finished epoch are skipped, not re-drawn.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import distributed
from .io import StaleCheckpoint, load_checkpoint, remove_stale_temporaries, save_checkpoint
from .runtime import autocast, get_logger, progress_bar, resolve_precision

log = get_logger(__name__)

LossOutput = Tensor | tuple[Tensor, Mapping[str, float]]
LossFn = Callable[[nn.Module, Any], LossOutput]
DataFn = Callable[[int], Iterable[Any]]


@dataclass
class TrainSettings:
    """How to train (what to train is the family's business).

    ``epochs`` passes over ``data(epoch)``; ``max_steps`` (if set) stops earlier. ``checkpoint_every`` is in
    steps; an epoch's end is saved too once that many steps have passed since the last save, and the last step
    always (0: at the end of every epoch). Resuming is exact from any of them, so short epochs (an adaptation
    to 25 images is one step each) do not write a checkpoint per step. ``precision``: auto (bf16 on GPU, fp32 on CPU), fp32, bf16, fp16.
    ``scheduler``: none, onecycle or cosine.
    """

    epochs: int = 1
    max_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    precision: str = "auto"
    scheduler: str = "none"
    warmup_fraction: float = 0.1
    checkpoint_path: str | None = None
    checkpoint_every: int = 0
    progress: bool = True
    desc: str = "train"


@dataclass
class TrainResult:
    steps: int
    epochs: int
    samples: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    resumed_from_step: int = 0

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["samples_per_second"] = self.samples_per_second
        return d


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) tuple/list/dict batch to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def batch_size(batch: Any) -> int:
    """Number of samples in a batch: the first dimension of its first tensor."""
    if isinstance(batch, Tensor):
        return int(batch.shape[0])
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, Sequence):
        for item in batch:
            n = batch_size(item)
            if n:
                return n
    return 0


def batch_digest(batch: Any) -> str:
    """A digest of a (nested) batch's contents: every tensor's dtype, shape and bytes, other leaves by repr."""
    h = hashlib.sha256()

    def visit(item: Any) -> None:
        if isinstance(item, Tensor):
            t = item.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(item, Mapping):
            for key in sorted(item, key=str):
                h.update(str(key).encode())
                visit(item[key])
        elif isinstance(item, (list, tuple)):
            h.update(f"{type(item).__name__}{len(item)}".encode())
            for sub in item:
                visit(sub)
        else:
            h.update(repr(item).encode())

    visit(batch)
    return h.hexdigest()[:16]


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


class Trainer:
    """Train ``model`` with ``loss_fn(model, batch) -> loss | (loss, metrics)``.

    Parameters
    ----------
    optimizer:
        Optional; defaults to AdamW over the parameters that require gradients (frozen parts stay frozen).
    on_epoch_end:
        Optional ``f(model, epoch) -> dict`` (e.g. validation metrics), recorded in the history. Returning a
        dict with ``{"stop": True}`` ends training early.
    on_step_end:
        Optional ``f(step, metrics)`` called after every optimizer step (after any checkpoint).
    run_identity:
        Optional JSON-able facts that tell this run from another the trainer cannot see (e.g. a loss variant
        or settings outside :class:`TrainSettings`); part of the checkpoint fingerprint.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        settings: TrainSettings,
        device: torch.device | str = "cpu",
        optimizer: torch.optim.Optimizer | None = None,
        on_epoch_end: Callable[[nn.Module, int], Mapping[str, Any]] | None = None,
        on_step_end: Callable[[int, Mapping[str, float]], None] | None = None,
        run_identity: Mapping[str, Any] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.settings = settings
        params = trainable_parameters(model)
        if not params:
            raise ValueError("the model has no parameters that require gradients")
        self.optimizer = optimizer or torch.optim.AdamW(
            params, lr=settings.lr, weight_decay=settings.weight_decay, betas=settings.betas
        )
        self.amp_dtype = resolve_precision(settings.precision, self.device)
        use_scaler = self.amp_dtype == torch.float16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.on_epoch_end = on_epoch_end
        self.on_step_end = on_step_end
        self.scheduler: Any = None
        self.run_identity = dict(run_identity or {})
        self._fingerprint: str | None = None

    def _make_scheduler(self, total_steps: int) -> Any:
        kind = self.settings.scheduler
        if kind == "none":
            return None
        if kind == "onecycle":
            total_steps = max(total_steps, 4)
            # OneCycle divides by the warm-up and the decay lengths: keep each at least 2 steps
            warmup = min(max(self.settings.warmup_fraction, 2.0 / total_steps), 1.0 - 2.0 / total_steps)
            return torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer,
                max_lr=[g["lr"] for g in self.optimizer.param_groups],
                total_steps=total_steps,
                pct_start=warmup,
            )
        if kind == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(total_steps, 1))
        raise ValueError(f"unknown scheduler {kind!r} (none, onecycle, cosine)")

    def _loss(self, batch: Any) -> tuple[Tensor, dict[str, float]]:
        with autocast(self.device, self.amp_dtype):
            out = self.loss_fn(self.model, batch)
        loss, metrics = out if isinstance(out, tuple) else (out, {})
        return loss, {k: float(v.detach() if isinstance(v, Tensor) else v) for k, v in metrics.items()}

    def fingerprint(self, total_steps: int, steps_per_epoch: int, data_digest: str = "") -> str:
        """A digest of what makes a run this run: the training settings (not where or how often it saves),
        the step plan, the optimizer's hyper-parameters, the model's parameter names and shapes,
        ``data_digest`` (see :func:`batch_digest`) and ``run_identity``. A checkpoint is resumed only by a run
        with the same fingerprint."""
        settings = {
            k: v
            for k, v in asdict(self.settings).items()
            if k not in ("checkpoint_path", "checkpoint_every", "progress", "desc")
        }
        what = {
            "settings": settings,
            "total_steps": total_steps,
            "steps_per_epoch": steps_per_epoch,
            "optimizer": [type(self.optimizer).__name__, self.optimizer.defaults],
            "model": [(name, list(t.shape), str(t.dtype)) for name, t in self.model.state_dict().items()],
            "data": data_digest,
            "run": self.run_identity,
        }
        text = json.dumps(what, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def step(self, batch: Any, step: int | None = None) -> dict[str, float]:
        """One optimizer step on ``batch``: move it to the device, zero the gradients, the loss under
        autocast, backward (scaled for fp16), clipping, optimizer and scheduler steps. Returns the loss and the
        loss function's metrics as floats (on CUDA, after the step has finished). ``fit`` calls this for
        every batch; benchmarks time it, so they measure the very step training runs."""
        world = distributed.world_size()
        if world > 1:  # data-parallel: this rank's share of the global batch (see core.distributed)
            global_n = batch_size(batch)
            batch = distributed.shard(batch, global_n)
            local_n = batch_size(batch)
        batch = to_device(batch, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = self._loss(batch)
        if not torch.isfinite(loss):
            where = "" if step is None else f" at step {step}"
            raise FloatingPointError(f"{self.settings.desc}: loss is {loss.item()}{where}")
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if world > 1:
            distributed.average_gradients(trainable_parameters(self.model), local_n, global_n)
        if self.settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(trainable_parameters(self.model), self.settings.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        metrics = {"loss": float(loss.detach()), **metrics}
        if world > 1:
            metrics = distributed.mean_across_ranks(metrics, local_n / max(global_n, 1))
        return metrics

    def _checkpoint(
        self, step: int, epoch: int, history: list[dict], running: dict[str, float] | None = None, n_running: int = 0
    ) -> None:
        """Save the state; ``running``/``n_running`` are the current epoch's metric sums so far, so that a
        resumed epoch's mean in the history covers all of its steps, as in an uninterrupted run."""
        if self.settings.checkpoint_path:
            extra = {
                "history": history,
                "running": dict(running or {}),
                "n_running": int(n_running),
                "fingerprint": self._fingerprint,
            }
            save_checkpoint(
                self.settings.checkpoint_path,
                self.model,
                self.optimizer,
                self.scheduler,
                self.scaler,
                step=step,
                epoch=epoch,
                extra=extra,
            )

    def fit(self, data: DataFn, steps_per_epoch: int | None = None) -> TrainResult:
        """Train over ``data(epoch)`` for ``settings.epochs`` epochs (or ``settings.max_steps`` steps)."""
        s = self.settings
        if steps_per_epoch is None:
            steps_per_epoch = len(data(0))  # type: ignore[arg-type]
        total = s.epochs * steps_per_epoch
        if s.max_steps is not None:
            total = min(total, s.max_steps)
        self.scheduler = self._make_scheduler(total)

        # the first batch stands for the data (``data`` is a deterministic function of the epoch): a checkpoint
        # left by a killed run on other data is not resumed. Only needed when there is a checkpoint.
        data_digest = batch_digest(next(iter(data(0)), None)) if s.checkpoint_path else ""
        self._fingerprint = self.fingerprint(total, steps_per_epoch, data_digest)
        step, start_epoch, history = 0, 0, []
        resumed_from = 0
        resumed_running: dict[str, float] = {}
        resumed_n = 0
        state = None
        if s.checkpoint_path and distributed.is_main():
            remove_stale_temporaries(s.checkpoint_path)  # a kill during a checkpoint write leaves one
        if s.checkpoint_path and Path(s.checkpoint_path).exists():
            try:
                state = load_checkpoint(
                    s.checkpoint_path,
                    self.model,
                    self.optimizer,
                    self.scheduler,
                    self.scaler,
                    map_location=self.device,
                    fingerprint=self._fingerprint,
                )
            except StaleCheckpoint as exc:
                # e.g. left by a killed run with another preset or learning rate: resuming it would mix runs
                log.warning(
                    "%s: not resuming %s (%s); training from the start and replacing it", s.desc, exc.path, exc.problem
                )
        if state is not None:
            step, start_epoch = state["step"], state["epoch"]
            history = list(state["extra"].get("history", []))
            resumed_running = dict(state["extra"].get("running", {}))
            resumed_n = int(state["extra"].get("n_running", 0))
            resumed_from = step

        samples, seconds = 0, 0.0
        self.model.train()
        bar = progress_bar(total, initial=step, desc=s.desc, enabled=s.progress)
        epoch = start_epoch
        saved_at = step  # the step of the last checkpoint written (or resumed from)
        try:
            while step < total and epoch < s.epochs:
                skip = step - epoch * steps_per_epoch  # batches of this epoch already trained before a resume
                running: dict[str, float] = {}
                n_running = 0
                if skip > 0:  # mid-epoch resume: carry the sums of the steps trained before the kill
                    running, n_running = resumed_running, resumed_n
                for i, batch in enumerate(data(epoch)):
                    if i < skip:
                        continue
                    if step >= total or i >= steps_per_epoch:
                        break
                    t0 = time.perf_counter()
                    metrics = self.step(batch, step)
                    seconds += time.perf_counter() - t0
                    samples += batch_size(batch)
                    step += 1
                    for k, v in metrics.items():
                        running[k] = running.get(k, 0.0) + v
                    n_running += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['loss']:.4g}", refresh=False)
                    if s.checkpoint_every and step % s.checkpoint_every == 0:
                        self._checkpoint(step, epoch, history, running, n_running)
                        saved_at = step
                    if self.on_step_end is not None:
                        self.on_step_end(step, metrics)
                epoch_done = step >= (epoch + 1) * steps_per_epoch or step >= total
                if not epoch_done:
                    break  # data ran out early; do not loop forever
                record: dict[str, Any] = {"epoch": epoch, "step": step}
                record.update({k: v / max(n_running, 1) for k, v in running.items()})
                stop = False
                if self.on_epoch_end is not None:
                    self.model.eval()
                    with torch.no_grad():
                        extra = dict(self.on_epoch_end(self.model, epoch) or {})
                    self.model.train()
                    stop = bool(extra.pop("stop", False))
                    record.update(extra)
                history.append(record)
                epoch += 1
                log.debug("%s epoch %d: %s", s.desc, epoch, record)
                last = stop or step >= total or epoch >= s.epochs
                if last or not s.checkpoint_every or step - saved_at >= s.checkpoint_every:
                    self._checkpoint(step, epoch, history)
                    saved_at = step
                if stop:
                    break
        finally:
            bar.close()
        self.model.eval()
        result = TrainResult(
            steps=step, epochs=epoch, samples=samples, seconds=seconds, history=history, resumed_from_step=resumed_from
        )
        if samples:
            log.info("%s: %d steps, %.1f samples/s on %s", s.desc, step, result.samples_per_second, self.device)
        return result
