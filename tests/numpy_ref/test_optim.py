"""Optimizers against torch.optim (float64), step by step over random gradient sequences.

Every trajectory test feeds the same random gradients (never constant) to our
optimizer and to torch's, changes the learning rate mid-run through
param_groups, and compares parameters and every state entry after each step.
"""


import numpy as np
import pytest
import torch

from dlcourse.numpy_ref import optim

from ._helpers import assert_close

STEPS = 50
SHAPES = [(3, 4), (4,)]

# name -> (our class, torch class, kwargs)
CONFIGS = {
    "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    "sgd_dampening_wd": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1)),
    "sgd_nesterov": (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adagrad": (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1)),
    "adagrad_all": (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    "rmsprop": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_momentum": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.7, weight_decay=0.05)),
    "rmsprop_centered": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, centered=True)),
    "rmsprop_centered_momentum": (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True, eps=1e-4)),
    "adam": (optim.Adam, torch.optim.Adam, dict(lr=0.01)),
    "adam_wd_betas": (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, eps=1e-6)),
    "adam_amsgrad": (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
    "adamw": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01)),
    "adamw_amsgrad": (optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
}


def gradient_sequence(seed):
    g = np.random.default_rng(seed)
    # scales vary over time and some coordinates change sign often, so that amsgrad's max and momentum matter
    return [[g.standard_normal(s) * g.uniform(0.1, 3.0) for s in SHAPES] for _ in range(STEPS)]


def run_both(name, seed=0, lr_change=True):
    ours_cls, torch_cls, kwargs = CONFIGS[name]
    g = np.random.default_rng(100 + seed)
    init = [g.standard_normal(s) for s in SHAPES]
    params = [optim.Parameter(a) for a in init]
    tparams = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in init]
    opt = ours_cls(params, **kwargs)
    topt = torch_cls(tparams, **kwargs)
    for step, grads in enumerate(gradient_sequence(seed)):
        if lr_change and step == STEPS // 2:  # what a scheduler does
            for o in (opt, topt):
                o.param_groups[0]["lr"] *= 0.3
        for p, tp, gr in zip(params, tparams, grads):
            p.grad = gr.copy()
            tp.grad = torch.tensor(gr)
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(params, tparams)):
            assert_close(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14, name=f"{name} param {i} after step {step + 1}")
            tstate = topt.state[tp]
            assert set(opt.state[p]) == set(tstate), f"{name}: state keys {set(opt.state[p])} vs torch {set(tstate)}"
            for key, value in tstate.items():
                assert_close(opt.state[p][key], value.numpy(), rtol=1e-12, atol=1e-14, name=f"{name} state {key!r} step {step + 1}")
    return opt, topt, params, tparams


