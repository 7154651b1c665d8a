"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""

from __future__ import annotations

from os import PathLike


class NeuromodelsError(Exception):
    """Base class: a problem the user can fix, reported as one line."""


class ConfigError(NeuromodelsError):
    """A configuration key or value is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        # a command-line option is named as such; anything else is a setting of the config file
        what = "option" if key.startswith("--") else "config key"
        super().__init__(f"{what} '{key}': {problem}")


class DataError(NeuromodelsError):
    """An input file is malformed: names the file and what is wrong with it."""

    def __init__(self, path: str | PathLike[str] | None, problem: str) -> None:
        self.path, self.problem = (str(path) if path is not None else None), problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


def require(condition: bool, path: str | PathLike[str] | None, problem: str) -> None:
    """Raise :class:`DataError` for ``path`` when ``condition`` is false."""
    if not condition:
        raise DataError(path, problem)
