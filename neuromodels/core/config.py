"""Configuration checked against a JSON schema (YAML), with defaults filled from the schema.

The schema may split into one file per family joined by ``$ref`` (relative file names); defaults are filled
through those references too. A wrong key or value raises :class:`ConfigError` whose message is one line naming
the key, e.g. ``config key 'decoding.epochs': 'ten' is not of type 'integer'``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .errors import ConfigError, NeuromodelsError


def _load_yaml(path: Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def _file_refs(node: Any) -> set[str]:
    """The file references (``$ref`` values not starting with ``#``) anywhere in a schema."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#") else set()
        return found.union(*(_file_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_file_refs(v) for v in node))
    return set()


def _registry(schema: dict, folder: Path) -> Registry:
    """Every schema file the schema refers to, addressable by the reference as written (relative to
    ``folder``, the schema's own folder)."""
    resources = [
        (ref, Resource.from_contents(_load_yaml(folder / ref), default_specification=DRAFT202012))
        for ref in sorted(_file_refs(schema))
    ]
    return Registry().with_resources(resources)


def _resolve(node: dict, folder: Path) -> dict:
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        target = _load_yaml(folder / ref)
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    return node


def _fill_defaults(instance: Any, schema: dict, folder: Path) -> None:
    schema = _resolve(schema, folder)
    if not isinstance(instance, dict):
        return
    for key, sub in (schema.get("properties") or {}).items():
        sub = _resolve(sub, folder)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub, folder)


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(extra[0] if extra else "?")
        return ".".join(parts)
    if error.validator == "required":
        missing = [r for r in error.validator_value if r not in error.instance]
        parts.append(missing[0] if missing else "?")
    return ".".join(parts) or "<top level>"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"unknown key (allowed here: {allowed})"
    if error.validator == "required":
        return "is required"
    if "then" in error.schema_path and isinstance(error.schema, dict) and error.schema.get("description"):
        # a condition between keys (if/then): its description says why
        return f"{error.message}: {error.schema['description']}"
    return error.message


def check_config(config: dict, schema_path: str | Path, prefix: str = "") -> dict:
    """Validate ``config`` against the schema at ``schema_path``; return a copy with defaults filled.

    ``prefix`` is put before the key paths in errors (e.g. ``"seeg"`` when checking one family's section).

    Raises
    ------
    ConfigError
        naming the first offending key (dotted path) and the problem, in one line.
    """
    schema_path = Path(schema_path)
    schema = _load_yaml(schema_path)
    filled = copy.deepcopy(dict(config))
    _fill_defaults(filled, schema, schema_path.parent)
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(schema, schema_path.parent))
    errors = sorted(
        validator.iter_errors(filled), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path)))
    )
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        key = _key_path(error)
        if prefix:
            key = prefix if key == "<top level>" else f"{prefix}.{key}"
        raise ConfigError(key, _message(error))
    return filled


SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def section_schema_path(family: str) -> Path:
    """The schema of one family's settings (``neuromodels/schemas/<family>.schema.yaml``)."""
    path = SCHEMA_DIR / f"{family}.schema.yaml"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".schema.yaml") for p in SCHEMA_DIR.glob("*.schema.yaml"))
        raise NeuromodelsError(f"no settings schema for {family!r} (known: {', '.join(known)})")
    return path


def check_section(section: dict, family: str) -> dict:
    """Validate one family's settings (a config section, or the CLI's ``--params``) against the family's
    schema; return a copy with defaults filled. Errors name the key as the config file spells it
    (``seeg.window``)."""
    return check_config(section, section_schema_path(family), prefix=family)


def _settings_rows(schema: dict, prefix: str, folder: Path) -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every setting, nested objects flattened to dotted keys."""
    rows = []
    for key, sub in (schema.get("properties") or {}).items():
        sub = _resolve(sub, folder)
        name = f"{prefix}.{key}" if prefix else key
        kind = sub.get("type", "")
        kind = "|".join(kind) if isinstance(kind, list) else str(kind)
        if "enum" in sub:
            kind += " in " + ", ".join(map(str, sub["enum"]))
        default = repr(sub["default"]) if "default" in sub else "(preset)"
        description = " ".join(str(sub.get("description", "")).split())
        rows.append((name, kind, default, description))
        if sub.get("properties") and sub.get("type") == "object":
            rows.extend(_settings_rows(sub, name, folder))
    return rows


def describe_section(family: str) -> tuple[str, list[tuple[str, str, str, str]]]:
    """A family's schema in words: its description and one ``(key, type, default, description)`` per setting."""
    path = section_schema_path(family)
    schema = _load_yaml(path)
    return " ".join(str(schema.get("description", "")).split()), _settings_rows(schema, family, path.parent)


def override_settings(settings: Any, overrides: dict | None, section: str) -> Any:
    """A copy of the dataclass ``settings`` with some fields replaced (``None`` values are ignored).

    Lists become tuples where the field holds a tuple (YAML has no tuples). An unknown name raises
    :class:`ConfigError` naming ``section.name``.
    """
    if not overrides:
        return settings
    known = {f.name for f in dataclasses.fields(settings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}", f"not a {section} setting; known: {sorted(known)}")
    values = {
        k: (tuple(v) if isinstance(v, list) and isinstance(getattr(settings, k), tuple) else v)
        for k, v in overrides.items()
        if v is not None
    }
    return dataclasses.replace(settings, **values)


def _package_imports(path: Path, package: str) -> set[str]:
    """Modules of ``package`` that the source at ``path`` imports (``from .x import``, ``from package.x import``,
    ``import package.x``), read with ast, without importing."""
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(f"{package}.{node.module}")
            elif node.level == 0 and node.module and node.module.startswith(package + "."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(package + "."))
    return found


def module_digest(name: str) -> str:
    """A short digest of a module's source file and of the sibling modules it imports (transitively, within its
    own package), found without importing (nor running) any of them.

    The workflow lists the digest of each family's presets module among a rule's params, so that changing a
    default in code reruns the rules that use it, as changing the config does: defaults a presets module takes
    from its family's other modules (settings dataclasses, a simulator's settings) count too.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise NeuromodelsError(f"module {name} has no source file")
    package = name.rpartition(".")[0]
    digest = hashlib.sha256()
    seen, todo = set(), [(name, Path(spec.origin))]
    while todo:
        module, path = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        digest.update(module.encode() + b"\0" + path.read_bytes())
        if not package:
            continue
        for other in sorted(_package_imports(path, package)):
            found = importlib.util.find_spec(other) if other not in seen else None
            if found is not None and found.origin and Path(found.origin).is_file():
                todo.append((other, Path(found.origin)))
    return digest.hexdigest()[:16]
