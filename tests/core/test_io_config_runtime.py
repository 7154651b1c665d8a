"""Atomic writes, config checking with one-line errors, seeding, device choice, activations by layer name."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from neuromodels.core.activations import extract_activations, layer_names
from neuromodels.core.config import check_config, module_digest
from neuromodels.core.errors import ConfigError, DataError, NeuromodelsError, require
from neuromodels.core.io import atomic_path, read_json, write_json, write_table
from neuromodels.core.runtime import resolve_precision, seed_everything, select_device

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "table.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_path_replaces_old_file_only_on_success(tmp_path):
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("{broken")
            raise ValueError
    assert read_json(target) == {"v": 1}
    write_json(target, {"v": np.float32(2.5), "arr": np.arange(2)})
    assert read_json(target) == {"v": 2.5, "arr": [0, 1]}


def test_a_write_killed_midway_leaves_a_temporary_the_next_write_removes(tmp_path, caplog):
    """SIGKILL inside atomic_path skips every cleanup: the next write of the same target removes what it left,
    and only that (another target's temporary stays)."""
    import subprocess
    import sys

    target = tmp_path / "checkpoint.pt"
    child = (
        "import os, signal, sys\n"
        "from neuromodels.core.io import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", child, str(target)]).returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".checkpoint.") and left[0].endswith(".pt")
    import neuromodels.core.distributed  # noqa: F401  (loaded by every trainer: a plain run is still one process)

    other = tmp_path / ".model.abcd1234.pt"
    other.write_bytes(b"another target's")
    with caplog.at_level(logging.WARNING, logger="neuromodels"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.abcd1234.pt", "checkpoint.pt"]
    assert target.read_bytes() == b"whole"
    assert "removed 1 temporary file(s) left by an interrupted write" in caplog.text


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "m.json", {})
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_table_roundtrip(tmp_path):
    df = pd.DataFrame({"subject": ["s1", "s2"], "r": [0.5, 0.25]})
    write_table(tmp_path / "t.csv", df)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), df)


def test_read_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(DataError, match=r"bad.json: not valid JSON"):
        read_json(bad)
    with pytest.raises(DataError, match=r"missing.json: file not found"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(DataError, match=r"x.h5: 3 NaN"):
        require(False, "x.h5", "3 NaN voxels inside the mask")


def test_config_defaults_filled_from_schema():
    config = check_config({}, SCHEMA)
    assert config["preset"] == "default" and config["device"] == "auto" and config["seeds"] == [0]
    assert config["stimuli"]["image_size"] == 64  # filled through the $ref'd family schema


def test_shipped_config_is_valid():
    import yaml

    with open(ROOT / "workflow" / "config" / "config.yaml") as fh:
        check_config(yaml.safe_load(fh), SCHEMA)


@pytest.mark.parametrize(
    "config, key, problem",
    [
        ({"preset": "huge"}, "preset", "is not one of"),
        ({"devise": "cpu"}, "devise", "unknown key"),
        ({"seeds": [0, "a"]}, "seeds.1", "is not of type 'integer'"),
        ({"stimuli": {"image_size": 4}}, "stimuli.image_size", "less than the minimum"),
        ({"stimuli": {"n_pics": 3}}, "stimuli.n_pics", "unknown key"),
    ],
)
def test_config_errors_name_the_key_in_one_line(config, key, problem):
    with pytest.raises(ConfigError) as info:
        check_config(config, SCHEMA)
    message = str(info.value)
    assert info.value.key == key
    assert problem in message and "\n" not in message


def test_seed_everything_repeats_numbers():
    seed_everything(11)
    a = (torch.rand(3), np.random.rand(3))
    seed_everything(11)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_select_device_logs_and_refuses_missing_cuda(caplog):
    with caplog.at_level(logging.INFO, logger="neuromodels"):
        logger = logging.getLogger("neuromodels.test")
        logger.propagate = True
        assert select_device("cpu", logger=logger).type == "cpu"
    assert any("device: cpu" in r.message for r in caplog.records)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device"):
            select_device("cuda")
    with pytest.raises(ConfigError):
        select_device("tpu")
    assert resolve_precision("auto", torch.device("cpu")) is None


def test_extract_activations_matches_manual_forward():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    x = torch.randn(10, 4)
    acts = extract_activations(model, [x[:6], x[6:]], ["0", "1", "2"])
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(acts["1"]), torch.relu(model[0](x)))
        torch.testing.assert_close(torch.from_numpy(acts["2"]), model(x))
    assert layer_names(model) == ["0", "1", "2"]
    with pytest.raises(ConfigError, match="unknown layer"):
        extract_activations(model, [x], ["nope"])


def test_module_digest_follows_the_source_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "presetpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "presets.py"
    source.write_text("raise RuntimeError('importing runs this')\nEPOCHS = 10\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = module_digest("presetpkg.presets")  # no RuntimeError: the module is not executed
    assert first == module_digest("presetpkg.presets")
    source.write_text("raise RuntimeError('importing runs this')\nEPOCHS = 20\n")
    assert module_digest("presetpkg.presets") != first
    with pytest.raises(NeuromodelsError, match="no_such_module"):
        module_digest("presetpkg.no_such_module")
    # defaults the presets take from a sibling module count too (transitively), others do not
    (package / "settings.py").write_text("from .simulate import RATE\nLR = 0.1\n")
    (package / "simulate.py").write_text("RATE = 2048\n")
    (package / "unrelated.py").write_text("X = 1\n")
    source.write_text("from .settings import LR\nEPOCHS = 20\n")
    before = module_digest("presetpkg.presets")
    (package / "unrelated.py").write_text("X = 2\n")
    assert module_digest("presetpkg.presets") == before
    (package / "simulate.py").write_text("RATE = 1000\n")
    assert module_digest("presetpkg.presets") != before


def test_progress_is_a_bar_on_a_terminal_and_log_lines_in_a_log_file(caplog):
    import io

    from tqdm.auto import tqdm

    from neuromodels.core.runtime import LogProgress, progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress_bar(10, desc="train", stream=Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress_bar(10, desc="train", stream=io.StringIO()), LogProgress)
    assert progress_bar(10, enabled=False).disable

    with caplog.at_level("INFO", logger="neuromodels"):
        p = LogProgress(10, initial=2, desc="crossvit base", every=3600)
        p.update()  # within the interval: no line yet
        assert not caplog.records
        p.every = 0.0
        p.set_postfix(loss="1.23", refresh=False)
        p.update(2)
        p.close()  # nothing new since the last line: no repeat
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert lines[0].startswith("crossvit base: 5/10 steps (50%)") and "s left" in lines[0] and "loss=1.23" in lines[0]


def test_a_jobs_threads_reach_the_blas_loaded_before_and_after():
    """`--threads 1`: numpy's BLAS (loaded before) and scipy's (loaded after) run one thread each, so two jobs
    on two cores do not run four."""
    import json
    import subprocess
    import sys

    child = (
        "import numpy\n"
        "from neuromodels.core.runtime import set_threads\n"
        "set_threads(1)\n"
        "import scipy.linalg\n"
        "from threadpoolctl import threadpool_info\n"
        "import json\n"
        "print(json.dumps([(i['filepath'], i['num_threads']) for i in threadpool_info() if i['user_api'] == 'blas']))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, check=True).stdout
    pools = json.loads(out)  # [library, threads] per BLAS loaded
    assert pools and all(threads == 1 for _, threads in pools), pools
