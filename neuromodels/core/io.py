"""Atomic writes for every output, and the checkpoint format.

Every file the pipeline writes goes through :func:`atomic_path`: the content is written to a temporary file
in the same folder and renamed over the target, so a killed job never leaves a half-written output that a
later run (or Snakemake) would take for a finished one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

from .runtime import get_logger, rng_state, set_rng_state

PathLike = str | os.PathLike


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on error remove it.
    In a data-parallel run (``torchrun``) only rank 0 writes; the other ranks' files are removed.

    The temporary name keeps the target's suffix so libraries that infer a format from it still work.
    """
    # loaded (with torch) only where a torchrun launch uses it; without it this is the only process
    distributed = sys.modules.get(f"{__package__}.distributed")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if distributed is None or distributed.world_size() == 1:
        # one process writes this target: a temporary left by a killed earlier write of it is dead
        remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=_suffix(path), dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if distributed is not None and not distributed.is_main():
            # a data-parallel run's other ranks compute what rank 0 writes: theirs is dropped
            tmp_path.unlink()
            return
        # mkstemp makes the file private (0600); give it the mode a plain open() would (umask applies),
        # so outputs stay readable by the group on a shared cluster
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _suffix(path: Path) -> str:
    return "".join(path.suffixes) or ".tmp"


def remove_stale_temporaries(path: PathLike) -> int:
    """Remove the temporaries :func:`atomic_path` left beside ``path`` when a process was killed mid-write
    (``.<stem>.<8 random characters><suffix>``); return how many, each removal logged."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.stem)}\.[a-z0-9_]{{8}}{re.escape(_suffix(path))}")
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            if entry.is_file() and pattern.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    if removed:
        get_logger(__name__).warning(
            "%s: removed %d temporary file(s) left by an interrupted write of it", path, removed
        )
    return removed


def _default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_json(path: PathLike, data: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=_default) + "\n")
    return Path(path)


def read_json(path: PathLike) -> Any:
    from .errors import DataError

    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None


def write_text(path: PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_table(path: PathLike, table: pd.DataFrame, index: bool = False) -> Path:
    """Write a table as CSV (``.csv``) or parquet (``.parquet``, needs pyarrow), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=index)
        else:
            table.to_csv(tmp, index=index)
    return path


def save_figure(path: PathLike, fig: Any, dpi: int = 150) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def write_npz(path: PathLike, **arrays: np.ndarray) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return path


def torch_save(path: PathLike, obj: Any) -> Path:
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


# What the opt-in to a pickled file risks, said wherever it is offered.
PICKLE_RISK = (
    "a pickle can run any code it names when loaded: load one only from a source you trust "
    "(e.g. a file you wrote yourself)"
)


def torch_load(path: PathLike, map_location: str | torch.device = "cpu", *, allow_pickle: bool = False) -> Any:
    """Load a file written by ``torch.save`` with ``weights_only=True``: tensors, state_dicts and plain
    containers (dict, list, tuple, str, numbers) only, so loading runs no code from the file. A file holding
    other Python objects (a pickled module, a class instance) is refused with one line, unless the caller passes
    ``allow_pickle=True`` on the user's explicit opt-in (see :data:`PICKLE_RISK`)."""
    import pickle

    import torch

    from .errors import DataError

    if not Path(path).exists():
        raise DataError(path, "file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=not allow_pickle)
    except pickle.UnpicklingError as exc:
        if allow_pickle:
            raise DataError(path, f"not a readable torch file ({str(exc).splitlines()[0][:120]})") from None
        raise DataError(
            path,
            "holds Python objects besides tensors and plain containers, so it was not loaded "
            "(weights_only); save a state_dict with its config, or opt in to loading pickles "
            f"where the setting offers it ({PICKLE_RISK})",
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise DataError(path, f"not a readable torch file ({first})") from None


# ---------------------------------------------------------------------------------------------- checkpoints
CHECKPOINT_VERSION = 1


class StaleCheckpoint(Exception):
    """A checkpoint that belongs to another run (other settings, model or data): not to be resumed."""

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"{path}: {problem}")


def save_checkpoint(
    path: PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: Any | None = None,
    step: int = 0,
    epoch: int = 0,
    extra: dict | None = None,
) -> Path:
    """One file with model, optimizer, scheduler, grad-scaler and RNG states plus the step and epoch.

    Written atomically, so a kill during the write keeps the previous checkpoint intact.
    """
    state = {
        "version": CHECKPOINT_VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(),
        "step": int(step),
        "epoch": int(epoch),
        "extra": extra or {},
    }
    return torch_save(path, state)


def load_checkpoint(
    path: PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
    scaler: Any | None = None,
    restore_rng: bool = True,
    map_location: str | torch.device = "cpu",
    fingerprint: str | None = None,
) -> dict:
    """Restore what :func:`save_checkpoint` wrote into the given objects; return the whole state
    (``step``, ``epoch``, ``extra``).

    With ``fingerprint``, the checkpoint must have been written with the same one (``extra["fingerprint"]``):
    otherwise :class:`StaleCheckpoint` is raised before anything is restored.
    """
    from .errors import DataError

    state = torch_load(path, map_location=map_location)
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise DataError(path, f"not a neuromodels checkpoint (version {CHECKPOINT_VERSION})")
    if fingerprint is not None and (state.get("extra") or {}).get("fingerprint") != fingerprint:
        raise StaleCheckpoint(path, "written by another run: other settings, model or data")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(path, f"checkpoint does not fit this model: {first}") from None
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        set_rng_state(state["rng"])
    get_logger(__name__).info("resumed from %s at step %d (epoch %d)", path, state["step"], state["epoch"])
    return state
