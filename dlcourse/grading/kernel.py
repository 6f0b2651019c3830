"""The grading kernel's launcher: every start is described by the trusted grading process.

nbgrader starts kernels from a kernelspec file, and a kernel that dies is restarted from that
file again. Nothing the sandboxed kernel can write may decide how its successor starts, so
:class:`SandboxedKernelManager` uses no kernelspec file at all: the command line of every start
(the first and every restart) is built here, in nbgrader's process, from the sandbox description
that ``dlcourse grade`` put in the environment variable :data:`SANDBOX_ENV` (see
:meth:`dlcourse.grading.sandbox.Sandbox.to_json`).

Each start gets a new folder of the grader, ``<runtime>/k-XXXX/``, with two subfolders mounted
into the sandbox: ``conn/`` read-only (the connection file, readable by the sandbox's user
only) and ``sock/`` writable (the kernel's Unix sockets, the only thing the kernel must
create). The folder is removed when the kernel is cleaned up and nothing in it is read back.
(The kernel's sockets themselves are the kernel's: it could replace one with a link to another
socket of the machine, which nbgrader's client would then connect to and send kernel messages;
see the README's threat model.)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from dlcourse.grading.sandbox import Sandbox

SANDBOX_ENV = "DLCOURSE_SANDBOX"
RUNTIME_ENV = "DLCOURSE_KERNEL_RUNTIME"
DISPLAY_NAME = "Python 3 (dlcourse grading sandbox)"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels always start in the grading sandbox described by the grader."""

    _start_dir: Path | None = None

    @property
    def kernel_spec(self) -> KernelSpec:  # no file to read (or to be rewritten by a kernel)
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          display_name=DISPLAY_NAME, language="python", interrupt_mode="message",
                          resource_dir="", metadata={})

    def _sandbox(self) -> Sandbox:
        text = os.environ.get(SANDBOX_ENV)
        if not text:
            raise RuntimeError(f"{SANDBOX_ENV} is not set: this kernel manager only runs under `dlcourse grade`")
        return Sandbox.from_json(text)

    async def _async_pre_start_kernel(self, **kw):
        box = self._sandbox()
        runtime = os.environ.get(RUNTIME_ENV) or tempfile.gettempdir()
        self._start_dir = Path(tempfile.mkdtemp(prefix="k-", dir=runtime))
        conn, sock = self._start_dir / "conn", self._start_dir / "sock"
        conn.mkdir(mode=0o711)
        sock.mkdir(mode=0o700)
        if box.identity is not None:
            os.chown(sock, box.identity.uid, box.identity.gid)
        self.transport = "ipc"
        self.ip = str(sock / "k")
        self.connection_file = str(conn / "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        # Called right after the connection file was written: hand it to the sandbox's user, read-only.
        box = self._sandbox()
        assert self._start_dir is not None
        if box.identity is not None:
            os.chown(self.connection_file, box.identity.uid, box.identity.gid)
        os.chmod(self.connection_file, 0o400)
        box.readonly = [*box.readonly, self._start_dir / "conn"]
        box.writable = [*box.writable, self._start_dir / "sock"]
        return box.argv([sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file,
                         *(extra_arguments or [])])

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        # The launcher sees no course folder as its directory and none of the grader's environment.
        kw["cwd"] = "/"
        kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._start_dir is not None:
            shutil.rmtree(self._start_dir, ignore_errors=True)  # rmtree never follows links
            self._start_dir = None
