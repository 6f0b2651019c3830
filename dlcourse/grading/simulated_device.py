"""A simulated CUDA device, so that tests check device-agnostic code on machines without a GPU.

On a CPU-only machine a forgotten ``x.to(device)`` goes unnoticed: every tensor is on the CPU, so
nothing mixes. Inside :func:`simulated_cuda` the machine behaves, for the code that runs there, as if
it had one CUDA device, ``cuda:0``, whose tensors are CPU tensors carrying a tag:

* moving to it tags a copy: ``x.to("cuda")``, ``x.to(device=torch.device("cuda", 0))``, ``x.cuda()``,
  ``x.to(other_cuda_tensor)``, ``module.to(device)`` / ``module.cuda()`` (parameters, buffers and
  gradients), factory functions with ``device="cuda"`` (``torch.zeros``, ``torch.randn``,
  ``torch.tensor``, ``torch.as_tensor``, ``torch.zeros_like``, ``nn.Linear(..., device=...)``, ...);
* a tagged tensor reports ``t.device == torch.device("cuda", 0)`` (``t.is_cuda``, ``t.get_device()``,
  its repr), and everything computed from tagged tensors is tagged: views, results, ``state_dict()``
  entries, gradients (``p.grad``), optimizer state, deep copies;
* an operation that mixes a tagged tensor with an untagged one raises torch's own
  ``RuntimeError: Expected all tensors to be on the same device, but found at least two devices,
  cuda:0 and cpu!`` (a CPU tensor with 0 dimensions may join a CUDA operation as a scalar, as on a
  real GPU; copies between devices, ``copy_``, ``load_state_dict`` and indexing a CUDA tensor with
  CPU indices are allowed, as on a real GPU);
* ``t.numpy()`` on a tagged tensor raises torch's ``TypeError`` for CUDA tensors; ``t.cpu()``,
  ``t.to("cpu")``, ``t.item()`` and ``t.tolist()`` work;
* ``torch.cuda.synchronize()`` does nothing (for a CUDA device, or none). ``torch.cuda.is_available()``
  keeps its answer: torch's own code asks it (optimizers, data loaders) and would then start the real
  CUDA runtime. Code that picks its device itself (``"cuda" if torch.cuda.is_available() ...``) is
  therefore not simulated: the tests give the device to the code they call.

Every computation still runs on the CPU with the CPU's kernels and random numbers, so its results
equal a plain CPU run to the last bit. What is simulated is the bookkeeping of devices, not CUDA's
arithmetic: tolerances for real GPUs still apply there.

How: a :class:`torch.overrides.TorchFunctionMode` sees every torch call made while it is active; the
tag is kept per storage (weakly referenced), so parameters keep their identity and views, aliases
and ``param.data = ...`` follow their storage. Tests use :func:`on_device`, which simulates only
where the machine has no CUDA device::

    from dlcourse.grading.simulated_device import on_device, test_devices

    DEVICES = test_devices()  # ["cpu", "cuda"]: the real GPU if there is one, else the simulated one
    for device in DEVICES:
        with on_device(device):
            ...  # the student's code with device=device

Outside the block tagged tensors are plain CPU tensors again (and inside a later block, tagged again).
"""

from __future__ import annotations

import contextlib
import threading
import types
from collections.abc import Iterator
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.overrides import TorchFunctionMode

__all__ = [
    "SIMULATED_DEVICE",
    "SimulatedCuda",
    "cuda_is_real",
    "devices_text",
    "is_simulated_cuda",
    "on_device",
    "simulated_cuda",
    "simulates",
    "test_devices",
]

#: What a tensor on the simulated device reports as its device.
SIMULATED_DEVICE = torch.device("cuda", 0)
_REAL_CUDA_AVAILABLE = torch.cuda.is_available  # kept before anyone (a test's mock) replaces it
_HINT = ("cuda:0 is simulated on this machine, which has no GPU: move every tensor your code uses to the "
         "device, with .to(device) or device=..., as a real GPU requires")

# ------------------------------------------------------------------------------------------------
# The tags: one weak reference per tagged storage, keyed by the storage's address. A live entry's
# address cannot be reused while the entry exists (the weak reference keeps the storage's record
# allocated), so an address found here is the tagged storage itself.
# ------------------------------------------------------------------------------------------------
_tags: dict[int, StorageWeakRef] = {}
_PRUNE_EVERY = 4096
_added = 0


