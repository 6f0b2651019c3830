"""A probe takes only the points of the cells whose behaviour it checks (issue #20, item 4), for a1 to a3.

Each case is the instructor's solution with one realistic bug. For a bug that only the hidden test
can see, the premise is checked first, in this process: the notebook's code with the bug, then the
visible test cell, passes (no exception, no warning); the hidden test cell, hidden region included,
fails for this student, because of the bug. Then the probes, run out of process on the same code,
must fail exactly the exercise's hidden cell: the visible cell's points stay with the student whose
visible test printed "passed". A bug the visible test sees fails both cells.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from course_fixtures import REPO
from dlcourse.grading.cases import STUDENT_ENV
from dlcourse.grading.probe_helpers import exercise_cells
from dlcourse.grading.probes import judge, load_probes, run_probes

STUDENT = "alice"


@dataclass(frozen=True)
class Bug:
    aid: str
    exercise: str  # the exercise whose tests see the bug: cells test_<exercise>, test_<exercise>_hidden
    patches: dict[str, str]  # grade id of a solution cell -> code appended to it (redefines a function)
    hidden_says: str  # part of the hidden test's failure ("ExceptionType: message")
    visible: bool = False  # the visible test sees it too
    student: str = STUDENT


# ---- a1 -----------------------------------------------------------------------------------------

CE_ONE_SHIFT = '''
def cross_entropy(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[0]
    shifted = logits - np.max(logits)  # one shift for the whole batch instead of one per row
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.mean(log_probs[np.arange(n), labels])
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), labels] -= 1.0
    return float(loss), dlogits / n
'''

SOFTMAX_2D_ONLY = '''
def softmax(x, axis=-1):
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)  # scores along the last axis of an (N, C) batch
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    return np.moveaxis(e / np.sum(e, axis=1, keepdims=True), -1, axis)
'''

TRAIN_WITH_TEST_ACC = '''
def train_two_layer(data, *, hidden_dim=128, lr=0.2, epochs=40, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    X, y = data.X_train, data.y_train
    params = init_two_layer(X.shape[1], hidden_dim, data.num_classes, rng=rng)
    history = {"train_loss": [], "train_acc": [], "val_acc": [], "test_acc": []}
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        losses = []
        for start in range(0, X.shape[0], batch_size):
            batch = order[start:start + batch_size]
            loss, grads = two_layer_loss(params, X[batch], y[batch])
            params = {key: value - lr * grads[key] for key, value in params.items()}
            losses.append(loss)
        history["train_loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(params, X, y))
        history["val_acc"].append(accuracy(params, data.X_val, data.y_val))
        history["test_acc"].append(accuracy(params, data.X_test, data.y_test))  # peeks at the test split
    return params, history
'''

CE_LOG_OF_SOFTMAX = '''
def cross_entropy(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    n = logits.shape[0]
    probs = softmax(logits)  # the stable softmax, but the log of a probability that can underflow to 0
    loss = -np.mean(np.log(probs[np.arange(n), labels]))
    dlogits = probs.copy()
    dlogits[np.arange(n), labels] -= 1.0
    return float(loss), dlogits / n
'''

RELU_GRAD_AT_ZERO = '''
def relu_grad(x):
    return (np.asarray(x) >= 0).astype(np.float64)  # 1 at the kink, where torch says 0
'''

# ---- a2 -----------------------------------------------------------------------------------------

L2_CONCATENATED = '''
def l2_penalty(weights, weight_decay):
    flat = np.concatenate([np.ravel(W) for W in weights])  # fails for an empty list
    return 0.5 * weight_decay * float(flat @ flat), [weight_decay * np.asarray(W, dtype=np.float64) for W in weights]
'''

L2_WITHOUT_HALF = '''
def l2_penalty(weights, weight_decay):
    return weight_decay * sum(float(np.sum(np.square(W))) for W in weights), [weight_decay * np.asarray(W) for W in weights]
'''

DEEP_ANY_CASE = '''
_deep_solution = deep_forward_backward

def deep_forward_backward(X, weights, activation, dout):
    return _deep_solution(X, weights, activation.lower(), dout)  # also takes "ReLU", "Tanh", ...
'''

BN_FORWARD_KEEPS_LATEST = '''
_LATEST = {}

def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, training, momentum=0.1, eps=1e-5):
    x, gamma, beta = (np.asarray(a, dtype=np.float64) for a in (x, gamma, beta))
    if training:
        n = x.shape[0]
        mu, var = x.mean(axis=0), x.var(axis=0)
        running_mean *= 1.0 - momentum
        running_mean += momentum * mu
        running_var *= 1.0 - momentum
        running_var += momentum * var * n / (n - 1)
    else:
        mu, var = running_mean.copy(), running_var.copy()
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    _LATEST.update(training=bool(training), x_hat=x_hat, inv_std=inv_std, gamma=gamma)
    return gamma * x_hat + beta, "see _LATEST"
'''

BN_BACKWARD_USES_LATEST = '''
def batchnorm_backward(dout, cache):
    c = _LATEST  # the latest forward pass, not the one the cache comes from
    dout = np.asarray(dout, dtype=np.float64)
    g = dout * c["gamma"]
    dgamma, dbeta = np.sum(dout * c["x_hat"], axis=0), dout.sum(axis=0)
    if not c["training"]:
        return g * c["inv_std"], dgamma, dbeta
    n = dout.shape[0]
    dx = c["inv_std"] / n * (n * g - g.sum(axis=0) - c["x_hat"] * np.sum(g * c["x_hat"], axis=0))
    return dx, dgamma, dbeta
'''

# ---- a3 -----------------------------------------------------------------------------------------

SGD_KEEPS_LR = '''
class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))
        self.lr = lr  # kept here: what a scheduler or a parameter group writes to group["lr"] never arrives

    def update(self, p, grad, group, state):
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        if group["momentum"] != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                state["momentum_buffer"] = group["momentum"] * state["momentum_buffer"] + (1 - group["dampening"]) * grad
            buf = state["momentum_buffer"]
            grad = grad + group["momentum"] * buf if group["nesterov"] else buf
        p.data -= self.lr * grad
'''

COSINE_STOPS_AT_T_MAX = '''
def cosine_annealing_lr(step, base_lr, T_max, eta_min=0.0):
    t = min(step, T_max)  # stays at eta_min after T_max, where torch's cosine rises again
    return float(eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * t / T_max)) / 2.0)
'''

SCALING_INTEGER_K = '''
def linear_scaling_lr(step, base_lr, batch_size, base_batch_size, warmup_steps):
    k = batch_size // base_batch_size  # a whole number: 240 / 32 becomes 7
    if warmup_steps == 0 or step >= warmup_steps:
        return float(k * base_lr)
    return float(base_lr + (k * base_lr - base_lr) * step / warmup_steps)
'''

STEP_LR_NO_FLOOR = '''
def step_lr(step, base_lr, step_size, gamma=0.1):
    return float(base_lr * gamma ** (step / step_size))  # decays at every step, not every step_size steps
'''

BUGS = {
    "a1_ce_one_shift": Bug("a1_backprop", "softmax_ce", {"softmax_ce_solution": CE_ONE_SHIFT}, "cross_entropy"),
    "a1_ce_log_of_softmax": Bug("a1_backprop", "softmax_ce", {"softmax_ce_solution": CE_LOG_OF_SOFTMAX},
                                "cross_entropy"),
    "a1_softmax_2d_only": Bug("a1_backprop", "softmax_ce", {"softmax_ce_solution": SOFTMAX_2D_ONLY}, "AxisError"),
    "a1_train_reads_test": Bug("a1_backprop", "training", {"training_solution": TRAIN_WITH_TEST_ACC}, "X_test"),
    "a1_relu_grad_kink": Bug("a1_backprop", "activations", {"activations_solution": RELU_GRAD_AT_ZERO}, "relu",
                             visible=True),
    "a2_l2_concatenate": Bug("a2_init_normalization", "l2", {"l2_solution": L2_CONCATENATED}, "concatenate"),
    "a2_deep_any_case": Bug("a2_init_normalization", "deep", {"deep_solution": DEEP_ANY_CASE}, "should raise"),
    "a2_bn_latest_cache": Bug("a2_init_normalization", "bn_backward",
                              {"bn_forward_solution": BN_FORWARD_KEEPS_LATEST, "bn_backward_solution": BN_BACKWARD_USES_LATEST},
                              "older cache"),
    "a2_l2_without_half": Bug("a2_init_normalization", "l2", {"l2_solution": L2_WITHOUT_HALF}, "l2", visible=True),
    "a3_sgd_keeps_lr": Bug("a3_optimization", "sgd", {"sgd_solution": SGD_KEEPS_LR}, "SGD("),
    "a3_cosine_stops": Bug("a3_optimization", "schedules", {"schedules_solution": COSINE_STOPS_AT_T_MAX},
                           "cosine_annealing_lr"),
    "a3_scaling_integer_k": Bug("a3_optimization", "accumulation", {"accumulation_solution": SCALING_INTEGER_K},
                                "linear_scaling_lr"),
    "a3_step_lr_no_floor": Bug("a3_optimization", "schedules", {"schedules_solution": STEP_LR_NO_FLOOR}, "step_lr",
                               visible=True),
}


@lru_cache(maxsize=None)
def notebook(aid: str):
    return nbformat.read(REPO / "solutions" / aid / f"{aid}.ipynb", as_version=4)


def code_cells(bug: Bug) -> list[str]:
    """The student's code: the solution's code cells with the bug appended, without the tests.

    Like :func:`dlcourse.grading.probes.student_cells`, but without the ungraded demo cells (plots,
    training runs), which only slow the run down: every function the tests call is defined in a cell
    with an nbgrader id (the solutions and the given helpers).
    """
    transform = TransformerManager().transform_cell
    cells, patched = [], set()
    for cell in notebook(bug.aid).cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if cell.cell_type != "code" or not meta or meta.get("grade"):
            continue
        source = cell.source
        if meta["grade_id"] in bug.patches:
            source += "\n\n" + bug.patches[meta["grade_id"]]
            patched.add(meta["grade_id"])
        cells.append(transform(source))
    assert patched == set(bug.patches), f"{bug.aid} has no cell {sorted(set(bug.patches) - patched)}"
    return cells


def cell_source(aid: str, grade_id: str) -> str:
    (cell,) = [c for c in notebook(aid).cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
    return cell.source


def run_cell(source: str, namespace: dict) -> str | None:
    """Run a test cell as the grader's kernel would: None when it passes, else what went wrong."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as seen, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            exec(compile(source, "<test cell>", "exec"), namespace)  # noqa: S102 - the instructor's notebook
        except Exception as exc:  # noqa: BLE001 - any failure of the cell is its verdict
            return f"{type(exc).__name__}: {exc}"
    if seen:
        return f"warning: {seen[0].message}"
    if err.getvalue():
        return f"stderr: {err.getvalue()[:300]}"
    return None


