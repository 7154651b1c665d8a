"""Target embeddings per stimulus id: what the decoders predict.

A targets file is HDF5 with ``stimulus_id`` int (n,), ``image`` float32 (n, d) and optionally ``text``
float32 (n, d_text), and attributes naming the encoders. Sources:

- user-supplied arrays (e.g. real CLIP embeddings): ``.npy`` with a separate ids ``.npy``; ``.npz`` with
  ``stimulus_id`` and ``embeddings``; HDF5 with ``stimulus_id`` and ``embeddings`` datasets, or one dataset per
  stimulus named by its id;
- an image encoder bundle the pipeline trained (``neuromodels.networks``; e.g. the CLIP-trained ViT), applied
  to ``stimuli.h5``; text from the packaged MiniLM sentence encoder (``text`` extra) over ``captions.csv``;
- ``latents``: a fixed random nonlinear projection of the simulator's planted latents (tests, and a check that
  needs no trained network).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from neuromodels.core.errors import ConfigError, DataError, require
from neuromodels.core.io import atomic_path
from neuromodels.core.runtime import get_logger

log = get_logger(__name__)


@dataclass
class Targets:
    """Embeddings by stimulus id. ``image`` (n, d), ``text`` (n, d_text) or None."""

    stimulus_id: np.ndarray
    image: np.ndarray
    text: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._row = {int(s): i for i, s in enumerate(self.stimulus_id)}

    def rows(self, ids: Sequence[int], path: str | Path | None = None) -> np.ndarray:
        missing = [int(s) for s in ids if int(s) not in self._row]
        require(not missing, path, f"no target embedding for {len(missing)} stimulus id(s), e.g. {missing[:3]}")
        return np.array([self._row[int(s)] for s in ids], dtype=np.int64)

    def take(self, ids: Sequence[int]) -> dict[str, np.ndarray]:
        """``{"image": (len(ids), d)[, "text": (len(ids), d_text)]}``."""
        r = self.rows(ids, self.meta.get("path"))
        out = {"image": self.image[r]}
        if self.text is not None:
            out["text"] = self.text[r]
        return out

    @property
    def image_dim(self) -> int:
        return int(self.image.shape[1])

    @property
    def text_dim(self) -> int:
        return int(self.text.shape[1]) if self.text is not None else 0


def write_targets(path: str | Path, targets: Targets) -> Path:
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("stimulus_id", data=np.asarray(targets.stimulus_id, dtype=np.int64))
            f.create_dataset("image", data=np.asarray(targets.image, dtype=np.float32))
            if targets.text is not None:
                f.create_dataset("text", data=np.asarray(targets.text, dtype=np.float32))
            for k, v in targets.meta.items():
                if k != "path":
                    f.attrs[k] = str(v)
    return path


def read_targets(path: str | Path) -> Targets:
    """A targets file written by :func:`write_targets` (validated: ids unique, shapes agree, finite)."""
    import h5py

    path = Path(path)
    require(path.exists(), path, "targets file not found")
    try:
        with h5py.File(path, "r") as f:
            for key in ("stimulus_id", "image"):
                require(key in f, path, f"no dataset '{key}'")
            ids = np.asarray(f["stimulus_id"][()], dtype=np.int64)
            image = np.asarray(f["image"][()], dtype=np.float32)
            text = np.asarray(f["text"][()], dtype=np.float32) if "text" in f else None
            meta = {k: str(v) for k, v in f.attrs.items()}
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    _check(path, ids, image, "image")
    if text is not None:
        _check(path, ids, text, "text")
    meta["path"] = str(path)
    return Targets(ids, image, text, meta)


def _check(path: str | Path, ids: np.ndarray, emb: np.ndarray, name: str) -> None:
    require(emb.ndim == 2, path, f"'{name}' must be 2D (stimuli, features), got shape {emb.shape}")
    require(len(ids) == len(emb), path, f"{len(ids)} stimulus ids but {len(emb)} '{name}' rows")
    require(len(np.unique(ids)) == len(ids), path, "duplicate stimulus ids")
    require(bool(np.isfinite(emb).all()), path, f"'{name}' holds NaN or infinite values")


def read_embedding_file(path: str | Path, ids_path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """User-supplied embeddings keyed by stimulus id: ``(ids (n,), embeddings (n, d))``.

    Accepted: ``.npy`` (needs ``ids_path``, an ``.npy`` of ids in the same order), ``.npz`` with
    ``stimulus_id`` and ``embeddings``, HDF5 (``.h5``/``.hdf5``) with ``stimulus_id`` and ``embeddings``
    datasets or one 1D dataset per stimulus named by its id.
    """
    path = Path(path)
    require(path.exists(), path, "embedding file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        require(ids_path is not None, path, "an .npy of embeddings needs a matching .npy of stimulus ids")
        emb = np.load(path)
        ids = np.load(ids_path)
    elif suffix == ".npz":
        with np.load(path) as z:
            require({"stimulus_id", "embeddings"} <= set(z.files), path, "needs arrays 'stimulus_id' and 'embeddings'")
            ids, emb = z["stimulus_id"], z["embeddings"]
    elif suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            if "embeddings" in f:
                require("stimulus_id" in f, path, "has 'embeddings' but no 'stimulus_id'")
                ids, emb = f["stimulus_id"][()], f["embeddings"][()]
            else:
                keys = [k for k in f.keys() if k.isdigit()]
                require(bool(keys), path, "needs 'stimulus_id' + 'embeddings', or one dataset per stimulus id")
                keys.sort(key=int)
                ids = np.array([int(k) for k in keys])
                emb = np.stack([np.asarray(f[k][()]).ravel() for k in keys])
    else:
        raise DataError(path, "embedding files must be .npy, .npz, .h5 or .hdf5")
    ids = np.asarray(ids).astype(np.int64).ravel()
    emb = np.asarray(emb, dtype=np.float32)
    _check(path, ids, emb, "embeddings")
    return ids, emb


def latent_targets(latents: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """float32 (n, dim): a fixed random two-layer tanh projection of standardised latents (n, k)."""
    rng = np.random.default_rng(seed)
    k = latents.shape[1]
    w1 = rng.standard_normal((k, 4 * dim)) / np.sqrt(k)
    w2 = rng.standard_normal((4 * dim, dim)) / np.sqrt(4 * dim)
    return (np.tanh(latents @ w1) @ w2).astype(np.float32)


def _align(ids: np.ndarray, src_ids: np.ndarray, emb: np.ndarray, path: str | Path) -> np.ndarray:
    t = Targets(src_ids, emb)
    return emb[t.rows(ids, path)]


def standardise_features(emb: np.ndarray) -> np.ndarray:
    """float32 (n, d): each feature to zero mean and unit variance over stimuli (constant features to 0).

    Embeddings of one encoder share a large common direction, so raw cosine similarities are all close to 1;
    removing it makes retrieval and the contrastive loss look at what tells stimuli apart.
    """
    emb = np.asarray(emb, dtype=np.float64)
    sd = emb.std(axis=0)
    return ((emb - emb.mean(axis=0)) / np.where(sd > 0, sd, 1.0)).astype(np.float32)


def make_targets(data_root: str | Path, image: str, text: str = "none", ids_path: str | None = None,
                 text_ids_path: str | None = None, device: str = "cpu", dim: int = 64, seed: int = 0,
                 standardise: bool = True) -> Targets:
    """Embeddings for every stimulus of ``data_root/stimuli.h5``.

    Parameters
    ----------
    image:
        ``latents`` (simulated data only), an encoder bundle (``.pt``, from ``neuromodels.networks``) or a
        user-supplied embedding file (``.npy``/``.npz``/``.h5``).
    text:
        ``none``, ``latents``, ``minilm`` (needs the ``text`` extra), an encoder bundle (its caption encoder)
        or an embedding file.
    dim:
        Width of ``latents`` targets (text ones get the same width).
    standardise:
        Standardise each feature over the stimuli (:func:`standardise_features`; default True).
    """
    from .data import CAPTIONS_NAME, STIMULI_NAME, read_captions, read_images, read_stimulus_ids

    root = Path(data_root)
    ids = read_stimulus_ids(root / STIMULI_NAME)
    meta = {"image_encoder": image, "text_encoder": text}

    def latents() -> np.ndarray:
        from .simulate import read_ground_truth

        truth = read_ground_truth(root)
        t = Targets(truth["stimulus_id"], truth["latents"])
        return truth["latents"][t.rows(ids, root / "ground_truth.npz")]

    def from_source(source: str, kind: str, extra_ids: str | None) -> np.ndarray:
        p = Path(source)
        if source == "latents":
            return latent_targets(latents(), dim, seed=seed + (0 if kind == "image" else 1))
        if p.suffix.lower() in (".npy", ".npz", ".h5", ".hdf5"):
            src_ids, emb = read_embedding_file(p, extra_ids)
            return _align(ids, src_ids, emb, p)
        if p.suffix.lower() == ".pt":
            require(p.exists(), p, "encoder bundle not found")
            from neuromodels import networks

            if kind == "image":
                images, _ = read_images(root / STIMULI_NAME, ids)
                return np.asarray(networks.embed_images(str(p), images, device=device, batch_size=256), np.float32)
            caps = read_captions(root / CAPTIONS_NAME)
            return np.asarray(networks.embed_texts([caps[int(i)] for i in ids], encoder=str(p)), np.float32)
        if kind == "text" and source in ("minilm", "minilm-random"):
            from neuromodels import networks

            caps = read_captions(root / CAPTIONS_NAME)
            return np.asarray(networks.embed_texts([caps[int(i)] for i in ids], encoder=source), np.float32)
        raise ConfigError(f"decoding.targets.{kind}", f"unknown source {source!r}")

    image_emb = from_source(image, "image", ids_path)
    text_emb = None if text == "none" else from_source(text, "text", text_ids_path)
    meta["standardised"] = bool(standardise)
    if standardise:
        image_emb = standardise_features(image_emb)
        text_emb = None if text_emb is None else standardise_features(text_emb)
    log.info("targets: %d stimuli, image %s from %s, text %s from %s", len(ids), image_emb.shape, image,
             None if text_emb is None else text_emb.shape, text)
    return Targets(ids, image_emb, text_emb, meta)