def _key(t: torch.Tensor) -> int | None:
    try:
        return t.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, TypeError):  # sparse and other storage-less tensors
        return None


def _is_tagged(t: torch.Tensor) -> bool:
    key = _key(t)
    return key is not None and key in _tags


def _tag(t: torch.Tensor) -> None:
    global _added
    key = _key(t)
    if key is None or key in _tags or t.device.type != "cpu":
        return
    _tags[key] = StorageWeakRef(t.untyped_storage())
    _added += 1
    if _added % _PRUNE_EVERY == 0:
        for stale in [k for k, ref in _tags.items() if ref.expired()]:
            del _tags[stale]


def is_simulated_cuda(t: Any) -> bool:
    """Whether ``t`` is a tensor on the simulated CUDA device (inside or outside :func:`simulated_cuda`)."""
    with torch._C.DisableTorchFunction():
        return isinstance(t, torch.Tensor) and _is_tagged(t)


# ------------------------------------------------------------------------------------------------
# Devices: what "cuda" means here.
# ------------------------------------------------------------------------------------------------

def _device(spec: Any) -> torch.device | None:
    if spec is None:
        return None
    if isinstance(spec, torch.device):
        return spec
    if isinstance(spec, (str, int)) and not isinstance(spec, bool):
        return torch.device(spec)
    return None


def _is_cuda(device: torch.device | None) -> bool:
    if device is None or device.type != "cuda":
        return False
    if device.index not in (None, 0):
        raise RuntimeError(f"CUDA error: invalid device ordinal ({device}: the simulated machine has one GPU, cuda:0)")
    return True


def _mixing_error(func: Any) -> RuntimeError:
    name = getattr(func, "__name__", None) or repr(func)
    return RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                        f"(in {name}; {_HINT})")


def _numpy_error() -> TypeError:
    return TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                     "memory first.")


# ------------------------------------------------------------------------------------------------
# The mode.
# ------------------------------------------------------------------------------------------------

def _tensors_in(values) -> Iterator[torch.Tensor]:
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            for w in v:
                if isinstance(w, torch.Tensor):
                    yield w


def _inplace(func: Any) -> bool:
    name = getattr(func, "__name__", "")
    return name.endswith("_") and not name.endswith("__")


