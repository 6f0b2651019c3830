"""Runs a student's code as a plain script and evaluates probe calls (inside the sandbox).

Started by :func:`dlcourse.grading.probes.run_probes` as ``python -I -m
dlcourse.grading.probe_runner`` in a fresh interpreter. It reads one JSON request on
stdin::

    {"cells": [source, ...], "setup": source, "calls": [{"id", "function", "args", "kwargs", "forbid"?}],
     "forbidden_modules": [...], "forbidden_dirs": [...], "call_timeout": seconds}

runs the cells in order in one namespace (an exception ends that cell, as in a notebook),
then the instructor's setup code, then each call, and writes the results as plain data
(numbers, lists, dicts) after a marker line on stdout. Nothing it returns is trusted:
the grader compares the results with the reference in its own process.

Before any student code runs, an audit hook (which Python offers no way to remove) refuses
imports of the forbidden reference modules, opening their files, and starting processes.
A call with a ``forbid`` list (dotted names of library callables, e.g. ``torch.optim.Adam``)
runs under a profile function that records whether any of them ran; the names are resolved
before the student's code runs (see :mod:`dlcourse.grading.forbidden`).
"""

from __future__ import annotations

import json
import signal
import sys
import types

MARKER = "<<<dlcourse-probe-results>>>"


def encode(value, depth: int = 0):
    """Plain JSON data for a result: arrays become tagged lists; unknown objects a type name."""
    import numpy as np

    if depth > 20:
        return {"__unsupported__": "nesting too deep"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"__unsupported__": "object array"}
        return {"__nd__": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, types.SimpleNamespace):
        return {"__ns__": {k: encode(v, depth + 1) for k, v in vars(value).items()}}
    return {"__unsupported__": type(value).__name__}


def decode(value, namespace: dict | None = None):
    """The inverse of :func:`encode`; ``{"__name__": n}`` looks ``n`` up in ``namespace``."""
    import numpy as np

    if isinstance(value, list):
        return [decode(v, namespace) for v in value]
    if not isinstance(value, dict):
        return value
    if "__nd__" in value:
        return np.array(value["__nd__"], dtype=value["dtype"]).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(decode(v, namespace) for v in value["__tuple__"])
    if "__dict__" in value:
        return {decode(k, namespace): decode(v, namespace) for k, v in value["__dict__"]}
    if "__ns__" in value:
        return types.SimpleNamespace(**{k: decode(v, namespace) for k, v in value["__ns__"].items()})
    if "__name__" in value:
        if namespace is None or value["__name__"] not in namespace:
            raise NameError(f"name {value['__name__']!r} is not defined")
        return namespace[value["__name__"]]
    return value


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
            import os.path as _p

            if _p.realpath(path).startswith(dirs):
                raise PermissionError(f"reading the reference implementation ({path}) is not allowed")
        elif event in spawn:
            raise PermissionError(f"{event} is not allowed while grading")

    sys.addaudithook(hook)


class _CallTimeout(Exception):
    pass


def _call_guards(calls: list[dict]) -> dict:
    """For each call with a ``forbid`` list: a function that runs it and reports forbidden calls.

    Runs before any student code: the forbidden names are resolved now (so rebinding, say,
    ``torch.optim.Adam`` later hides nothing), and an audit hook refuses to let anything but
    the guard itself change the profile function while a guarded call runs. Returns
    ``{call id: guard}`` where ``guard(fn, args, kwargs) -> (value, first forbidden name or None)``,
    or ``{call id: message}`` when the names cannot be resolved.
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
    setprofile, set_thread_profile, getframe = sys.setprofile, threading.setprofile, sys._getframe
    armed = [False]

    def guarded(profiler, fn, args, kwargs):
        armed[0] = True
        setprofile(profiler)
        set_thread_profile(profiler)
        try:
            return fn(*args, **kwargs)
        finally:
            setprofile(None)
            armed[0] = False
            set_thread_profile(None)

    allowed = guarded.__code__

    def hook(event, args):  # noqa: ARG001
        if event == "sys.setprofile" and armed[0] and getframe(1).f_code is not allowed:
            raise RuntimeError("changing the profile function is not allowed while grading")

    sys.addaudithook(hook)

    def make_guard(sig):
        def guard(fn, args, kwargs):
            hits: list[str] = []
            value = guarded(make_profiler(sig, hits), fn, args, kwargs)
            return value, (hits[0] if hits else None)
        return guard

    return {cid: make_guard(sig) for cid, sig in sigs.items()}


def _on_alarm(signum, frame):  # noqa: ARG001
    raise _CallTimeout()


def main() -> int:
    request = json.loads(sys.stdin.read())
    out = sys.stdout  # kept before student code can replace sys.stdout
    _install_guard(request.get("forbidden_modules", []), request.get("forbidden_dirs", []))
    guards = _call_guards(request["calls"])  # before any student code runs
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    cell_errors = []
    for index, source in enumerate(request["cells"]):
        try:
            exec(compile(source, f"<cell {index + 1}>", "exec"), namespace)  # noqa: S102 - the student's code, sandboxed
        except BaseException as exc:  # noqa: BLE001 - a failing cell is recorded, as in a notebook
            cell_errors.append(f"cell {index + 1}: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        exec(compile(request.get("setup", ""), "<probe setup>", "exec"), namespace)  # noqa: S102 - instructor code
    except BaseException as exc:  # noqa: BLE001
        cell_errors.append(f"probe setup: {type(exc).__name__}: {exc}")
    signal.signal(signal.SIGALRM, _on_alarm)
    results = {}
    for call in request["calls"]:
        try:
            fn = namespace.get(call["function"])
            if fn is None:
                raise NameError(f"{call['function']} is not defined")
            args = decode(call.get("args", []), namespace)
            kwargs = decode(call.get("kwargs", {}), namespace)
            guard = guards.get(call["id"])
            if isinstance(guard, str):
                raise RuntimeError(guard)
            forbidden_hit = None
            signal.alarm(max(1, int(request.get("call_timeout", 60))))
            try:
                if guard is None:
                    value = fn(*args, **kwargs)
                else:
                    value, forbidden_hit = guard(fn, args, kwargs)
            finally:
                signal.alarm(0)
            if forbidden_hit is not None:
                results[call["id"]] = {"ok": False, "error": f"the code called {forbidden_hit}, the library's own "
                                       "implementation of this exercise (delegation scores zero)"}
                continue
            results[call["id"]] = {"ok": True, "value": encode(value)}
        except _CallTimeout:
            results[call["id"]] = {"ok": False, "error": "the call did not finish in time"}
        except BaseException as exc:  # noqa: BLE001
            results[call["id"]] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    out.write("\n" + MARKER + "\n" + json.dumps({"results": results, "cell_errors": cell_errors}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
