"""Runtime: logging, device choice, threads, seeding and autocast.

torch is imported by the functions that use it, not by this module: every CLI call sets up logging and threads
through here, and steps that never touch a tensor (summaries, tables, figures) start without torch's second of
imports."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

DevicePreference = Literal["auto", "cpu", "cuda"]
PrecisionPreference = Literal["auto", "fp32", "bf16", "fp16"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def get_logger(name: str = "neuromodels") -> logging.Logger:
    """The package logger (child loggers per module: ``get_logger(__name__)``)."""
    return logging.getLogger(name)


class _StderrHandler(logging.StreamHandler):
    """Writes each record to ``sys.stderr`` as it is at that moment, not as it was when logging was set up
    (a program that calls the CLI several times, or a test capturing stderr, swaps it in between)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(level: int | str = "INFO") -> None:
    """One stderr handler on the package logger; idempotent."""
    root = logging.getLogger("neuromodels")
    root.setLevel(level)
    if not any(getattr(h, "_neuromodels", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
        handler._neuromodels = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False


def select_device(preference: str = "auto", logger: logging.Logger | None = None) -> torch.device:
    """Choose the device and log what runs where.

    ``auto`` takes CUDA when available, else CPU; ``cuda`` fails clearly when no GPU is visible.
    The GPU used is ``cuda:0`` of the visible ones: on a cluster the scheduler (or ``CUDA_VISIBLE_DEVICES``)
    decides which physical GPU that is.
    """
    import torch

    logger = logger or get_logger()
    if preference not in ("auto", "cpu", "cuda"):
        from .errors import ConfigError

        raise ConfigError("device", f"must be one of auto, cpu, cuda; got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError("device", "'cuda' was asked for but torch sees no CUDA device")
    use_cuda = preference == "cuda" or (preference == "auto" and torch.cuda.is_available())
    # under torchrun each process takes the GPU of its local rank
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if use_cuda else "cpu")
    if use_cuda:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "all")
        logger.info(
            "device: %s (%s; CUDA_VISIBLE_DEVICES=%s; torch %s)",
            device,
            torch.cuda.get_device_name(device),
            visible,
            torch.__version__,
        )
    else:
        logger.info("device: cpu (%d threads; torch %s)", torch.get_num_threads(), torch.__version__)
    return device


#: what the BLAS libraries (numpy's and scipy's OpenBLAS, MKL) and OpenMP read when they load
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n: int | None) -> None:
    """Make a job's ``threads`` reach torch and the BLAS under numpy and scipy, so parallel jobs do not
    oversubscribe the cores (two jobs of one thread each had each OpenBLAS run two threads). Libraries not yet
    loaded read the environment; those loaded already are limited directly (torch; BLAS through threadpoolctl)."""
    if n is not None and n > 0:
        for name in _THREAD_VARIABLES:
            os.environ[name] = str(int(n))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(n))
        if "numpy" in sys.modules or "scipy" in sys.modules:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=int(n), user_api="blas")


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started as one of several (its environment names the rank)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return a torch Generator seeded the same way.

    With ``deterministic`` the cuDNN autotuner is off and deterministic kernels are preferred, so the same
    seed gives the same numbers on the same machine.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def rng(seed: int) -> np.random.Generator:
    """A numpy Generator for ``seed`` (use one per purpose instead of the global state)."""
    return np.random.default_rng(seed)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32.

    ``auto`` is bf16 on a CUDA device that supports it (fp16 otherwise) and fp32 on CPU.
    """
    import torch

    if precision in ("fp32", None):
        return None
    if device.type != "cuda":
        if precision == "auto":
            return None
        if precision == "fp16":
            get_logger(__name__).warning(
                "fp16 autocast is for CUDA; computing in fp32 on %s (bf16 works there)", device
            )
            return None
        return torch.bfloat16 if precision == "bf16" else None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` when ``dtype`` is set, a no-op otherwise."""
    import torch

    if dtype is None:
        yield
    else:
        with torch.autocast(device_type=device.type, dtype=dtype):
            yield


def rng_state() -> dict:
    """Snapshot of every RNG the training loop touches (python, numpy, torch CPU and CUDA)."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    # plain containers and tensors only, so a checkpoint loads with weights_only=True
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import torch

    random.setstate(tuple(state["python"][:1]) + (tuple(state["python"][1]),) + tuple(state["python"][2:]))
    npy = state["numpy"]
    np.random.set_state(
        (npy["kind"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class LogProgress:
    """Progress of a long loop as log lines, for a stderr that is a file (a Snakemake log) rather than a
    terminal: one line every ``every`` seconds and one at the end, where a progress bar would write hundreds
    of carriage-return redraws into the file. Has the parts of tqdm's interface the package uses."""

    def __init__(
        self, total: int, initial: int = 0, desc: str = "", every: float = 30.0, logger: logging.Logger | None = None
    ) -> None:
        import time

        self._clock = time.monotonic
        self.total, self.n, self.desc, self.every = int(total), int(initial), desc, float(every)
        self.logger = logger or get_logger(__name__)
        self.postfix: dict[str, object] = {}
        self._start_n, self._start = self.n, self._clock()
        self._last = self._start
        self._reported = self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._clock() - self._last >= self.every:
            self._emit()

    def set_postfix(self, refresh: bool = True, **values: object) -> None:
        self.postfix = values

    def close(self) -> None:
        if self.n > self._reported:
            self._emit()

    def _emit(self) -> None:
        now = self._clock()
        done = self.n - self._start_n
        rate = done / (now - self._start) if now > self._start else float("nan")
        text = f"{self.desc}: {self.n}/{self.total} steps ({100.0 * self.n / max(self.total, 1):.0f}%)"
        if rate == rate and rate > 0:  # not NaN
            text += f", {rate:.3g} steps/s"
            if self.n < self.total:
                text += f", about {(self.total - self.n) / rate:.0f} s left"
        if self.postfix:
            text += ", " + ", ".join(f"{k}={v}" for k, v in self.postfix.items())
        self.logger.info(text)
        self._last, self._reported = now, self.n


def progress_bar(total: int, initial: int = 0, desc: str = "", enabled: bool = True, every: float = 30.0, stream=None):
    """A tqdm bar on an interactive terminal, :class:`LogProgress` lines when stderr goes to a file, nothing
    when disabled."""
    from tqdm.auto import tqdm

    stream = sys.stderr if stream is None else stream
    if not enabled:
        return tqdm(total=total, initial=initial, desc=desc, disable=True)
    if getattr(stream, "isatty", lambda: False)():
        return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, file=stream)
    return LogProgress(total, initial=initial, desc=desc, every=every)
