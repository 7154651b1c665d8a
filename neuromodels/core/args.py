"""Command-line options shared by every step (used by each part's ``commands.py``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError


def add_runtime_arguments(parser: argparse.ArgumentParser, device: bool = True) -> None:
    """Seed and threads, and (optionally) device and precision."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (Snakemake passes the rule's `threads`)"
    )
    if device:
        parser.add_argument(
            "--device",
            default="auto",
            choices=["auto", "cpu", "cuda"],
            help="where to compute (default auto: CUDA when available)",
        )
        parser.add_argument(
            "--precision",
            default="auto",
            choices=["auto", "fp32", "bf16", "fp16"],
            help="autocast precision (default auto: bf16 on GPU, fp32 on CPU)",
        )


def add_params_argument(parser: argparse.ArgumentParser) -> None:
    """``--params``: the family's validated config section, as a JSON string or a path to a JSON/YAML file."""
    parser.add_argument(
        "--params",
        default=None,
        help="family settings as JSON text or a .json/.yaml file (Snakemake passes the validated config section)",
    )


def load_params(value: str | None, family: str | None = None) -> dict[str, Any]:
    """Parse ``--params`` into a dict ({} when absent).

    With ``family``, the settings are checked against that family's schema and its defaults filled in, so a
    misspelt or out-of-range setting stops the step with one line naming it (as it would in the config file)
    instead of being ignored.
    """
    data: dict[str, Any] = {}
    if value:
        text = value
        path = Path(value)
        is_file = not value.lstrip().startswith("{") and path.exists()
        if is_file:
            text = path.read_text()
        if is_file and path.suffix in (".yaml", ".yml"):
            import yaml

            loaded = yaml.safe_load(text)
        else:
            try:
                loaded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError("--params", f"not valid JSON ({exc.msg})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("--params", "must be a JSON object")
        data = loaded
    if family is None:
        return data
    from .config import check_section

    return check_section(data, family)


def add_models_argument(parser: argparse.ArgumentParser) -> None:
    """``--models``: the config's ``models:`` section (declared models), as JSON text or a JSON/YAML file (a
    config file's ``models:`` key is taken when the file has one)."""
    parser.add_argument(
        "--models",
        default=None,
        help="declared models: JSON text or a .json/.yaml file (a whole config file is fine: its `models:` "
        "section is read); Snakemake passes the config's section",
    )


def load_models(value: str | None) -> dict[str, Any]:
    """The declared models of ``--models`` ({} when absent); see :func:`add_models_argument`."""
    if not value:
        return {}
    path = Path(value)
    if not value.lstrip().startswith("{") and path.exists():
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError("--models", f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if isinstance(loaded, dict) and "models" in loaded:
            loaded = loaded["models"]
    else:
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError("--models", f"not valid JSON ({exc.msg}), nor a file that exists") from None
    loaded = loaded or {}
    if not isinstance(loaded, dict):
        raise ConfigError("--models", "must map model names to declarations")
    return loaded
