"""The grading sandbox: bubblewrap around every process that runs a student's code.

The sandbox is an *allow-list*: a sandboxed process sees a new, empty root in which only
these are mounted, read-only:

- the system's programs and libraries (``/usr`` and the ``/bin``, ``/lib*`` links or folders)
  and the few files of ``/etc`` that programs need to start (``ld.so.cache``, time zone, ...);
- the Python interpreter and the course's environment (``sys.base_prefix``, ``sys.prefix``)
  and the ``dlcourse`` package (reference folders can be hidden: the probe runner hides them);
- the read-only and writable folders a caller names (the kernel's connection file, its
  socket folder).

Nothing else of the machine exists inside: not the course folder (solutions, gradebook,
submissions, logs), not the home folders, not another course or the instructor's repository
(except the package and environment folders above). The only writable places are in-memory
file systems of bounded size that vanish with the process: the work folder (the current
directory), ``/tmp``, ``/var/tmp`` and ``/dev/shm``; the root, ``/dev`` and every mount are
read-only. So nothing a student's code writes is ever read back by the grader.

The code runs as an unprivileged user: when grading as root, each concurrently graded
student gets an identity of its own (a uid and gid with no account, see :func:`identities`),
switched to before bubblewrap starts, with a cap on its processes and threads
(``RLIMIT_NPROC``, which binds any uid but 0). There is no network (a new, empty network
namespace), new PID/IPC/UTS/user namespaces (no further user namespaces inside), a new
session (no terminal injection), a cleared environment, and death with the grader. Memory
per process and core dumps are limited by the caller (``Limits``). Kernels are interrupted
by a message (``interrupt_mode: message``), because a SIGINT would hit bubblewrap.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dlcourse

#: Environment variables copied into the sandbox when set (the machine's BLAS tuning, locale).
PASSED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "LANG", "LC_ALL", "TZ")
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`), "
                "or grade inside a container (see README), or pass --unsafe to grade without a sandbox")
#: Folders of the system mounted read-only (a symbolic link, as on merged-/usr systems, is recreated as one).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The files of /etc that programs need; the rest of /etc (accounts, keys, configuration) is not mounted.
ETC_PATHS = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "alternatives", "ssl",
             "ca-certificates", "nsswitch.conf", "host.conf", "hosts", "mime.types", "os-release", "debian_version")
GPU_DEVICE_PATTERNS = ("nvidia[0-9]*", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
#: First uid of the identities handed to sandboxes; each grading process takes a block of its own.
FIRST_SANDBOX_UID = 200_000
IDENTITY_BLOCK = 1024
DROP_PRIVILEGES = Path(__file__).with_name("drop_privileges.py")
#: A mount source that drop_privileges makes reachable for the sandbox's user (see there).
REACH_TOKEN = "{{reach:{}}}"


def bwrap_executable() -> str | None:
    return shutil.which("bwrap")


def gpu_devices(dev: Path = Path("/dev")) -> list[Path]:
    """The NVIDIA device files of this machine (empty without a GPU): the sandbox passes them through
    so that hidden tests can run on CUDA where the grading machine has one."""
    found: set[Path] = set()
    for pattern in GPU_DEVICE_PATTERNS:
        found.update(p for p in dev.glob(pattern) if p.exists())
    return sorted(found)


@dataclass(frozen=True)
class Identity:
    """The unprivileged user a sandbox runs as (no account: a bare uid and gid)."""

    uid: int
    gid: int


def identities(count: int) -> list[Identity | None]:
    """``count`` distinct identities for sandboxes that run at the same time.

    Only root can switch users: elsewhere the sandboxes keep the grader's own (unprivileged)
    user and this returns ``[None] * count``. The block of uids is chosen by the process id, so
    two graders running at once on one machine do not share a process cap.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if os.geteuid() != 0:
        return [None] * count
    blocks = (2**31 - FIRST_SANDBOX_UID) // IDENTITY_BLOCK
    base = FIRST_SANDBOX_UID + (os.getpid() % blocks) * IDENTITY_BLOCK
    return [Identity(base + i % IDENTITY_BLOCK, base + i % IDENTITY_BLOCK) for i in range(count)]


@dataclass(frozen=True)
class SandboxLimits:
    """Bounds of one sandbox: its in-memory folders and its processes (threads included)."""

    work_bytes: int = 256 * 2**20
    tmp_bytes: int = 256 * 2**20
    shm_bytes: int = 64 * 2**20
    processes: int = 256  # tasks of the sandbox's user (applies when grading as root: see Identity)


