"""The probe runner's wire format: framed JSON messages and a strict check of encoded values.

Every boundary that carries data from a student's code uses it: the runner's supervisor
checks each message its worker sends, and the grader checks again what the supervisor
writes (defence in depth). A message is ``MAGIC``, the length of its body (8 bytes,
big-endian) and the body, UTF-8 JSON.

An encoded value (:func:`encode`) is plain JSON data: ``None``, booleans, numbers, strings,
lists, and objects tagged with one of ``__nd__`` (an array: ``{"__nd__": nested lists,
"dtype": name, "shape": [...]}``), ``__tuple__``, ``__dict__`` (a list of ``[key, value]``
pairs), ``__ns__`` (a SimpleNamespace) or ``__unsupported__`` (why a value could not be
encoded). :func:`check_value` accepts exactly these, within :class:`Limits`, and walks the
data it received without allocating anything from what the data declares: an array's
elements are counted against its declared shape before numpy sees it.

Only the standard library is imported here (numpy inside :func:`encode` and :func:`decode`):
the supervisor loads this module before it forks the worker.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
import types
from dataclasses import dataclass

MAGIC = b"DLPW"
HEADER = struct.Struct(">4sQ")
MAX_BYTES = 64 * 2**20  # all the worker's replies together


@dataclass(frozen=True)
class Limits:
    """Bounds of an encoded value; None means unbounded."""

    depth: int = 20  # nesting of lists and tagged objects, and dimensions of an array
    elements: int | None = 10_000_000  # per array
    string: int | None = 10_000  # characters per string


RESULTS = Limits()
ARGUMENTS = Limits(elements=None, string=None)  # the grader's own inputs to the calls


def _ints(low: int, high: int):
    return lambda x: type(x) is int and low <= x < high


# the element check of each allowed dtype (JSON gives bool, int and float)
_ELEMENTS = {
    "bool": lambda x: type(x) is bool,
    **{f"int{b}": _ints(-(2 ** (b - 1)), 2 ** (b - 1)) for b in (8, 16, 32, 64)},
    **{f"uint{b}": _ints(0, 2**b) for b in (8, 16, 32, 64)},
    **{f"float{b}": lambda x: type(x) is float for b in (16, 32, 64)},
}
DTYPES = tuple(_ELEMENTS)


class WireError(ValueError):
    """A message or value that breaks the wire format."""


def pack(message) -> bytes:
    """One framed message."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(MAGIC, len(body)) + body


def parse(body: bytes):
    """The JSON value of a message body."""
    try:
        return json.loads(body.decode("utf-8"))
    except RecursionError:
        raise WireError("it is nested too deeply to parse") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WireError(f"it is not JSON ({str(exc)[:100]})") from None


def unpack(data: bytes):
    """The value of ``data``, which must be exactly one message."""
    if len(data) < HEADER.size:
        raise WireError(f"it is {len(data)} bytes long, shorter than a message")
    magic, size = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise WireError("it is not a probe message")
    if size != len(data) - HEADER.size:
        raise WireError(f"the message announces {size} bytes but {len(data) - HEADER.size} follow")
    return parse(data[HEADER.size:])


def read_frame(fd: int, deadline: float | None, cap: int) -> bytearray:
    """The body of the next message on ``fd``, by ``deadline`` (``time.monotonic``; None: no deadline).

    Raises:
        TimeoutError: at the deadline.
        EOFError: if the writer closed ``fd`` before a whole message came.
        WireError: for a message that is not one or is over ``cap`` bytes (the stream is lost).
    """
    magic, size = HEADER.unpack(_read(fd, HEADER.size, deadline))
    if magic != MAGIC:
        raise WireError("the channel carried something that is not a probe message")
    if size > cap:
        raise WireError(f"a message of {size} bytes is over the limit of {cap} bytes")
    return _read(fd, size, deadline)


