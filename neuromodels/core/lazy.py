"""Packages whose public names load on first use: a family's ``__init__`` lists each name with the module that
defines it, so that importing the package (as the CLI does for every step, to build its parser) does not pay
for torch and the other heavy libraries its modules need."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``.<where[name]>`` when ``name`` is first asked."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
