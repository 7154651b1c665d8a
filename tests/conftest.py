"""Shared test settings: small thread counts (CI has 2 cores) and deterministic torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests that read the tiny DAG's outputs (``tiny_run``) run last, in their order: the DAG runs in the
    background from the session's start, and every other test runs meanwhile."""
    items.sort(key=lambda item: "tiny_run" in item.fixturenames)


@pytest.fixture
def cuda_device() -> torch.device:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    return torch.device("cuda:0")


# ----------------------------------------------------------------------------------- the workflow, as users run it
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")


def snakemake_call(*args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a Snakemake run of the project's Snakefile, as a user runs it."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HF_HUB_OFFLINE": "1"}
    return [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), *args], env


def run_snakemake(*args: str, cwd: Path = ROOT, timeout: int = 1500) -> subprocess.CompletedProcess:
    command, env = snakemake_call(*args)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def scratch_workdir(tmp_path: Path) -> Path:
    """A scratch working directory holding the config and schemas the Snakefile refers to."""
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    return tmp_path


# The seeds of the tiny run: seed 0 for every family, and seeds 0 and 1 for SEEG, the family with the most claims
# CI asserts (15 of 31) and the least job time per seed (163 s with the networks its features need, against
# 177-181 s for decoding, Brain-Score and gaze, the DAG run alone on one seed), so that CI asserts its claims
# where they hold on each of two seeds. The claims CI asserts (HOLDS_AT_TINY in tests/test_workflow.py) were
# chosen where they held on seeds 0 and 1 of every family; a dry run over two seeds checks that every seed's jobs
# write their own files (tests/test_workflow.py).
TINY_SEEDS = (0,)
TINY_FAMILY_SEEDS = {"seeg": (0, 1)}


def tiny_seeds(family: str) -> tuple[int, ...]:
    """The seeds the tiny run draws for ``family``."""
    return TINY_FAMILY_SEEDS.get(family, TINY_SEEDS)


def tiny_config(work: Path, seeds: tuple[int, ...] = TINY_SEEDS) -> list[str]:
    """Arguments for the tiny preset on CPU over ``seeds`` (and TINY_FAMILY_SEEDS when ``seeds`` is TINY_SEEDS),
    through a config file in ``work`` (Snakemake reads a ``--config`` list with YAML's base loader, so its
    numbers would arrive as strings).

    The config also declares a model nobody here trained (``tests/test_own_model.py``) and names it in the SEEG,
    Brain-Score, search and gaze model lists: its rows are added beside every family's own, which stay as they
    are without it."""
    import yaml

    from neuromodels.search.presets import get_preset
    from tests.test_own_model import NAME, OWN_MODEL

    config = {
        "preset": "tiny",
        "device": "cpu",
        "seeds": list(seeds),
        "family_seeds": {k: list(v) for k, v in TINY_FAMILY_SEEDS.items()} if seeds == TINY_SEEDS else {},
        "models": OWN_MODEL,
        "seeg": {"models": ["simclr", "minilm", "clip", "slip", NAME]},
        "brainscore": {"models": [NAME]},
        "search": {"models": [*get_preset("tiny").models, NAME]},
        "gaze": {"models": [NAME]},
    }
    path = work / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return ["--configfile", str(path)]


@pytest.fixture(scope="session", autouse=True)
def _tiny_dag_in_background(request, tmp_path_factory):
    """The whole DAG at the tiny preset on CPU over the tiny seeds (``tiny_seeds``), started when the session
    starts if any selected test reads it (``tiny_run``), and run in the background while the other tests run:
    its jobs and the single-process tests share the cores instead of taking turns. Stopped (its process group killed) if the
    session ends first."""
    if not any("tiny_run" in item.fixturenames for item in request.session.items):
        yield None
        return
    import signal

    work = scratch_workdir(tmp_path_factory.mktemp("tiny"))
    log = tmp_path_factory.mktemp("tiny_log") / "snakemake.log"
    command, env = snakemake_call(
        "--profile", str(ROOT / "workflow" / "profiles" / "default"), "--cores", "2", *tiny_config(work)
    )
    with log.open("w") as sink:
        proc = subprocess.Popen(
            command, cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # a session ended by SIGTERM (a timeout, a cancelled CI job) skips fixture teardown: stop the DAG, then end
    # as the signal would have
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        stop()
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield work, proc, log
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop()


@pytest.fixture(scope="session")
def tiny_run(_tiny_dag_in_background):
    """The tiny DAG's working folder once the run has ended (as CI runs it); the end-to-end, findings and SLURM
    tests read its outputs."""
    work, proc, log = _tiny_dag_in_background
    try:
        proc.wait(timeout=2400)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the tiny DAG ran past 2400 s; its log: {log}")
    assert proc.returncode == 0, log.read_text()[-6000:]
    return work


# Columns that measure time (they differ between runs); every other column is computed and must repeat exactly.
TIMING_COLUMNS = re.compile(r"seconds|time|per_s|_s$|throughput|latency", re.I)


def assert_same_table(expected: Path, actual: Path) -> None:
    """Two runs' CSV tables hold the same numbers (timing columns aside)."""
    import pandas as pd

    left, right = pd.read_csv(expected), pd.read_csv(actual)
    assert list(left.columns) == list(right.columns), actual
    keep = [c for c in left.columns if not TIMING_COLUMNS.search(str(c))]
    pd.testing.assert_frame_equal(left[keep], right[keep], check_exact=False, rtol=1e-6, atol=1e-9, obj=str(actual))


def one_torch_thread():
    """Body of an autouse fixture for folders of many small models (gaze, search): one torch thread per test,
    faster than two for small convolutions and undisturbed by other jobs, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def assert_one_error_line(run, named, message: str, capsys) -> None:
    """A bad input ends in one line that names ``named`` (the file or config key) and matches ``message``: ``run``
    is either a callable that must raise the package's error, or CLI arguments that must exit 2 with one
    ``neuromodels: error:`` line on stderr and no traceback."""
    from neuromodels.cli import main
    from neuromodels.core.errors import NeuromodelsError

    if callable(run):
        with pytest.raises(NeuromodelsError) as info:
            run()
        line = str(info.value)
    else:
        capsys.readouterr()
        assert main(run) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("neuromodels: error: ")
        line = lines[0]
    assert "\n" not in line and "Traceback" not in line
    assert str(named) in line, line
    assert re.search(message, line), line