def _read(fd: int, size: int, deadline: float | None) -> bytearray:
    data = bytearray()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while len(data) < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if not poller.poll(left * 1000):
                continue
        chunk = os.read(fd, min(size - len(data), 2**20))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def check_value(value, limits: Limits = RESULTS, *, names: bool = False, depth: int = 0) -> None:
    """Raise :class:`WireError` unless ``value`` is an encoded value within ``limits``.

    Args:
        names: also accept ``{"__name__": name}`` (the grader's arguments name objects of the runner).
    """
    if depth > limits.depth:
        raise WireError(f"it is nested deeper than {limits.depth} levels")
    kind = type(value)
    if value is None or kind in (bool, int, float):
        return
    if kind is str:
        _check_string(value, limits)
    elif kind is list:
        for item in value:
            check_value(item, limits, names=names, depth=depth + 1)
    elif kind is not dict:
        raise WireError(f"a {kind.__name__} is not an encoded value")
    elif value.keys() == {"__nd__", "dtype", "shape"}:
        _check_array(value, limits)
    elif value.keys() == {"__tuple__"} and type(value["__tuple__"]) is list:
        check_value(value["__tuple__"], limits, names=names, depth=depth)
    elif value.keys() == {"__dict__"} and type(value["__dict__"]) is list:
        for pair in value["__dict__"]:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("a __dict__ holds [key, value] pairs")
            _check_key(pair[0], limits, depth + 1)
            check_value(pair[1], limits, names=names, depth=depth + 1)
    elif value.keys() == {"__ns__"} and type(value["__ns__"]) is dict:
        for key, item in value["__ns__"].items():
            _check_string(key, limits)
            check_value(item, limits, names=names, depth=depth + 1)
    elif value.keys() == {"__unsupported__"} and type(value["__unsupported__"]) is str:
        _check_string(value["__unsupported__"], limits)
    elif names and value.keys() == {"__name__"} and type(value["__name__"]) is str:
        _check_string(value["__name__"], limits)
    else:
        raise WireError(f"an object with keys {_brief(sorted(value))} is not an encoded value")


def _check_string(text: str, limits: Limits) -> None:
    if limits.string is not None and len(text) > limits.string:
        raise WireError(f"a string is longer than {limits.string} characters")


def _check_key(key, limits: Limits, depth: int) -> None:
    """Keys of a ``__dict__`` must decode to something hashable: scalars and tuples of them."""
    if depth > limits.depth:
        raise WireError(f"it is nested deeper than {limits.depth} levels")
    if type(key) is dict and key.keys() == {"__tuple__"} and type(key["__tuple__"]) is list:
        for item in key["__tuple__"]:
            _check_key(item, limits, depth + 1)
    elif type(key) is str:
        _check_string(key, limits)
    elif not (key is None or type(key) in (bool, int, float)):
        raise WireError("a __dict__ key must be a number, a string, None or a tuple of them")


