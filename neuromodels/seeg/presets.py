"""Sizes of the family: tiny (CI, seconds), default (a laptop, minutes), full (paper dimensions, not run here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..core.config import override_settings
from ..core.errors import ConfigError
from .simulate import SimulationSettings


@dataclass(frozen=True)
class SeegPreset:
    """Simulation size, CV and statistics settings of one preset."""

    simulation: SimulationSettings
    n_blocks: int = 10  # contiguous movie blocks (CV groups)
    n_outer: int = 5
    n_inner: int = 5
    n_alphas: int = 10
    n_boot: int = 1000
    min_bins: int = 4


PRESETS: dict[str, SeegPreset] = {
    "tiny": SeegPreset(
        SimulationSettings(n_subjects=2, shafts_per_subject=6, contacts_per_shaft=6, target_contacts=3, duration=600.0),
        n_blocks=6,
        n_outer=3,
        n_inner=3,
        n_alphas=6,
        n_boot=1000,
        min_bins=3,
    ),
    "default": SeegPreset(
        SimulationSettings(n_subjects=3, shafts_per_subject=7, contacts_per_shaft=6, target_contacts=4, duration=900.0),
        n_inner=3,
    ),
    # The paper: 7 subjects, 1090 electrodes, 2048 Hz, ~160 time bins (run on a GPU node).
    "full": SeegPreset(
        SimulationSettings(
            n_subjects=7,
            shafts_per_subject=12,
            contacts_per_shaft=13,
            target_contacts=6,
            duration=3600.0,
            n_movies=4,
            sfreq=2048.0,
        ),
        min_bins=10,
    ),
}


def get_preset(name: str, overrides: dict[str, Any] | None = None) -> SeegPreset:
    """The named preset with simulation fields overridden by ``overrides`` (keys of SimulationSettings)."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r} (tiny, default or full)")
    preset = PRESETS[name]
    # an unknown key stops the run with one line naming it (as everywhere in the settings), never dropped
    return replace(preset, simulation=override_settings(preset.simulation, overrides, "seeg.simulation"))
