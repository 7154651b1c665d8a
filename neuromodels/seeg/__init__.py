"""SEEG encoding comparisons (Subramaniam et al., ICML 2024) on Brain Treebank-style recordings.

Modules: :mod:`.data` (reader and validation of the recording format, BIDS iEEG reader), :mod:`.preprocess`
(MNE notch, re-referencing, high-gamma envelope, event-locked time bins), :mod:`.simulate` (writes the format
with planted electrode classes), :mod:`.features` (per-layer features of networks for image-text events, and the
extractor interface), :mod:`.ridge` (grouped-CV ridge solver with one decomposition per fold), :mod:`.stats`
(bootstrap over events, FDR, the test ladder), :mod:`.evaluate` (tables and figures).
"""
