"""Training and adaptation of the decoders through the one training loop (:class:`neuromodels.core.training.Trainer`).

- :func:`train_joint`: one model over the source subjects (each step holds a batch of every subject; one
  repeat of each stimulus sampled per step).
- :func:`adapt`: a new (held-out) subject with ``n_train`` training images, by one of :data:`METHODS`:

  - ``mindbridge_reset``: MindBridge's reset-tuning as its authors' code runs it: a fresh embedder and builder
    for the new subject, every part trainable (translator, heads, the source subjects' embedders and
    builders), and each step's batch holds the new subject's images plus one source subject's (in turn) with
    their targets; all terms of the objective on both, and the source subject's embedding cycled through the
    new subject's builder and embedder (the cycle loss as augmentation);
  - ``mindbridge_reset_frozen``: fresh embedder and builder trained alone on a frozen model, the source
    subjects' voxels (no targets) used only in cycle losses both ways (the paper's text);
  - ``mindbridge_finetune``: fresh embedder and builder, every part trainable, the new subject's data alone;
  - ``linear_adapter`` (fresh linear adapter, shared decoder frozen), ``linear_finetune`` (fresh adapter,
    decoder trainable), ``scratch`` (the MindBridge network trained on this subject alone) and ``ridge``;
  - ``shuffled_stimuli`` (the adaptation claims' control): ``mindbridge_reset`` exactly, with the new subject's
    training betas paired with the wrong images (:func:`shuffle_pairs`; the test pairs intact).
- :func:`evaluate_subject`: metrics on the shared test set (repeats averaged).

Training subsets are nested: ``n_train`` images are the first n of one seeded permutation of the subject's
training images, so a learning curve adds images rather than redrawing them.

Targets that were standardised per feature (the default of ``neuromodels decoding targets``) are
standardised again with the mean and sd of the stimuli outside the test set (:func:`standardise_on_training`),
so no test stimulus moves the statistics. Settings left automatic follow the data
(:meth:`ModelConfig.resolved <neuromodels.decoding.models.ModelConfig.resolved>`, :func:`auto_lr`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuromodels.core.errors import ConfigError, require
from neuromodels.core.runtime import get_logger, seed_everything
from neuromodels.core.training import Trainer, TrainResult, TrainSettings

from .data import SubjectData, TestSplit, choose_test_split, open_dataset
from .evaluate import score
from .models import (
    DecoderBase,
    LossWeights,
    ModelConfig,
    RidgeDecoder,
    build_model,
    decoder_loss,
    model_from_state,
)
from .settings import AUTO_LR_FEW_STEPS, AUTO_LR_MANY_STEPS, FEW_STEPS, TrainConfig, auto_lr  # noqa: F401
from .targets import Targets
from .workflow import ADAPT_METHODS, BASE_KIND

log = get_logger(__name__)

METHODS = ADAPT_METHODS


def standardise_on_training(targets: Targets, test_ids: np.ndarray) -> tuple[Targets, dict]:
    """Targets with each feature standardised by the mean and sd of the stimuli outside ``test_ids``.

    An affine map per feature, so targets standardised earlier over every stimulus end up exactly as if the
    raw embeddings had been standardised on the training side alone. Returns the new targets and
    ``{"n_fit": stimuli used}``.
    """
    train_rows = np.setdiff1d(np.arange(len(targets.stimulus_id)), targets.rows(test_ids, targets.meta.get("path")))
    require(
        len(train_rows) >= 2,
        targets.meta.get("path"),
        "fewer than 2 stimuli outside the test set to standardise the targets on",
    )

    def fit(emb: np.ndarray) -> np.ndarray:
        x = np.asarray(emb, dtype=np.float64)
        sd = x[train_rows].std(axis=0)
        return ((x - x[train_rows].mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)

    text = None if targets.text is None else fit(targets.text)
    meta = {**targets.meta, "standardised_on": f"{len(train_rows)} stimuli outside the test set"}
    return Targets(targets.stimulus_id, fit(targets.image), text, meta), {"n_fit": int(len(train_rows))}


class DecodingData:
    """The subjects of a data set with their targets, the test ids and each subject's training ids.

    ``layout`` is the data set's layout (``auto``, ``simple``, ``nsd_release``; :func:`data.open_dataset`),
    ``split`` the keyword arguments of :func:`data.choose_test_split` (default: the stimuli every subject of
    the data set saw; all subject folders, so it is the same whichever subjects a job loads); ``release`` where
    in NSD's release to read. A subject's training ids are the rest of what it saw.
    """

    def __init__(
        self,
        root: str | Path,
        targets: Targets,
        subjects: Sequence[str],
        layout: str = "auto",
        split: Mapping[str, Any] | None = None,
        release: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = Path(root)
        self.targets = targets
        self.dataset = open_dataset(self.root, layout, release=dict(release or {}))
        everyone = self.dataset.subjects
        missing = [s for s in subjects if s not in everyone]
        require(not missing, self.root, f"no subject folder(s) {', '.join(missing)} (found {', '.join(everyone)})")
        self.split: TestSplit = choose_test_split(self.dataset, **dict(split or {}))
        self.test_ids = self.split.ids
        self.subjects: dict[str, SubjectData] = {s: self.dataset.read_subject(s) for s in subjects}
        self.train_ids = {s: np.setdiff1d(d.stimulus_ids, self.test_ids) for s, d in self.subjects.items()}
        targets.rows(self.test_ids, targets.meta.get("path"))  # every stimulus needs a target
        if str(targets.meta.get("standardised", "")).lower() == "true":  # fitted on training stimuli only
            self.targets, info = standardise_on_training(targets, self.test_ids)
            log.info(
                "targets standardised on the %d stimuli outside the %d test stimuli", info["n_fit"], len(self.test_ids)
            )

    def n_voxels(self) -> dict[str, int]:
        return {s: d.n_voxels for s, d in self.subjects.items()}


def train_subset(ids: np.ndarray, n_train: int | str, seed: int) -> np.ndarray:
    """The first ``n_train`` ids of a seeded permutation (all for ``"all"``): nested across n."""
    ids = np.sort(np.asarray(ids))
    if str(n_train) == "all":
        return ids
    n = int(n_train)
    if not 1 <= n <= len(ids):
        raise ConfigError("decoding.n_train", f"{n} training images asked for, the subject has {len(ids)}")
    return ids[np.random.default_rng(seed).permutation(len(ids))[:n]]


def shuffle_pairs(subject: SubjectData, ids: np.ndarray, seed: int) -> SubjectData:
    """``subject`` with the betas of its training images ``ids`` paired with the wrong images: a seeded
    derangement (a random cycle through ``ids``), so the trials of image ``ids[order[i]]`` now stand for image
    ``ids[order[i + 1]]`` and no training image keeps its own betas. Images outside ``ids`` (the test set) keep
    theirs; the betas themselves are not copied."""
    import copy

    from .data import id_key

    ids = np.asarray(ids)
    require(
        len(ids) >= 2,
        None,
        f"shuffled_stimuli needs at least 2 training images of {subject.subject} to pair them wrongly, got {len(ids)}",
    )
    order = np.random.default_rng([seed, 7]).permutation(len(ids))
    out = copy.copy(subject)
    out._rows = dict(subject._rows)
    for i, j in zip(order, np.roll(order, -1)):
        out._rows[id_key(ids[j])] = subject._rows[id_key(ids[i])]
    return out


def epoch_batches(
    parts: Mapping[str, tuple[SubjectData, np.ndarray, bool]],
    targets: Targets,
    batch_size: int,
    steps: int,
    seed: int,
    epoch: int,
    rotate: Sequence[str] = (),
    balance: str = "equal",
) -> list[dict[str, dict[str, torch.Tensor]]]:
    """``steps`` batches ``{subject: {"voxels" (b, V)[, "image", "text"]}}`` for one epoch, deterministic
    given (seed, epoch).

    ``parts[subject] = (data, training ids, with_targets)``; each subject's ids are reshuffled every epoch
    (cycling when it has fewer than the others) and one repeat is drawn per stimulus. The subjects named in
    ``rotate`` take turns: global step ``t`` holds only the ``t mod len(rotate)``-th of them.

    ``balance`` sets each subject's share of a step (:data:`~neuromodels.decoding.settings.BALANCES`): ``equal``
    gives every subject ``batch_size`` images (a subject with fewer images is cycled more often), ``trials``
    gives it ``batch_size`` x its images / the largest subject's (each subject's images once per epoch).
    """
    batches: list[dict[str, dict[str, torch.Tensor]]] = [{} for _ in range(steps)]
    rotate = [s for s in rotate if s in parts]
    for i, (subject, (data, ids, with_targets)) in enumerate(parts.items()):
        rng = np.random.default_rng([seed, epoch, i])
        if subject in rotate:
            turn = rotate.index(subject)
            where = [k for k in range(steps) if (epoch * steps + k) % len(rotate) == turn]
        else:
            where = list(range(steps))
        if not where:
            continue
        b = min(batch_size, len(ids))
        if balance == "trials":
            most = max(len(p[1]) for p in parts.values())
            b = max(1, min(b, round(batch_size * len(ids) / most)))
        need = len(where) * b
        order = np.concatenate([rng.permutation(len(ids)) for _ in range(math.ceil(need / len(ids)))])[:need]
        chosen = ids[order]
        voxels = torch.from_numpy(data.sample_repeats(chosen, rng))
        emb = (
            {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.take(chosen).items()}
            if with_targets
            else {}
        )
        for j, k in enumerate(where):
            sl = slice(j * b, (j + 1) * b)
            item = {"voxels": voxels[sl]}
            item.update({name: v[sl] for name, v in emb.items()})
            batches[k][subject] = item
    return batches


def _settings(
    cfg: TrainConfig,
    epochs: int,
    lr: float,
    checkpoint: str | None,
    desc: str,
    max_steps: int | None = None,
    progress: bool = True,
) -> TrainSettings:
    return TrainSettings(
        epochs=epochs,
        max_steps=max_steps,
        lr=lr,
        weight_decay=cfg.weight_decay,
        grad_clip=cfg.grad_clip,
        precision=cfg.precision,
        scheduler=cfg.scheduler,
        checkpoint_path=checkpoint,
        checkpoint_every=cfg.checkpoint_every,
        progress=progress,
        desc=desc,
    )


def _fit(
    model: DecoderBase,
    parts: Mapping[str, tuple[SubjectData, np.ndarray, bool]],
    targets: Targets,
    settings: TrainSettings,
    batch_size: int,
    steps_per_epoch: int,
    weights: LossWeights,
    seed: int,
    device: torch.device,
    new_subject: str | None = None,
    cycle_both_ways: bool = False,
    rotate: Sequence[str] = (),
    balance: str = "equal",
) -> TrainResult:
    def loss_fn(m: torch.nn.Module, batch: Mapping) -> Any:
        return decoder_loss(m, batch, weights, new_subject, cycle_both_ways)  # type: ignore[arg-type]

    def data_fn(epoch: int) -> list:
        return epoch_batches(parts, targets, batch_size, steps_per_epoch, seed, epoch, rotate, balance)

    trainer = Trainer(model, loss_fn, settings, device)
    result = trainer.fit(data_fn, steps_per_epoch=steps_per_epoch)
    model.eval()
    return result


def train_joint(
    data: DecodingData,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    weights: LossWeights,
    seed: int,
    device: torch.device,
    checkpoint: str | None = None,
    progress: bool = True,
) -> tuple[DecoderBase, TrainResult]:
    """One model over every subject of ``data`` (the source subjects)."""
    from .settings import BALANCES

    if cfg.balance not in BALANCES:
        raise ConfigError("decoding.train.balance", f"must be one of {', '.join(BALANCES)}, got {cfg.balance!r}")
    seed_everything(seed)
    n_train = int(np.median([len(v) for v in data.train_ids.values()]))
    auto = model_cfg.automatic()
    model_cfg = replace(
        model_cfg, subjects=data.n_voxels(), image_dim=data.targets.image_dim, text_dim=data.targets.text_dim
    ).resolved(n_train)
    model = build_model(model_cfg)
    parts = {s: (d, data.train_ids[s], True) for s, d in data.subjects.items()}
    steps = math.ceil(max(len(v) for v in data.train_ids.values()) / cfg.batch_size)
    lr = auto_lr(cfg.epochs * steps) if cfg.lr is None else cfg.lr
    _log_automatic(model_cfg, auto + (["lr"] if cfg.lr is None else []), n_train, lr)
    settings = _settings(cfg, cfg.epochs, lr, checkpoint, f"{model_cfg.kind} joint", progress=progress)
    log.info("joint %s over %s: %d epochs x %d steps", model_cfg.kind, ", ".join(parts), cfg.epochs, steps)
    result = _fit(
        model, parts, data.targets, settings, cfg.batch_size, steps, weights, seed, device, balance=cfg.balance
    )
    return model, result


def _log_automatic(cfg: ModelConfig, names: Sequence[str], n_train: int, lr: float | None = None) -> None:
    if names:
        values = {"pooled": cfg.pooled, "pool": cfg.pool, "embed_dropout": cfg.embed_dropout, "lr": lr}
        log.info(
            "settings that follow the data (%s voxels, %d training images per subject): %s",
            "/".join(str(v) for v in cfg.subjects.values()),
            n_train,
            ", ".join(f"{n} {values[n]}" for n in names),
        )


DRAW_STRIDE = 1000


def draw_seeds(seed: int, draws: int) -> list[int]:
    """The seeds of ``draws`` fits of one job: draw ``d`` is seeded ``seed + 1000 d`` (its training subset and its
    initialisation), so draw 0 is the job's seed itself and each draw is nested across n like a seed of its own."""
    if draws < 1:
        raise ConfigError("decoding.draws", f"at least one draw, got {draws}")
    return [seed + DRAW_STRIDE * d for d in range(draws)]


