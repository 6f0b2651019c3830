"""``dlcourse doctor``: is this machine ready for the course? Each check says how to fix what is missing."""

from __future__ import annotations

import importlib
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from dlcourse.course import CourseError, find_course_root, list_assignments

VGG16_IMAGENET_FILE = "vgg16-397923af.pth"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception:  # noqa: BLE001 - a broken install is reported, not raised
        return None


def run_checks() -> list[Check]:
    checks = [Check("python", sys.version_info[:2] == (3, 11), platform.python_version(),
                    "the course is pinned to Python 3.11: create the venv with python3.11")]
    pins = {"torch": "2.14.1", "torchvision": "0.29.1"}
    for module in ("torch", "torchvision", "numpy", "sklearn", "matplotlib", "tqdm", "nbgrader", "nbclient", "nbval", "jupyterlab"):
        version = _version(module)
        expected = pins.get(module)
        ok = version is not None and (expected is None or version.split("+")[0] == expected)
        detail = version or "missing"
        checks.append(Check(module, ok, detail + (f" (pinned {expected})" if expected else ""),
                            "run `make install` (or `pip install -e .`) in the course folder"))
    try:
        import torch

        from dlcourse.torch_ref import get_device

        device = get_device()
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
        checks.append(Check("device", True, f"{device} ({name})", required=False))
        weights = Path(__file__).resolve().parent / "torch_ref" / "weights" / "mini_vgg.pt"
        checks.append(Check("mini_vgg weights", weights.is_file(),
                            f"{weights} ({weights.stat().st_size / 2**20:.1f} MB)" if weights.is_file() else f"missing: {weights}",
                            "they ship with the package: reinstall it, or rebuild them with "
                            "`python scripts/train_mini_vgg.py` (about 10 minutes on a laptop CPU)"))
        cache = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_IMAGENET_FILE
        checks.append(Check(
            "vgg16 ImageNet weights", cache.is_file(), str(cache) if cache.is_file() else f"not in {cache.parent}",
            "optional, for running L11/a5 with the real VGG16: on a machine with internet run "
            "`python -c \"import torchvision; torchvision.models.vgg16(weights='DEFAULT')\"` "
            "(downloads 528 MB into the torch cache); the course works offline without it",
            required=False,
        ))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("device", False, f"torch unusable: {exc}", "reinstall torch==2.14.1"))
    try:
        from dlcourse.data import load_digits

        splits = load_digits()
        checks.append(Check("digits data", True, f"{len(splits.X_train)} train / {len(splits.X_val)} val / "
                                                  f"{len(splits.X_test)} test images (scikit-learn, offline)"))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("digits data", False, str(exc), "reinstall scikit-learn (it ships the digits data)"))
    checks.append(_kernel_check())
    from dlcourse.grading.sandbox import INSTALL_HINT, sandbox_status

    sandboxed, why = sandbox_status()
    checks.append(Check("grading sandbox", sandboxed, why, INSTALL_HINT + " (instructors only; students never need it)",
                        required=False))
    alembic = shutil.which("alembic", path=str(Path(sys.executable).parent))
    checks.append(Check("alembic", alembic is not None, alembic or "missing",
                        "nbgrader creates its gradebook with alembic: reinstall nbgrader in this venv"))
    try:
        course = find_course_root()
        checks.append(Check("course folder", True, f"{course} ({', '.join(list_assignments(course)) or 'no assignments'})"))
    except CourseError as exc:
        checks.append(Check("course folder", False, str(exc), "run from the course folder or pass --course-dir",
                            required=False))
    return checks


def _kernel_check() -> Check:
    """Notebooks run in the ``python3`` kernel: it must be this interpreter, or they see other packages."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
        exe = spec.argv[0]
        resolved = shutil.which(exe) if not Path(exe).is_absolute() else exe
        same = resolved is not None and Path(resolved).resolve() == Path(sys.executable).resolve()
        return Check("python3 kernel", same, f"{exe} -> {resolved}",
                     f"the python3 kernel must run {sys.executable}: activate the venv (source .venv/bin/activate) "
                     "or run `python -m ipykernel install --sys-prefix`")
    except Exception as exc:  # noqa: BLE001
        return Check("python3 kernel", False, str(exc), "pip install ipykernel")


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"[{mark}] {c.name.ljust(width)}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"       {' ' * width}  fix: {c.fix}")
    return "\n".join(lines)
