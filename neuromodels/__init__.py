"""neuromodels: brain-facing models run, compared and fine-tuned reproducibly."""

__version__ = "0.1.0"
