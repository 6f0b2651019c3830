"""dlcourse.data as a package: lazy public names, one concept per module, argument checks."""

import importlib
import math
import pickle
import types
from pathlib import Path

import numpy as np
import pytest

import dlcourse.data as data

PACKAGE_DIR = Path(data.__file__).parent


def test_every_public_name_resolves_to_its_object_not_to_a_submodule():
    for name in data.__all__:
        value = getattr(data, name)
        assert not isinstance(value, types.ModuleType), f"dlcourse.data.{name} is a module"
        exec(f"from dlcourse.data import {name}", {})
    # importing every submodule afterwards must not rebind a public name to a module
    for path in PACKAGE_DIR.glob("[a-z]*.py"):
        importlib.import_module(f"dlcourse.data.{path.stem}")
    assert callable(data.augmentation) and not isinstance(data.augmentation, types.ModuleType)
    assert data.SHAPE_CLASSES[0] == "disk" and data.DIGITS_NUM_CLASSES == 10


def test_dir_and_all_are_sensible():
    listing = dir(data)
    assert set(data.__all__) <= set(listing)
    assert {"load_digits", "make_shapes", "ImageDataset", "augmentation", "shapes", "torch_dataset"} <= set(listing)
    assert len(data.__all__) == len(set(data.__all__))
    assert not any(name.startswith("_") for name in data.__all__)
    with pytest.raises(AttributeError, match="no_such_name"):
        data.no_such_name  # noqa: B018


def test_public_objects_live_in_the_submodules_of_their_concept():
    assert data.make_shapes.__module__ == "dlcourse.data.shapes"
    assert data.load_digits.__module__ == "dlcourse.data.digits"
    assert data.ImageDataset.__module__ == "dlcourse.data.torch_dataset"
    assert data.augmentation.__module__ == "dlcourse.data.augmentations"


def test_no_module_of_the_package_is_over_450_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE_DIR.glob("*.py")}
    assert not {name: n for name, n in sizes.items() if n > 450}, sizes


def test_image_dataset_pickles_for_dataloader_workers():
    ds = data.ImageDataset(np.zeros((3, 1, 4, 4)), np.arange(3))
    copy = pickle.loads(pickle.dumps(ds))
    assert type(copy) is data.ImageDataset and len(copy) == 3


@pytest.mark.parametrize("call, argname", [
    (lambda: data.make_shapes(10, difficulty=1.5), "difficulty"),
    (lambda: data.make_shapes(10, difficulty=math.nan), "difficulty"),
    (lambda: data.make_glyphs(10, difficulty=-0.1), "difficulty"),
    (lambda: data.make_shapes(True), "n"),
    (lambda: data.make_shapes(10, num_classes=2.0), "num_classes"),
    (lambda: data.load_digits(val_fraction=0.0), "val_fraction"),
    (lambda: data.load_digits(test_fraction=1), "test_fraction"),
    (lambda: data.make_circles(factor=1.0), "factor"),
    (lambda: data.make_moons(noise=-1e-3), "noise"),
    (lambda: data.make_xor(noise=math.inf), "noise"),
    (lambda: data.make_source_task(30, difficulties=(0.5, 2.0)), "difficulties"),
    (lambda: data.make_shapes_splits(0, 5, 5), "n_train"),
    (lambda: data.augmentation(rotation=181), "rotation"),
    (lambda: data.augmentation(crop_padding=-1), "crop_padding"),
    (lambda: data.GaussianNoise(std=-0.5), "std"),
])
def test_bad_arguments_raise_value_error_naming_the_argument(call, argname):
    with pytest.raises(ValueError, match=argname):
        call()


def test_interval_ends_are_accepted():
    assert data.make_shapes(2, difficulty=0.0)[0].shape == (2, 3, 32, 32)
    assert data.make_shapes(2, difficulty=1)[0].shape == (2, 3, 32, 32)
    assert len(data.augmentation(rotation=180).transforms) == 2


def test_the_static_imports_for_type_checkers_match_the_lazy_names():
    import ast

    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    block = next(node for node in tree.body
                 if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    static = {alias.name: node.module.rsplit(".", 1)[1] for node in block.body for alias in node.names}
    assert static == data._NAME_TO_MODULE
