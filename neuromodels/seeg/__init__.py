"""SEEG encoding comparisons (Subramaniam et al., ICML 2024) on Brain Treebank-style recordings.

Modules, one per thing they hold: :mod:`.data` (reader and validation of the recording format, BIDS iEEG reader),
:mod:`.simulate` (writes the format with electrode classes planted in the stimulus world; its parts in
:mod:`.simulation_settings`, :mod:`.movies`, :mod:`.drives`, :mod:`.electrodes`, :mod:`.signals`), :mod:`.preprocess`
(MNE notch, bad channels, shaft Laplacian or common average, high-gamma envelope, event-locked time bins),
:mod:`.targets` (binned activity around the events of every movie), :mod:`.features` (per-layer features of
networks for image-text events, the extractor interface, the interaction feature), :mod:`.ridge` (grouped-CV
ridge solver with one decomposition per fold), :mod:`.encoding` (every model, pair and baseline of one
alignment), :mod:`.stats` (block bootstrap, FDR), :mod:`.ladder` (the per-electrode test ladder),
:mod:`.evaluate` (tables, the statistics of the claims registry `claims.yaml`), :mod:`.figures`, :mod:`.presets`, :mod:`.bench`, :mod:`.commands`.
"""
