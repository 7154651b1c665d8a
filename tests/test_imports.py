"""The import contract: families never import each other; core imports no family, networks or stimuli; stimuli
imports only core; networks imports no family. Read from the source (ast), so a lazy import inside a function
counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neuromodels"
FAMILIES = ("decoding", "seeg", "brainscore", "gaze", "search")
# what each part may not import (subpackages of neuromodels)
FORBIDDEN = {
    "core": {*FAMILIES, "networks", "stimuli", "cli"},
    "stimuli": {*FAMILIES, "networks", "cli"},
    "networks": {*FAMILIES, "cli"},
    **{family: {*(f for f in FAMILIES if f != family), "cli"} for family in FAMILIES},
}


def imported_parts(path: Path, package: Path = PACKAGE) -> set[tuple[str, int]]:
    """The neuromodels subpackages a module imports, with the line, absolute and relative imports alike."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = path.relative_to(package.parent).with_suffix("").parts  # ('neuromodels', 'gaze', 'train')
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(here[: -node.level]) if node.level <= len(here) else []
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "neuromodels" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def test_the_contract_covers_every_subpackage():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert set(FORBIDDEN) <= subpackages and subpackages - set(FORBIDDEN) <= {"schemas"}


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_imports_follow_the_contract(part):
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports neuromodels.{target}"
        for path in sorted((PACKAGE / part).rglob("*.py"))
        for target, line in sorted(imported_parts(path))
        if target in FORBIDDEN[part]
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    probe = tmp_path / "neuromodels" / "gaze" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from ..search import models\nfrom . import data\n\ndef f():\n    from neuromodels.seeg import ridge\n"
    )
    assert {t for t, _ in imported_parts(probe, tmp_path / "neuromodels")} == {"search", "seeg", "gaze"}
