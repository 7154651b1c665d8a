"""Start-up of a DAG job: the command line builds its parser (every family's and benchmark's steps) without
importing torch, so that the steps that never touch a tensor (simulators' tables, summaries, the findings table)
do not pay torch's second of imports."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from neuromodels.cli import build_parser
build_parser()
print(" ".join(m for m in ("torch", "scipy", "sklearn", "matplotlib", "h5py") if m in sys.modules))
"""


def test_parser_builds_without_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [], out.stdout
