"""The ways test trials are held out of a scanpath data set (:func:`split_trials`: ``trials``, ``layouts``,
``targets``), and the error of a split the data cannot form (:class:`SplitUnavailable`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import ConfigError
from .coco_search18 import DATA_SPLITS
from .scanpaths import ScanpathDataset

__all__ = ["split_trials", "SplitUnavailable"]


class SplitUnavailable(ConfigError):
    """A split the data cannot form (e.g. held-out layouts on data of one layout): the run skips it with a log
    line and a count in the summary's notes instead of stopping."""

    def __init__(self, kind: str, problem: str) -> None:
        super().__init__("gaze.splits", f"'{kind}' cannot be formed from this data: {problem}")
        self.kind, self.reason = kind, problem


def split_trials(
    dataset: ScanpathDataset,
    kind: str,
    seed: int,
    test_fraction: float = 0.25,
    val_fraction: float = 0.1,
    heldout_layout: str = "",
) -> dict[str, Any]:
    """Trial ids of ``train``, ``val`` and ``test`` for one way of holding trials out (seeded), and ``how``.

    ``trials``: the data set's own train / valid / test when every trial has one (``data_split``, e.g.
    COCO-Search18's ``split`` field; files without test records have their valid trials tested and a validation
    share drawn from train, said in ``how``), else a random ``test_fraction`` of trials. ``layouts``: every
    trial of ``heldout_layout`` (default: the last layout by name, e.g. ``irregular``). ``targets``: the trials
    whose target label is one of a random set of labels covering about ``test_fraction`` of trials. ``val`` is
    drawn from the rest. A split the data cannot form (one layout, one target label, no test or no training
    trial) raises :class:`SplitUnavailable`.
    """
    rng = np.random.default_rng([seed, 11])
    ids = sorted(dataset.trials)
    how = f"seeded {kind} split"
    own = {t: DATA_SPLITS.get(dataset.trials[t].data_split, "") for t in ids}
    if kind == "trials" and ids and all(own.values()):
        parts = {name: [t for t in ids if own[t] == name] for name in ("train", "val", "test")}
        how = "the data set's own train / valid / test"
        if not parts["test"] and parts["val"]:
            parts["test"], parts["val"] = parts["val"], []
            how = "the data set's own split, its valid trials tested (the files hold no test records)"
        if not parts["train"] or not parts["test"]:
            raise SplitUnavailable(kind, "its own split fields give no training or no test trial")
        if not parts["val"]:
            train = list(rng.permutation(parts["train"]))
            n_val = max(1, int(round(val_fraction * len(train)))) if len(train) > 2 else 0
            parts["val"], parts["train"] = train[:n_val], train[n_val:]
            how += "; validation drawn from train"
        return {
            "train": sorted(str(t) for t in parts["train"]),
            "val": sorted(str(t) for t in parts["val"]),
            "test": sorted(str(t) for t in parts["test"]),
            "how": how,
        }
    if kind == "trials":
        order = rng.permutation(ids)
        n_test = max(1, int(round(test_fraction * len(ids))))
        test = set(order[:n_test])
    elif kind == "layouts":
        layouts = dataset.layouts
        if len(layouts) < 2:
            raise SplitUnavailable(kind, f"it needs displays of at least two layouts, got {layouts}")
        held = heldout_layout or layouts[-1]
        if held not in layouts:
            raise ConfigError("gaze.heldout_layout", f"{held!r} is not a layout of the data ({layouts})")
        test = {t for t in ids if dataset.trials[t].layout == held}
    elif kind == "targets":
        labels = sorted({dataset.trials[t].target_label for t in ids})
        if len(labels) < 2:
            raise SplitUnavailable(kind, "it needs at least two different targets")
        test = set()
        for label in rng.permutation(labels):
            if len(test) >= test_fraction * len(ids):
                break
            test |= {t for t in ids if dataset.trials[t].target_label == label}
    else:
        raise ConfigError("gaze.splits", f"unknown split {kind!r} (trials, layouts, targets)")
    rest = [t for t in ids if t not in test]
    if not rest or not test:
        raise SplitUnavailable(kind, "it leaves no training or no test trial")
    rest = list(rng.permutation(rest))
    n_val = max(1, int(round(val_fraction * len(rest)))) if len(rest) > 2 else 0
    # plain str (not numpy's), so that a model file holding the split loads without pickles
    return {
        "train": sorted(str(t) for t in rest[n_val:]),
        "val": sorted(str(t) for t in rest[:n_val]),
        "test": sorted(str(t) for t in test),
        "how": how,
    }
