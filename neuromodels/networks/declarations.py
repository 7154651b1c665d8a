"""The config's ``models:`` section: the declaration format, its parsing, the package's own declarations, and the
seed of a declared model's random-init copy.

A declaration names a model by what builds it, never by a pickled object::

    models:
      tinycnn:
        kind: vision                   # vision, text or vision_text
        builder: models/tinycnn.py:build   # a Python file or an importable module, then the callable
        options: {width: 16}           # keyword arguments of the callable ({seed} is the run's seed)
        weights: models/tinycnn.pt     # optional: a state_dict loaded into what the callable builds
        image_size: 64                 # input side in pixels; mean/std and colour order of the input
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
        colour: rgb
        layers: [features.0, features.3, head]   # names from named_modules(); empty: the default rule

The callable returns a ``torch.nn.Module`` taking float images ``(n, 3, image_size, image_size)`` normalised as
declared (``vision``), or a text model (``text``): an object with ``encode(texts) -> (n, d)`` and
``layer_features(texts, layers=None) -> {layer: (n, features)}`` and a ``layer_names`` list. A ``vision_text``
model is a vision model with a text side: ``text:`` names a declared text model, or the callable returns an object
with a ``vision`` module and a ``text`` model. Weights load with ``weights_only=True``; a file holding a pickled
module is refused unless ``allow_pickle: true`` (see :data:`neuromodels.core.io.PICKLE_RISK`). Building a
declaration, and the default layer rule (``layers`` empty), live in :mod:`.building`.

**The random-init copy** (the control of trained-vs-random comparisons) exists when the declaration can build the
architecture untrained: it has ``weights`` (the copy is the callable's output without them) or
``untrained_options`` (the callable's keyword arguments for an untrained build). The copy's weights are drawn
from a seed (the global RNG is seeded around the call; a callable that takes ``seed`` gets it too).

The project's own models are declared the same way, in ``models.yaml`` files of the package (the networks
family's SimCLR, CLIP and SLIP ViTs from its bundles and the packaged MiniLM; a family's own trained network in
its folder); a user's declaration may not take one of their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuromodels.core.errors import ConfigError

__all__ = [
    "KINDS",
    "Declaration",
    "parse_declaration",
    "builtin_declarations",
    "declarations",
    "lookup",
    "random_init_seed",
]

KINDS = ("vision", "text", "vision_text")
COLOURS = ("rgb", "bgr")
# the project's own declarations: ``models.yaml`` of the networks package and of any family that ships a model
BUILTINS_GLOB = "*/models.yaml"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_KEYS = {
    "kind",
    "builder",
    "options",
    "weights",
    "untrained_options",
    "image_size",
    "mean",
    "std",
    "colour",
    "layers",
    "text",
    "allow_pickle",
    "description",
}


@dataclass(frozen=True)
class Declaration:
    """One declared model (see the module docstring for the keys)."""

    name: str
    kind: str
    builder: str
    options: dict[str, Any] = field(default_factory=dict)
    weights: str = ""
    untrained_options: dict[str, Any] | None = None
    image_size: int | None = None
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    colour: str = "rgb"
    layers: tuple[str, ...] = ()
    text: str = ""
    allow_pickle: bool = False
    description: str = ""
    builtin: bool = False

    @property
    def key(self) -> str:
        return f"models.{self.name}"

    @property
    def has_vision(self) -> bool:
        return self.kind in ("vision", "vision_text")

    @property
    def has_text(self) -> bool:
        return self.kind in ("text", "vision_text")

    @property
    def can_randomise(self) -> bool:
        """Whether the declaration can build its architecture untrained (the random-init copy)."""
        return bool(self.weights) or self.untrained_options is not None

    def with_seed(self, seed: int) -> Declaration:
        """The declaration with ``{seed}`` in its option strings and weights path replaced by ``seed``."""

        def fill(value: Any) -> Any:
            if isinstance(value, str):
                return value.replace("{seed}", str(seed))
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        untrained = None if self.untrained_options is None else fill(self.untrained_options)
        return _replace(self, options=fill(self.options), weights=fill(self.weights), untrained_options=untrained)

    def files(self, seed: int = 0) -> list[str]:
        """Files the model is built from (its builder file, weights, paths among its options): a workflow's
        inputs, so that a changed file rebuilds what used it."""
        decl = self.with_seed(seed)
        out = []
        spec = decl.builder.rsplit(":", 1)[0]
        if spec.endswith(".py"):
            out.append(spec)
        if decl.weights:
            out.append(decl.weights)
        for opts in (decl.options, decl.untrained_options or {}):
            for key, value in opts.items():
                if key in ("path", "bundle", "weights") and isinstance(value, str) and value:
                    out.append(value)
        return list(dict.fromkeys(out))


def _replace(decl: Declaration, **changes: Any) -> Declaration:
    from dataclasses import replace

    return replace(decl, **changes)


def _triple(value: Any, key: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"expected three numbers, got {value!r}") from None
    if len(out) != 3:
        raise ConfigError(key, f"expected three numbers (one per colour channel), got {len(out)}")
    return out  # type: ignore[return-value]


def parse_declaration(name: str, entry: Any, *, builtin: bool = False) -> Declaration:
    """A :class:`Declaration` from one config entry; a wrong key or value is one :class:`ConfigError` line."""
    key = f"models.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(key, f"expected a mapping of settings, got {type(entry).__name__}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown setting; the settings are {', '.join(sorted(_KEYS))}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    builder = entry.get("builder")
    if not isinstance(builder, str) or ":" not in builder:
        raise ConfigError(f"{key}.builder", "expected 'file.py:callable' or 'package.module:callable'")
    colour = str(entry.get("colour", "rgb")).lower()
    if colour not in COLOURS:
        raise ConfigError(f"{key}.colour", f"{colour!r} is not one of {', '.join(COLOURS)}")
    size = entry.get("image_size")
    if size is not None and (not isinstance(size, int) or size < 8):
        raise ConfigError(f"{key}.image_size", f"expected an integer of at least 8, got {size!r}")
    options = entry.get("options") or {}
    untrained = entry.get("untrained_options")
    for sub, value in (("options", options), ("untrained_options", untrained)):
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{key}.{sub}", f"expected a mapping of keyword arguments, got {value!r}")
    layers = entry.get("layers") or []
    if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
        raise ConfigError(f"{key}.layers", "expected a list of module names")
    std = _triple(entry.get("std", (1.0, 1.0, 1.0)), f"{key}.std")
    if min(std) <= 0:
        raise ConfigError(f"{key}.std", "every channel's std must be positive")
    return Declaration(
        name=name,
        kind=kind,
        builder=builder,
        options=dict(options),
        weights=str(entry.get("weights") or ""),
        untrained_options=None if untrained is None else dict(untrained),
        image_size=size,
        mean=_triple(entry.get("mean", (0.0, 0.0, 0.0)), f"{key}.mean"),
        std=std,
        colour=colour,
        layers=tuple(layers),
        text=str(entry.get("text") or ""),
        allow_pickle=bool(entry.get("allow_pickle", False)),
        description=str(entry.get("description") or ""),
        builtin=builtin,
    )


def builtin_declarations() -> dict[str, Declaration]:
    """The project's own models, declared in ``models.yaml`` files of the package (the networks family's
    encoders; a family's own trained model, e.g. the search VGG, in its folder)."""
    import yaml

    out: dict[str, Declaration] = {}
    for path in sorted(PACKAGE_ROOT.glob(BUILTINS_GLOB)):
        for name, entry in (yaml.safe_load(path.read_text()) or {}).items():
            if name in out:
                raise ConfigError(f"models.{name}", f"declared twice in the package ({path.parent.name})")
            out[name] = parse_declaration(name, entry, builtin=True)
    return out


