"""A process that has imported nbgrader once and forks a fresh process for each nbgrader step.

Starting ``python -m nbgrader`` costs about 2.7 s of imports (nbformat's validator, jupyter_server,
SQLAlchemy), twice per student (autograde, feedback): more than a third of the time an a1
notebook takes to execute. The grading process therefore starts one server
(``python -m dlcourse.grading.fork_server``) that imports :data:`PRELOAD` and then, for each
request, forks a child that runs one nbgrader command exactly as ``python -m nbgrader`` would:
in its own session (its process group is killed at the time limit), with its own working
folder, environment and resource limits, its output in a file, nothing inherited but that file.

The server is single-threaded and runs no student code (the kernels nbgrader starts do, in the
sandbox). The protocol is one JSON object per line. Requests on its stdin::

    {"id": 1, "args": [...], "cwd": "...", "env": {...}, "output": "path", "memory": bytes or null}

replies on its stdout: ``{"id": 1, "pid": 1234}`` when the child started, then ``{"id": 1,
"exit": code}`` when it ended (a negative code: killed by that signal). The server ends when its
stdin closes. :class:`ForkServerClient` is the grading process's side; it starts the server
lazily and answers None when there is none, so callers fall back to ``python -m nbgrader``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field

#: Imported once by the server, so that each nbgrader step starts without importing them.
PRELOAD = ("nbgrader.apps", "nbgrader.apps.nbgraderapp", "dlcourse.grading.execute", "dlcourse.grading.feedback",
           "dlcourse.grading.guard", "dlcourse.grading.kernel")


# --------------------------------------------------------------------------------------- the server


def serve() -> None:
    """Read requests on stdin, fork one child per request, report pids and exit codes on stdout."""
    import importlib

    for module in PRELOAD:
        importlib.import_module(module)
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    os.set_blocking(writer, False)
    signal.set_wakeup_fd(writer)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop through the wakeup fd
    children: dict[int, int] = {}  # pid -> request id
    pending = b""
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    with selectors.DefaultSelector() as selector:
        selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "requests")
        selector.register(reader, selectors.EVENT_READ, "children")
        open_input = True
        while open_input or children:
            for key, _ in selector.select():
                if key.data == "children":
                    try:
                        while os.read(reader, 512):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                chunk = os.read(key.fd, 2**16)
                if not chunk:
                    selector.unregister(key.fd)
                    open_input = False
                    continue
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    request = json.loads(line)
                    pid = _fork(request, reader, writer)
                    children[pid] = request["id"]
                    out.write(json.dumps({"id": request["id"], "pid": pid}) + "\n")
            while children:  # reap every child that ended
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                code = os.waitstatus_to_exitcode(status)
                out.write(json.dumps({"id": children.pop(pid), "exit": code}) + "\n")
            out.flush()


def _fork(request: dict, *server_fds: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in server_fds:
            os.close(fd)
        code = _run_in_child(request)
    except BaseException:  # noqa: BLE001 - whatever happens, the child ends here, never in the server loop
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _run_in_child(request: dict) -> int:
    """One nbgrader command in this fresh child: session, limits, output file, folder, environment."""
    import resource

    os.setsid()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if request.get("memory"):
        resource.setrlimit(resource.RLIMIT_AS, (request["memory"], request["memory"]))
    out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, 65536)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - they live as long as the process
    sys.stdout = open(1, "w", buffering=1, closefd=False, errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="replace")  # noqa: SIM115
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["nbgrader", *request["args"]]
    from nbgrader.apps.nbgraderapp import NbGraderApp

    try:
        NbGraderApp.launch_instance(argv=list(request["args"]))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


# ------------------------------------------------------------------------------- the client side


def kill_group(pid: int) -> None:
    """SIGKILL the process group that ``pid`` leads, and ``pid`` itself (in case it had not led one yet)."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        try:
            kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    exit: int | None = None


class ForkServerClient:
    """The grading process's handle on one fork server (see the module docstring); thread-safe."""

    def __init__(self, env: dict[str, str]):
        self._proc = subprocess.Popen([sys.executable, "-m", "dlcourse.grading.fork_server"], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        ready = self._proc.stdout.readline()
        if not ready:
            self._proc.wait()
            raise OSError("the nbgrader fork server did not start")
        self.owner = os.getpid()
        self._lock = threading.Lock()
        self._calls: dict[int, _Call] = {}
        self._next = 0
        self.alive = True
        threading.Thread(target=self._read_replies, name="fork-server-replies", daemon=True).start()

    def _read_replies(self) -> None:
        for line in self._proc.stdout:
            reply = json.loads(line)
            with self._lock:
                call = self._calls.get(reply["id"])
            if call is None:
                continue
            if "pid" in reply:
                call.pid = reply["pid"]
                call.started.set()
            else:
                call.exit = reply["exit"]
                call.done.set()
        self.alive = False
        with self._lock:  # the server is gone: nobody waits forever
            for call in self._calls.values():
                call.started.set()
                call.done.set()

    def run(self, args: list[str], cwd: str, env: dict[str, str], output: str, memory: int | None,
            timeout: float | None) -> tuple[bool, int | None]:
        """Run one nbgrader command; ``(ran, exit code or None when killed at the timeout)``.

        ``ran`` is False when the server could not run it (it died): then nothing ran, and the caller
        runs the command another way.
        """
        with self._lock:
            if not self.alive:
                return False, None
            self._next += 1
            ident, call = self._next, _Call()
            self._calls[ident] = call
            try:
                self._proc.stdin.write((json.dumps({"id": ident, "args": args, "cwd": cwd, "env": env,
                                                    "output": output, "memory": memory}) + "\n").encode())
                self._proc.stdin.flush()
            except OSError:
                self.alive = False
                del self._calls[ident]
                return False, None
        try:
            call.started.wait()
            if call.pid is None:
                return False, None
            if not call.done.wait(timeout):
                kill_group(call.pid)
                call.done.wait()
                return True, None
            return True, call.exit
        finally:
            with self._lock:
                self._calls.pop(ident, None)

    def close(self) -> None:
        try:
            self._proc.stdin.close()
        except OSError:
            pass


_CLIENT: ForkServerClient | None = None
_CLIENT_LOCK = threading.Lock()


def client(env: dict[str, str]) -> ForkServerClient | None:
    """This process's fork server, started on first use; None when it cannot start."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None or not _CLIENT.alive or _CLIENT.owner != os.getpid():
            try:
                _CLIENT = ForkServerClient(env)
            except OSError:
                _CLIENT = None
        return _CLIENT


if __name__ == "__main__":
    serve()
