"""The search tests run many small convolutions, for which one torch thread is faster than two (and not
disturbed by other jobs on a busy machine)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
