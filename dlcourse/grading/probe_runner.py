"""Runs a student's code and the probe calls out of process (inside the sandbox), as two processes.

Started by :func:`dlcourse.grading.probes.run_probes` as ``python -I <this file>``. It reads one
JSON request on stdin::

    {"cells": [source, ...], "setup": source, "calls": [{"id", "function", "args", "kwargs", "forbid"?}],
     "forbidden_modules": [...], "forbidden_dirs": [...], "call_timeout": seconds, "budget": seconds,
     "max_bytes": bytes, "private_pid_namespace": bool}

and writes one message (:mod:`dlcourse.grading.probe_wire`) on stdout: ``{"results": {call id:
{"ok": true, "value": encoded} or {"ok": false, "error": why}}, "problem": why or null}``. The
grader checks it again and compares the values with the reference itself.

**The supervisor** (the process started) never runs the student's code; it has loaded only the
standard library when it forks **the worker**, which gets /dev/null as stdin, stdout and stderr
and no descriptor but its two pipes (commands in, replies out). The supervisor drives it one
step at a time: "cells" (the student's cells in one namespace, where an exception ends that cell
as in a notebook, then the instructor's setup), then "call k" for each call, each step with a
deadline (``call_timeout`` per call, everything within ``budget``). At a missed deadline it kills
the worker, and the calls not run fail saying why. It checks every reply (``max_bytes`` in all):
one that is not a well-formed result fails its call, never the run. It is not dumpable, so the
worker (the same user) can neither trace it nor open its descriptors.

Before any student code, the worker installs an audit hook (Python offers no way to remove one)
refusing imports of the forbidden reference modules, opening their files and starting processes.
A call with ``forbid`` (dotted names of library callables, resolved before the student's code
runs, see :mod:`dlcourse.grading.forbidden`) runs under a profile function that signals the
supervisor (SIGUSR1) at the first forbidden call. The verdict is that signal, not the reply, which
the student's code can rewrite. The supervisor blocks the signal and reads it after each checked
call; only the armed profile function sends it, so one pending before a checked call is the
student's own doing and is dropped.

The profile function sees the calling thread and the threads ``threading`` starts meanwhile, so a
checked call must not start threads or processes. In a private PID namespace (the sandbox's) the
supervisor reads ``/proc/sys/kernel/ns_last_pid`` before and after each checked call, which tells
whether any task was created: only this sandboxed check is a guarantee. Elsewhere it compares the
worker's thread count and takes the worker's count of ``threading`` starts, which code can evade.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

if __package__:
    from dlcourse.grading import probe_wire as wire
else:  # started as a file: importing the package would load numpy into the supervisor
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import probe_wire as wire

    del sys.path[0]

encode, decode = wire.encode, wire.decode

FORBIDDEN_SIGNAL = signal.SIGUSR1
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
NS_LAST_PID = "/proc/sys/kernel/ns_last_pid"


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    _prctl(PR_SET_DUMPABLE, 0)
    signal.pthread_sigmask(signal.SIG_BLOCK, {FORBIDDEN_SIGNAL})  # it stays pending until read
    commands, replies = os.pipe(), os.pipe()
    supervisor_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        _work(request, supervisor_pid, commands[0], replies[1])
    os.close(commands[0])
    os.close(replies[1])
    supervisor = _Supervisor(request, pid, commands[1], replies[0])
    try:
        results, problem = supervisor.run()
    except Exception as exc:  # noqa: BLE001 - a fault here must still reach the grader as a result
        results, problem = {}, f"the probe supervisor failed: {type(exc).__name__}: {str(exc)[:2000]}"
    finally:
        supervisor.kill()
    wire.write_all(1, wire.pack({"results": results, "problem": problem}))
    return 0


class _Stop(Exception):
    """The worker is gone (it ended, missed a deadline or broke the channel): nothing more can run."""

    def __init__(self, what: str, own: str):
        super().__init__(what)
        self.what = what  # follows a subject: "did not finish in 5 s"
        self.own = own  # the failure of the step it stopped


class _Supervisor:
    """Drives the worker one step at a time and decides each call's result."""

    def __init__(self, request: dict, pid: int, commands: int, replies: int):
        self.calls = request["calls"]
        self.pid, self.commands, self.replies = pid, commands, replies
        self.budget = float(request["budget"])
        self.deadline = time.monotonic() + self.budget
        self.call_timeout = float(request.get("call_timeout", 60))
        self.bytes_left = int(request.get("max_bytes", wire.MAX_BYTES))
        self.private_pids = bool(request.get("private_pid_namespace"))
        self.alive = True

    def run(self) -> tuple[dict, str | None]:
        try:
            self._exchange({"run": "cells"}, self.deadline, self.budget)  # what the reply says does not matter
        except _Stop as stop:
            return {}, f"the student's code {stop.what}"
        results, rest = {}, None
        for index, call in enumerate(self.calls):
            if rest is None and time.monotonic() >= self.deadline:
                rest = f"not run: the probe run used up its time budget of {self.budget:.0f} s"
            if rest is not None:
                results[call["id"]] = {"ok": False, "error": rest}
                continue
            results[call["id"]], stop = self._call(index, call)
            if stop is not None:
                rest = f"not run: the probe run was stopped when {call['function']}() {stop.what}"
        return results, None

    def _call(self, index: int, call: dict) -> tuple[dict, _Stop | None]:
        forbid = call.get("forbid")
        if forbid:
            _take_signal()  # stale: sent by the student's code itself, outside any checked call
            marks = self._task_marks()
        stop, claims = None, {}
        start = time.monotonic()
        deadline = min(start + self.call_timeout, self.deadline)
        try:
            body = self._exchange({"run": "call", "index": index}, deadline, deadline - start)
            result, claims = wire.split_reply(wire.parse(body))
        except wire.WireError as exc:
            result = {"ok": False, "error": f"the probe result could not be read: {exc}"}
        except _Stop as exc:
            stop, result = exc, {"ok": False, "error": exc.own}
        if forbid:
            result = self._guard_verdict(forbid, marks, claims) or result
        return result, stop

    def _exchange(self, command: dict, deadline: float, seconds: float) -> bytearray:
        """Send ``command``; the reply's body by ``deadline``, ``seconds`` away. Raises _Stop if the worker is gone."""
        try:
            wire.write_all(self.commands, wire.pack(command))
            body = wire.read_frame(self.replies, deadline, self.bytes_left)
        except TimeoutError:  # before OSError, its base
            self.kill()
            raise _Stop(f"did not finish in {seconds:.0f} s", f"the call did not finish in {seconds:.0f} s") from None
        except (EOFError, OSError):
            what = f"ended the probe run early ({self._end()})"
            raise _Stop(what, f"the student's code {what}") from None
        except wire.WireError as exc:  # the stream is lost
            self.kill()
            raise _Stop(f"sent something that could not be read ({exc})",
                        f"the probe result could not be read: {exc}") from None
        self.bytes_left -= len(body)
        return body

    def _guard_verdict(self, names: list[str], marks: tuple, claims: dict) -> dict | None:
        """The failure of a checked call that delegated or started a thread or process, else None."""
        named = claims.get("forbidden")
        if _take_signal() or named is not None:  # the reply alone may incriminate, never clear
            what = (f"{named}, the library's own implementation of this exercise" if named in names
                    else f"the library's own implementation of this exercise ({', '.join(names)})")
            return {"ok": False, "error": f"the code called {what} (delegation scores zero)"}
        if claims.get("threads") or self._tasks_created(marks):
            return {"ok": False, "error": "the code started a thread or process while it was checked for delegation "
                                          f"to {', '.join(names)}; the check needs single-threaded code"}
        return None

    def _task_marks(self) -> tuple:
        """What tells, after a call, whether it created a thread or process (see _tasks_created)."""
        if self.private_pids:
            last = _proc_number(NS_LAST_PID)
            if last is not None:
                return "pids", last, _proc_number("/proc/stat", "processes ")
        return "threads", _proc_number(f"/proc/{self.pid}/status", "Threads:")

    def _tasks_created(self, marks: tuple) -> bool:
        if marks[0] == "pids":
            # pids are handed out in a cycle: the same last pid comes back only after about
            # pid_max new tasks, and each of them counts in the machine's fork counter
            forks, pid_max = _proc_number("/proc/stat", "processes "), _proc_number("/proc/sys/kernel/pid_max")
            wrapped = None not in (forks, marks[2], pid_max) and forks - marks[2] >= pid_max // 2
            return _proc_number(NS_LAST_PID) != marks[1] or wrapped
        after = _proc_number(f"/proc/{self.pid}/status", "Threads:")
        return None not in (after, marks[1]) and after > marks[1]

    def _end(self) -> str:
        """How the worker ended, once it closed its end of the channel."""
        status = self._reap(2.0)
        if status is None:
            self.kill()
            return "it closed the probe channel"
        code = os.waitstatus_to_exitcode(status)
        return f"exit status {code}" if code >= 0 else f"killed by signal {-code}"

    def _reap(self, seconds: float) -> int | None:
        end = time.monotonic() + seconds
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.alive = False
                return status
            if time.monotonic() >= end:
                return None
            time.sleep(0.02)

    def kill(self) -> None:
        if self.alive:  # never once reaped: its pid may belong to another process by now
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap(1.0)  # a task stuck in the kernel dies later: never wait past the grader's grace
            self.alive = False


