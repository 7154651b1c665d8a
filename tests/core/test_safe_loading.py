"""Files are loaded with weights_only=True: a pickle that would run code is refused, state_dicts and checkpoints
(RNG states included) load, and a pickled module loads only behind the explicit opt-in."""

from __future__ import annotations

import os

import pytest
import torch

from neuromodels.core.errors import DataError
from neuromodels.core.io import PICKLE_RISK, load_checkpoint, save_checkpoint, torch_load, torch_save


class Payload:
    """Unpickling this calls os.system: the attack a weights_only load stops."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "payload": Payload(str(marker))}, path)
    with pytest.raises(DataError, match="evil.pt: holds Python objects besides tensors") as err:
        torch_load(path)
    assert "weights_only" in str(err.value) and "trust" in str(err.value)
    assert not marker.exists()  # the command was never run
    torch_load(path, allow_pickle=True)  # the opt-in does what it says it risks
    assert marker.exists() and "any code" in PICKLE_RISK


def test_a_pickled_module_needs_the_opt_in(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(3, 2), path)
    with pytest.raises(DataError, match="not loaded"):
        torch_load(path)
    assert isinstance(torch_load(path, allow_pickle=True), torch.nn.Linear)


def test_state_dicts_and_checkpoints_load_safely_with_rng_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "ckpt.pt", model, opt, step=7, extra={"fingerprint": "f", "shape": (3, 2)})
    expected = torch.rand(3)  # the draw right after the checkpoint was written
    fresh = torch.nn.Linear(3, 2)
    state = load_checkpoint(
        tmp_path / "ckpt.pt", fresh, torch.optim.AdamW(fresh.parameters(), lr=1e-3), fingerprint="f"
    )
    assert state["step"] == 7 and torch.equal(fresh.weight, model.weight)
    assert torch.equal(torch.rand(3), expected)  # the RNG state came back through the weights-only load
    torch_save(tmp_path / "plain.pt", {"config": {"widths": [8, 16]}, "state_dict": model.state_dict()})
    assert torch_load(tmp_path / "plain.pt")["config"]["widths"] == [8, 16]


def test_a_truncated_file_is_one_line(tmp_path):
    path = tmp_path / "cut.pt"
    torch_save(path, {"w": torch.ones(1000)})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataError, match="cut.pt: not a readable torch file"):
        torch_load(path)
