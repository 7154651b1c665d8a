"""Building a declared model (:mod:`.declarations`): the builder callable resolved from its file or module and
called under a seed, weights loaded, :class:`DeclaredModel` (the built model's layers, features and
embeddings), :func:`build_model`, :func:`build_named` (``<name>`` or ``<name>-random``) and
:func:`spatial_pyramid` (the layers standing in for eccNET's pools).

**The default layer rule** (``layers`` empty): the modules of the top level, children of a ``ModuleList`` or
``Sequential`` taken one level down, that hold parameters of their own, in the order the forward pass runs them.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuromodels.core.errors import ConfigError, NeuromodelsError

from .declarations import Declaration, lookup, random_init_seed

__all__ = ["DeclaredModel", "resolve_callable", "default_layers", "build_model", "build_named", "spatial_pyramid"]


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