def _take_signal() -> bool:
    """Whether the worker signalled a forbidden call since the last look; forgets the signal."""
    if FORBIDDEN_SIGNAL not in signal.sigpending():
        return False
    signal.signal(FORBIDDEN_SIGNAL, signal.SIG_IGN)  # ignoring a signal discards it while pending (POSIX)
    signal.signal(FORBIDDEN_SIGNAL, signal.SIG_DFL)
    return True


def _proc_number(path: str, key: str | None = None) -> int | None:
    """The number in a /proc file, or on its line that starts with ``key``; None if there is none."""
    try:
        with open(path) as f:
            return int(f.read()) if key is None else next(int(line.split()[1]) for line in f if line.startswith(key))
    except (OSError, ValueError, StopIteration):
        return None


def _prctl(option: int, value: int) -> None:
    """prctl(2) on Linux; nothing elsewhere."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def _work(request: dict, supervisor: int, commands: int, replies: int) -> None:
    """The worker: runs the student's code as the supervisor commands; never returns."""
    try:
        _isolate(supervisor, commands, replies)
        _serve(request, supervisor, commands, replies)
    finally:
        os._exit(0)


def _isolate(supervisor: int, commands: int, replies: int) -> None:
    """Keep no descriptor but the channel (stdout and stderr go nowhere) and die with the supervisor."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    low, high = sorted((commands, replies))
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, max(os.sysconf("SC_OPEN_MAX"), high + 1))
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != supervisor:  # it died before the line above
        os._exit(1)
    _prctl(PR_SET_DUMPABLE, 1)  # inherited from the supervisor: the student's code gets an ordinary process
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {FORBIDDEN_SIGNAL})


def _serve(request: dict, supervisor: int, commands: int, replies: int) -> None:
    import numpy  # noqa: F401 - loaded before any checked call: its thread pool starts on import

    calls = request["calls"]
    _install_guard(request.get("forbidden_modules", []), request.get("forbidden_dirs", []))
    guards = _call_guards(calls, supervisor)  # before any student code runs
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    while True:
        try:
            command = wire.parse(wire.read_frame(commands, None, wire.MAX_BYTES))
        except (EOFError, wire.WireError):
            return
        if command["run"] == "cells":
            _run_cells(request, namespace)
            reply = {"ok": True}
        else:
            call = calls[command["index"]]
            reply = _call(call, namespace, guards.get(call["id"]))
        try:
            data = wire.pack(reply)
        except Exception as exc:  # noqa: BLE001 - e.g. json patched by the student's code
            data = wire.pack({"ok": False, "error": f"the result could not be sent: {type(exc).__name__}"})
        wire.write_all(replies, data)


def _run_cells(request: dict, namespace: dict) -> None:
    sources = [(f"<cell {i + 1}>", source) for i, source in enumerate(request["cells"])]
    for name, source in [*sources, ("<probe setup>", request.get("setup", ""))]:
        try:
            exec(compile(source, name, "exec"), namespace)  # noqa: S102 - the student's code (then the instructor's)
        except BaseException:  # noqa: BLE001, S110 - an exception ends that cell only, as in a notebook
            pass


def _call(call: dict, namespace: dict, guard) -> dict:
    """The reply to one call: its result (and, checked, what the check saw)."""
    try:
        fn = namespace.get(call["function"])
        if fn is None:
            raise NameError(f"{call['function']} is not defined")
        args = decode(call["args"], namespace, wire.ARGUMENTS)
        kwargs = decode(call["kwargs"], namespace, wire.ARGUMENTS)
        if isinstance(guard, str):
            raise RuntimeError(guard)
    except BaseException as exc:  # noqa: BLE001
        return _error(exc)

    def run():  # encoded inside the check too: encoding can run the student's code (a tensor subclass)
        return encode(fn(*args, **kwargs))

    return _outcome(run) if guard is None else guard(run)


def _outcome(run) -> dict:
    try:
        return {"ok": True, "value": run()}
    except BaseException as exc:  # noqa: BLE001 - the student's exception is the call's result
        return _error(exc)


def _error(exc: BaseException) -> dict:
    try:
        text = str(exc)[:2000]
    except BaseException:  # noqa: BLE001 - a student's exception may fail to print
        text = "(unprintable)"
    return {"ok": False, "error": f"{type(exc).__name__[:100]}: {text}"}


def _install_guard(forbidden_modules: list[str], forbidden_dirs: list[str]) -> None:
    prefixes = tuple(forbidden_modules)
    dirs = tuple(forbidden_dirs)
    spawn = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
             "pty.spawn"}

    def hook(event, args):
        if event == "import" and prefixes:
            name = args[0] or ""
            if name in prefixes or name.startswith(tuple(p + "." for p in prefixes)):
                raise ImportError(f"{name} is not available here: this exercise must not use the reference")
        elif event == "open" and dirs and args and isinstance(args[0], (str, bytes)):
            path = args[0].decode() if isinstance(args[0], bytes) else args[0]
            if os.path.realpath(path).startswith(dirs):
                raise PermissionError(f"reading the reference implementation ({path}) is not allowed")
        elif event in spawn:
            raise PermissionError(f"{event} is not allowed while grading")

    sys.addaudithook(hook)


def _call_guards(calls: list[dict], supervisor: int) -> dict:
    """For each call with a ``forbid`` list: a function that runs it under the delegation check.

    Runs before any student code: the forbidden names are resolved now (so rebinding, say,
    ``torch.optim.Adam`` later hides nothing), and an audit hook lets nothing but the guard and
    ``threading``'s start of a thread set the profile function while a checked call runs.
    Returns ``{call id: guard}``, where ``guard(run)`` is the reply to the call plus
    ``forbidden`` (the first forbidden name called, or None; the supervisor was signalled) and
    ``threads`` (how many threads ``threading`` started meanwhile), or ``{call id: message}``
    when the names cannot be resolved.
    """
    wanted = {call["id"]: tuple(call["forbid"]) for call in calls if call.get("forbid")}
    if not wanted:
        return {}
    try:
        import threading

        from dlcourse.grading.forbidden import make_profiler, signatures

        sigs = {cid: signatures(names) for cid, names in wanted.items()}
    except Exception as exc:  # noqa: BLE001 - an instructor's mistake fails these probes, visibly
        return {cid: f"the forbidden calls of this probe could not be resolved: {type(exc).__name__}: {exc}"
                for cid in wanted}
    _start_lazy_threads()
    setprofile, set_thread_profile, getframe, kill = sys.setprofile, threading.setprofile, sys._getframe, os.kill
    armed, started = [False], [0]

    class Hits(list):
        """The profile function's record of forbidden calls; the first one signals the supervisor."""

        def append(self, name):
            try:
                kill(supervisor, FORBIDDEN_SIGNAL)
            except OSError:
                pass
            list.append(self, name)

    def guarded(profiler, run):
        armed[0] = True
        setprofile(profiler)
        set_thread_profile(profiler)  # a thread started now runs profiled (and fails the call: see counted)
        try:
            return run()
        finally:
            setprofile(None)
            armed[0] = False
            set_thread_profile(None)

    own, bootstrap = guarded.__code__, threading.Thread._bootstrap_inner.__code__
    start_thread = threading._start_new_thread

    def counted(*args, **kwargs):
        started[0] += armed[0]
        return start_thread(*args, **kwargs)

    threading._start_new_thread = counted

    def hook(event, args):  # noqa: ARG001
        if event == "sys.setprofile" and armed[0]:
            code = getframe(1).f_code
            if code is not own and code is not bootstrap:
                raise RuntimeError("changing the profile function is not allowed while grading")

    sys.addaudithook(hook)

    def make_guard(sig):
        def guard(run):
            hits, before = Hits(), started[0]
            reply = _outcome(lambda: guarded(make_profiler(sig, hits), run))
            reply.update(forbidden=hits[0] if hits else None, threads=started[0] - before)
            return reply
        return guard

    return {cid: make_guard(sig) for cid, sig in sigs.items()}


def _start_lazy_threads() -> None:
    """Start now, before any checked call, the threads that libraries start on first use."""
    try:
        import importlib.util

        if importlib.util.find_spec("tqdm") is not None:
            import tqdm

            tqdm.tqdm.monitor_interval = 0  # its monitor thread: not started at all
        if "torch" in sys.modules:  # autograd starts a thread per GPU at its first backward pass
            import torch

            torch.ones(1, requires_grad=True).sum().backward()
    except Exception:  # noqa: BLE001, S110 - a broken library fails later, in the student's code
        pass


if __name__ == "__main__":
    sys.exit(main())