def _nested_tensors(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in ``value``: a tensor, or lists and tuples of them at any depth (results, indices)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _nested_tensors(item)


def _place(out: Any, on_cuda: bool, tagged: set[int], untagged: set[int], *, copy_aliases: bool = False) -> Any:
    """Tag (or leave untagged) the tensors of ``out``. A single result that shares its storage with an input of the
    other device is copied first (``copy_aliases``; the device changed), else it is left alone (a view of a CPU input)."""
    if isinstance(out, torch.Tensor) and copy_aliases:
        key = _key(out)
        if (on_cuda and key in untagged) or (not on_cuda and key in tagged):
            out = out.clone(memory_format=torch.preserve_format)
    if on_cuda:
        for o in _nested_tensors(out):
            if _key(o) not in untagged:
                _tag(o)
    return out


def _check_mixing(func: Any, args: tuple, kwargs: dict) -> tuple[set[int], set[int]]:
    """Raise torch's error when tagged and untagged tensors meet; return the storage keys of both kinds.

    A CPU tensor with 0 dimensions may join tagged ones as a scalar, as on a real GPU, unless it is written to (the
    tensor of an in-place operation, ``out=``).
    """
    written = list(_tensors_in(args[:1])) if _inplace(func) and args else []
    if kwargs.get("out") is not None:
        written += list(_tensors_in([kwargs["out"]]))
    written_ids = {id(t) for t in written}
    tagged: set[int] = set()
    untagged: set[int] = set()
    strict = False
    for t in (*_tensors_in(args), *_tensors_in(kwargs.values())):
        key = _key(t)
        if key is None:
            continue
        if key in _tags:
            tagged.add(key)
        else:
            untagged.add(key)
            strict = strict or t.dim() > 0 or id(t) in written_ids or t.device.type != "cpu"
    if tagged and strict:
        raise _mixing_error(func)
    return tagged, untagged


def _generic(func: Any, args: tuple, kwargs: dict) -> Any:
    explicit = None
    if "device" in kwargs:
        device = _device(kwargs["device"])
        if device is not None:
            explicit = _is_cuda(device)
            if explicit:
                kwargs = {**kwargs, "device": "cpu"}
    if _inplace(func):
        _check_mixing(func, args, kwargs)
        return func(*args, **kwargs)  # the tensor keeps its device
    tagged, untagged = _check_mixing(func, args, kwargs)
    out = func(*args, **kwargs)
    on_cuda = explicit if explicit is not None else bool(tagged)
    if not on_cuda and not (explicit is False and tagged):
        return out
    return _place(out, on_cuda, tagged, untagged, copy_aliases=explicit is not None)


def _from_data(func: Any, args: tuple, kwargs: dict) -> Any:
    """torch.tensor / as_tensor / asarray: the device is the ``device`` argument, else the data's (a tensor's)."""
    args, kwargs = list(args), dict(kwargs)
    spec = kwargs.get("device")
    positional = func is torch.as_tensor and spec is None and len(args) >= 3  # as_tensor(data, dtype, device)
    if positional:
        spec = args[2]
    device = _device(spec)
    data = args[0] if args else kwargs.get("data", kwargs.get("obj"))
    data_is_tensor = isinstance(data, torch.Tensor)
    data_tagged = data_is_tensor and _is_tagged(data)
    on_cuda = _is_cuda(device) if device is not None else data_tagged
    if device is not None and on_cuda:
        if positional:
            args[2] = "cpu"
        else:
            kwargs["device"] = "cpu"
    out = func(*args, **kwargs)
    shares = data_is_tensor and _key(out) == _key(data)
    if on_cuda:
        if (shares and not data_tagged) or (not data_is_tensor and func is not torch.tensor):
            out = out.clone()  # CPU memory (a tensor, a numpy array) would be shared: a real GPU copies
        _tag(out)
    elif data_tagged and shares:
        out = out.clone()  # from the simulated GPU to the CPU: a copy
    return out


def _moved(self: torch.Tensor, out: torch.Tensor, to_cuda: bool) -> torch.Tensor:
    """``out`` (computed on the CPU from ``self``) on the device asked for: a copy when the device changes."""
    was = _is_tagged(self)
    if to_cuda != was and _key(out) == _key(self):
        out = out.clone(memory_format=torch.preserve_format)
    if to_cuda:
        _tag(out)
    return out


def _to(func: Any, args: tuple, kwargs: dict) -> Any:
    self, rest = args[0], args[1:]
    other = rest[0] if rest and isinstance(rest[0], torch.Tensor) else kwargs.get("other")
    copy = bool(kwargs.get("copy", False))
    non_blocking = bool(kwargs.get("non_blocking", False))
    if isinstance(other, torch.Tensor):  # to(other, non_blocking=False, copy=False)
        if other.device.type != "cpu":
            return func(*args, **kwargs)
        out = torch.Tensor.to(self, dtype=other.dtype, non_blocking=non_blocking, copy=copy)
        return _moved(self, out, _is_tagged(other))
    parse_kwargs = {k: v for k, v in kwargs.items() if k != "copy"}
    device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*rest, **parse_kwargs)
    if device is not None and device.type not in ("cpu", "cuda"):
        return func(*args, **kwargs)  # meta, mps, ...: as torch does
    to_cuda = _is_tagged(self) if device is None else _is_cuda(device)
    extra = {} if memory_format is None else {"memory_format": memory_format}
    out = torch.Tensor.to(self, dtype=dtype, non_blocking=non_blocking, copy=copy, **extra)
    return _moved(self, out, to_cuda)


