"""dlcourse.numpy_ref.gradcheck on functions whose gradients are known in closed form."""

import numpy as np
import pytest

from dlcourse.numpy_ref.gradcheck import check_gradient, numerical_gradient, rel_error

from ._helpers import assert_close


def rng(seed):
    return np.random.default_rng(seed)


def test_scalar_functions():
    x = rng(0).standard_normal((3, 4))
    assert_close(numerical_gradient(lambda z: np.sum(z**2), x), 2 * x, rtol=1e-9, atol=1e-10, name="d sum(x^2)")
    assert_close(numerical_gradient(lambda z: np.sum(np.sin(z)), x), np.cos(x), rtol=1e-8, atol=1e-10, name="d sum(sin x)")
    assert_close(numerical_gradient(lambda z: np.prod(z[:2, 0]), x)[:2, 0], x[1::-1, 0], rtol=1e-9, atol=1e-10,
                 name="d (x0 * x1)")


def test_vector_function_with_upstream_gradient():
    """For f(x) = A @ x and df = dL/df, the result is dL/dx = A.T @ df."""
    g = rng(1)
    A, x, df = g.standard_normal((3, 5)), g.standard_normal(5), g.standard_normal(3)
    assert_close(numerical_gradient(lambda z: A @ z, x, df=df), A.T @ df, rtol=1e-9, atol=1e-10, name="A.T @ df")


def test_matrix_function_with_upstream_gradient():
    """For F(X) = X @ B, dL/dX = dF @ B.T; elementwise cube gives 3 x^2 * df."""
    g = rng(2)
    X, B, dF = g.standard_normal((4, 3)), g.standard_normal((3, 2)), g.standard_normal((4, 2))
    assert_close(numerical_gradient(lambda Z: Z @ B, X, df=dF), dF @ B.T, rtol=1e-9, atol=1e-10, name="dF @ B.T")
    df = g.standard_normal(X.shape)
    assert_close(numerical_gradient(lambda Z: Z**3, X, df=df), 3 * X**2 * df, rtol=1e-8, atol=1e-9, name="3 x^2 df")


def test_result_shape_and_dtype():
    grad = numerical_gradient(lambda z: np.sum(z * z), np.array([1, 2, 3]))  # integer input
    assert grad.dtype == np.float64
    assert_close(grad, [2.0, 4.0, 6.0], rtol=1e-9, atol=0, name="gradient at an integer point")
    scalar_grad = numerical_gradient(lambda z: z**2, np.float64(3.0))
    assert scalar_grad.shape == ()
    assert_close(scalar_grad, 6.0, rtol=1e-9, atol=0, name="0-d input")


def test_caller_array_is_never_modified_and_f_sees_one_perturbation_at_a_time():
    x = rng(3).standard_normal((2, 3))
    x_before = x.copy()
    seen = []

    def f(z):
        assert z is not x, "f must receive a private copy, not the caller's array"
        seen.append(z.copy())
        return np.sum(z)

    numerical_gradient(f, x, h=1e-3)
    np.testing.assert_array_equal(x, x_before, err_msg="numerical_gradient modified x")
    assert len(seen) == 2 * x.size
    for call in seen:
        changed = np.flatnonzero(call != x_before)
        assert len(changed) == 1, f"each call should perturb exactly one element (restoring the last), got {changed}"
        assert abs(abs(call.flat[changed[0]] - x_before.flat[changed[0]]) - 1e-3) < 1e-12


def test_function_ignoring_its_argument_has_zero_gradient():
    """Documented pitfall: f must use its argument, since x itself is never perturbed."""
    x = np.ones(3)
    assert not numerical_gradient(lambda _: np.sum(x**2), x).any()


def test_bad_arguments_are_rejected():
    x = np.ones(3)
    with pytest.raises(ValueError, match="df"):
        numerical_gradient(lambda z: 2 * z, x)  # vector output needs df
    with pytest.raises(ValueError, match="df"):
        numerical_gradient(lambda z: 2 * z, x, df=np.ones(4))
    with pytest.raises(ValueError, match="h"):
        numerical_gradient(lambda z: np.sum(z), x, h=0.0)
    with pytest.raises(ValueError, match="h"):
        numerical_gradient(lambda z: np.sum(z), x, h=-1e-5)


