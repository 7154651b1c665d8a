"""The simulation overrides of the seeg section: known keys reach the simulator, an unknown one stops the run."""

from __future__ import annotations

import pytest

from neuromodels.core.errors import ConfigError
from neuromodels.seeg.presets import get_preset


def test_simulation_overrides_reach_the_settings_and_lists_become_tuples():
    preset = get_preset("tiny", {"line_freq": 50, "spread": [0.1, 0.2], "duration": None})
    assert preset.simulation.line_freq == 50 and preset.simulation.spread == (0.1, 0.2)
    assert preset.simulation.duration == get_preset("tiny").simulation.duration  # None keeps the preset's


def test_an_unknown_simulation_key_is_refused_with_one_line():
    with pytest.raises(ConfigError, match=r"config key 'seeg.simulation.bogus': not a seeg.simulation setting"):
        get_preset("tiny", {"bogus": 1})