@lru_cache(maxsize=None)
def verdict(name: str):
    bug = BUGS[name]
    spec = load_probes(REPO / "solutions" / bug.aid)
    results, inputs, problem = run_probes(spec, code_cells(bug), bug.student, timeout=600)
    return judge(spec, results, inputs, problem)


@pytest.mark.parametrize("name", list(BUGS))
def test_the_bug_is_seen_by_the_tests_it_is_meant_for(name, monkeypatch):
    """The premise: the visible test passes unless the bug is a visible one; the hidden test fails, because of the bug."""
    bug = BUGS[name]
    monkeypatch.setenv(STUDENT_ENV, bug.student)
    namespace = {"__name__": "__main__"}
    for source in code_cells(bug):
        exec(compile(source, "<solution cell>", "exec"), namespace)  # noqa: S102 - the instructor's notebook
    visible, hidden = exercise_cells(bug.exercise)
    visible_failure = run_cell(cell_source(bug.aid, visible), namespace)
    if bug.visible:
        assert visible_failure is not None, f"{name}: the visible test does not see the bug"
        return
    assert visible_failure is None, f"{name}: the visible test fails ({visible_failure}), so the bug is not hidden-only"
    hidden_failure = run_cell(cell_source(bug.aid, hidden), namespace)
    assert hidden_failure is not None, f"{name}: the hidden test does not see the bug for student {bug.student!r}"
    assert bug.hidden_says in hidden_failure, f"{name}: the hidden test fails for another reason: {hidden_failure}"