def test_rel_error_values():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [3.0]) == 0.5  # |1 - 3| / (1 + 3)
    assert rel_error([1.0, 10.0], [1.0, 12.0]) == 2.0 / 22.0  # the max over elements
    assert rel_error([0.0], [0.0]) == 0.0
    assert_close(rel_error([1e-10], [0.0]), 1e-2, rtol=1e-12, atol=0, name="floor 1e-8 in the denominator")
    assert rel_error([2.0, -1.0], [-2.0, 1.0]) == 1.0
    assert rel_error(np.ones((2, 2)), np.ones((2, 2)) * 1.5) == rel_error(np.ones((2, 2)) * 1.5, np.ones((2, 2)))
    assert isinstance(rel_error([1.0], [2.0]), float)
    with pytest.raises(ValueError, match="b"):
        rel_error(np.ones(3), np.ones(4))


def test_check_gradient_separates_right_from_wrong():
    x = rng(4).standard_normal(6)
    right = check_gradient(lambda z: np.sum(np.exp(z)), x, np.exp(x))
    wrong = check_gradient(lambda z: np.sum(np.exp(z)), x, 1.01 * np.exp(x))
    assert right < 1e-8, f"correct gradient gave rel_error {right:.2e}, expected < 1e-8"
    assert wrong > 1e-3, f"gradient off by 1% gave rel_error {wrong:.2e}, expected > 1e-3"
    with pytest.raises(ValueError, match="analytic"):
        check_gradient(lambda z: np.sum(z), x, np.ones(5))


# ---------------------------------------------------------------------------
# check_layer
# ---------------------------------------------------------------------------


def test_check_layer_passes_correct_layers():
    from dlcourse.numpy_ref import layers
    from dlcourse.numpy_ref.gradcheck import check_layer

    g = np.random.default_rng(0)
    x, w, b = g.standard_normal((4, 3)), g.standard_normal((3, 5)), g.standard_normal(5)
    result = check_layer(layers.affine_forward, layers.affine_backward, [x, w, b], rng=np.random.default_rng(1))
    assert list(result) == ["input0", "input1", "input2"]
    assert all(r.rel_error < 1e-8 for r in result.values()), result

    gamma, beta = g.uniform(0.5, 2, 3), g.standard_normal(3)

    def bn(x, gamma, beta):  # fresh running statistics on each call
        return layers.batchnorm_forward(x, gamma, beta, np.zeros(3), np.ones(3), training=True)

    result = check_layer(bn, layers.batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, rng=np.random.default_rng(2))
    assert set(result) == {"x", "gamma", "beta"}
    assert max(r.rel_error for r in result.values()) < 1e-6, result


def test_check_layer_reports_the_worst_element_of_a_wrong_gradient():
    from dlcourse.numpy_ref import layers
    from dlcourse.numpy_ref.gradcheck import check_layer

    x = np.random.default_rng(3).uniform(0.5, 2.0, (3, 4))

    def broken_backward(dout, cache):
        dx = layers.relu_backward(dout, cache)
        dx[1, 2] *= 3.0  # one wrong element
        return dx

    result = check_layer(layers.relu_forward, broken_backward, [x], rng=np.random.default_rng(4))["input0"]
    assert result.worst_index == (1, 2)
    assert result.rel_error > 0.4
    assert result.analytic == pytest.approx(3 * result.numerical, rel=1e-6)
    assert "(1, 2)" in str(result)


def test_check_layer_rejects_bad_backward():
    from dlcourse.numpy_ref import layers
    from dlcourse.numpy_ref.gradcheck import check_layer

    g = np.random.default_rng(0)
    x, w, b = g.standard_normal((2, 3)), g.standard_normal((3, 2)), g.standard_normal(2)
    with pytest.raises(ValueError, match="backward"):
        check_layer(layers.affine_forward, lambda d, c: layers.affine_backward(d, c)[:2], [x, w, b], rng=g)
    with pytest.raises(ValueError, match="rng"):
        check_layer(layers.affine_forward, layers.affine_backward, [x, w, b], rng=0)
