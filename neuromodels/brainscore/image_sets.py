"""Image classification sets of the brainscore family: held in memory (:class:`ImageDataset`), drawn from the
stimulus world, written and read.

On disk
    * HDF5: ``images`` uint8 ``(n, 3, H, W)``, ``labels`` int ``(n,)``, ``split`` int ``(n,)`` (0 train,
      1 test) and the attribute ``label_names`` (one name per label code). Optional ``stimulus_id``.
    * or an image folder: ``root/<class>/*.png|jpg`` (split drawn per class, 20 % test), or
      ``root/train/<class>/...`` and ``root/test/<class>/...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import DataError, require
from ..core.io import PathLike, atomic_path

__all__ = ["ImageDataset", "write_image_dataset", "read_image_dataset", "world_image_dataset"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class ImageDataset:
    """Labelled images held in memory.

    Attributes
    ----------
    images : uint8 ``(n, 3, H, W)``.
    labels : int64 ``(n,)`` codes into ``label_names``.
    split : int8 ``(n,)``, 0 train and 1 test.
    label_names : one name per class.
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    label_names: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the ``train`` or ``test`` part."""
        keep = self.split == {"train": 0, "test": 1}[which]
        return self.images[keep], self.labels[keep]


def world_image_dataset(
    n_train: int, n_test: int, size: int, seed: int, categories: Sequence[str] | None = None
) -> ImageDataset:
    """Classification of the stimulus world's object categories (all, or the ``categories`` named); train and
    test scenes are drawn apart."""
    from ..stimuli import CATEGORY_NAMES, render_scenes, sample_scenes

    names = list(categories) if categories else list(CATEGORY_NAMES)
    table = sample_scenes(n_train + n_test, seed=seed, categories=names)
    images = render_scenes(table, size=size).transpose(0, 3, 1, 2)
    codes = {name: i for i, name in enumerate(names)}
    labels = table["category"].map(codes).to_numpy(np.int64)
    split = np.r_[np.zeros(n_train, np.int8), np.ones(n_test, np.int8)]
    return ImageDataset(np.ascontiguousarray(images), labels, split, names)


def write_image_dataset(path: PathLike, data: ImageDataset) -> Path:
    """Write an :class:`ImageDataset` as HDF5 (atomically)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("images", data=data.images, compression="gzip", compression_opts=1)
            f.create_dataset("labels", data=data.labels.astype(np.int64))
            f.create_dataset("split", data=data.split.astype(np.int8))
            f.attrs["label_names"] = np.array(data.label_names, dtype=object)
    return path


def _read_hdf5(path: Path) -> ImageDataset:
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(path, f"not a readable HDF5 file ({exc})") from None
    with f:
        missing = [k for k in ("images", "labels") if k not in f]
        require(not missing, path, f"missing datasets {missing} (need images (n, 3, H, W) uint8 and labels)")
        images = f["images"][()]
        labels = f["labels"][()]
        split = f["split"][()] if "split" in f else None
        names = f.attrs.get("label_names")
    require(images.ndim == 4 and images.shape[1] == 3, path, f"images must be (n, 3, H, W), got shape {images.shape}")
    require(images.dtype == np.uint8, path, f"images must be uint8, got {images.dtype}")
    require(
        labels.ndim == 1 and len(labels) == len(images),
        path,
        f"labels must be (n,) with n = {len(images)}, got shape {labels.shape}",
    )
    require(
        np.issubdtype(labels.dtype, np.integer) and labels.min() >= 0, path, "labels must be non-negative integer codes"
    )
    n_classes = int(labels.max()) + 1
    label_names = (
        [str(x.decode() if isinstance(x, bytes) else x) for x in names]
        if names is not None
        else [str(i) for i in range(n_classes)]
    )
    require(len(label_names) >= n_classes, path, f"{len(label_names)} label_names for {n_classes} classes")
    if split is None:
        split = _default_split(labels, seed=0)
    require(
        split.shape == labels.shape and set(np.unique(split)) <= {0, 1},
        path,
        "split must be (n,) with 0 = train and 1 = test",
    )
    require((split == 0).any() and (split == 1).any(), path, "split needs both train (0) and test (1) images")
    return ImageDataset(images, labels.astype(np.int64), split.astype(np.int8), label_names)


def _default_split(labels: np.ndarray, seed: int, test_fraction: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    split = np.zeros(len(labels), np.int8)
    for code in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == code))
        split[idx[: max(1, int(round(test_fraction * len(idx))))]] = 1
    return split


def _read_folder(root: Path, size: int | None) -> ImageDataset:
    from PIL import Image

    parts = [root / "train", root / "test"] if (root / "train").is_dir() and (root / "test").is_dir() else [root]
    classes = sorted({d.name for part in parts for d in part.iterdir() if d.is_dir()})
    require(bool(classes), root, "no class folders (expected root/<class>/*.png or root/train|test/<class>/)")
    images, labels, split = [], [], []
    shape: tuple[int, int] | None = None
    for s, part in enumerate(parts):
        for code, name in enumerate(classes):
            folder = part / name
            if not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() not in _IMAGE_SUFFIXES:
                    continue
                try:
                    with Image.open(file) as img:
                        img = img.convert("RGB")
                        if size:
                            img = img.resize((size, size), Image.Resampling.BILINEAR)
                        array = np.asarray(img)
                except OSError as exc:
                    raise DataError(file, f"not a readable image ({exc})") from None
                if shape is None:
                    shape = array.shape[:2]
                require(
                    array.shape[:2] == shape,
                    file,
                    f"image is {array.shape[1]}x{array.shape[0]} px, others {shape[1]}x{shape[0]}; "
                    "give an image size to resize them",
                )
                images.append(array.transpose(2, 0, 1))
                labels.append(code)
                split.append(s)
    require(bool(images), root, "no images found")
    labels_arr = np.asarray(labels, np.int64)
    split_arr = np.asarray(split, np.int8) if len(parts) == 2 else _default_split(labels_arr, seed=0)
    return ImageDataset(np.stack(images), labels_arr, split_arr, classes)


def read_image_dataset(path: PathLike, size: int | None = None) -> ImageDataset:
    """Read a classification set from HDF5 (``.h5``/``.hdf5``) or an image folder; see the module doc.

    ``size`` resizes folder images to ``size x size`` (HDF5 images are resized by the model).
    """
    path = Path(path)
    require(path.exists(), path, "image dataset not found")
    if path.is_dir():
        return _read_folder(path, size)
    return _read_hdf5(path)
