"""scripts/gpu_check.py (make gpu-check): what can be checked without a GPU.

On a machine without one it must say so and exit 2 (never 0: nothing was checked); --dry-run names
the four steps and every notebook it would run; the junit counting and the summary line are
checked on small inputs. The steps themselves need an NVIDIA GPU.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gpu_check.py"

_spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("gpu_check", gpu_check)  # dataclasses look their module up there
_spec.loader.exec_module(gpu_check)


def run_script(*args: str) -> subprocess.CompletedProcess:
    # CUDA_VISIBLE_DEVICES="" hides any GPU, so the no-GPU path is what runs on every machine
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def expected_notebooks() -> list[Path]:
    """The GPU notebooks, found here independently of the script's own patterns."""
    lectures = [p for p in (REPO / "lectures").glob("*.ipynb") if p.name.startswith(("L10", "L11"))]
    solutions = [p for d in (REPO / "solutions").iterdir() if d.name.startswith(("a4_", "a5_"))
                 for p in d.glob("*.ipynb")]
    return sorted(lectures + solutions)


def test_without_gpu_it_says_so_and_exits_2():
    proc = run_script()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "no NVIDIA GPU here (torch.cuda.is_available() is False): nothing to check" in proc.stdout
    assert "would run" in proc.stdout and "cuda-tests" in proc.stdout, "it says what it would have run"
    assert lines[-1].startswith("gpu-check: NO GPU") and "nothing to check" in lines[-1]
    assert "PASS" not in lines[-1]


