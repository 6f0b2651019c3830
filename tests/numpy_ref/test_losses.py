"""dlcourse.numpy_ref.losses against torch float64 autograd and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import losses
from dlcourse.numpy_ref.gradcheck import numerical_gradient

from ._helpers import assert_close, strict_numerics, torch_forward_backward

SHAPES = [(1,), (7,), (3, 4), (2, 3, 2)]


def rng(seed):
    return np.random.default_rng(seed)


def check_against_torch(loss_fn, torch_fn, first, second, *, rtol=1e-12, atol=1e-15, torch_second=None):
    """Compare loss and gradient with torch autograd; return them."""
    first_before, second_before = first.copy(), second.copy()
    with strict_numerics():
        loss, grad = loss_fn(first, second)
    second_t = torch.tensor(second) if torch_second is None else torch_second
    expected_loss, (expected_grad,) = torch_forward_backward(lambda t: torch_fn(t, second_t), [first])
    name = loss_fn.__name__
    assert isinstance(loss, float), f"{name} must return a Python float, got {type(loss).__name__}"
    assert_close(loss, expected_loss, rtol=rtol, atol=atol, name=f"{name} loss")
    assert_close(grad, expected_grad, rtol=rtol, atol=atol, name=f"{name} gradient")
    np.testing.assert_array_equal(first, first_before, err_msg=f"{name} modified its first argument")
    np.testing.assert_array_equal(second, second_before, err_msg=f"{name} modified its second argument")
    return loss, grad


def check_against_numerical(loss_fn, first, second):
    _, grad = loss_fn(first, second)
    numerical = numerical_gradient(lambda z: loss_fn(z, second)[0], first)
    assert_close(grad, numerical, rtol=1e-6, atol=1e-10, name=f"{loss_fn.__name__} gradient vs central differences")


# ---------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_mse_matches_torch(shape):
    pred, target = 3 * rng(0).standard_normal(shape), rng(1).standard_normal(shape)
    check_against_torch(losses.mse_loss, TF.mse_loss, pred, target)
    check_against_numerical(losses.mse_loss, pred, target)


def test_mse_known_value():
    loss, grad = losses.mse_loss([1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 3.0, 0.0])
    assert loss == (4 + 16) / 4
    assert_close(grad, [0.0, 1.0, 0.0, 2.0], rtol=0, atol=0, name="mse gradient 2 (p - t) / N")


# ---------------------------------------------------------------------------
# binary_cross_entropy (probabilities) and with logits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_bce_matches_torch(shape):
    prob = rng(2).uniform(0.02, 0.98, shape)
    target = rng(3).integers(0, 2, shape).astype(float)
    check_against_torch(losses.binary_cross_entropy, TF.binary_cross_entropy, prob, target)
    check_against_numerical(losses.binary_cross_entropy, prob, target)


def test_bce_probabilities_exactly_0_and_1_match_torch_clamping():
    """torch clamps log(p) at -100 and floors p(1-p) at 1e-12: finite loss and gradient."""
    prob = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 1.0 - 1e-16, 0.5])
    target = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    loss, grad = check_against_torch(losses.binary_cross_entropy, TF.binary_cross_entropy, prob, target)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    # By hand: the confident mistakes cost exactly 100 each (the clamp), the
    # right ones 0, and 1e-50 costs log(1e50) = 115.1 -> clamped to 100 too.
    expected_loss = (0 + 0 + 100 + 100 + 100 + -np.log1p(-(1.0 - 1e-16)) + np.log(2)) / 7
    assert_close(loss, expected_loss, rtol=1e-12, atol=0, name="bce loss with clamped logs")


def test_bce_all_correct_and_certain_is_zero():
    loss, grad = losses.binary_cross_entropy(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert loss == 0.0 and not grad.any()


@pytest.mark.parametrize("shape", SHAPES)
def test_bce_with_logits_matches_torch(shape):
    logits = 5 * rng(4).standard_normal(shape)
    target = rng(5).integers(0, 2, shape).astype(float)
    check_against_torch(losses.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, logits, target)
    check_against_numerical(losses.binary_cross_entropy_with_logits, logits, target)


def test_bce_with_logits_extremes_match_torch():
    logits = np.array([-1000.0, -1000.0, 1000.0, 1000.0, 0.0, 40.0, -40.0, 1e4])
    target = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    loss, grad = check_against_torch(
        losses.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, logits, target
    )
    assert_close(loss, (1000 + 1000 + np.log(2) + 40 + 40) / 8, rtol=1e-12, atol=0, name="bce_with_logits by hand")


def test_bce_with_logits_equals_bce_of_sigmoid():
    logits = 3 * rng(6).standard_normal(10)
    target = rng(7).integers(0, 2, 10).astype(float)
    prob = 1 / (1 + np.exp(-logits))
    loss_l, grad_l = losses.binary_cross_entropy_with_logits(logits, target)
    loss_p, grad_p = losses.binary_cross_entropy(prob, target)
    assert_close(loss_l, loss_p, rtol=1e-12, atol=0, name="bce_with_logits vs bce(sigmoid)")
    # chain rule: dL/dlogits = dL/dprob * sigmoid'(logits)
    assert_close(grad_l, grad_p * prob * (1 - prob), rtol=1e-10, atol=1e-15, name="(p - t)/N by the chain rule")


# ---------------------------------------------------------------------------
# soft_margin_loss
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_soft_margin_matches_torch(shape):
    score = 4 * rng(8).standard_normal(shape)
    target = rng(9).choice([-1.0, 1.0], shape)
    check_against_torch(losses.soft_margin_loss, TF.soft_margin_loss, score, target)
    check_against_numerical(losses.soft_margin_loss, score, target)


def test_soft_margin_large_scores_are_stable():
    """torch's own formula overflows here; compare with torch's stable logaddexp(0, -y s)."""
    score = np.array([1000.0, -1000.0, 1000.0, -1000.0, 800.0, 30.0, -30.0, 0.0])
    target = np.array([1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    target_t = torch.tensor(target)

    def stable_torch(s, y):
        return torch.logaddexp(torch.zeros_like(s), -y * s).mean()

    loss, grad = check_against_torch(losses.soft_margin_loss, stable_torch, score, target, torch_second=target_t)
    assert_close(loss, (0 + 1000 + 1000 + 0 + 800 + np.log1p(np.exp(-30)) + 30 + np.log1p(np.exp(-30)) + np.log(2)) / 8,
                 rtol=1e-12, atol=0, name="soft margin by hand")


def test_soft_margin_is_logistic_loss_of_bce():
    """log(1 + exp(-y s)) is BCE-with-logits with t = (y + 1) / 2: the two logistic losses of the notes."""
    score = 3 * rng(10).standard_normal(12)
    y = rng(11).choice([-1.0, 1.0], 12)
    loss_pm, grad_pm = losses.soft_margin_loss(score, y)
    loss_01, grad_01 = losses.binary_cross_entropy_with_logits(score, (y + 1) / 2)
    assert_close(loss_pm, loss_01, rtol=1e-12, atol=0, name="soft margin vs bce_with_logits")
    assert_close(grad_pm, grad_01, rtol=1e-12, atol=1e-15, name="their gradients")


# ---------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n, c", [(1, 1), (1, 5), (6, 4), (16, 10)])
def test_cross_entropy_matches_torch(n, c):
    logits = 3 * rng(n).standard_normal((n, c))
    labels = rng(c).integers(0, c, n)
    check_against_torch(losses.cross_entropy, TF.cross_entropy, logits, labels, torch_second=torch.tensor(labels))
    check_against_numerical(losses.cross_entropy, logits, labels)


def test_cross_entropy_huge_logits_match_torch():
    logits = np.array(
        [
            [500.0, 0.0, -500.0],
            [500.0, 0.0, -500.0],
            [500.0, 500.0, 0.0],
            [-1000.0, 1000.0, 0.0],
            [1e4, -1e4, 0.0],
        ]
    )
    labels = np.array([0, 2, 1, 0, 1])
    loss, grad = check_against_torch(
        losses.cross_entropy, TF.cross_entropy, logits, labels, torch_second=torch.tensor(labels)
    )
    assert_close(loss, (0 + 1000 + np.log(2) + 2000 + 2e4) / 5, rtol=1e-12, atol=0, name="cross entropy by hand")


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = rng(12).standard_normal((5, 3))
    labels = np.array([0, 1, 2, 2, 0], dtype=np.int32)  # any integer dtype
    _, grad = losses.cross_entropy(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[labels]
    assert_close(grad, (probs - onehot) / 5, rtol=1e-12, atol=1e-16, name="(o - y) / N")


def test_cross_entropy_of_uniform_scores_is_log_c():
    """The 'initial loss log C' sanity check of the babysitting lecture."""
    loss, _ = losses.cross_entropy(np.zeros((4, 10)), np.array([0, 3, 9, 5]))
    assert_close(loss, np.log(10), rtol=1e-14, atol=0, name="cross entropy of all-zero logits")


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="target"):
        losses.mse_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy(np.full((2, 2), 0.5), np.zeros(4))
    with pytest.raises(ValueError, match="target"):
        losses.soft_margin_loss(np.zeros(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="pred"):
        losses.mse_loss(np.zeros(0), np.zeros(0))


def test_bad_binary_values_are_rejected():
    with pytest.raises(ValueError, match="prob"):
        losses.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="prob"):
        losses.binary_cross_entropy(np.array([0.5, np.nan]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy(np.array([0.5, 0.5]), np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy(np.array([0.5, 0.5]), np.array([0.0, -1.0]))
    with pytest.raises(ValueError, match="target"):
        losses.binary_cross_entropy_with_logits(np.zeros(2), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="target"):
        losses.soft_margin_loss(np.zeros(2), np.array([0.0, 1.0]))


def test_bad_cross_entropy_arguments_are_rejected():
    logits = np.zeros((3, 4))
    with pytest.raises(ValueError, match="labels"):
        losses.cross_entropy(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="labels"):
        losses.cross_entropy(logits, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="labels"):
        losses.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="labels"):
        losses.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        losses.cross_entropy(logits, np.array([[0], [1], [2]]))
    with pytest.raises(ValueError, match="logits"):
        losses.cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="logits"):
        losses.cross_entropy(np.zeros((0, 4)), np.array([], dtype=int))
