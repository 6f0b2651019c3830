"""A probe takes only the points of the cells whose behaviour it checks (issue #20, item 4), in a4 and a5.

Each case is the solution's code with one realistic bug. A bug that only the hidden test catches must cost
the exercise's hidden cell alone; a bug the visible test catches costs both cells (so a student who tampers
with the tests in the kernel still loses both). The premise is checked in process: after the buggy code the
visible test cell passes and the hidden test cell (its full source from solutions/) fails, or, for a
visible-level bug, the visible cell fails. Only the imports and the solution cells run (no demonstrations),
and each case runs the probes of its exercise only; a separate test runs every probe on the solution.

Device bugs (issue #21): a forgotten ``.to(device)`` for the inputs, for the targets or for a tensor the code
creates passes every test on a CPU-only machine unless the tests run the code on a CUDA device. The tests and
the probes use the simulated CUDA device (dlcourse.grading.simulated_device) where there is no GPU, so these
bugs fail the visible test (with PyTorch's own "Expected all tensors to be on the same device" error) and the
probes take both cells, on every grader.
"""

from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass

import nbformat
import pytest
import torch

from course_fixtures import REPO
from dlcourse.grading.probes import ProbeSpec, judge, load_probes, run_probes, student_cells

STUDENT = "alice"
MIXED = "Expected all tensors to be on the same device"  # torch names the two devices in either order


@dataclass(frozen=True)
class Bug:
    """The solution with each ``(old, new)`` of ``edits`` applied to the solution cell ``cell`` of exercise ``part``."""

    name: str
    part: str
    cell: str
    edits: tuple[tuple[str, str], ...]
    hidden_only: bool
    fails_with: str  # part of the message with which the test cell that catches the bug fails


A4 = [
    Bug("BatchNorm1d ignores eps (the visible test uses the default)", "part3", "part3_solution",
        (("self.eps = eps", "self.eps = 1e-5"),), True, "training output"),
    Bug("Adam.step ignores its closure", "part5", "part5_solution",
        (("            with torch.enable_grad():\n                loss = closure()\n", "            pass\n"),), True,
        "float() argument"),
    Bug("synchronize forgets Apple's MPS", "part8", "part8_solution",
        (('    elif device.type == "mps":\n        torch.mps.synchronize()\n', ""),), True, "torch.mps.synchronize"),
    Bug("Dropout does not scale the survivors", "part4", "part4_solution",
        (("return x * mask.div_(keep)", "return x * mask"),), False, "same seed"),
    Bug("train_one_epoch does not divide the loss by accumulation_steps", "part6", "part6_loop_solution",
        (("(loss / accumulation_steps).backward()", "loss.backward()"),), False, "3 micro-batches of 4"),
    # the visible test now has an epoch that ends with a short group
    Bug("train_one_epoch drops the short last group", "part6", "part6_loop_solution",
        (("    if pending:\n        update()\n", ""),), False, "short group"),
    # device bugs: a missing .to(device) for x, for y, for a tensor the code creates
    Bug("train_on_device does not move y", "part2", "part2_solution",
        (("x, y = x.to(device), y.to(device)", "x = x.to(device)"),), False, MIXED),
    Bug("train_one_epoch does not move the batch's x", "part6", "part6_loop_solution",
        (("        xb, yb = xb.to(device), yb.to(device)\n        loss = F.cross_entropy(model(xb), yb)",
          "        yb = yb.to(device)\n        loss = F.cross_entropy(model(xb), yb)"),), False, MIXED),
    Bug("time_train_step does not move y", "part8", "part8_solution",
        (("x, y = x.to(device), y.to(device)", "x = x.to(device)"),), False, MIXED),
    Bug("Adam creates its state on the CPU", "part5", "part5_solution",
        (('state["exp_avg"] = torch.zeros_like(p)', 'state["exp_avg"] = torch.zeros(p.shape, dtype=p.dtype)'),), False,
        MIXED),
    Bug("Dropout draws its mask on the CPU", "part4", "part4_solution",
        (("mask = torch.empty_like(x).bernoulli_(keep)", "mask = torch.empty(x.shape, dtype=x.dtype).bernoulli_(keep)"),),
        False, MIXED),
]