def adaptation_steps(n: int, cfg: TrainConfig) -> tuple[int, int]:
    """(steps per epoch, total steps) of an adaptation with ``n`` training images."""
    spe = math.ceil(n / min(cfg.batch_size, n))
    return spe, max(cfg.adapt_min_steps, cfg.adapt_epochs * spe)


def adapt(
    data: DecodingData,
    method: str,
    subject: str,
    n_train: int | str,
    cfg: TrainConfig,
    weights: LossWeights,
    seed: int,
    device: torch.device,
    base: Mapping | None = None,
    model_cfg: ModelConfig | None = None,
    sources: Sequence[str] = (),
    checkpoint: str | None = None,
    progress: bool = True,
) -> tuple[DecoderBase | RidgeDecoder, dict[str, Any]]:
    """Fit ``subject`` with ``n_train`` training images by ``method``; return the fitted model and a record
    (method, subject, n_train, train seconds, samples/s).

    ``base`` is a saved joint model (``{"config", "model"}``) for the reset/adapter/fine-tune methods;
    ``model_cfg`` the network for ``scratch``; ``sources`` the source subjects the two reset-tuning methods
    train beside the new one (they must be loaded in ``data``).
    """
    if method not in METHODS:
        raise ConfigError("decoding.methods", f"unknown method {method!r} (one of {', '.join(METHODS)})")
    seed_everything(seed)
    ids = train_subset(data.train_ids[subject], n_train, seed)
    record: dict[str, Any] = {"method": method, "subject": subject, "n_train": int(len(ids)), "seed": seed}
    target = data.subjects[subject]
    recipe = method
    if method == "shuffled_stimuli":  # reset-tuning on the wrong pairs
        recipe = "mindbridge_reset"
        target = shuffle_pairs(target, ids, seed)
        record["shuffled_pairs"] = int(len(ids))
    if method == "ridge":
        import time

        t0 = time.perf_counter()
        ridge = RidgeDecoder().fit(target.average_repeats(ids), data.targets.take(ids))
        record.update(train_seconds=time.perf_counter() - t0, alphas=ridge.chosen_alphas())
        return ridge, record

    parts: dict[str, tuple[SubjectData, np.ndarray, bool]] = {subject: (target, ids, True)}
    new_subject, both_ways, rotate = None, False, []
    if method == "scratch":
        require(model_cfg is not None, None, "scratch needs a model configuration")
        mc = replace(
            model_cfg,
            kind="mindbridge",
            subjects={subject: target.n_voxels},  # type: ignore[arg-type]
            image_dim=data.targets.image_dim,
            text_dim=data.targets.text_dim,
        ).resolved(len(ids))
        _log_automatic(mc, model_cfg.automatic(), len(ids))  # type: ignore[union-attr]
        model: DecoderBase = build_model(mc)
    else:
        require(base is not None, None, f"{method} needs a trained joint model")
        model = model_from_state(base)  # type: ignore[arg-type]
        want = BASE_KIND[method]
        if model.config.kind != want:
            raise ConfigError("decoding.methods", f"{method} needs a {want} joint model, got {model.config.kind}")
        require(
            subject not in model.config.subjects,
            None,
            f"{subject} was a source subject of the joint model; hold it out to adapt to it",
        )
        torch.manual_seed(seed)
        model.add_subject(subject, target.n_voxels)  # type: ignore[attr-defined]
        frozen = recipe in ("mindbridge_reset_frozen", "linear_adapter")
        model.train_only([subject], shared=not frozen)
        if not frozen:  # every part trains, the source subjects' own parts too
            for p in model.parameters():
                p.requires_grad_(True)
        if recipe in ("mindbridge_reset", "mindbridge_reset_frozen"):
            used = [s for s in sources if s in model.config.subjects and s != subject]
            require(bool(used), None, f"{method} needs source subjects of the joint model (--sources)")
            for s in used:
                require(s in data.subjects, None, f"source subject {s} is not loaded")
                # the published procedure: source batches carry their images; the frozen variant: voxels only
                parts[s] = (data.subjects[s], data.train_ids[s], recipe == "mindbridge_reset")
            new_subject = subject
            both_ways = recipe == "mindbridge_reset_frozen"
            rotate = used if recipe == "mindbridge_reset" else []
            record["sources"] = used
    spe, total = adaptation_steps(len(ids), cfg)
    settings = _settings(
        cfg,
        math.ceil(total / spe),
        cfg.adapt_lr,
        checkpoint,
        f"{method} {subject} n={len(ids)}",
        max_steps=total,
        progress=progress,
    )
    log.info("%s on %s with %d images: %d steps", method, subject, len(ids), total)
    result = _fit(
        model,
        parts,
        data.targets,
        settings,
        cfg.batch_size,
        spe,
        weights,
        seed,
        device,
        new_subject=new_subject,
        cycle_both_ways=both_ways,
        rotate=rotate,
    )
    record.update(
        train_seconds=result.seconds,
        steps=result.steps,
        samples_per_second=result.samples_per_second,
        trainable=int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
    )
    return model, record