@pytest.mark.parametrize("name", list(BUGS))
def test_probes_take_the_points_of_the_cells_that_see_the_bug(name):
    bug = BUGS[name]
    result = verdict(name)
    assert result.problem is None, result.problem
    visible, hidden = exercise_cells(bug.exercise)
    if bug.visible:
        assert {visible, hidden} <= result.cells_failed, (result.cells_failed, result.failures)
    else:
        assert result.cells_failed == {hidden}, (result.cells_failed, result.failures)
    assert result.failures, "no probe saw the bug"


@pytest.mark.parametrize("aid", ["a1_backprop", "a2_init_normalization", "a3_optimization"])
def test_the_solution_passes_every_probe_and_every_hidden_only_probe_names_one_hidden_cell(aid):
    spec = load_probes(REPO / "solutions" / aid)
    results, inputs, problem = run_probes(spec, code_cells(Bug(aid, "", {}, "")), STUDENT, timeout=600)
    result = judge(spec, results, inputs, problem)
    assert not result.failures and result.problem is None, (result.failures, result.problem)
    for probe in spec.probes:
        assert len(probe.cells) in (1, 2), probe
        if len(probe.cells) == 1:
            (cell,) = probe.cells
            assert cell.startswith("test_") and cell.endswith("_hidden"), f"{probe.name} takes only {cell}"
        else:
            assert probe.cells == exercise_cells(probe.cells[0].removeprefix("test_")), probe