# freeze registers a hook at every call and keeps the handle of the last one only, which unfreeze removes
_FREEZE_HOOK = (
    "            m.frozen = True\n"
    '            if not getattr(m, "has_freeze_hook", False):\n'
    "                m.register_forward_pre_hook(_keep_frozen_batchnorm_in_eval)\n"
    "                m.has_freeze_hook = True\n",
    '            m.freeze_hook = m.register_forward_pre_hook(lambda module, inputs: setattr(module, "training", False))\n',
)
_UNFREEZE_HOOK = ("            m.frozen = False\n", "            m.freeze_hook.remove()\n")
A5 = [
    Bug("freeze twice, unfreeze once leaves batch norm frozen", "part1", "part1_solution",
        (_FREEZE_HOOK, _UNFREEZE_HOOK), True, "must be in training mode"),
    Bug("extract_features ignores conv layers after the last pooling", "part3", "part3_solution",
        (("    if current:\n        blocks.append(current)\n", ""),), True, "num_blocks"),
    Bug("unfreeze_last_blocks unfreezes the whole classifier", "part5", "part5_solution",
        (("            unfreeze(layer)\n    return model",
          "            unfreeze(layer)\n    unfreeze(model.classifier)\n    return model"),), True, "trainable"),
    Bug("train_model never switches to training mode", "part2", "part2_solution",
        (("        model.train()\n        loss_sum, count = 0.0, 0", "        loss_sum, count = 0.0, 0"),), False,
        "mean loss of each epoch"),
    Bug("replace_classifier sizes the new layer from the first Linear", "part1", "part1_solution",
        (("old = head[linear[-1]]", "old = head[linear[0]]"),), False, "classifier[-1] should be Linear"),
    # device bugs: a missing .to(device) for x, for y, for a layer the code creates, a result left on the device
    Bug("train_model does not move y", "part2", "part2_solution",
        (("            xb, yb = xb.to(device), yb.to(device)\n", "            xb = xb.to(device)\n"),), False, MIXED),
    Bug("evaluate_accuracy does not move X", "part2", "part2_solution",
        (("out = model(X[start:start + batch_size].to(device))", "out = model(X[start:start + batch_size])"),), False,
        MIXED),
    Bug("replace_classifier creates the new layer on the CPU", "part1", "part1_solution",
        (("                    device=old.weight.device, dtype=old.weight.dtype)", "                    dtype=old.weight.dtype)"),),
        False, "must be on the model's device"),
    Bug("train_linear_probe creates the linear layer on the CPU", "part4", "part4_solution",
        (("linear = nn.Linear(features.shape[1], num_classes).to(device=features.device, dtype=features.dtype)",
          "linear = nn.Linear(features.shape[1], num_classes).to(dtype=features.dtype)"),), False, MIXED),
    Bug("extract_features leaves the features on the device", "part3", "part3_solution",
        (("out.append(run(xb).float().cpu())", "out.append(run(xb).float())"),), False, "must come back to the CPU"),
]

AIDS = {"a4_pytorch_gpu": A4, "a5_transfer_learning": A5}
CASES = [pytest.param(aid, bug, id=f"{aid}-{bug.part}-{bug.name}") for aid, bugs in AIDS.items() for bug in bugs]


@functools.lru_cache(maxsize=None)
def _notebook(aid: str) -> nbformat.NotebookNode:
    (path,) = sorted((REPO / "solutions" / aid).glob("*.ipynb"))
    return nbformat.read(path, as_version=4)


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _test_source(aid: str, grade_id: str) -> str:
    (cell,) = [c for c in _notebook(aid).cells if _grade_id(c) == grade_id]
    return cell.source


def _student_notebook(aid: str, bug: Bug | None) -> nbformat.NotebookNode:
    """The imports and the solution cells (no demonstrations), with the bug applied."""
    nb = _notebook(aid)
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("solution") or meta.get("grade_id") == "imports"):
            continue
        cell = nbformat.from_dict(dict(cell))
        if bug is not None and meta.get("grade_id") == bug.cell:
            for old, new in bug.edits:
                assert cell.source.count(old) == 1, f"{bug.name}: the solution changed, {old!r} is not in {bug.cell} once"
                cell.source = cell.source.replace(old, new)
        cells.append(cell)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = cells
    return out


