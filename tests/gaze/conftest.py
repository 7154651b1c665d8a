"""Gaze tests train small models: one torch thread each (see tests.conftest.one_torch_thread), and the small OAT
the test files share."""

from __future__ import annotations

from dataclasses import replace

import pytest

from neuromodels.gaze.models import OATConfig
from tests.conftest import one_torch_thread

# a small OAT: seconds to train on a tiny simulated set; without dropout, so the numbers repeat exactly
SMALL_OAT = OATConfig(
    crop_hw=(10, 10),
    cnn_channels=(4, 8),
    d_feature=16,
    d_position=16,
    heads=2,
    ffn=32,
    encoder_layers=1,
    decoder_layers=1,
    pe_fit_steps=150,
    max_length=8,
    dropout=0.0,
)
# the same with OATConfig's own dropout (the model tests look at training-mode behaviour too)
SMALL_OAT_DROPOUT = replace(SMALL_OAT, dropout=OATConfig().dropout)

one_thread = pytest.fixture(autouse=True)(one_torch_thread)
