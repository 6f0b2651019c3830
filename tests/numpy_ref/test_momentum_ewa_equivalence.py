"""EWA momentum (v = beta v + (1 - beta) g, v_0 = 0) is torch's SGD(momentum=beta) at every step.

What the docstrings of :mod:`dlcourse.numpy_ref.optim` state, proved step by step against
``torch.optim.SGD`` in float64: torch's buffer b_t (created as b_1 = g_1 on the first step) satisfies
v_t = (1 - beta) b_t for every t >= 1, the first step included, so the EWA form with learning rate lr
and torch's SGD with lr * (1 - beta) follow the same trajectory. ``dampening = beta`` is not that form.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlcourse.numpy_ref import optim

from ._helpers import assert_close

BETAS = [0.0, 0.5, 0.9, 0.99]


def _gradients(seed: int, steps: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * rng.uniform(0.1, 3.0) for _ in range(steps)]


@pytest.mark.parametrize("beta", BETAS)
def test_first_step_ewa_velocity_is_exactly_one_minus_beta_times_torch_buffer(beta):
    """Step 1: torch's buffer is g_1 itself, the EWA velocity is (1 - beta) g_1, bit for bit."""
    g1 = np.array([0.7, -2.5, 1e-3, 40.0])
    x0 = np.array([1.0, -1.0, 0.5, 2.0])
    lr = 0.1
    x1, v1 = optim.momentum_ewa_update(x0, g1, np.zeros(4), lr=lr, beta=beta)
    np.testing.assert_array_equal(v1, (1 - beta) * g1)

    t = torch.tensor(x0, requires_grad=True)
    sgd = torch.optim.SGD([t], lr=lr * (1 - beta), momentum=beta)
    t.grad = torch.from_numpy(g1.copy())
    sgd.step()
    if beta != 0:  # torch keeps no buffer without momentum
        buf = sgd.state[t]["momentum_buffer"].numpy()
        np.testing.assert_array_equal(buf, g1)
        np.testing.assert_array_equal(v1, (1 - beta) * buf)
    assert_close(x1, t.detach().numpy(), rtol=1e-15, atol=1e-15, name=f"first step, beta={beta}")


@pytest.mark.parametrize("beta", BETAS)
@pytest.mark.parametrize("shape", [(3,), (2, 3), ()], ids=str)
def test_ewa_velocity_and_path_equal_torch_sgd_at_every_step(beta, shape):
    lr, steps = 0.2, 40
    x0 = np.random.default_rng(1).standard_normal(shape)
    x, v = x0.copy(), np.zeros(shape)
    t = torch.tensor(x0, requires_grad=True)
    sgd = torch.optim.SGD([t], lr=lr * (1 - beta), momentum=beta)
    for step, g in enumerate(_gradients(2, steps, shape), start=1):
        x, v = optim.momentum_ewa_update(x, g, v, lr=lr, beta=beta)
        t.grad = torch.from_numpy(np.array(g, dtype=np.float64))
        sgd.step()
        buf = sgd.state[t]["momentum_buffer"].numpy() if beta != 0 else g
        assert_close(v, (1 - beta) * buf, rtol=1e-12, atol=1e-15,
                     name=f"v_t = (1 - beta) b_t at step {step}, beta={beta}")
        assert_close(x, t.detach().numpy(), rtol=1e-12, atol=1e-14,
                     name=f"EWA path vs torch SGD(lr*(1-beta)) at step {step}, beta={beta}")


def test_ewa_equivalence_holds_with_a_changing_learning_rate():
    """A schedule changes lr per step: torch's lr_t = lr_t(EWA) * (1 - beta) keeps the paths together."""
    beta = 0.9
    x0 = np.array([-1.5, 2.0])
    x, v = x0.copy(), np.zeros(2)
    t = torch.tensor(x0, requires_grad=True)
    sgd = torch.optim.SGD([t], lr=1.0, momentum=beta)
    for step, g in enumerate(_gradients(3, 30, (2,)), start=1):
        lr = 0.3 * 0.9**step
        x, v = optim.momentum_ewa_update(x, g, v, lr=lr, beta=beta)
        sgd.param_groups[0]["lr"] = lr * (1 - beta)
        t.grad = torch.from_numpy(g.copy())
        sgd.step()
        assert_close(x, t.detach().numpy(), rtol=1e-12, atol=1e-14, name=f"scheduled lr, step {step}")


def test_the_reference_sgd_class_has_the_same_property():
    beta, lr = 0.8, 0.05
    x0 = np.array([[0.3, -0.2], [1.0, 4.0]])
    p = optim.Parameter(x0)
    sgd = optim.SGD([p], lr=lr * (1 - beta), momentum=beta)
    x, v = x0.copy(), np.zeros_like(x0)
    for step, g in enumerate(_gradients(4, 25, (2, 2)), start=1):
        x, v = optim.momentum_ewa_update(x, g, v, lr=lr, beta=beta)
        p.grad = g
        sgd.step()
        if step == 1:
            np.testing.assert_array_equal(sgd.state[p]["momentum_buffer"], g)
            np.testing.assert_array_equal(v, (1 - beta) * g)
        assert_close(v, (1 - beta) * sgd.state[p]["momentum_buffer"], rtol=1e-12, atol=1e-15,
                     name=f"numpy SGD buffer, step {step}")
        assert_close(x, p.data, rtol=1e-12, atol=1e-14, name=f"numpy SGD path, step {step}")


def test_dampening_beta_is_not_the_ewa_form_its_buffer_is_larger_by_beta_to_the_t_times_g1():
    beta = 0.9
    grads = _gradients(5, 12, (3,))
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    damped = torch.optim.SGD([t], lr=0.1, momentum=beta, dampening=beta)
    v = np.zeros(3)
    for step, g in enumerate(grads, start=1):
        _, v = optim.momentum_ewa_update(np.zeros(3), g, v, lr=0.1, beta=beta)
        t.grad = torch.from_numpy(g.copy())
        damped.step()
        assert_close(damped.state[t]["momentum_buffer"].numpy() - v, beta**step * grads[0], rtol=1e-10,
                     atol=1e-13, name=f"dampening=beta buffer minus EWA velocity at step {step}")
