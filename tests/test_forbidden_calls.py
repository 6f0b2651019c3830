"""The delegation guard for library built-ins: forbid_calls in notebooks and Probe(forbid=...) in the runner."""

import sys
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcourse.grading import forbid_calls, forbid_reference
from dlcourse.grading.forbidden import (
    SKLEARN_SCALERS,
    TORCH_ADAM,
    TORCH_AUTOGRAD,
    TORCH_BATCHNORM,
    TORCH_DROPOUT,
    TORCH_INIT,
    TORCH_OPTIMIZER_INTERNALS,
    resolve,
    signatures,
)
from dlcourse.grading.probes import Probe, ProbeSpec, judge, run_probes
from dlcourse.numpy_ref import optim as np_optim
from dlcourse.torch_ref import Adam as RefAdam
from dlcourse.torch_ref import BatchNorm1d as RefBatchNorm1d
from dlcourse.torch_ref import Dropout as RefDropout

# The lists the assignments use (a4's notebook and probes, a2's probes): the tests prove those, not copies.
BN, DROPOUT, ADAM = TORCH_BATCHNORM, TORCH_DROPOUT, TORCH_ADAM


def _caught(names, fn) -> str | None:
    try:
        with forbid_calls("exercise", names):
            fn()
    except AssertionError as exc:
        return str(exc)
    return None


def _adam_steps(cls):
    p = torch.nn.Parameter(torch.randn(3))
    opt = cls([p], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (p ** 2).sum().backward()
        opt.step()


class _Wrapper(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = torch.nn.BatchNorm1d(3)

    def forward(self, x):
        return self.inner(x)


class _SubAdam(torch.optim.Adam):
    pass


x = torch.randn(5, 3)


@pytest.mark.parametrize("label,names,fn", [
    ("wrapped module", BN, lambda: _Wrapper()(x)),
    ("functional", BN, lambda: F.batch_norm(x, None, None, training=True)),
    ("builtin", BN, lambda: torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False)),
    ("aten operator", BN, lambda: torch.ops.aten.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)),
    ("dropout module", DROPOUT, lambda: torch.nn.Dropout(0.3)(x)),
    ("dropout builtin", DROPOUT, lambda: torch.dropout(x, 0.3, True)),
    ("adam subclass", ADAM, lambda: _adam_steps(_SubAdam)),
    ("adamw (a subclass of Adam)", ADAM, lambda: _adam_steps(torch.optim.AdamW)),
    ("dropout functional", DROPOUT, lambda: F.dropout(x, 0.3)),
    ("dropout in place", DROPOUT, lambda: torch.dropout_(x.clone(), 0.3, True)),
    ("dropout aten operator", DROPOUT, lambda: torch.ops.aten.native_dropout(x, 0.3, True)),
    ("torch.optim.SGD", TORCH_OPTIMIZER_INTERNALS, lambda: _adam_steps(torch.optim.SGD)),
    ("torch.optim.RMSprop", TORCH_OPTIMIZER_INTERNALS, lambda: _adam_steps(torch.optim.RMSprop)),
    ("a torch scheduler", TORCH_OPTIMIZER_INTERNALS,
     lambda: torch.optim.lr_scheduler.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 2)),
    ("autograd", TORCH_AUTOGRAD, lambda: torch.autograd.grad((x.clone().requires_grad_(True) ** 2).sum(),
                                                              [x.clone().requires_grad_(True)], allow_unused=True)),
    ("torch init", TORCH_INIT, lambda: torch.nn.init.kaiming_normal_(torch.empty(3, 4))),
])
def test_delegation_to_torch_is_caught(label, names, fn):
    message = _caught(names, fn)
    assert message is not None, f"{label}: not caught"
    assert "the library's own implementation" in message


def _numpy_adam_steps():
    p = np_optim.Parameter(np.ones(3))
    opt = np_optim.Adam([p], lr=0.1)
    for _ in range(2):
        p.grad = 2 * p.data
        opt.step()


