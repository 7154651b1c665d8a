"""Models declared once and read by every family: the config's ``models:`` section, re-exported from the modules
that hold it:

* :mod:`.declarations`: the declaration format (described there), :class:`Declaration`, its parsing
  (:func:`parse_declaration`), the package's own declarations (:func:`builtin_declarations`), every declared
  model (:func:`declarations`, :func:`lookup`) and the seed of a random-init copy (:func:`random_init_seed`).
* :mod:`.building`: building a declaration (:func:`build_model`, :func:`build_named`) into a
  :class:`DeclaredModel`, the builder callable (:func:`resolve_callable`), the default layer rule
  (:func:`default_layers`, described there) and :func:`spatial_pyramid`.
* :mod:`.model_check`: the check of a declared model (:func:`check_model`).
* :mod:`.packaged_builders`: the builders of the project's own encoders (:func:`bundle_module`,
  :func:`bundle_declaration`, :func:`minilm`); the package's ``models.yaml`` files name them here
  (``neuromodels.networks.declared:bundle_module``).
"""

from __future__ import annotations

from .building import DeclaredModel, build_model, build_named, default_layers, resolve_callable, spatial_pyramid
from .declarations import (
    BUILTINS_GLOB,
    COLOURS,
    KINDS,
    PACKAGE_ROOT,
    Declaration,
    builtin_declarations,
    declarations,
    lookup,
    parse_declaration,
    random_init_seed,
)
from .model_check import check_model
from .packaged_builders import bundle_declaration, bundle_module, minilm

__all__ = [
    "KINDS",
    "Declaration",
    "DeclaredModel",
    "builtin_declarations",
    "declarations",
    "build_model",
    "build_named",
    "bundle_declaration",
    "random_init_seed",
    "default_layers",
    "spatial_pyramid",
    # also public here before the split
    "COLOURS",
    "BUILTINS_GLOB",
    "PACKAGE_ROOT",
    "parse_declaration",
    "lookup",
    "resolve_callable",
    "check_model",
    "bundle_module",
    "minilm",
]
