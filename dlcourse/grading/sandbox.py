"""The grading sandbox: bubblewrap around every process that runs a student's code.

A sandboxed process sees the whole system read-only, with these exceptions:

- the course folder (``solutions/``, ``gradebook.db``, every student's submission and
  results, logs), the home folder and ``/tmp`` are replaced by empty in-memory folders;
  the course's virtual environment and the ``dlcourse`` package are mounted back read-only
  when they live inside the course folder;
- the student's work folder is mounted back writable (nothing else is writable);
- reference packages can be hidden too (the probe runner hides the reference
  implementation of the exercises it verifies);
- no network (a new, empty network namespace), new PID/IPC/UTS namespaces, a new session
  (no terminal injection), a cleared environment, and death with the grader.

Memory and core limits are inherited from the grading process (see ``Limits``). The
kernel talks to nbgrader over Unix sockets in a private folder that is mounted into the
sandbox, and is interrupted by a message (``interrupt_mode: message``), because a SIGINT
would hit bubblewrap instead of the kernel.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import dlcourse

KERNEL_NAME = "dlcourse-sandbox"
#: Environment variables copied into the sandbox when set (the machine's BLAS tuning).
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL", "TZ")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`), "
                "or grade inside a container (see README), or pass --unsafe to grade without a sandbox")


def bwrap_executable() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def sandbox_status() -> tuple[bool, str]:
    """Whether bubblewrap can create the grading sandbox here, and why not when it cannot."""
    exe = bwrap_executable()
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    probe = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
             "--die-with-parent", "--new-session", "--tmpfs", "/tmp", "true"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, f"bubblewrap cannot create namespaces here: {proc.stderr.strip()[:200]}"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    return True, f"{version} at {exe}"


GPU_DEVICE_PATTERNS = ("nvidia[0-9]*", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")


def gpu_devices(dev: Path = Path("/dev")) -> list[Path]:
    """The NVIDIA device files of this machine (empty without a GPU): the sandbox passes them through
    so that hidden tests can run on CUDA where the grading machine has one."""
    found: set[Path] = set()
    for pattern in GPU_DEVICE_PATTERNS:
        found.update(p for p in dev.glob(pattern) if p.exists())
    return sorted(found)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


@dataclass
class Sandbox:
    """What one sandboxed process may see and write."""

    course_dir: Path
    workdir: Path  # writable, and the working directory
    student: str | None = None
    extra_writable: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)  # folders replaced by empty ones

    def argv(self, command: list[str]) -> list[str]:
        """The bubblewrap command line that runs ``command`` inside this sandbox."""
        exe = bwrap_executable()
        if exe is None:
            raise RuntimeError("bubblewrap is not installed: " + INSTALL_HINT)
        course = self.course_dir.resolve()
        args = [exe, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--unshare-all", "--die-with-parent", "--new-session",
                "--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", str(Path.home())]
        for device in gpu_devices():  # --dev gives a minimal /dev: CUDA needs the GPU's device files
            args += ["--dev-bind", str(device), str(device)]
        args += ["--tmpfs", str(course)]
        # the venv, the interpreter it was made from (e.g. pyenv under ~), and the package
        for needed in (Path(sys.prefix), Path(sys.base_prefix), Path(dlcourse.__file__).resolve().parent):
            if _inside(needed, course) or _inside(needed, Path.home()) or _inside(needed, Path("/tmp")):
                args += ["--ro-bind", str(needed.resolve()), str(needed.resolve())]
        for folder in self.hidden:
            args += ["--tmpfs", str(folder.resolve())]
        for folder in [self.workdir, *self.extra_writable]:
            args += ["--bind", str(folder.resolve()), str(folder.resolve())]
        # the empty course and home folders are read-only too (the work folder stays writable)
        args += ["--remount-ro", str(course), "--remount-ro", str(Path.home())]
        args += ["--chdir", str(self.workdir.resolve()), "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return args + command

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
        if self.student is not None:
            env["DLCOURSE_STUDENT_ID"] = self.student
        return env

    def write_kernelspec(self, kernels_root: Path) -> str:
        """Write a kernelspec that starts the IPython kernel in this sandbox; return its name.

        Point ``JUPYTER_PATH`` at ``kernels_root`` and select the kernel by name.
        """
        folder = kernels_root / "kernels" / KERNEL_NAME
        folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "argv": self.argv([sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]),
            "display_name": "Python 3 (dlcourse grading sandbox)",
            "language": "python",
            "interrupt_mode": "message",
        }
        (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
        return KERNEL_NAME
