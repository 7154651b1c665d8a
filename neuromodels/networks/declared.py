"""Models declared once and read by every family: the config's ``models:`` section.

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
module is refused unless ``allow_pickle: true`` (see :data:`neuromodels.core.io.PICKLE_RISK`).

**The random-init copy** (the control of trained-vs-random comparisons) exists when the declaration can build the
architecture untrained: it has ``weights`` (the copy is the callable's output without them) or
``untrained_options`` (the callable's keyword arguments for an untrained build). The copy's weights are drawn
from a seed (the global RNG is seeded around the call; a callable that takes ``seed`` gets it too).

**The default layer rule** (``layers`` empty): the modules of the top level, children of a ``ModuleList`` or
``Sequential`` taken one level down, that hold parameters of their own, in the order the forward pass runs them.

The project's own models are declared the same way, in ``models.yaml`` files of the package (the networks
family's SimCLR, CLIP and SLIP ViTs from its bundles and the packaged MiniLM; a family's own trained network in
its folder); a user's declaration may not take one of their names.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neuromodels.core.errors import ConfigError, NeuromodelsError

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


# ----------------------------------------------------------------------------------------------- building
def resolve_callable(spec: str, key: str) -> Callable[..., Any]:
    """The callable of ``'file.py:name'`` or ``'package.module:name'``; one line when it is missing."""
    where, _, attr = spec.rpartition(":")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ConfigError(key, f"{where}: file not found")
        module_name = f"neuromodels_declared_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(module_name)
        if module is None:
            spec_obj = importlib.util.spec_from_file_location(module_name, path)
            if spec_obj is None or spec_obj.loader is None:
                raise ConfigError(key, f"{where}: not a Python file that can be imported")
            module = importlib.util.module_from_spec(spec_obj)
            sys.modules[module_name] = module
            try:
                spec_obj.loader.exec_module(module)
            except Exception as exc:  # the user's file: its first error in one line
                del sys.modules[module_name]
                raise ConfigError(key, f"{where} failed to import: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise ConfigError(key, f"cannot import {where!r}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(key, f"{where} has no callable {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(key, f"{where}:{attr} is not callable")
    return target


def _call(fn: Callable[..., Any], options: dict[str, Any], seed: int, key: str, device: str = "cpu") -> Any:
    import torch

    kwargs = dict(options)
    try:
        params = inspect.signature(fn).parameters
        takes = set(params) if not any(p.kind is p.VAR_KEYWORD for p in params.values()) else {"seed", "device"}
    except (TypeError, ValueError):
        takes = set()
    for name, value in (("seed", seed), ("device", str(device))):
        if name in takes and name not in kwargs:
            kwargs[name] = value
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return fn(**kwargs)
        except NeuromodelsError:
            raise  # already one line naming its file or key
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise ConfigError(f"{key}.builder", f"the callable failed: {type(exc).__name__}: {first}") from None


def _load_weights(module: Any, decl: Declaration) -> None:
    import torch

    from neuromodels.core.io import torch_load

    state = torch_load(decl.weights, allow_pickle=decl.allow_pickle)
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{decl.key}.weights", f"{decl.weights}: not a state_dict")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:2])[:200]
        raise ConfigError(f"{decl.key}.weights", f"{decl.weights} does not fit the built model: {detail}") from None


def default_layers(module: Any, run: Callable[[], Any]) -> list[str]:
    """The default layer rule (module docstring): top-level modules (containers opened one level) holding
    parameters of their own or of their children, in the order ``run()`` calls them."""
    from torch import nn

    candidates: list[tuple[str, nn.Module]] = []
    for name, child in module.named_children():
        if isinstance(child, (nn.ModuleList, nn.Sequential)) and not isinstance(module, nn.Sequential):
            candidates += [(f"{name}.{sub}", grand) for sub, grand in child.named_children()]
        else:
            candidates.append((name, child))
    candidates = [(n, m) for n, m in candidates if any(True for _ in m.parameters())]
    order: list[str] = []
    handles = [
        m.register_forward_hook(lambda _m, _i, _o, n=n: order.append(n) if n not in order else None)
        for n, m in candidates
    ]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return order


@dataclass
class DeclaredModel:
    """A built declaration: its vision module and/or text model, trained or its random-init copy."""

    declaration: Declaration
    vision: Any = None
    text: Any = None
    trained: bool = True
    seed: int = 0
    device: str = "cpu"
    _layers: list[str] | None = None

    @property
    def name(self) -> str:
        return self.declaration.name if self.trained else f"{self.declaration.name}-random"

    @property
    def image_size(self) -> int:
        size = self.declaration.image_size or getattr(self.vision, "image_size", None)
        if not size:
            raise ConfigError(f"{self.declaration.key}.image_size", "not set, and the model has no image_size")
        return int(size)

    def prepare(self, images: np.ndarray, resize: bool = True) -> Any:
        """uint8 ``(n, H, W, 3)`` images as the model's declared input: resized to ``image_size`` (unless
        ``resize`` is False: a fully convolutional model read at the images' own size), colour order,
        mean/std."""
        import torch

        from .vit import prepare_images

        x = prepare_images(np.asarray(images), self.image_size if resize else None)
        if self.declaration.colour == "bgr":
            x = x.flip(1)
        mean = torch.tensor(self.declaration.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.declaration.std).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()

    def _batches(self, images: np.ndarray, batch_size: int):
        for start in range(0, len(images), batch_size):
            yield self.prepare(images[start : start + batch_size])

    @property
    def layers(self) -> list[str]:
        """The layers to read: declared, or the default rule's."""
        if self._layers is None:
            if not self.declaration.has_vision:
                self._layers = list(self.declaration.layers or self.text.layer_names)
            elif self.declaration.layers:
                self._layers = list(self.declaration.layers)
            else:
                probe = _probe_images(2, self.image_size)
                self._layers = default_layers(self.vision, lambda: self._forward(self.prepare(probe)))
            self._check_layers()
        return self._layers

    def _check_layers(self) -> None:
        if self.declaration.has_vision:
            names = dict(self.vision.named_modules())
            missing = [n for n in self._layers or [] if n not in names]
            if missing:
                some = [n for n in names if n][:8]
                raise ConfigError(
                    f"{self.declaration.key}.layers", f"no layer {missing[0]!r} in the model; it has e.g. {some}"
                )
        if not self._layers:
            raise ConfigError(f"{self.declaration.key}.layers", "no layer to read (declare `layers`)")

    def _forward(self, x: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.vision(x.to(self.device))

    def image_layer_features(
        self, images: np.ndarray, layers: Sequence[str] | None = None, pooling: str = "mean", batch_size: int = 256
    ) -> dict[str, np.ndarray]:
        """``{layer: (n, features)}`` float32: spatial maps averaged over space, token sequences over tokens
        (``pooling='none'`` keeps each layer's output as it is)."""
        from neuromodels.core.activations import extract_activations

        names = list(self.layers if layers is None else layers)
        feats = extract_activations(
            self.vision, self._batches(np.asarray(images), batch_size), names, pooling=pooling, device=self.device
        )
        return {n: np.asarray(feats[n], np.float32) for n in names}

    def embed_images(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's output for each image, ``(n, d)`` float32 (spatial outputs averaged over space)."""
        import torch

        from neuromodels.core.activations import _pool

        out = []
        for x in self._batches(np.asarray(images), batch_size):
            y = self._forward(x)
            out.append(_pool(y, "mean").float().cpu().numpy() if isinstance(y, (torch.Tensor, tuple, list)) else y)
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)

    def text_layer_features(self, texts: Sequence[str], layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        if self.text is None:
            raise ConfigError(self.declaration.key, "has no text side")
        names = None if layers is None else list(layers)
        if names is None and not self.declaration.has_vision and self.declaration.layers:
            names = list(self.declaration.layers)
        feats = self.text.layer_features([str(t) for t in texts], layers=names)
        return {k: np.asarray(v, np.float32) for k, v in feats.items()}

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self.text is None:
            raise ConfigError(self.declaration.key, "has no text side")
        return np.asarray(self.text.encode([str(t) for t in texts]), np.float32)

    def output_layers(self) -> tuple[str | None, str | None]:
        """Its towers' output layers among the layers read (image: the last layer read; text: the text model's
        last layer)."""
        image = self.layers[-1] if self.declaration.has_vision else None
        text = None
        if self.text is not None:
            text_layers = list(self.text.layer_names)
            text = text_layers[-1] if text_layers else None
        return image, text


def _probe_images(n: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def _check_text(obj: Any, key: str) -> Any:
    # a property of the class counts without being read (reading may load the model)
    missing = [a for a in ("encode", "layer_features", "layer_names") if not (hasattr(type(obj), a) or hasattr(obj, a))]
    if missing:
        raise ConfigError(
            key, f"a text model needs encode(texts), layer_features(texts, layers) and layer_names; missing {missing}"
        )
    return obj


def build_model(
    decl: Declaration,
    *,
    untrained: bool = False,
    seed: int = 0,
    init_seed: int | None = None,
    device: str = "cpu",
    user: dict[str, Any] | None = None,
) -> DeclaredModel:
    """Build a declaration on ``device`` in eval mode: trained, or (``untrained``) its random-init copy with
    weights drawn from ``init_seed`` (default ``seed``).

    ``seed`` is the run's seed (``{seed}`` in the declaration's paths); ``user`` is the config's ``models:``
    section, needed to resolve a ``text:`` side declared there.
    """
    init_seed = seed if init_seed is None else int(init_seed)
    import torch

    decl = decl.with_seed(seed)
    if untrained and not decl.can_randomise:
        raise ConfigError(decl.key, "cannot build a random-init copy: declare `weights` or `untrained_options`")
    fn = resolve_callable(decl.builder, f"{decl.key}.builder")
    options = decl.untrained_options if (untrained and decl.untrained_options is not None) else decl.options
    built = _call(fn, options, init_seed, decl.key, str(device))
    vision = text = None
    if decl.kind == "text":
        text = _check_text(built, f"{decl.key}.builder")
    elif isinstance(built, torch.nn.Module) and not (hasattr(built, "vision") and hasattr(built, "text")):
        vision = built
    elif hasattr(built, "vision") and hasattr(built, "text"):
        vision, text = built.vision, built.text
        if text is not None:
            _check_text(text, f"{decl.key}.builder")
    else:
        raise ConfigError(f"{decl.key}.builder", f"returned a {type(built).__name__}, not a torch.nn.Module")
    if decl.has_vision and not isinstance(vision, torch.nn.Module):
        raise ConfigError(f"{decl.key}.builder", "a vision model must be a torch.nn.Module")
    if decl.weights and not untrained:
        _load_weights(vision if vision is not None else text, decl)
    if vision is not None:
        vision = vision.to(device).eval()
        for p in vision.parameters():
            p.requires_grad_(False)
    if decl.text:
        side = lookup(decl.text, user, where=f"{decl.key}.text")
        text = build_model(side, untrained=untrained, seed=seed, init_seed=init_seed + 1, device=device, user=user).text
    if decl.kind == "vision_text" and text is None and not decl.builtin:
        raise ConfigError(decl.key, "a vision_text model needs a text side: `text:` or a builder returning one")
    return DeclaredModel(decl, vision, text, trained=not untrained, seed=init_seed, device=str(device))


def build_named(
    name: str,
    user: dict[str, Any] | None,
    *,
    where: str,
    seed: int = 0,
    device: str = "cpu",
    vision_for: str | None = None,
) -> DeclaredModel:
    """Build a model a family's list names: ``<name>`` trained, ``<name>-random`` its random-init copy with
    weights from :func:`random_init_seed`; one line naming ``where`` when it is undeclared, cannot be built
    untrained, or (with ``vision_for``, what the family needs it for) has no vision side."""
    base = name.removesuffix("-random")
    decl = lookup(base, user, where=where)
    if vision_for is not None and not decl.has_vision:
        raise ConfigError(where, f"{base} is a {decl.kind} model; {vision_for}")
    random = name != base
    if random and not decl.can_randomise:
        raise ConfigError(where, f"{base} has no random-init copy (declare weights or untrained_options)")
    init_seed = random_init_seed(base, seed) if random else None
    return build_model(decl, untrained=random, seed=seed, init_seed=init_seed, device=str(device), user=user)


def spatial_pyramid(model: DeclaredModel, images: np.ndarray, most: int = 5) -> list[str]:
    """Up to ``most`` layers with spatial maps standing in for eccNET's five pools: among the layers read whose
    output is ``(n, C, H, W)``, the last at each spatial size, the deepest ``most`` kept (shallow to deep)."""
    maps = model.image_layer_features(images[:2], pooling="none")
    by_size: dict[tuple[int, int], str] = {}
    for name in model.layers:
        x = maps[name]
        if x.ndim == 4:
            by_size[tuple(x.shape[-2:])] = name  # the last layer at this size wins
    chosen = [n for n in model.layers if n in set(by_size.values())]
    if not chosen:
        raise ConfigError(
            f"{model.declaration.key}.layers", "no layer gives a spatial map (n, C, H, W); search needs some"
        )
    return chosen[-most:]


# ----------------------------------------------------------------------------------------------- the check
def check_model(
    decl: Declaration,
    images: np.ndarray,
    texts: Sequence[str],
    *,
    seed: int = 0,
    device: str = "cpu",
    user: dict[str, Any] | None = None,
    require_spatial: bool = False,
) -> dict[str, Any]:
    """Build ``decl``, run ``images`` (and ``texts``) through it twice, and report its layers with their output
    shapes, determinism and device; a NaN output, a missing layer or (with ``require_spatial``) no spatial map is
    one :class:`ConfigError` line."""
    model = build_model(decl, seed=seed, device=device, user=user)
    report: dict[str, Any] = {"name": decl.name, "kind": decl.kind, "device": str(device), "layers": []}
    if model.vision is not None:
        raw = model.image_layer_features(images, pooling="none")
        again = model.image_layer_features(images, pooling="none")
        for name in model.layers:
            x = raw[name]
            if not np.isfinite(x).all():
                raise ConfigError(f"{decl.key}.layers", f"layer {name!r} gives NaN or infinite outputs")
            report["layers"].append(
                {"tower": "image", "layer": name, "shape": list(x.shape[1:]), "spatial": x.ndim == 4}
            )
        report["deterministic"] = all(np.array_equal(raw[n], again[n]) for n in model.layers)
        report["image_size"] = model.image_size
        report["n_parameters"] = int(sum(p.numel() for p in model.vision.parameters()))
        if require_spatial:
            report["search_layers"] = spatial_pyramid(model, images)
        embedding = model.embed_images(images)
        if not np.isfinite(embedding).all():
            raise ConfigError(decl.key, "the model's output holds NaN or infinite values")
        report["embedding_dim"] = int(embedding.shape[1])
    if model.text is not None:
        feats = model.text_layer_features(texts)
        again = model.text_layer_features(texts)
        for name, x in feats.items():
            if not np.isfinite(x).all():
                raise ConfigError(f"{decl.key}", f"text layer {name!r} gives NaN or infinite outputs")
            report["layers"].append({"tower": "text", "layer": name, "shape": list(x.shape[1:]), "spatial": False})
        same = all(np.allclose(feats[n], again[n], atol=1e-6) for n in feats)
        report["deterministic"] = bool(report.get("deterministic", True) and same)
        report["text_embedding_dim"] = int(model.embed_texts(list(texts)[:2]).shape[1])
    report["random_init_copy"] = decl.can_randomise
    report["finite"] = True
    if not report["deterministic"]:
        report["note"] = "two passes over the same batch differ (dropout or other randomness left on in eval mode)"
    return report


def bundle_module(path: str, random_init: bool = False, seed: int = 0) -> Any:
    """Builder of the project's own encoders: a networks bundle as a vision module (and its caption encoder as
    the text side when it has one). ``random_init`` gives the same architecture with weights drawn from
    ``seed``."""
    from .encoders import as_bundle, random_init_copy

    bundle = random_init_copy(path, seed) if random_init else as_bundle(path)
    return _Towers(bundle.vision, _CaptionText(bundle.text) if bundle.text is not None else None)


def bundle_declaration(path: str | Path) -> Declaration:
    """The declaration of an encoder bundle file written by the networks family (a user's own bundle path)."""
    return Declaration(
        name=Path(path).stem,
        kind="vision_text",
        builder="neuromodels.networks.declared:bundle_module",
        options={"path": str(path)},
        untrained_options={"path": str(path), "random_init": True},
        builtin=True,  # a SimCLR bundle has no caption encoder: its text side is absent, not an error
    )


@dataclass
class _Towers:
    vision: Any
    text: Any


class _CaptionText:
    """The text-model interface over a caption encoder (mean over real tokens per layer)."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    @property
    def layer_names(self) -> list[str]:
        return list(self.encoder.layer_names)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts)).numpy().astype(np.float32)

    def layer_features(self, texts: Sequence[str], layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        from .features import text_layer_features

        return text_layer_features(list(texts), self.encoder, layers=layers)


class _MiniLMText:
    """The text-model interface over the packaged MiniLM, through the networks family's own functions (same
    batches, same numbers as :func:`~neuromodels.networks.features.embed_texts` with ``"minilm"``)."""

    def __init__(self, pretrained: bool, seed: int, device: str) -> None:
        self.name = "minilm" if pretrained else "minilm-random"
        self.pretrained, self.seed, self.device = pretrained, (0 if pretrained else seed), device

    @property
    def layer_names(self) -> list[str]:
        """The encoder's layers; reading them loads it (a family that uses only the vision side of a model whose
        text side is MiniLM never does: sentence-transformers alone takes ~10 s to import on a small CPU)."""
        from .features import minilm_encoder

        return list(minilm_encoder(self.pretrained, self.seed, self.device).layer_names)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from .features import embed_texts

        return embed_texts(list(texts), self.name, device=self.device, seed=self.seed)

    def layer_features(self, texts: Sequence[str], layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        from .features import text_layer_features

        return text_layer_features(list(texts), self.name, layers=layers, device=self.device, seed=self.seed)


def minilm(pretrained: bool = True, seed: int = 0, device: str = "cpu") -> Any:
    """Builder of the packaged MiniLM sentence encoder (``pretrained=False``: its re-initialised copy drawn from
    ``seed``)."""
    return _MiniLMText(pretrained, seed, str(device))
