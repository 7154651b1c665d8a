"""NSD-style fMRI data: readers, validation and writers (the simulator writes the simple layout), re-exported
from the modules that hold them:

* :mod:`.datasets`: the two layouts (the project's simple layout, :class:`SimpleDataset`, and NSD's own
  release read as it is published, :class:`NSDRelease`), described there, and :func:`open_dataset`, which
  opens either (``decoding.layout``: ``simple``, ``nsd_release`` or ``auto``).
* :mod:`.readers`: the readers of a subject's files (mask, trials, betas), of the stimuli file and of the
  captions, with their validation (:class:`~neuromodels.core.errors.DataError` naming the file and the
  problem), per-session z-scoring and the subject they make (:class:`SubjectData`: repeats averaged at test
  time, sampled during training).
* :mod:`.ids`: stimulus ids, integers or strings (:func:`canonical_ids`), and lists of ids read from files
  (:func:`read_id_list`).
* :mod:`.splits`: the test split (:func:`choose_test_split`: ``shared``, ``file`` or ``fraction``).
* :mod:`.writers`: the writers of the simple layout (:func:`write_stimuli`, :func:`write_subject`).

The layouts' file names (``RELEASE_BETAS`` and the others) live in :mod:`.workflow` and are re-exported here
too.
"""

from __future__ import annotations

from .datasets import BETA_SCALE, LAYOUTS, NSDRelease, ReleaseOptions, SimpleDataset, open_dataset
from .ids import canonical_ids, id_key, load_npy, missing_ids, read_id_list, read_ids_dataset, write_ids_dataset
from .readers import (
    STIMULI_NAME,
    TRIAL_COLUMNS,
    SubjectData,
    list_subjects,
    read_captions,
    read_images,
    read_mask,
    read_stimulus_ids,
    read_subject,
    read_trials,
    shared_ids,
    stimuli_file,
    zscore_sessions,
)
from .splits import SPLITS, TestSplit, choose_test_split
from .workflow import (
    BETAS_H5,
    BETAS_NAMES,
    CAPTIONS_NAME,
    MASK_NAME,
    RELEASE_BETAS,
    RELEASE_EXPDESIGN,
    RELEASE_ROI,
    RELEASE_SESSION,
    RELEASE_STIMULI,
    STIMULI_NAMES,
    TRIALS_NAME,
    detect_layout,
)
from .writers import write_stimuli, write_subject

__all__ = [
    # ids
    "canonical_ids",
    "id_key",
    "missing_ids",
    "read_ids_dataset",
    "write_ids_dataset",
    "read_id_list",
    "load_npy",
    # readers
    "SubjectData",
    "list_subjects",
    "read_mask",
    "read_trials",
    "stimuli_file",
    "read_stimulus_ids",
    "read_images",
    "read_captions",
    "zscore_sessions",
    "read_subject",
    "shared_ids",
    "STIMULI_NAME",
    "TRIAL_COLUMNS",
    # data sets
    "SimpleDataset",
    "ReleaseOptions",
    "NSDRelease",
    "open_dataset",
    "LAYOUTS",
    "BETA_SCALE",
    # test split
    "TestSplit",
    "choose_test_split",
    "SPLITS",
    # writers
    "write_stimuli",
    "write_subject",
    # the layouts' file names (from .workflow)
    "BETAS_H5",
    "BETAS_NAMES",
    "CAPTIONS_NAME",
    "MASK_NAME",
    "RELEASE_BETAS",
    "RELEASE_EXPDESIGN",
    "RELEASE_ROI",
    "RELEASE_SESSION",
    "RELEASE_STIMULI",
    "STIMULI_NAMES",
    "TRIALS_NAME",
    "detect_layout",
]
