"""Cross-subject fMRI decoding on NSD-style data.

* :mod:`.data`: reader and writer of the NSD-style layout (NIfTI ROI mask, betas as per-session NIfTI or an
  HDF5 matrix, HDF5 stimuli, trial CSV), validated with errors that name the file; per-session z-scoring,
  repeats averaged at test time and sampled during training.
* :mod:`.simulate`: writes that layout from the stimulus world's latents with planted reliability.
* :mod:`.targets`: image/text embeddings per stimulus id (user files, a trained encoder bundle, MiniLM).
* :mod:`.models`: MindBridge, the linear-adapter model, ridge; :mod:`.train`: joint training, reset-tuning,
  adapter training, fine-tuning, scratch; :mod:`.evaluate`: retrieval, 2-way identification, correlation,
  tables and figures; :mod:`.bench`: training throughput.

Submodules import torch; this package's ``__init__`` does not, so the workflow helpers load quickly.
"""