def _cuda(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    device = args[1] if len(args) > 1 else kwargs.get("device")
    if device is not None:
        device = _device(device)
        if device.type != "cuda":
            raise RuntimeError(f"Invalid device, must be cuda device (got {device})")
        _is_cuda(device)
    memory_format = kwargs.get("memory_format", torch.preserve_format)
    return _moved(self, self if memory_format is torch.preserve_format else self.contiguous(memory_format=memory_format),
                  True)


def _cpu(func: Any, args: tuple, kwargs: dict) -> Any:
    return _moved(args[0], func(*args, **kwargs), False)


def _type(func: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    target = args[1] if len(args) > 1 else kwargs.get("dtype")
    if target is None:
        name = func(self)
        return name.replace("torch.", "torch.cuda.", 1) if _is_tagged(self) else name
    if isinstance(target, str):
        to_cuda = ".cuda." in target
        out = func(self, target.replace(".cuda.", "."), *args[2:], **{k: v for k, v in kwargs.items() if k != "dtype"})
        return _moved(self, out, to_cuda)
    return _moved(self, func(*args, **kwargs), _is_tagged(self))


def _type_as(func: Any, args: tuple, kwargs: dict) -> Any:
    self, other = args[0], args[1]
    return _moved(self, func(*args, **kwargs), _is_tagged(other))


def _self_decides(func: Any, args: tuple, kwargs: dict) -> Any:
    """new_tensor, new_zeros, ..., expand_as, view_as, reshape_as: the device is self's (or ``device=``), whatever
    else they are given."""
    self = args[0]
    device = _device(kwargs.get("device"))
    if device is not None:
        to_cuda = _is_cuda(device)
        if to_cuda:
            kwargs = {**kwargs, "device": "cpu"}
    else:
        to_cuda = _is_tagged(self)
    out = func(*args, **kwargs)
    if to_cuda:
        _tag(out)
    return out


def _check_indices(self: torch.Tensor, idx: Any) -> None:
    if not _is_tagged(self) and any(_is_tagged(i) for i in _nested_tensors(idx)):
        raise RuntimeError("indices should be either on cpu or on the same device as the indexed tensor (cpu) "
                           f"(the indices are on cuda:0; {_HINT})")


def _getitem(func: Any, args: tuple, kwargs: dict) -> Any:
    self, idx = args[0], args[1]
    _check_indices(self, idx)
    out = func(*args, **kwargs)
    if _is_tagged(self) and isinstance(out, torch.Tensor):
        _tag(out)
    return out


def _setitem(func: Any, args: tuple, kwargs: dict) -> Any:
    _check_indices(args[0], args[1])
    return func(*args, **kwargs)


def _iter(func: Any, args: tuple, kwargs: dict) -> Any:
    rows = list(func(*args, **kwargs))
    if _is_tagged(args[0]):
        for row in rows:
            _tag(row)
    return iter(rows)


def _numpy(func: Any, args: tuple, kwargs: dict) -> Any:
    if _is_tagged(args[0]) and not kwargs.get("force", False):
        raise _numpy_error()
    return func(*args, **kwargs)


def _reports(value: Any):
    """A handler for ``t.device``, ``t.is_cuda``, ...: ``value`` for a tensor on the simulated device."""
    def handler(func: Any, args: tuple, kwargs: dict) -> Any:
        return value if _is_tagged(args[0]) else func(*args, **kwargs)
    return handler


def _grad_get(func: Any, args: tuple, kwargs: dict) -> Any:
    grad = func(*args, **kwargs)
    if grad is not None and _is_tagged(args[0]):
        _tag(grad)  # autograd computed it from tagged tensors: it lives where its tensor lives
    return grad


def _parse_to(func: Any, args: tuple, kwargs: dict) -> Any:
    """nn.Module.to's parser: its device argument is left alone, and a tensor on the simulated device names it."""
    device, dtype, non_blocking, memory_format = func(*args, **kwargs)
    other = args[0] if args and isinstance(args[0], torch.Tensor) else kwargs.get("tensor")
    if isinstance(other, torch.Tensor) and _is_tagged(other):
        device = SIMULATED_DEVICE
    return device, dtype, non_blocking, memory_format


def _repr(func: Any, args: tuple, kwargs: dict) -> Any:
    text = func(*args, **kwargs)
    if not _is_tagged(args[0]) or "device=" in text:
        return text
    cut = min((i for i in (text.find(", dtype="), text.find(", grad_fn="), text.find(", requires_grad=")) if i >= 0),
              default=text.rfind(")"))
    return f"{text[:cut]}, device='cuda:0'{text[cut:]}"


_HANDLERS = {
    torch.Tensor.to: _to,
    torch.Tensor.cuda: _cuda,
    torch.Tensor.cpu: _cpu,
    torch.Tensor.type: _type,
    torch.Tensor.type_as: _type_as,
    torch.Tensor.numpy: _numpy,
    torch.Tensor.__array__: _numpy,
    torch.Tensor.copy_: lambda func, args, kwargs: func(*args, **kwargs),  # across devices; the destination stays
    torch.Tensor.__getitem__: _getitem,
    torch.Tensor.__setitem__: _setitem,
    torch.Tensor.__iter__: _iter,
    torch.Tensor.device.__get__: _reports(SIMULATED_DEVICE),
    torch.Tensor.is_cuda.__get__: _reports(True),
    torch.Tensor.is_cpu.__get__: _reports(False),
    torch.Tensor.get_device: _reports(0),
    torch.Tensor.grad.__get__: _grad_get,
    torch.Tensor.__repr__: _repr,
    torch._C._nn._parse_to: _parse_to,
    torch.tensor: _from_data,
    torch.as_tensor: _from_data,
    torch.asarray: _from_data,
    **{getattr(torch.Tensor, name): _self_decides
       for name in ("new_tensor", "new_empty", "new_zeros", "new_ones", "new_full", "expand_as", "view_as", "reshape_as")},
}


#: Functions that look at tensors of several devices (or at a device argument) without computing with them.
_PASS_THROUGH = {torch.device, torch._has_compatible_shallow_copy_type, torch.is_same_size,
                 torch.Tensor.is_set_to, torch.Tensor.data_ptr, torch.Tensor.untyped_storage}


class SimulatedCuda(TorchFunctionMode):
    """The torch function mode behind :func:`simulated_cuda` (see the module's docstring)."""

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is not None:
            return handler(func, args, kwargs)
        if func in _PASS_THROUGH or type(func) is types.MethodWrapperType:  # torch.device(...), other attributes
            return func(*args, **kwargs)
        return _generic(func, args, kwargs)


# ------------------------------------------------------------------------------------------------
# torch.cuda as seen from inside the simulation.
# ------------------------------------------------------------------------------------------------

def _synchronize(device: Any = None) -> None:
    if device is not None:
        device = _device(device) if not isinstance(device, torch.device) else device
        if device is None or device.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {device}")
        _is_cuda(device)


_CUDA_PATCHES = {"synchronize": _synchronize}
_state = threading.local()


@contextlib.contextmanager
def simulated_cuda() -> Iterator[None]:
    """Inside the block the machine has one (simulated) CUDA device; see the module's docstring.

    Re-entering it is harmless (the inner block does nothing). It does not depend on a GPU: on a machine
    with one, the simulation is used only where asked for (tests use :func:`on_device`).
    """
    if getattr(_state, "active", False):
        yield
        return
    saved = {name: getattr(torch.cuda, name) for name in _CUDA_PATCHES}
    _state.active = True
    try:
        for name, patch in _CUDA_PATCHES.items():
            setattr(torch.cuda, name, patch)
        with SimulatedCuda():
            yield
    finally:
        for name, original in saved.items():
            setattr(torch.cuda, name, original)
        _state.active = False


def cuda_is_real() -> bool:
    """Whether this machine has a real CUDA device (a test's mock of ``torch.cuda.is_available`` aside)."""
    return bool(_REAL_CUDA_AVAILABLE())


def on_device(device: Any) -> contextlib.AbstractContextManager:
    """The context in which tests run code on ``device``: the simulation for ``"cuda"`` without a real GPU, else nothing."""
    return simulated_cuda() if simulates(device) else contextlib.nullcontext()


def simulates(device: Any) -> bool:
    """Whether :func:`on_device` simulates ``device`` (``"cuda"`` on a machine without a GPU).

    The simulated device computes exactly what the CPU computes, so a test may shorten a long run there: a few
    steps show whether the code keeps its tensors on the device.
    """
    d = _device(device)
    return d is not None and d.type == "cuda" and not cuda_is_real()


def test_devices() -> list[str]:
    """The devices tests run on: ``["cpu", "cuda"]``, where ``"cuda"`` is the real GPU or, without one, the simulated one."""
    return ["cpu", "cuda"]


test_devices.__test__ = False  # not a pytest test


def devices_text(devices: list[str]) -> str:
    """How a notebook says where its tests run: ``['cpu', 'cuda']``, or that cuda is simulated."""
    if "cuda" in devices and not cuda_is_real():
        others = [d for d in devices if d != "cuda"]
        return f"{others} and a simulated cuda device (this machine has no GPU; see dlcourse.grading.simulated_device)"
    return str(list(devices))