@pytest.mark.parametrize("name", CONFIGS)
def test_trajectory_matches_torch(name):
    run_both(name)


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad_all", "rmsprop_centered_momentum", "adam_amsgrad", "adamw"])
def test_state_dict_is_shaped_like_torch_and_round_trips(name):
    opt, topt, params, tparams = run_both(name, seed=1, lr_change=False)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i in tsd["state"]:
        assert set(sd["state"][i]) == set(tsd["state"][i])
    for group, tgroup in zip(sd["param_groups"], tsd["param_groups"]):
        assert group["params"] == tgroup["params"]
        for key, value in group.items():
            assert tgroup[key] == value, f"{name}: param_groups[{key!r}] {value!r} vs torch {tgroup[key]!r}"
    # the state dict is a copy, and loading it into a fresh optimizer continues the same trajectory
    clone = [optim.Parameter(p.data) for p in params]
    opt2 = type(opt)(clone, lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    grad = [np.random.default_rng(5).standard_normal(p.shape) for p in params]
    for o, ps in ((opt, params), (opt2, clone)):
        for p, gr in zip(ps, grad):
            p.grad = gr
        o.step()
    for p, q in zip(params, clone):
        np.testing.assert_array_equal(p.data, q.data)
    sd["state"][0][next(iter(sd["state"][0]))] = "clobbered"
    assert not isinstance(next(iter(opt2.state[clone[0]].values())), str)


def test_defaults_match_torch_signatures():
    import inspect

    pairs = [(optim.SGD, torch.optim.SGD), (optim.Adagrad, torch.optim.Adagrad), (optim.RMSprop, torch.optim.RMSprop),
             (optim.Adam, torch.optim.Adam), (optim.AdamW, torch.optim.AdamW)]
    for ours, theirs in pairs:
        our_sig = inspect.signature(ours).parameters
        their_sig = inspect.signature(theirs).parameters
        for name, param in our_sig.items():
            assert name in their_sig, f"{ours.__name__}: torch has no argument {name}"
            if param.default is not inspect.Parameter.empty:
                assert param.default == their_sig[name].default, f"{ours.__name__}.{name} default"
    assert inspect.signature(optim.SGD).parameters["lr"].default == 1e-3  # DESIGN.md


def test_param_groups_with_per_group_options_match_torch():
    g = np.random.default_rng(3)
    a0, b0 = g.standard_normal(3), g.standard_normal((2, 2))
    a, b = optim.Parameter(a0), optim.Parameter(b0)
    ta, tb = (torch.tensor(x, requires_grad=True) for x in (a0, b0))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "nesterov": True}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.5, "nesterov": True}], lr=0.1, momentum=0.9)
    assert [grp["lr"] for grp in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["nesterov"] and not opt.param_groups[0]["nesterov"]
    for _ in range(5):
        ga, gb = g.standard_normal(3), g.standard_normal((2, 2))
        a.grad, b.grad, ta.grad, tb.grad = ga, gb, torch.tensor(ga), torch.tensor(gb)
        opt.step()
        topt.step()
    assert_close(a.data, ta.detach().numpy(), rtol=1e-12, atol=1e-14, name="group 0")
    assert_close(b.data, tb.detach().numpy(), rtol=1e-12, atol=1e-14, name="group 1")


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a, b = optim.Parameter(np.ones(2)), optim.Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.array([1.0, -1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    assert b not in opt.state and opt.state[a]["step"] == 1.0
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    assert b.grad is None
    opt.zero_grad()
    assert a.grad is None


def test_parameter_copies_its_data():
    x = np.ones(3)
    p = optim.Parameter(x)
    p.grad = np.ones(3)
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(x, np.ones(3))
    np.testing.assert_array_equal(p.data, np.full(3, 0.5))


def test_closure_is_called():
    p = optim.Parameter(np.ones(2))

    def closure():
        p.grad = 2 * p.data
        return 7.0

    assert optim.SGD([p], lr=0.25).step(closure) == 7.0
    np.testing.assert_array_equal(p.data, [0.5, 0.5])


def test_bad_arguments_are_rejected():
    p = optim.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="params"):
        optim.Adam([np.ones(2)])
    with pytest.raises(ValueError, match="params"):
        optim.Adam([])
    with pytest.raises(ValueError, match="params"):
        optim.Adam([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="momentum"):
        optim.RMSprop([p], momentum=-0.1)
    with pytest.raises(ValueError, match="eps"):
        optim.Adagrad([p], eps=-1.0)
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match="grad"):
        opt.step()


# ---------------------------------------------------------------------------
# textbook forms
# ---------------------------------------------------------------------------


def test_momentum_ewa_is_torch_sgd_with_scaled_lr():
    """v = beta v + (1-beta) g equals torch's buffer times (1-beta) at every step: same path with lr*(1-beta)."""
    beta, lr = 0.9, 0.1
    x0 = np.array([1.0, -2.0, 0.5])
    grads = gradient_sequence(7)
    x, v = x0.copy(), np.zeros(3)
    t = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.SGD([t], lr=lr * (1 - beta), momentum=beta)
    for step in range(20):
        gr = grads[step][1][:3]
        x_before, v_before = x.copy(), v.copy()
        x_new, v_new = optim.momentum_ewa_update(x, gr, v, lr=lr, beta=beta)
        np.testing.assert_array_equal(x, x_before)
        np.testing.assert_array_equal(v, v_before)
        x, v = x_new, v_new
        t.grad = torch.tensor(gr)
        topt.step()
        assert_close(x, t.detach().numpy(), rtol=1e-12, atol=1e-14, name=f"EWA momentum step {step + 1}")
        assert_close(v, (1 - beta) * topt.state[t]["momentum_buffer"].numpy(), rtol=1e-13, atol=1e-15,
                     name=f"EWA velocity = (1 - beta) * torch's buffer, step {step + 1}")
        # total weight of the average is 1 - beta**t: with all-equal gradients v = (1 - beta**t) g
    v = np.zeros(1)
    for k in range(1, 6):
        _, v = optim.momentum_ewa_update(np.zeros(1), np.ones(1) * 2.0, v, lr=0.1, beta=beta)
        assert_close(v, [2.0 * (1 - beta**k)], rtol=1e-14, atol=0, name=f"EWA total weight after {k} steps")


def test_adam_update_with_bias_correction_matches_torch():
    x0 = np.array([0.3, -1.0, 2.0, 0.0])
    x, m, v = x0.copy(), np.zeros(4), np.zeros(4)
    t = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.Adam([t], lr=0.01)
    for step, grads in enumerate(gradient_sequence(8)[:30]):
        gr = grads[0][0]
        x, m, v = optim.adam_update(x, gr, m, v, step + 1, lr=0.01)
        t.grad = torch.tensor(gr)
        topt.step()
        assert_close(x, t.detach().numpy(), rtol=1e-12, atol=1e-14, name=f"adam_update step {step + 1}")


def test_adam_update_without_bias_correction():
    g = np.array([0.5, -2.0])
    x, m, v = optim.adam_update(np.zeros(2), g, np.zeros(2), np.zeros(2), 1, lr=0.01, eps=0.0, bias_correction=False)
    # m = 0.1 g, v = 0.001 g**2 -> step = lr * 0.1 / sqrt(0.001) * sign(g) = 3.162 lr
    assert_close(x, -0.01 * 0.1 / np.sqrt(0.001) * np.sign(g), rtol=1e-13, atol=0, name="uncorrected first step")
    x, _, _ = optim.adam_update(np.zeros(2), g, np.zeros(2), np.zeros(2), 1, lr=0.01, eps=0.0)
    assert_close(x, -0.01 * np.sign(g), rtol=1e-13, atol=0, name="corrected first step = lr")
    # late in training the two forms agree
    m, v = np.array([0.2]), np.array([0.04])
    a, _, _ = optim.adam_update(np.zeros(1), np.array([0.2]), m, v, 100_000, bias_correction=True)
    b, _, _ = optim.adam_update(np.zeros(1), np.array([0.2]), m, v, 100_000, bias_correction=False)
    assert_close(a, b, rtol=1e-12, atol=0, name="bias correction vanishes for large t")


def test_adagrad_and_rmsprop_textbook_forms():
    p, g, r = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.25, 1.0])
    new_p, new_r = optim.adagrad_update(p, g, r, lr=0.1, eps=0.0)
    assert_close(new_r, [0.5, 2.0], rtol=0, atol=0, name="adagrad sum")
    assert_close(new_p, p - 0.1 * g / np.sqrt([0.5, 2.0]), rtol=1e-15, atol=0, name="adagrad step")
    new_p, new_r = optim.rmsprop_update(p, g, r, lr=0.1, decay_rate=0.9, eps=0.0)
    assert_close(new_r, 0.9 * r + 0.1 * g**2, rtol=1e-15, atol=0, name="rmsprop average")
    assert_close(new_p, p - 0.1 * g / np.sqrt(0.9 * r + 0.1 * g**2), rtol=1e-15, atol=0, name="rmsprop step")
    with pytest.raises(ValueError, match="grad_squared"):
        optim.rmsprop_update(p, g, np.zeros(3), lr=0.1)
    with pytest.raises(ValueError, match="t"):
        optim.adam_update(p, g, r, r, 0)


