"""Gaze tests train small models: one torch thread each (on a loaded 2-core machine a second thread mostly
spins), restored afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