def _check_array(value: dict, limits: Limits) -> None:
    dtype, shape = value["dtype"], value["shape"]
    element = _ELEMENTS.get(dtype) if type(dtype) is str else None
    if element is None:
        raise WireError(f"the dtype {_brief(dtype)} is not allowed (only {', '.join(DTYPES)})")
    if (type(shape) is not list or len(shape) > limits.depth
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise WireError(f"an array's shape must be a list of at most {limits.depth} non-negative integers")
    count = 1
    for n in shape:
        count *= n
    if limits.elements is not None and count > limits.elements:
        raise WireError(f"an array declares more than {limits.elements} elements")
    _check_elements(value["__nd__"], shape, element, dtype)


def _check_elements(data, shape: list[int], element, dtype: str) -> None:
    """``data`` must be nested lists of exactly ``shape``, with elements that fit ``dtype``."""
    if not shape:
        if not element(data):
            raise WireError(f"an element of type {type(data).__name__} does not fit the dtype {dtype}")
        return
    if type(data) is not list or len(data) != shape[0]:
        raise WireError(f"an array's data does not match its shape {shape}")
    if len(shape) == 1:
        if not all(map(element, data)):
            raise WireError(f"an array has elements that do not fit its dtype {dtype}")
        return
    for item in data:
        _check_elements(item, shape[1:], element, dtype)


def check_result(result, limits: Limits = RESULTS) -> None:
    """Raise :class:`WireError` unless ``result`` is ``{"ok": true, "value": v}`` or ``{"ok": false, "error": s}``."""
    if type(result) is dict and result.get("ok") is True and result.keys() == {"ok", "value"}:
        check_value(result["value"], limits)
    elif (type(result) is dict and result.get("ok") is False and result.keys() == {"ok", "error"}
          and type(result["error"]) is str):
        _check_string(result["error"], limits)
    else:
        raise WireError('a result must be {"ok": true, "value": ...} or {"ok": false, "error": "..."}')


def split_reply(reply) -> tuple[dict, dict]:
    """A worker's reply to a call: its result (checked) and its claims about the delegation check.

    The claims (``forbidden``: a name or None, ``threads``: a count) can only fail a call.
    """
    if type(reply) is not dict:
        raise WireError("a reply must be an object")
    claims = {key: reply.pop(key) for key in ("forbidden", "threads") if key in reply}
    if claims.get("forbidden") is not None and type(claims["forbidden"]) is not str:
        raise WireError("a reply's forbidden name must be a string or null")
    if type(claims.get("threads", 0)) is not int:
        raise WireError("a reply's thread count must be an integer")
    check_result(reply)
    return reply, claims


def check_output(output, ids) -> tuple[dict, str | None]:
    """The results and the problem of the supervisor's output, each checked; raises :class:`WireError`."""
    if type(output) is not dict or output.keys() != {"results", "problem"}:
        raise WireError('the output must be {"results": ..., "problem": ...}')
    results, problem = output["results"], output["problem"]
    if problem is not None and type(problem) is not str:
        raise WireError("the problem must be a string or null")
    if problem is not None:
        _check_string(problem, RESULTS)
    if type(results) is not dict or not results.keys() <= set(ids):
        raise WireError("the results must be an object keyed by the calls' ids")
    for result in results.values():
        check_result(result)
    return results, problem


def _brief(value) -> str:
    """A short description of a value from the other side, cheap whatever its size."""
    if type(value) is str and len(value) <= 40:
        return repr(value)
    if type(value) is list and len(value) <= 5 and all(type(v) is str and len(v) <= 40 for v in value):
        return repr(value)
    return f"<a {type(value).__name__}>"


def encode(value, depth: int = 0):
    """Plain JSON data for a result: arrays become tagged lists; unknown objects a type name."""
    import numpy as np

    limits = RESULTS
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if depth >= limits.depth:
        return {"__unsupported__": "nesting too deep"}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if str(value.dtype) not in _ELEMENTS:
            return {"__unsupported__": f"{value.dtype} array"}
        if value.ndim > limits.depth or value.size > limits.elements:
            return {"__unsupported__": f"array of shape {value.shape}"}
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


def decode(value, namespace: dict | None = None, limits: Limits = RESULTS):
    """The inverse of :func:`encode`, after :func:`check_value`; ``{"__name__": n}`` looks ``n`` up in ``namespace``.

    Raises:
        WireError: if ``value`` is not an encoded value within ``limits`` (nothing is allocated then).
        NameError: for a name that ``namespace`` lacks.
    """
    check_value(value, limits, names=namespace is not None)
    return _build(value, namespace)


def _build(value, namespace):
    import numpy as np

    if isinstance(value, list):
        return [_build(v, namespace) for v in value]
    if not isinstance(value, dict):
        return value
    if "__nd__" in value:
        return np.array(value["__nd__"], dtype=value["dtype"]).reshape(value["shape"])
    if "__tuple__" in value:
        return tuple(_build(v, namespace) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_build(k, namespace): _build(v, namespace) for k, v in value["__dict__"]}
    if "__ns__" in value:
        return types.SimpleNamespace(**{k: _build(v, namespace) for k, v in value["__ns__"].items()})
    if "__name__" in value:
        if value["__name__"] not in namespace:
            raise NameError(f"name {value['__name__']!r} is not defined")
        return namespace[value["__name__"]]
    return value