# ---------------------------------------------------------------------------
# one copy of the arithmetic: textbook forms run the classes' cores
# ---------------------------------------------------------------------------

TEXTBOOK_SHAPES = [(3, 4), (5,), ()]


def _one_class_step(cls, init, grad, state, **kwargs):
    """One step of an optimizer class on a single parameter whose state is preset to ``state``."""
    p = optim.Parameter(init)
    opt = cls([p], **kwargs)
    opt.state[p] = {k: (np.array(v, dtype=np.float64) if isinstance(v, np.ndarray) else v) for k, v in state.items()}
    p.grad = grad.copy()
    opt.step()
    return p.data, opt.state[p]


@pytest.mark.parametrize("shape", TEXTBOOK_SHAPES, ids=str)
def test_textbook_forms_are_the_classes_step_bit_for_bit(shape):
    """Each textbook function computes exactly (bit for bit) one step of its class with the same state."""
    g = np.random.default_rng(11)
    for _ in range(5):
        x, grad = g.standard_normal(shape), g.standard_normal(shape) * g.uniform(0.1, 3.0)
        buf, sq = g.standard_normal(shape), g.uniform(0.01, 2.0, shape)
        lr, beta = g.uniform(0.01, 0.5), g.uniform(0.5, 0.99)

        new_x, new_v = optim.momentum_ewa_update(x, grad, buf, lr=lr, beta=beta)
        data, state = _one_class_step(optim.SGD, x, grad, {"momentum_buffer": buf}, lr=lr, momentum=beta,
                                      dampening=beta)
        np.testing.assert_array_equal(new_x, data)
        np.testing.assert_array_equal(new_v, state["momentum_buffer"])

        new_x, new_r = optim.adagrad_update(x, grad, sq, lr=lr)
        data, state = _one_class_step(optim.Adagrad, x, grad, {"step": 0.0, "sum": sq}, lr=lr, eps=1e-7)
        np.testing.assert_array_equal(new_x, data)
        np.testing.assert_array_equal(new_r, state["sum"])

        new_x, new_r = optim.rmsprop_update(x, grad, sq, lr=lr, decay_rate=beta)
        data, state = _one_class_step(optim.RMSprop, x, grad, {"step": 3.0, "square_avg": sq}, lr=lr, alpha=beta,
                                      eps=1e-7)
        np.testing.assert_array_equal(new_x, data)
        np.testing.assert_array_equal(new_r, state["square_avg"])

        for t in (1, 2, 17):
            new_x, new_m, new_v = optim.adam_update(x, grad, buf, sq, t, lr=lr, beta1=beta, beta2=0.995, eps=1e-6)
            data, state = _one_class_step(optim.Adam, x, grad, {"step": float(t - 1), "exp_avg": buf, "exp_avg_sq": sq},
                                          lr=lr, betas=(beta, 0.995), eps=1e-6)
            np.testing.assert_array_equal(new_x, data)
            np.testing.assert_array_equal(new_m, state["exp_avg"])
            np.testing.assert_array_equal(new_v, state["exp_avg_sq"])
            assert state["step"] == float(t)


