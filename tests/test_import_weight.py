"""The numpy half of the package does not load torch: importing it stays light for numpy notebooks.

Each check runs in a fresh interpreter (a subprocess), because this test session has long
imported torch.  A meta-path hook in that interpreter records where torch was first imported
from, so a failure names the file and line that pulled it in.
"""

import json
import subprocess
import sys
import textwrap

import pytest

# Runs in the child: import the modules named in argv[1] (a trailing ".*" also imports all the
# package's submodules), evaluate the calls argv[2:] with ``data`` = dlcourse.data, and print
# {"torch_loaded": bool, "first_import": [frames]} as JSON.
_CHILD = textwrap.dedent("""
    import importlib, json, pkgutil, sys, traceback

    class _RecordTorchImport:
        first = None

        def find_spec(self, name, path=None, target=None):
            if (name == "torch" or name.startswith("torch.")) and _RecordTorchImport.first is None:
                frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
                _RecordTorchImport.first = [f"{f.filename}:{f.lineno}" for f in frames[-6:]]
            return None  # let the real finders import it

    sys.meta_path.insert(0, _RecordTorchImport())

    for name in sys.argv[1].split(","):
        module = importlib.import_module(name.removesuffix(".*"))
        if name.endswith(".*"):
            for info in pkgutil.walk_packages(getattr(module, "__path__", []), prefix=module.__name__ + "."):
                importlib.import_module(info.name)
    for call in sys.argv[2:]:
        eval(call, {"data": importlib.import_module("dlcourse.data")})
    print(json.dumps({"torch_loaded": "torch" in sys.modules, "first_import": _RecordTorchImport.first}))
""")

# numpy-only parts of dlcourse.data (the torch parts are torch_dataset and augmentations)
_NUMPY_DATA_MODULES = ["digits", "toy_2d", "image_splits", "digits_images", "scene", "shapes", "glyphs",
                       "cluttered_digits", "source_task"]


def _torch_after(modules: list[str], calls: tuple[str, ...] = ()) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, ",".join(modules), *calls],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _assert_torch_free(modules: list[str], calls: tuple[str, ...] = ()) -> None:
    """Fail, naming where torch was imported from, if importing ``modules`` (then ``calls``) loads torch."""
    result = _torch_after(modules, calls)
    what = f"importing {modules}" + (f" and calling {', '.join(calls)}" if calls else "")
    assert not result["torch_loaded"], (
        f"{what} loaded torch; first import from (innermost last):\n  " + "\n  ".join(result["first_import"] or ["?"]))


def test_dlcourse_data_and_its_numpy_modules_do_not_import_torch():
    _assert_torch_free(["dlcourse.data"] + [f"dlcourse.data.{m}" for m in _NUMPY_DATA_MODULES])


def test_the_numpy_data_sets_do_not_need_torch():
    _assert_torch_free(["dlcourse.data"], ("data.load_digits()", "data.make_xor()", "data.make_spirals()",
                                           "data.make_moons()", "data.make_circles()", "data.make_shapes(5)",
                                           "data.make_shapes_splits(4, 2, 2)", "data.glyph_alphabet(3)"))


@pytest.mark.parametrize("package", ["dlcourse.numpy_ref", "dlcourse.plots", "dlcourse.validation"])
def test_numpy_packages_and_all_their_submodules_do_not_import_torch(package):
    _assert_torch_free([package + ".*"])


def test_the_numpy_half_together_does_not_import_torch():
    _assert_torch_free(["dlcourse.data", "dlcourse.numpy_ref.*", "dlcourse.plots.*", "dlcourse.validation"])


def test_the_torch_parts_of_dlcourse_data_stay_reachable_and_load_torch():
    child = textwrap.dedent("""
        import json, sys
        import dlcourse.data
        before = "torch" in sys.modules
        from dlcourse.data import GaussianNoise, ImageDataset, augmentation
        import torch.utils.data
        print(json.dumps({"before": before, "after": "torch" in sys.modules,
                          "dataset": issubclass(ImageDataset, torch.utils.data.Dataset),
                          "augmentation_callable": callable(augmentation) and not isinstance(augmentation, type(sys)),
                          "noise": repr(GaussianNoise(0.5))}))
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"before": False, "after": True, "dataset": True, "augmentation_callable": True,
                      "noise": "GaussianNoise(std=0.5)"}
