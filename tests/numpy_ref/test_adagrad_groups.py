"""Adagrad's starting sums with parameter groups: torch takes the constructor's initial_accumulator_value for
every group it is built with, even a group that names its own; both references do the same."""

import numpy as np
import torch

from dlcourse.numpy_ref.optim._base import Parameter
from dlcourse.numpy_ref.optim.adagrad import Adagrad as NumpyAdagrad
from dlcourse.torch_ref.optim.adagrad import Adagrad as TorchRefAdagrad


def _groups(make):
    a, b = make(3), make(2)
    return a, b, [{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.5}]


def test_every_group_starts_at_the_constructors_value_as_in_torch():
    a, b, groups = _groups(lambda n: torch.zeros(n, dtype=torch.float64, requires_grad=True))
    oracle = torch.optim.Adagrad(groups, initial_accumulator_value=0.1)
    expected = [oracle.state[a]["sum"].numpy(), oracle.state[b]["sum"].numpy()]
    assert all(np.all(e == 0.1) for e in expected), f"torch's own behaviour changed: {expected}"

    a, b, groups = _groups(lambda n: torch.zeros(n, dtype=torch.float64, requires_grad=True))
    ref = TorchRefAdagrad(groups, initial_accumulator_value=0.1)
    a_np, b_np, groups_np = _groups(lambda n: Parameter(np.zeros(n)))
    mine = NumpyAdagrad(groups_np, initial_accumulator_value=0.1)
    for name, got in [("torch_ref", [ref.state[a]["sum"].numpy(), ref.state[b]["sum"].numpy()]),
                      ("numpy_ref", [mine.state[a_np]["sum"], mine.state[b_np]["sum"]])]:
        for g, e in zip(got, expected):
            assert np.array_equal(g, e), f"{name}: starting sums {got}, torch {expected}"


def test_a_group_added_later_starts_at_its_own_value():
    p = Parameter(np.zeros(2))
    opt = NumpyAdagrad([Parameter(np.zeros(1))], initial_accumulator_value=0.1)
    opt.add_param_group({"params": [p], "initial_accumulator_value": 0.7})
    assert np.array_equal(opt.state[p]["sum"], [0.7, 0.7]), opt.state[p]["sum"]