def declarations(user: dict[str, Any] | None = None) -> dict[str, Declaration]:
    """Every declared model: the package's own, then the user's ``models:`` section (a user's entry may not
    take a built-in name). A ``vision_text`` model's ``text`` must name a declared text model."""
    out = builtin_declarations()
    for name, entry in (user or {}).items():
        if name in out:
            raise ConfigError(f"models.{name}", "is a built-in model's name; give your model another name")
        out[name] = parse_declaration(name, entry)
    for decl in out.values():
        if decl.text:
            side = out.get(decl.text)
            if side is None or side.kind != "text":
                raise ConfigError(f"{decl.key}.text", f"{decl.text!r} is not a declared text model")
        elif decl.kind == "vision_text" and not decl.builtin:
            pass  # the callable must return an object with `vision` and `text` (checked when built)
    return out


def lookup(name: str, user: dict[str, Any] | None = None, *, where: str = "models") -> Declaration:
    """The declaration of ``name``; one line naming the config key when there is none."""
    known = declarations(user)
    if name not in known:
        raise ConfigError(where, f"{name!r} is not a declared model; declared: {', '.join(sorted(known))}")
    return known[name]


def random_init_seed(name: str, seed: int = 0) -> int:
    """The seed of a declared model's random-init copy (``<name>-random``): drawn from the run's seed and the
    model's name, so that two controls of one architecture under different names (CLIP's and SLIP's) never share
    weights, and a model whose builder draws its weights from the run's seed is not its own control."""
    import zlib

    state = np.random.SeedSequence([int(seed), zlib.crc32(name.removesuffix("-random").encode())]).generate_state(1)
    return int(state[0] % (2**31))
