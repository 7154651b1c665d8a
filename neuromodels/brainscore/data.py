"""Data of the brainscore family on disk, re-exported from the modules that hold them:

* :mod:`.image_sets`: image classification sets (HDF5 or an image folder; :class:`ImageDataset`,
  :func:`read_image_dataset`, :func:`write_image_dataset`, :func:`world_image_dataset`).
* :mod:`.assemblies`: Brain-Score-style neural assemblies (netCDF3 or netCDF4; :func:`read_assembly`,
  :func:`write_assembly`, :func:`make_assembly`) and their preparation for scoring (:func:`drop_nan`,
  :func:`select_time_bins`, :func:`map_regions`, :func:`average_repetitions`).
* :mod:`.stimulus_sets`: stimulus sets in brainio's layout (:func:`read_stimulus_table`,
  :func:`check_stimulus_ids`, :class:`StimulusImages`).
* :mod:`.activation_files`: precomputed activations (:func:`write_activations`, :func:`read_activations`).

Each module's docstring describes its format on disk.
"""

from __future__ import annotations

from .activation_files import read_activations, write_activations
from .assemblies import (
    ASSEMBLY_DIMS,
    DEFAULT_REGIONS,
    NEUROID_COORDS,
    PRESENTATION_COORDS,
    VISUAL_HIERARCHY,
    average_repetitions,
    drop_nan,
    make_assembly,
    map_regions,
    read_assembly,
    select_time_bins,
    write_assembly,
)
from .image_sets import ImageDataset, read_image_dataset, world_image_dataset, write_image_dataset
from .stimulus_sets import StimulusImages, check_stimulus_ids, read_stimulus_table, stimulus_table_path

__all__ = [
    "ImageDataset",
    "write_image_dataset",
    "read_image_dataset",
    "world_image_dataset",
    "make_assembly",
    "write_assembly",
    "read_assembly",
    "drop_nan",
    "select_time_bins",
    "map_regions",
    "average_repetitions",
    "ASSEMBLY_DIMS",
    "PRESENTATION_COORDS",
    "NEUROID_COORDS",
    "DEFAULT_REGIONS",
    "VISUAL_HIERARCHY",
    "stimulus_table_path",
    "read_stimulus_table",
    "check_stimulus_ids",
    "StimulusImages",
    "write_activations",
    "read_activations",
]