@torch.no_grad()
def predict(
    model: DecoderBase | RidgeDecoder,
    subject: SubjectData,
    ids: np.ndarray,
    device: torch.device | str = "cpu",
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Predicted embeddings ``{"image", "text"?}`` for ``ids`` from the subject's repeat-averaged betas."""
    voxels = subject.average_repeats(ids)
    if isinstance(model, RidgeDecoder):
        return model.predict(voxels)
    model.eval().to(device)
    out: dict[str, list[np.ndarray]] = {"image": [], "text": []}
    for start in range(0, len(voxels), chunk):
        x = torch.from_numpy(voxels[start : start + chunk]).to(device)
        img, txt = model(subject.subject, x)
        out["image"].append(img.float().cpu().numpy())
        if txt is not None:
            out["text"].append(txt.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items() if v}


def evaluate_subject(
    model: DecoderBase | RidgeDecoder,
    data: DecodingData,
    subject: str,
    cfg: TrainConfig,
    seed: int,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Metrics of one subject on the shared test set (repeats averaged); a warning when the predictions
    collapsed (:func:`neuromodels.decoding.evaluate.collapse_check`)."""
    pred = predict(model, data.subjects[subject], data.test_ids, device)
    out = score(pred, data.targets.take(data.test_ids), batch=cfg.eval_batch, draws=cfg.eval_draws, seed=seed)
    if out.get("collapsed"):
        log.warning(
            "%s: predictions collapsed on the %d test stimuli (mean pairwise cosine %.4f, variance "
            "across stimuli %.2g of the targets'): a prediction picking its stimulus is at chance, whatever "
            "the loss says",
            subject,
            len(data.test_ids),
            out.get("image_pred_cosine", float("nan")),
            out.get("image_spread", float("nan")),
        )
    return out


def model_state(model: DecoderBase, extra: Mapping | None = None) -> dict:
    """What a saved decoder holds: its config, weights and ``extra`` (e.g. the training record)."""
    return {"config": asdict(model.config), "model": model.state_dict(), "extra": dict(extra or {})}