@dataclass
class Sandbox:
    """What one sandboxed process may see and write.

    Args:
        workdir: path of the private, in-memory work folder (also the current directory). It is
            created inside the sandbox only: nothing at this path on the machine is mounted.
        student: the student id, passed as ``DLCOURSE_STUDENT_ID``.
        identity: the unprivileged user to run as (see :func:`identities`); None keeps the user.
        readonly: folders of the machine mounted read-only at the same path.
        writable: folders of the machine mounted writable at the same path (keep them empty and
            private to this sandbox: they are untrusted once it ran).
        hidden: folders replaced by empty ones (e.g. the reference packages in the probe runner).
        limits: sizes of the in-memory folders and the process cap.
    """

    workdir: Path
    student: str | None = None
    identity: Identity | None = None
    readonly: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)
    hidden: list[Path] = field(default_factory=list)
    limits: SandboxLimits = SandboxLimits()

    def argv(self, command: list[str]) -> list[str]:
        """The command line that runs ``command`` inside this sandbox."""
        exe = bwrap_executable()
        if exe is None:
            raise RuntimeError("bubblewrap is not installed: " + INSTALL_HINT)
        # As another user, bubblewrap may not reach a source (~root/.pyenv): drop_privileges makes it reachable.
        staged = self.identity is not None

        def bind(option: str, path: str | Path) -> list[str]:
            path = str(path)
            return [option, REACH_TOKEN.format(path) if staged else path, path]

        args = [exe, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]
        for kind, path, target in _system_mounts():
            args += ["--symlink", target, path] if kind == "link" else bind("--ro-bind", path)
        gpus = gpu_devices()
        if gpus:  # CUDA reads the driver's state under /sys
            args += bind("--ro-bind", "/sys")
        args += ["--proc", "/proc", "--dev", "/dev"]
        for device in gpus:  # --dev gives a minimal /dev: CUDA needs the GPU's device files
            args += ["--dev-bind", str(device), str(device)]
        limits = self.limits
        args += ["--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
        for folder in ("/tmp", "/var/tmp"):
            args += ["--size", str(limits.tmp_bytes), "--tmpfs", folder]
        # after the in-memory /tmp: the environment may live under /tmp (a fresh clone in CI)
        for needed in _python_paths():
            args += bind("--ro-bind", needed)
        for folder in self.readonly:
            args += bind("--ro-bind", folder.resolve())
        for folder in self.writable:
            args += bind("--bind", folder.resolve())
        for folder in self.hidden:
            args += ["--tmpfs", str(folder.resolve()), "--remount-ro", str(folder.resolve())]
        work = str(Path(os.path.abspath(self.workdir)))
        args += ["--size", str(limits.work_bytes), "--tmpfs", work, "--remount-ro", "/"]
        args += ["--chdir", work, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        args += ["--", *command]
        if self.identity is None:
            return args
        ident = self.identity
        return [sys.executable, "-I", "-S", str(DROP_PRIVILEGES), "--uid", str(ident.uid), "--gid", str(ident.gid),
                "--processes", str(limits.processes), "--", *args]

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "USER": "student",
            "LOGNAME": "student",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/matplotlib",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
        }
        env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
        if self.student is not None:
            env["DLCOURSE_STUDENT_ID"] = self.student
        return env

    def to_json(self) -> str:
        """This description as JSON (for the grading process that launches kernels, see ``kernel.py``)."""
        data = asdict(self)
        for key in ("workdir",):
            data[key] = str(data[key])
        for key in ("readonly", "writable", "hidden"):
            data[key] = [str(p) for p in data[key]]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Sandbox:
        data = json.loads(text)
        return cls(
            workdir=Path(data["workdir"]), student=data.get("student"),
            identity=Identity(**data["identity"]) if data.get("identity") else None,
            readonly=[Path(p) for p in data.get("readonly", [])], writable=[Path(p) for p in data.get("writable", [])],
            hidden=[Path(p) for p in data.get("hidden", [])], limits=SandboxLimits(**data.get("limits", {})),
        )


def _system_mounts() -> list[tuple[str, str, str]]:
    """``("link", path, target)`` or ``("bind", path, "")`` for each system path that exists here."""
    mounts = []
    for path in (*SYSTEM_PATHS, *(os.path.join("/etc", name) for name in ETC_PATHS)):
        if os.path.islink(path):
            mounts.append(("link", path, os.readlink(path)))
        elif os.path.exists(path):
            mounts.append(("bind", path, ""))
    return mounts


def _python_paths() -> list[Path]:
    """The interpreter, the environment and the package: mounted wherever they live (venv in the repo, pyenv in ~)."""
    found = {p.resolve() for p in (Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent.parent,
                                   Path(dlcourse.__file__).resolve().parent)}
    usr = Path("/usr")
    kept = [p for p in found if p != usr and usr not in p.parents]  # /usr is mounted with the system
    return sorted(p for p in kept if not any(q in p.parents for q in kept))


@functools.lru_cache(maxsize=1)
def sandbox_status() -> tuple[bool, str]:
    """Whether bubblewrap can create the grading sandbox here (as grading will), and why not when it cannot."""
    exe = bwrap_executable()
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    box = Sandbox(Path("/dlcourse-work"), identity=identities(1)[0])
    try:
        proc = subprocess.run(box.argv([sys.executable, "-I", "-S", "-c", "import os; print(os.getuid())"]),
                              capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, f"bubblewrap cannot create the sandbox here: {proc.stderr.strip()[:300]}"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    who = f"as uid {proc.stdout.strip()}" if box.identity else "as the grader's user (not root: no process cap)"
    return True, f"{version} at {exe}, student code runs {who}"


def private_folder(prefix: str) -> Path:
    """A new folder of the grader under /tmp (short paths: Unix socket names are limited to 107 bytes).

    Mode 0711: a sandbox's user can reach a subfolder it is given, but cannot list or enter the rest.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o711)
    return folder