def test_ewa_momentum_equals_sgd_buffer_times_one_minus_beta_at_every_step():
    """v_t = (1 - beta) b_t from the very first step (b_1 = g_1, v_1 = (1 - beta) g_1), so the paths agree."""
    beta, lr = 0.8, 0.2
    g = np.random.default_rng(12)
    x0 = g.standard_normal((2, 3))
    p = optim.Parameter(x0)
    opt = optim.SGD([p], lr=lr * (1 - beta), momentum=beta)
    x, v = x0.copy(), np.zeros_like(x0)
    for step in range(15):
        grad = g.standard_normal((2, 3)) * g.uniform(0.1, 3.0)
        x, v = optim.momentum_ewa_update(x, grad, v, lr=lr, beta=beta)
        p.grad = grad
        opt.step()
        assert_close(v, (1 - beta) * opt.state[p]["momentum_buffer"], rtol=1e-13, atol=1e-15,
                     name=f"EWA velocity vs (1 - beta) * torch buffer, step {step + 1}")
        assert_close(x, p.data, rtol=1e-12, atol=1e-14, name=f"EWA path vs SGD(lr*(1-beta)), step {step + 1}")
    # dampening = beta is not the EWA form: its buffer starts at g_1, not (1 - beta) g_1
    q = optim.Parameter(x0)
    damped = optim.SGD([q], lr=lr, momentum=beta, dampening=beta)
    q.grad = np.ones_like(x0)
    damped.step()
    _, v1 = optim.momentum_ewa_update(x0, np.ones_like(x0), np.zeros_like(x0), lr=lr, beta=beta)
    np.testing.assert_allclose(damped.state[q]["momentum_buffer"] * (1 - beta), v1)


def test_ewa_momentum_with_beta_zero_is_plain_sgd():
    x, grad, v = np.array([1.0, -1.0]), np.array([0.5, 2.0]), np.array([9.0, 9.0])
    new_x, new_v = optim.momentum_ewa_update(x, grad, v, lr=0.1, beta=0.0)
    np.testing.assert_array_equal(new_v, grad)
    np.testing.assert_array_equal(new_x, x - 0.1 * grad)
    np.testing.assert_array_equal(v, [9.0, 9.0])


