"""Offline datasets for the course: nothing here downloads anything.

The package is split into one module per data set; ``from dlcourse.data import X`` works
for every public name, and each module is imported on first use.  Only the torch parts
(:mod:`~dlcourse.data.torch_dataset`, :mod:`~dlcourse.data.augmentations`) import torch at
import time, so ``import dlcourse.data`` and the numpy data sets stay torch-free.

* :mod:`~dlcourse.data.digits` — :func:`load_digits`: scikit-learn's 8x8 handwritten
  digits (1797 images, 10 classes; the data ship with scikit-learn), split into
  train/validation/test sets and standardized with training statistics only.
* :mod:`~dlcourse.data.toy_2d` — toy 2-D sets for plotting decision boundaries:
  :func:`make_xor`, :func:`make_spirals`, :func:`make_moons`, :func:`make_circles`.
  Each returns ``(X, y)`` with ``X`` float64 of shape (n, 2) and ``y`` int64 class
  labels of shape (n,), shuffled, and reproducible from ``seed``.
* Image sets for conv nets (float32, (N, 3, 32, 32) by default), returned as
  :class:`ImageSplits` (:mod:`~dlcourse.data.image_splits`, with :func:`channel_stats` /
  :func:`normalize_images`: per-channel training statistics):
  :func:`load_digits_images` (:mod:`~dlcourse.data.digits_images`, the digits upsampled
  to colour-channel images), :func:`make_shapes` (:mod:`~dlcourse.data.shapes`,
  procedurally drawn shapes with a ``difficulty`` knob), :func:`make_glyphs`
  (:mod:`~dlcourse.data.glyphs`, invented handwritten characters),
  :func:`load_cluttered_digits` (:mod:`~dlcourse.data.cluttered_digits`) and
  :func:`make_source_task` (:mod:`~dlcourse.data.source_task`, what ``mini_vgg`` was
  pretrained on); their shared nuisances are in :mod:`~dlcourse.data.scene`.
* torch: the ``Dataset`` wrapper :class:`ImageDataset` (:mod:`~dlcourse.data.torch_dataset`)
  and the augmentations of the lectures (:mod:`~dlcourse.data.augmentations`:
  :func:`augmentation` — flips, rotations, crops, noise — and :class:`GaussianNoise`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static analysis and IDEs see; at run time the names load lazily
    from dlcourse.data.augmentations import GaussianNoise, augmentation
    from dlcourse.data.cluttered_digits import load_cluttered_digits
    from dlcourse.data.digits import DIGITS_IMAGE_SHAPE, DIGITS_NUM_CLASSES, DigitsSplits, load_digits
    from dlcourse.data.digits_images import load_digits_images
    from dlcourse.data.glyphs import glyph_alphabet, make_glyphs, make_glyphs_splits
    from dlcourse.data.image_splits import ImageSplits, channel_stats, normalize_images
    from dlcourse.data.shapes import SHAPE_CLASSES, make_shapes, make_shapes_splits
    from dlcourse.data.source_task import SOURCE_DIFFICULTIES, SOURCE_GLYPH_CLASSES, make_source_task
    from dlcourse.data.torch_dataset import ImageDataset
    from dlcourse.data.toy_2d import make_circles, make_moons, make_spirals, make_xor

#: Public name -> the submodule that defines it (imported on first access).
_NAME_TO_MODULE: dict[str, str] = {
    "DIGITS_NUM_CLASSES": "digits",
    "DIGITS_IMAGE_SHAPE": "digits",
    "DigitsSplits": "digits",
    "load_digits": "digits",
    "make_xor": "toy_2d",
    "make_spirals": "toy_2d",
    "make_moons": "toy_2d",
    "make_circles": "toy_2d",
    "ImageSplits": "image_splits",
    "channel_stats": "image_splits",
    "normalize_images": "image_splits",
    "load_digits_images": "digits_images",
    "SHAPE_CLASSES": "shapes",
    "make_shapes": "shapes",
    "make_shapes_splits": "shapes",
    "glyph_alphabet": "glyphs",
    "make_glyphs": "glyphs",
    "make_glyphs_splits": "glyphs",
    "load_cluttered_digits": "cluttered_digits",
    "SOURCE_GLYPH_CLASSES": "source_task",
    "SOURCE_DIFFICULTIES": "source_task",
    "make_source_task": "source_task",
    "ImageDataset": "torch_dataset",
    "GaussianNoise": "augmentations",
    "augmentation": "augmentations",
}

#: The submodules, one concept each (``dlcourse.data.<name>``).
_SUBMODULES = frozenset({
    "digits", "toy_2d", "image_splits", "digits_images", "scene", "shapes", "glyphs",
    "cluttered_digits", "source_task", "torch_dataset", "augmentations",
})

# A submodule must not share a name with a public attribute: importing it would rebind the
# package attribute to the module (hence ``augmentations``, the module of ``augmentation``).
__all__ = list(_NAME_TO_MODULE)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first access (PEP 562)."""
    if name in _NAME_TO_MODULE:
        module = importlib.import_module(f"{__name__}.{_NAME_TO_MODULE[name]}")
        value = getattr(module, name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names and submodules, loaded or not, besides the module's own attributes."""
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
