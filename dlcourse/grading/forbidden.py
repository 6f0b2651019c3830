"""Catch delegation to a library's own implementation of an exercise (e.g. ``torch.nn.BatchNorm1d``).

An exercise "write ``BatchNorm1d`` from tensor operations" means nothing if the answer
wraps ``torch.nn.BatchNorm1d`` or calls ``torch.nn.functional.batch_norm``: the results
are right, so no comparison of values can tell. What can tell is *which code runs*. This
module turns dotted names of forbidden callables into call signatures and builds a
profile function (``sys.setprofile``) that records the first call of any of them:

* a class (``"torch.optim.Adam"``): every function defined in its own body (``step``,
  ``__init__``, ...), unwrapped from decorators, so a subclass or a wrapper that calls
  them is caught, and so is a re-executed copy of its source (matched by file, line and name);
* a Python function (``"torch.nn.functional.dropout"``): its code;
* a built-in (``"torch.batch_norm"``): the object itself (``c_call`` events);
* a torch operator packet (``"torch.ops.aten.native_batch_norm"``): its overloads' built-ins.

Used in two places: :func:`dlcourse.grading.checks.forbid_calls` inside notebook tests, and
the probe runner (``Probe(..., forbid=(...))``), which resolves the names *before* the
student's code runs, so rebinding ``torch.optim.Adam`` in a notebook does not hide it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CallSignatures", "make_profiler", "resolve", "signatures",
    "SKLEARN_SCALERS", "TORCH_ADAM", "TORCH_AUTOGRAD", "TORCH_BATCHNORM", "TORCH_DROPOUT", "TORCH_INIT",
    "TORCH_OPTIMIZER_INTERNALS",
]

# --------------------------------------------------------------------------------------
# The library implementations that exercises re-implement, one list per feature. Notebook
# tests (``forbid_calls``, ``call_student(..., forbid=...)``) and probes (``Probe(forbid=...)``)
# use these constants, so the two guards always forbid the same names.
# --------------------------------------------------------------------------------------

#: torch's batch norm: the module, its bases, the functional form, the built-in and the operators.
TORCH_BATCHNORM = ("torch.nn.BatchNorm1d", "torch.nn.modules.batchnorm._BatchNorm", "torch.nn.modules.batchnorm._NormBase",
                   "torch.nn.functional.batch_norm", "torch.batch_norm", "torch.native_batch_norm",
                   "torch.ops.aten.batch_norm", "torch.ops.aten.native_batch_norm")
#: torch's dropout: the module, its base, the functional form, the built-ins and the operators.
TORCH_DROPOUT = ("torch.nn.Dropout", "torch.nn.modules.dropout._DropoutNd", "torch.nn.functional.dropout",
                 "torch.dropout", "torch.dropout_", "torch.native_dropout", "torch.ops.aten.dropout",
                 "torch.ops.aten.native_dropout")
#: torch's Adam and AdamW: the classes, the functional form and every implementation path.
TORCH_ADAM = ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.adam.adam",
              "torch.optim.adam._single_tensor_adam", "torch.optim.adam._multi_tensor_adam",
              "torch.optim.adam._fused_adam", "torch._fused_adam_", "torch._fused_adamw_")
#: torch.optim's own optimizers and schedulers (their base classes, so every subclass) and the
#: implementation paths of SGD, Adagrad, RMSprop and Adam (reachable without the classes).
TORCH_OPTIMIZER_INTERNALS = (
    "torch.optim.Optimizer", "torch.optim.lr_scheduler.LRScheduler",
    "torch.optim.sgd._single_tensor_sgd", "torch.optim.sgd._multi_tensor_sgd",
    "torch.optim.adagrad._single_tensor_adagrad", "torch.optim.adagrad._multi_tensor_adagrad",
    "torch.optim.rmsprop._single_tensor_rmsprop", "torch.optim.rmsprop._multi_tensor_rmsprop",
    "torch.optim.adam._single_tensor_adam", "torch.optim.adam._multi_tensor_adam", "torch._fused_adam_",
)
#: torch's weight initializers (Xavier/Glorot and Kaiming/He).
TORCH_INIT = ("torch.nn.init.xavier_uniform_", "torch.nn.init.xavier_normal_", "torch.nn.init.kaiming_normal_",
              "torch.nn.init.kaiming_uniform_")
#: autograd, for exercises that derive a backward pass by hand.
TORCH_AUTOGRAD = ("torch.autograd.grad", "torch.autograd.backward")
#: scikit-learn's feature scaling.
SKLEARN_SCALERS = ("sklearn.preprocessing.StandardScaler", "sklearn.preprocessing.MinMaxScaler",
                   "sklearn.preprocessing.scale", "sklearn.preprocessing.minmax_scale")


def resolve(dotted: str) -> Any:
    """The object a dotted name refers to: the longest importable module prefix, then attributes.

    Raises:
        ValueError: if no prefix of ``dotted`` is importable or an attribute is missing.
    """
    if not isinstance(dotted, str) or not dotted or dotted.startswith(".") or ".." in dotted:
        raise ValueError(f"dotted must be a dotted name such as 'torch.optim.Adam', got {dotted!r}")
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or one that fails to import): try a shorter prefix
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError(f"dotted: {dotted!r} names nothing ({'.'.join(parts[:cut])} has no "
                             f"{'.'.join(parts[cut:])})") from None
        return obj
    raise ValueError(f"dotted: no module of {dotted!r} can be imported")


@dataclass
class CallSignatures:
    """What a profile function looks for: code locations and built-in objects, each with its dotted name."""

    code: dict[tuple[str, int, str], str] = field(default_factory=dict)  # (file, first line, name) -> dotted
    builtins: dict[int, tuple[Any, str]] = field(default_factory=dict)  # id -> (object kept alive, dotted)

    def __bool__(self) -> bool:
        return bool(self.code or self.builtins)


def _functions_in(obj: Any) -> list[Any]:
    """The Python functions (unwrapped) that ``obj`` stands for."""
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                found += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif callable(value):
                found.append(value)
        return [f for v in found for f in _functions_in(v)]
    if isinstance(obj, functools.partial):
        return _functions_in(obj.func)
    try:
        inner = inspect.unwrap(obj)
    except ValueError:  # a cycle of __wrapped__
        inner = obj
    if inspect.ismethod(inner):
        inner = inner.__func__
    return [inner] if hasattr(inner, "__code__") else []


def _builtins_in(obj: Any) -> list[Any]:
    """The built-in (C) callables that ``obj`` stands for."""
    if inspect.isbuiltin(obj):
        return [obj]
    op = getattr(obj, "_op", None)  # torch.ops.<ns>.<name>: an OpOverloadPacket or OpOverload
    if op is not None and inspect.isbuiltin(op):
        found = [op]
        overloads = getattr(obj, "overloads", None)
        if callable(overloads):
            for name in overloads():
                inner = getattr(getattr(obj, name, None), "_op", None)
                if inner is not None and inspect.isbuiltin(inner):
                    found.append(inner)
        return found
    return []


@functools.lru_cache(maxsize=64)
def _signatures_cached(names: tuple[str, ...]) -> CallSignatures:
    sig = CallSignatures()
    for name in names:
        obj = resolve(name)
        functions, builtins = _functions_in(obj), _builtins_in(obj)
        if not functions and not builtins:
            raise ValueError(f"names: {name!r} is neither a class, a Python function nor a built-in")
        for fn in functions:
            code = fn.__code__
            sig.code[(code.co_filename, code.co_firstlineno, code.co_name)] = name
        for builtin in builtins:
            sig.builtins[id(builtin)] = (builtin, name)
    return sig


def signatures(names) -> CallSignatures:
    """The call signatures of the callables named in ``names`` (an iterable of dotted names).

    Raises:
        ValueError: for a name that cannot be resolved or is not callable code.
    """
    return _signatures_cached(tuple(sorted(set(names))))


def make_profiler(sig: CallSignatures, hits: list[str],
                  chain: Callable[[Any, str, Any], Any] | None = None) -> Callable[[Any, str, Any], None]:
    """A ``sys.setprofile`` function that appends to ``hits`` the dotted name of the first forbidden call.

    Args:
        sig: what to look for (:func:`signatures`).
        hits: receives the name of the first forbidden callable that runs (then nothing more).
        chain: a profile function that was active before and must keep seeing every event.

    The profile function only reads its closure, so rebinding names in this module later
    changes nothing.
    """
    code_keys = dict(sig.code)
    builtins = dict(sig.builtins)

    def profiler(frame, event, arg):
        if chain is not None:
            chain(frame, event, arg)
        if hits:
            return
        if event == "call":
            c = frame.f_code
            name = code_keys.get((c.co_filename, c.co_firstlineno, c.co_name))
            if name is not None:
                hits.append(name)
        elif event == "c_call":
            entry = builtins.get(id(arg))
            if entry is not None and entry[0] is arg:
                hits.append(entry[1])

    return profiler