def test_dry_run_lists_the_four_steps_and_every_gpu_notebook():
    proc = run_script("--dry-run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for i, step in enumerate(["gpu", "cuda-tests", "grade", "notebooks"], 1):
        assert f"  {i}. {step}: " in out, step
    notebooks = expected_notebooks()
    assert len(notebooks) >= 4 and any(p.name.startswith("L10") for p in notebooks)
    assert any(p.name.startswith("L11") for p in notebooks)
    for nb in notebooks:
        assert str(nb.relative_to(REPO)) in out, f"{nb} is not in the plan"
    assert {p.relative_to(REPO) for p in gpu_check.gpu_notebooks(REPO)} == {p.relative_to(REPO) for p in notebooks}
    assert "-m pytest" in out and "tests/test_sandbox_gpu.py" in out and "tests/torch_ref/test_modules.py" in out
    assert "test_gpu_check.py" not in out, "the script's own tests are not CUDA tests"
    assert "a4_pytorch_gpu" in out and "a5_transfer_learning" in out
    assert "NO GPU" not in out, "a dry run asks nothing of the GPU"


def test_only_runs_the_gpu_step_and_the_one_named():
    out = run_script("--dry-run", "--only", "grade").stdout
    assert "1. gpu: " in out and "3. grade: " in out
    assert "cuda-tests:" not in out and "notebooks:" not in out
    assert run_script("--only", "nonsense").returncode != 0


def test_cuda_test_files_are_found_by_reading_the_tests():
    files = {p.relative_to(REPO).as_posix() for p in gpu_check.cuda_test_files(REPO)}
    assert "tests/test_sandbox_gpu.py" in files
    assert "tests/torch_ref/test_optim.py" in files, "parametrized over DEVICES"
    assert "tests/test_gpu_check.py" not in files
    assert "tests/test_similarity.py" not in files


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="3" tests="9">
  <testcase classname="tests.torch_ref.test_optim" name="test_sgd[cpu]" time="0.1"/>
  <testcase classname="tests.torch_ref.test_optim" name="test_sgd[cuda]" time="0.1"/>
  <testcase classname="tests.torch_ref.test_optim_foreach" name="test_step[cuda+cpu]" time="0.1"/>
  <testcase classname="tests.torch_ref.test_device" name="test_get_device_prefers_cuda_then_mps_then_cpu" time="0.1"/>
  <testcase classname="tests.torch_ref.test_modules" name="test_bn[cuda]" time="0.1">
    <failure message="AssertionError: no">trace</failure></testcase>
  <testcase classname="tests.test_sandbox_gpu" name="test_x" time="0.1"><error message="boom">trace</error></testcase>
  <testcase classname="tests.torch_ref.test_training" name="test_mixed_precision_on_cuda_learns" time="0">
    <skipped type="pytest.skip" message="mixed precision needs CUDA">skip</skipped></testcase>
  <testcase classname="tests.torch_ref.test_lr_finder" name="test_find[cpu]" time="0">
    <skipped type="pytest.skip" message="no GPU in this container">skip</skipped></testcase>
  <testcase classname="tests.test_sandbox_gpu" name="test_y" time="0">
    <skipped type="pytest.skip" message="bubblewrap not installed">skip</skipped></testcase>
</testsuite></testsuites>
"""


def test_junit_counting_and_a_skipped_cuda_case_is_a_failure(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    for source in (path, JUNIT):
        counts = gpu_check.count_junit(source)
        assert (counts.passed, counts.failed, counts.skipped, counts.total) == (4, 2, 3, 9)
        assert counts.cuda_passed == 2, "[cuda] and [cuda+cpu]; prefers_cuda_then_... is a CPU test"
        assert counts.failures == ["tests.torch_ref.test_modules::test_bn[cuda]", "tests.test_sandbox_gpu::test_x"]
        assert [s.split(":")[0] for s in counts.cuda_skipped] == [
            "tests.torch_ref.test_training", "tests.torch_ref.test_lr_finder"], "by name, and by a reason naming a GPU"
        assert counts.other_skipped == ["tests.test_sandbox_gpu::test_y: bubblewrap not installed"]
        problems = " | ".join(counts.problems())
        assert "2 failed" in problems and "2 CUDA case(s) skipped on a GPU machine" in problems


def test_junit_one_skipped_cuda_case_alone_fails_and_a_clean_run_passes():
    skipped = """<testsuites><testsuite>
      <testcase classname="t" name="test_a[cuda]"/>
      <testcase classname="t" name="test_b[cuda]"><skipped message="CUDA out of reach"/></testcase>
    </testsuite></testsuites>"""
    counts = gpu_check.count_junit(skipped)
    assert (counts.passed, counts.failed, counts.skipped, counts.cuda_passed) == (1, 0, 1, 1)
    assert counts.problems() == ["1 CUDA case(s) skipped on a GPU machine: t::test_b[cuda]: CUDA out of reach"]
    clean = gpu_check.count_junit('<testsuite><testcase classname="t" name="test_a[cuda]"/>'
                                  '<testcase classname="t" name="test_c"><skipped message="needs bwrap"/></testcase>'
                                  '</testsuite>')
    assert clean.problems() == []
    cpu_only = gpu_check.count_junit('<testsuite><testcase classname="t" name="test_a[cpu]"/></testsuite>')
    assert cpu_only.problems() == ["no CUDA case passed (is cuda in tests/torch_ref/_helpers.DEVICES?)"]


DEVICE = "NVIDIA H100 80GB HBM3, torch 2.14.1+cu130, CUDA 13.0"


def test_summary_line():
    R = gpu_check.StepResult
    passing = [R("gpu", "PASS", ""), R("cuda-tests", "PASS", ""), R("grade", "PASS", ""), R("notebooks", "PASS", "")]
    assert gpu_check.format_summary(passing, DEVICE, 311.6) == (
        "gpu-check: PASS (4/4 steps) on NVIDIA H100 80GB HBM3, torch 2.14.1+cu130, CUDA 13.0 in 312 s")
    failing = [R("gpu", "PASS", ""), R("cuda-tests", "FAIL", "3 failed"),
               R("grade", "FAIL", "a5: 40 of 45", failed=["grade-a5"]), R("notebooks", "PASS", "")]
    assert gpu_check.format_summary(failing, DEVICE, 298.2) == (
        "gpu-check: FAIL (2/4 steps: cuda-tests, grade-a5) on NVIDIA H100 80GB HBM3, torch 2.14.1+cu130, "
        "CUDA 13.0 in 298 s")
    skipped = [R("gpu", "PASS", ""), R("grade", "SKIP", "why")]
    assert gpu_check.format_summary(skipped, DEVICE, 5).startswith("gpu-check: FAIL (1/2 steps: grade skipped) on ")
    assert gpu_check.format_summary([], DEVICE, 0).startswith("gpu-check: FAIL (0/0 steps: ) "), "nothing run is no pass"


def test_cuda_evidence_in_notebook_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(DEVICES)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                           text="torch 2.14.1; the tests in this notebook run on: ['cpu', 'cuda']\n")]
    nb.cells.append(cell)
    assert gpu_check.cuda_text_evidence(nb) == "torch 2.14.1; the tests in this notebook run on: ['cpu', 'cuda']"
    for text, found in [("device: cuda   CPUs available: 16", True), ("tensor([1.], device='cuda:0')", True),
                        ("on cuda: c = 6.7", True), ("the tests run on: ['cpu']", False),
                        ("torch.backends.cuda.matmul.allow_tf32 = False", False),
                        ("CUDA device present: False", False), ("device: cpu", False)]:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        assert bool(gpu_check.cuda_text_evidence(nb)) is found, text
    cpu_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = torch.ones(2)")])
    assert not gpu_check.notebook_uses_cuda(cpu_nb)
    cpu_nb.cells.append(nbformat.v4.new_code_cell("device = get_device()"))
    assert gpu_check.notebook_uses_cuda(cpu_nb)