def _verdict(aid: str, bug: Bug | None, tmp_path, *, only_part: str | None = None):
    path = tmp_path / f"{aid}.ipynb"
    nbformat.write(_student_notebook(aid, bug), path)
    spec = load_probes(REPO / "solutions" / aid)
    if only_part is not None:
        cells = {f"test_{only_part}", f"test_{only_part}_hidden"}
        spec = ProbeSpec([p for p in spec.probes if set(p.cells) & cells], spec.setup, spec.forbidden, spec.call_timeout)
    results, inputs, problem = run_probes(spec, student_cells([path]), STUDENT, timeout=300)
    return judge(spec, results, inputs, problem)


@contextlib.contextmanager
def _torch_settings():
    """The notebooks set torch's thread count and float32 precision: give them back afterwards."""
    threads = torch.get_num_threads()
    precision = getattr(torch.backends, "fp32_precision", None)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        if precision is not None:
            torch.backends.fp32_precision = precision


def _run_cell(source: str, namespace: dict) -> BaseException | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<test cell>", "exec"), namespace)  # noqa: S102 - the course's own notebook
    except Exception as exc:  # noqa: BLE001 - a failing test cell is what is looked for
        return exc
    return None


@pytest.mark.parametrize("aid, bug", CASES)
def test_the_bug_is_caught_by_the_test_cells_it_claims(aid, bug, monkeypatch):
    """The premise: a hidden-only bug passes the visible test and fails the hidden one; a visible-level bug fails
    the visible test."""
    monkeypatch.setenv("DLCOURSE_STUDENT_ID", STUDENT)
    namespace = {"__name__": "__main__"}
    with _torch_settings():
        for cell in _student_notebook(aid, bug).cells:
            assert _run_cell(cell.source, namespace) is None, f"the student's code does not run ({_grade_id(cell)})"
        visible = _run_cell(_test_source(aid, f"test_{bug.part}"), namespace)
        if not bug.hidden_only:
            assert visible is not None, f"{bug.name}: the visible test of {bug.part} passes"
            assert bug.fails_with in str(visible), f"{bug.name}: the visible test fails for another reason: {visible!r}"
            return
        assert visible is None, f"{bug.name}: the visible test of {bug.part} fails: {visible!r}"
        hidden = _run_cell(_test_source(aid, f"test_{bug.part}_hidden"), namespace)
    assert hidden is not None, f"{bug.name}: the hidden test of {bug.part} passes"
    assert bug.fails_with in str(hidden), f"{bug.name}: the hidden test fails for another reason: {hidden!r}"


@pytest.mark.parametrize("aid, bug", CASES)
def test_probes_take_only_the_cells_the_bug_fails(aid, bug, tmp_path):
    verdict = _verdict(aid, bug, tmp_path, only_part=bug.part)
    visible, hidden = f"test_{bug.part}", f"test_{bug.part}_hidden"
    assert verdict.problem is None, verdict.problem
    if bug.hidden_only:
        assert verdict.cells_failed == {hidden}, verdict.failures
        assert visible in verdict.cells_passed, verdict
    else:
        assert {visible, hidden} <= verdict.cells_failed, verdict.failures


@pytest.mark.parametrize("aid", sorted(AIDS))
def test_the_solution_passes_every_probe(aid, tmp_path):
    verdict = _verdict(aid, None, tmp_path)
    assert verdict.problem is None and not verdict.failures, verdict.failures


@pytest.mark.parametrize("aid", sorted(AIDS))
def test_every_exercise_has_a_probe_on_both_cells_and_edge_probes_name_the_hidden_cell(aid):
    spec = load_probes(REPO / "solutions" / aid)
    visible = {c for p in spec.probes for c in p.cells if not c.endswith("_hidden")}
    for cell in visible:
        assert any(set(p.cells) == {cell, f"{cell}_hidden"} for p in spec.probes), \
            f"{aid}: no probe on typical inputs takes both {cell} and {cell}_hidden"
    for probe in spec.probes:
        assert len(probe.cells) == 2 or (len(probe.cells) == 1 and probe.cells[0].endswith("_hidden")), \
            f"{aid}/{probe.name}: a probe takes both cells of one exercise, or only its hidden cell ({probe.cells})"
        assert len({c.removesuffix("_hidden") for c in probe.cells}) == 1, f"{aid}/{probe.name}: cells of two exercises"