@pytest.mark.parametrize("names,fn", [
    (BN, lambda: RefBatchNorm1d(3)(x)),
    (DROPOUT, lambda: RefDropout(0.3)(x)),
    (ADAM, lambda: _adam_steps(RefAdam)),
    (ADAM, lambda: _adam_steps(torch.optim.SGD)),  # another optimizer is not Adam
    (TORCH_OPTIMIZER_INTERNALS, lambda: _numpy_adam_steps()),  # the numpy optimizers of a3
])
def test_implementations_from_tensor_ops_pass(names, fn):
    assert _caught(names, fn) is None


@pytest.mark.parametrize("names", [TORCH_BATCHNORM, TORCH_DROPOUT, TORCH_ADAM, TORCH_OPTIMIZER_INTERNALS, TORCH_INIT,
                                   TORCH_AUTOGRAD, SKLEARN_SCALERS])
def test_every_shared_forbidden_name_resolves_to_code(names):
    assert len(set(names)) == len(names)
    sig = signatures(names)
    assert set(sig.code.values()) | {name for _, name in sig.builtins.values()} == set(names)


def test_forbid_calls_keeps_an_outer_profiler_running():
    with pytest.raises(AssertionError, match="reference implementation"), forbid_reference("bn"), forbid_calls("bn", BN):
        RefBatchNorm1d(3)(x)
    with pytest.raises(AssertionError, match="torch.batch_norm"), forbid_reference("bn"), forbid_calls("bn", BN):
        torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False)


def test_the_two_guards_work_nested_in_either_order_and_restore_the_profiles():
    with pytest.raises(AssertionError, match="torch.batch_norm"), forbid_calls("bn", BN), forbid_reference("bn"):
        torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False)
    with pytest.raises(AssertionError, match="reference implementation"), forbid_calls("bn", BN), forbid_reference("bn"):
        RefBatchNorm1d(3)(x)
    outer = lambda frame, event, arg: None  # noqa: E731
    sys.setprofile(outer)
    threading.setprofile(outer)
    try:
        with forbid_reference("bn"), forbid_calls("bn", BN):
            pass
        assert sys.getprofile() is outer and threading.getprofile() is outer, "the guards must restore the profiles"
    finally:
        sys.setprofile(None)
        threading.setprofile(None)


def test_names_that_resolve_to_nothing_raise_value_error():
    assert resolve("torch.optim.Adam") is torch.optim.Adam
    for bad in ("torch.optim.NoSuchThing", "no_such_module_xyz.f", "", "torch..optim"):
        with pytest.raises(ValueError):
            signatures([bad])
    with pytest.raises(ValueError, match="neither"):
        signatures(["torch.float32"])


STUDENT_BN = '''
import torch
class MyBN(torch.nn.BatchNorm1d):   # delegates by subclassing
    pass
def run_bn(n):
    return MyBN(3)(torch.randn(n, 3, generator=torch.Generator().manual_seed(0)))
'''
STUDENT_BN_HIDING = '''
import sys, torch
_orig = torch.nn.functional.batch_norm
torch.nn.functional.batch_norm = lambda *a, **k: _orig(*a, **k)   # rebinding hides nothing
def run_bn(n):
    sys.setprofile(None)                                          # refused while guarded
    return torch.nn.functional.batch_norm(torch.ones(n, 3) * torch.arange(n)[:, None], None, None, training=True)
'''
STUDENT_BN_OWN = '''
import torch
def run_bn(n):
    t = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    return (t - t.mean(0)) / torch.sqrt(t.var(0, unbiased=False) + 1e-5)
'''


def _probe_verdict(cells):
    probe = Probe("bn", cells=("t",), call="run_bn", args=lambda rng: (4,),
                  check=lambda result, args, kwargs: None, forbid=BN)
    spec = ProbeSpec([probe])
    results, inputs, problem = run_probes(spec, cells, "alice", timeout=120)
    return judge(spec, results, inputs, problem)


def test_probe_with_forbid_catches_delegation_out_of_process():
    caught = _probe_verdict([STUDENT_BN])
    assert caught.cells_failed == {"t"} and "torch.nn" in caught.failures["bn"], caught.failures
    hiding = _probe_verdict([STUDENT_BN_HIDING])
    assert hiding.cells_failed == {"t"}, hiding.failures
    assert "profile function is not allowed" in hiding.failures["bn"], hiding.failures
    assert not _probe_verdict([STUDENT_BN_OWN]).failures
