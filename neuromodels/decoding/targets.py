"""Target embeddings per stimulus id: what the decoders predict.

A targets file is HDF5 with ``stimulus_id`` (n,) (integers, or strings such as 'nsd73000'), ``image`` float32
(n, d) and optionally ``text`` float32 (n, d_text), and attributes naming the encoders. Sources:

- user-supplied arrays (e.g. real CLIP embeddings): ``.npy`` with a separate ids file (``.txt``, ``.csv``,
  ``.npy`` or HDF5: :func:`neuromodels.decoding.data.read_id_list`); ``.npz`` with ``stimulus_id`` and
  ``embeddings``; HDF5 with ``stimulus_id`` and ``embeddings`` datasets, or one dataset per stimulus named by
  its id;
- an image encoder bundle the pipeline trained (``neuromodels.networks``; e.g. the CLIP-trained ViT), applied
  to ``stimuli.h5``; text from the packaged MiniLM sentence encoder (``text`` extra) over ``captions.csv``;
- ``latents``: a fixed random nonlinear projection of the simulator's planted latents (tests, and a check that
  needs no trained network).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuromodels.core.errors import ConfigError, DataError, require
from neuromodels.core.io import atomic_path
from neuromodels.core.runtime import get_logger

from .data import canonical_ids, id_key, load_npy, read_id_list, read_ids_dataset, write_ids_dataset

log = get_logger(__name__)


@dataclass
class Targets:
    """Embeddings by stimulus id. ``image`` (n, d), ``text`` (n, d_text) or None."""

    stimulus_id: np.ndarray
    image: np.ndarray
    text: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stimulus_id = canonical_ids(self.stimulus_id, self.meta.get("path"))
        self._row = {id_key(s): i for i, s in enumerate(self.stimulus_id)}

    def rows(self, ids: Sequence, path: str | Path | None = None) -> np.ndarray:
        missing = [id_key(s) for s in ids if id_key(s) not in self._row]
        require(not missing, path, f"no target embedding for {len(missing)} stimulus id(s), e.g. {missing[:3]}")
        return np.array([self._row[id_key(s)] for s in ids], dtype=np.int64)

    def take(self, ids: Sequence) -> dict[str, np.ndarray]:
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
            write_ids_dataset(f, "stimulus_id", targets.stimulus_id)
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
            ids = read_ids_dataset(f["stimulus_id"])
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
    uniq, counts = np.unique(ids, return_counts=True)
    require(bool(np.all(counts == 1)), path, f"duplicate stimulus ids, e.g. {uniq[counts > 1][:3].tolist()}")
    require(bool(np.isfinite(emb).all()), path, f"'{name}' holds NaN or infinite values")


def read_embedding_file(path: str | Path, ids_path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """User-supplied embeddings keyed by stimulus id: ``(ids (n,), embeddings (n, d))``.

    Accepted: ``.npy`` (needs ``ids_path``, ids in the same order as ``.txt``, ``.csv``, ``.npy`` or HDF5;
    :func:`~neuromodels.decoding.data.read_id_list`), ``.npz`` with ``stimulus_id`` and ``embeddings``, HDF5
    (``.h5``/``.hdf5``) with ``stimulus_id`` and ``embeddings`` datasets or one 1D dataset per stimulus named by
    its id. Ids may be integers or strings.
    """
    path = Path(path)
    require(path.exists(), path, "embedding file not found")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        require(ids_path is not None, path, "an .npy of embeddings needs a file of stimulus ids in the same order")
        emb = load_npy(path)
        ids = read_id_list(ids_path)  # type: ignore[arg-type]
    elif suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                require(
                    {"stimulus_id", "embeddings"} <= set(z.files), path, "needs arrays 'stimulus_id' and 'embeddings'"
                )
                ids, emb = canonical_ids(z["stimulus_id"], path, "'stimulus_id'"), z["embeddings"]
        except (OSError, ValueError) as exc:
            raise DataError(path, f"not a readable .npz file ({type(exc).__name__})") from None
    elif suffix in (".h5", ".hdf5"):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                if "embeddings" in f:
                    require("stimulus_id" in f, path, "has 'embeddings' but no 'stimulus_id'")
                    ids, emb = read_ids_dataset(f["stimulus_id"]), f["embeddings"][()]
                else:
                    keys = [k for k in f.keys() if isinstance(f[k], h5py.Dataset)]
                    require(bool(keys), path, "needs 'stimulus_id' + 'embeddings', or one dataset per stimulus id")
                    ids = canonical_ids(keys, path)
                    keys = [keys[i] for i in np.argsort(ids, kind="stable")]
                    ids = np.sort(ids)
                    emb = np.stack([np.asarray(f[k][()]).ravel() for k in keys])
        except OSError:
            raise DataError(path, "not a readable HDF5 file") from None
    else:
        raise DataError(path, "embedding files must be .npy, .npz, .h5 or .hdf5")
    require(np.asarray(emb).dtype.kind in "iuf", path, f"embeddings must be numbers, got {np.asarray(emb).dtype}")
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


IMAGE_BLOCK = 1024  # images read and embedded at a time (1024 NSD images: 0.55 GB of uint8)


def make_targets(
    data_root: str | Path,
    image: str,
    text: str = "none",
    ids_path: str | None = None,
    text_ids_path: str | None = None,
    device: str = "cpu",
    dim: int = 64,
    seed: int = 0,
    standardise: bool = True,
    layout: str = "auto",
    release: dict | None = None,
    models: dict | None = None,
    encoder_seed: int = 0,
) -> Targets:
    """Embeddings for the stimuli of a data set (:func:`~neuromodels.decoding.data.open_dataset`): every
    stimulus of the simple layout's stimuli file; in NSD's release, the images shown in the sessions present
    (:meth:`~neuromodels.decoding.data.NSDRelease.target_ids`; not every image of ``subjectim``).

    Parameters
    ----------
    image:
        ``latents`` (simulated data only), a declared model's name (:mod:`neuromodels.networks.declared`: the
        project's ``clip``, ``slip``, ``simclr`` or one of ``models``; its output for each image), an encoder
        bundle (``.pt``, from ``neuromodels.networks``) or a user-supplied embedding file (``.npy``/``.npz``/
        ``.h5``).
    text:
        ``none``, ``latents``, a declared model with a text side (``minilm``, needs the ``text`` extra;
        ``minilm-random`` its random-init copy; ``clip``; one of ``models``), an encoder bundle (its caption
        encoder) or an embedding file.
    models:
        The config's ``models:`` section (declared models).
    encoder_seed:
        The run seed whose trained networks a declared model reads (``{seed}`` in its declaration).
    dim:
        Width of ``latents`` targets (text ones get the same width).
    standardise:
        Standardise each feature over the stimuli (:func:`standardise_features`; default True).
    """
    from .data import open_dataset

    root = Path(data_root)
    dataset = open_dataset(root, layout, release=release)
    ids = dataset.target_ids()
    meta = {"image_encoder": image, "text_encoder": text, "layout": dataset.layout}

    def latents() -> np.ndarray:
        from .simulate import read_ground_truth

        truth = read_ground_truth(root)
        t = Targets(truth["stimulus_id"], truth["latents"])
        return truth["latents"][t.rows(ids, root / "ground_truth.npz")]

    def captions() -> list[str]:
        caps = dataset.captions()
        missing = [id_key(i) for i in ids if id_key(i) not in caps]
        require(not missing, root / "captions.csv", f"no caption for {len(missing)} stimulus id(s), e.g. {missing[:3]}")
        return [caps[id_key(i)] for i in ids]

    from neuromodels.networks.declared import build_model, declarations

    declared = declarations(models)

    def from_model(model, kind: str) -> np.ndarray:
        """A declared model's output per image (in blocks: NSD's 10k images per subject at 425 x 425 are
        gigabytes), or its text side's embedding per caption."""
        where = f"decoding.targets.{kind}"
        if kind == "image":
            if model.vision is None:
                raise ConfigError(where, f"{model.name} is a text model; it embeds no image")
            blocks = []
            for start in range(0, len(ids), IMAGE_BLOCK):
                images, _ = dataset.images(ids[start : start + IMAGE_BLOCK])
                blocks.append(model.embed_images(images))
            return np.concatenate(blocks, axis=0)
        if model.text is None:
            raise ConfigError(where, f"{model.name} has no text side; it embeds no caption")
        return model.embed_texts(captions())

    def from_source(source: str, kind: str, extra_ids: str | None) -> np.ndarray:
        p = Path(source)
        if source == "latents":
            return latent_targets(latents(), dim, seed=seed + (0 if kind == "image" else 1))
        if p.suffix.lower() in (".npy", ".npz", ".h5", ".hdf5"):
            src_ids, emb = read_embedding_file(p, extra_ids)
            return _align(ids, src_ids, emb, p)
        if p.suffix.lower() == ".pt":
            require(p.exists(), p, "encoder bundle not found")
            from neuromodels.networks.declared import bundle_declaration

            return from_model(build_model(bundle_declaration(p), seed=encoder_seed, device=device), kind)
        name = source.removesuffix("-random")
        if name in declared:
            model = build_model(
                declared[name],
                untrained=name != source,
                seed=encoder_seed,
                init_seed=0 if name != source else None,
                device=device,
                user=models,
            )
            return from_model(model, kind)
        raise ConfigError(f"decoding.targets.{kind}", f"unknown source {source!r}")

    image_emb = from_source(image, "image", ids_path)
    text_emb = None if text == "none" else from_source(text, "text", text_ids_path)
    meta["standardised"] = bool(standardise)
    if standardise:
        image_emb = standardise_features(image_emb)
        text_emb = None if text_emb is None else standardise_features(text_emb)
    log.info(
        "targets: %d stimuli, image %s from %s, text %s from %s",
        len(ids),
        image_emb.shape,
        image,
        None if text_emb is None else text_emb.shape,
        text,
    )
    return Targets(ids, image_emb, text_emb, meta)
