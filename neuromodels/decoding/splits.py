"""The test split of a data set: the stimuli held out for testing, chosen as every subject's shared stimuli, a
file's list or a seeded fraction (:func:`choose_test_split`), and how they were chosen (:class:`TestSplit`).
A subject's training stimuli are everything it saw outside the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuromodels.core.errors import ConfigError, require
from neuromodels.core.runtime import get_logger

from .datasets import NSDRelease, SimpleDataset
from .ids import _kind_hint, canonical_ids, id_key, missing_ids, read_id_list

__all__ = ["TestSplit", "choose_test_split", "SPLITS"]

log = get_logger(__name__)
SPLITS = ("shared", "file", "fraction")


@dataclass
class TestSplit:
    """The test stimuli and how they were chosen (written with the results)."""

    kind: str
    ids: np.ndarray
    detail: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"test_split": self.kind, "n_test": int(len(self.ids)), **self.detail}


def choose_test_split(
    dataset: SimpleDataset | NSDRelease,
    kind: str = "shared",
    file: str | None = None,
    fraction: float = 0.1,
    seed: int = 0,
) -> TestSplit:
    """The test stimuli of a data set.

    - ``shared``: the stimuli every subject saw (NSD's release: its shared 1000, ``sharedix``, less those a
      subject with fewer sessions never saw);
    - ``file``: the ids listed in ``file`` (:func:`read_id_list`); ids some subject never saw are left out with a
      logged count (every subject is evaluated on the same stimuli), unknown ids are refused;
    - ``fraction``: a seeded random ``fraction`` of the stimuli every subject saw (at least 2); the rest of
      them become training stimuli.

    A subject's training stimuli are then everything it saw outside the test set.
    """
    if kind not in SPLITS:
        raise ConfigError("decoding.test_split", f"must be one of {', '.join(SPLITS)}, got {kind!r}")
    shared, info = dataset.shared_ids()
    if kind == "shared":
        ids, detail = shared, dict(info)
    elif kind == "file":
        if not file:
            raise ConfigError("decoding.test_ids", "test_split 'file' needs a file of test ids")
        listed = read_id_list(file)
        unknown = missing_ids(listed, dataset.stimulus_ids())
        require(
            not unknown,
            file,
            f"{len(unknown)} test id(s) not in the stimuli, e.g. {unknown[:3]}"
            + _kind_hint(listed, dataset.stimulus_ids()),
        )
        keep = np.array([id_key(i) not in set(missing_ids(listed, shared)) for i in listed], dtype=bool)
        dropped = int((~keep).sum())
        if dropped:
            log.warning(
                "test split 'file' (%s): %d of %d listed ids were not seen by every subject and are left out",
                file,
                dropped,
                len(listed),
            )
        ids = np.sort(listed[keep])
        detail = {"source": str(file), "listed": int(len(listed)), "not_seen_by_all": dropped}
    else:
        if not 0 < float(fraction) < 1:
            raise ConfigError("decoding.test_fraction", f"must be between 0 and 1, got {fraction}")
        n = max(2, int(round(float(fraction) * len(shared))))
        if n >= len(shared):
            raise ConfigError(
                "decoding.test_fraction",
                f"{fraction} of the {len(shared)} stimuli every subject saw leaves none to train on",
            )
        pick = np.random.default_rng(seed).permutation(len(shared))[:n]
        ids = np.sort(shared[pick])
        detail = {
            "source": f"seeded fraction of the {len(shared)} stimuli every subject saw",
            "fraction": float(fraction),
            "seed": int(seed),
        }
    require(len(ids) >= 2, dataset.root, f"test split '{kind}' holds {len(ids)} stimuli (needs at least 2)")
    split = TestSplit(kind, canonical_ids(ids), detail)
    log.info("test split '%s': %d stimuli (%s)", kind, len(ids), detail.get("source", ""))
    return split
