"""Gaze tests train small models: one torch thread each (see tests.conftest.one_torch_thread)."""

from __future__ import annotations

import pytest

from tests.conftest import one_torch_thread

one_thread = pytest.fixture(autouse=True)(one_torch_thread)
