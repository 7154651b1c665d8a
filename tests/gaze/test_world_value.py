"""workflow/scripts/gaze_appearance.py: what the distractors' appearance is worth in the simulated world (the
measurement behind docs/gaze.md's paragraph on it), checked for its order on one tiny draw."""

from __future__ import annotations

import importlib.util

from tests.conftest import ROOT


def _script():
    spec = importlib.util.spec_from_file_location(
        "gaze_appearance", ROOT / "workflow" / "scripts" / "gaze_appearance.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_knowing_more_of_the_world_scores_higher_and_no_walk_beats_the_viewers_own_law_by_much():
    """The generator's own walk knowing every object's similarity scores above the same walk knowing only the
    target, which scores far above one walking on distance alone; none of them exceeds the viewers' agreement with
    each other by more than the sampling noise of one tiny draw."""
    value = _script().world_value("tiny", seed=0, walk={}, samples=6)
    assert value["oracle"] > value["target_only"] > value["distance_only"] + 0.15
    assert value["oracle"] < value["ceiling"] + 0.08
    # with no guidance by appearance at all, knowing it is worth nothing
    flat = _script().world_value("tiny", seed=0, walk={"w_similarity": 0.0}, samples=6)
    assert abs(flat["oracle"] - flat["target_only"]) < 0.02