def test_textbook_forms_do_not_modify_inputs_and_name_bad_arguments():
    p, g, r = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([0.25, 1.0])
    copies = [a.copy() for a in (p, g, r)]
    optim.momentum_ewa_update(p, g, r, lr=0.1)
    optim.adagrad_update(p, g, r, lr=0.1)
    optim.rmsprop_update(p, g, r, lr=0.1)
    optim.adam_update(p, g, r, r, 3)
    for a, b in zip((p, g, r), copies):
        np.testing.assert_array_equal(a, b)
    for call, name in [
        (lambda: optim.momentum_ewa_update(p, g, r, lr=-0.1), "lr"),
        (lambda: optim.momentum_ewa_update(p, g, r, lr=0.1, beta=1.0), "beta"),
        (lambda: optim.momentum_ewa_update(p, g, np.zeros(3), lr=0.1), "velocity"),
        (lambda: optim.adagrad_update(p, np.zeros(3), r, lr=0.1), "grad"),
        (lambda: optim.adagrad_update(p, g, r, lr=0.1, eps=-1.0), "eps"),
        (lambda: optim.rmsprop_update(p, g, r, lr=0.1, decay_rate=1.5), "decay_rate"),
        (lambda: optim.adam_update(p, g, r, r, 1, beta2=1.0), "beta2"),
        (lambda: optim.adam_update(p, g, np.zeros(1), r, 1), "m"),
        (lambda: optim.adam_update(p, g, r, r, 1.5), "t"),
        (lambda: optim.adam_update(["a"], g, r, r, 1), "param"),
    ]:
        with pytest.raises(ValueError, match=name):
            call()


def test_classes_name_bad_hyperparameters_via_validation():
    p = optim.Parameter(np.ones(2))
    for call, name in [
        (lambda: optim.SGD([p], lr=float("nan")), "lr"),
        (lambda: optim.SGD([p], lr=0.1, dampening=-1), "dampening"),
        (lambda: optim.Adagrad([p], lr_decay=-1), "lr_decay"),
        (lambda: optim.RMSprop([p], alpha=-0.5), "alpha"),
        (lambda: optim.RMSprop([p], centered=1), "centered"),
        (lambda: optim.Adam([p], betas=(-0.1, 0.9)), r"betas\[0\]"),
        (lambda: optim.Adam([p], betas=(0.9,)), "betas"),
        (lambda: optim.AdamW([p], weight_decay=-1.0), "weight_decay"),
        (lambda: optim.Adam([p], amsgrad="yes"), "amsgrad"),
    ]:
        with pytest.raises(ValueError, match=name):
            call()
    opt = optim.Adam([p], lr=0.1)
    opt.param_groups[0]["lr"] = -1.0  # hyperparameters edited between steps are checked again
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match="lr"):
        opt.step()


def test_zero_dim_parameters_and_grad_shape_check_before_any_update():
    a, b = optim.Parameter(2.0), optim.Parameter(np.ones(3))
    for cls, kwargs in [(optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)), (optim.Adagrad, {}),
                        (optim.RMSprop, dict(momentum=0.5, centered=True)), (optim.Adam, dict(amsgrad=True)),
                        (optim.AdamW, {})]:
        t = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        opt, topt = cls([a], **kwargs), getattr(torch.optim, cls.__name__)([t], **kwargs)
        a.data[...] = 2.0
        for k in range(3):
            a.grad, t.grad = np.float64(0.5 + k), torch.tensor(0.5 + k, dtype=torch.float64)
            opt.step()
            topt.step()
        assert_close(a.data, t.detach().numpy(), rtol=1e-12, atol=1e-14, name=f"{cls.__name__} 0-d parameter")
        for key, value in topt.state[t].items():
            assert_close(opt.state[a][key], value.numpy(), rtol=1e-12, atol=1e-14, name=f"{cls.__name__} {key}")
    opt = optim.SGD([b, optim.Parameter(np.ones(2))], lr=0.1)
    b.grad = np.ones(3)
    opt.param_groups[0]["params"][1].grad = np.ones(3)
    with pytest.raises(ValueError, match="grad"):
        opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))  # nothing moved
