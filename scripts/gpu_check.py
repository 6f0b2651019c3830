"""gpu-check: every GPU-related check of the course in one call, ending in one summary line.

Command (from the repository root; ``make gpu-check`` runs it after making the venv and the sandbox)::

    .venv/bin/python scripts/gpu_check.py [--dry-run] [--only STEP] [--jobs N]

Steps (each timed, each PASS, FAIL or SKIP with a reason; every step runs even when an earlier one
failed; a SKIP, such as grading without bubblewrap, is not a pass):

1. ``gpu``: ``torch.cuda.is_available()``, the device name, torch's and CUDA's versions, a matrix
   product on the GPU, and the ``/dev/nvidia*`` files that the grading sandbox passes through.
2. ``cuda-tests``: pytest on the test files with CUDA cases (found by reading ``tests/``: a file that
   mentions CUDA or parametrizes over ``tests.torch_ref._helpers.DEVICES``), counted from its JUnit
   XML. Any failed test fails the step, and so does a CUDA case that was skipped: on a GPU
   machine nothing CUDA may be skipped.
3. ``grade``: the complete solutions of ``a4_pytorch_gpu`` and ``a5_transfer_learning`` graded
   through the sandbox in a throwaway course (as ``benchmarks/grading.py`` builds one): full
   autograded marks (the maximum less the manually graded points), no error row, and the
   autograded notebook's own output saying its tests ran on ``cuda``.
4. ``notebooks``: ``lectures/L10*``, ``lectures/L11*`` and the a4/a5 solution notebooks executed with
   nbclient (kernel python3, the notebook's folder as working directory, 600 s per cell): no error,
   and CUDA memory allocated by the kernel (an evidence cell appended to the executed copy reads
   ``torch.cuda.memory_stats``). A notebook whose code never refers to CUDA (L11 runs on the CPU
   by design) passes on running without error, and the report says so.

The last line is the summary::

    gpu-check: PASS (4/4 steps) on NVIDIA H100 80GB HBM3, torch 2.14.1+cu130, CUDA 13.0 in 312 s
    gpu-check: FAIL (2/4 steps: cuda-tests, grade-a5) on NVIDIA H100 80GB HBM3, torch ..., CUDA ... in 298 s

Exit status: 0 all steps passed; 1 a step failed; 2 no NVIDIA GPU here (nothing was checked: a
CI job on a CPU machine must not read that as a pass). ``--dry-run`` prints the plan (every
command and notebook) and runs nothing; ``--only STEP`` runs the ``gpu`` step and STEP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

STEPS = ("gpu", "cuda-tests", "grade", "notebooks")
STEP_TITLES = {
    "gpu": "detect the GPU",
    "cuda-tests": "pytest on the tests with CUDA cases",
    "grade": "grade the a4/a5 solutions through the sandbox on CUDA",
    "notebooks": "execute the GPU lectures and a4/a5 solution notebooks",
}
GRADE_ASSIGNMENTS = ("a4_pytorch_gpu", "a5_transfer_learning")
NOTEBOOK_PATTERNS = ("lectures/L10*.ipynb", "lectures/L11*.ipynb",
                     "solutions/a4_pytorch_gpu/*.ipynb", "solutions/a5_transfer_learning/*.ipynb")
CELL_TIMEOUT = 600  # seconds per notebook cell
PYTEST_TIMEOUT = 1800  # seconds per test
STUDENT = "gpucheck"  # the one submission of the throwaway course
NO_GPU = "no NVIDIA GPU here (torch.cuda.is_available() is False): nothing to check"
EXIT_PASS, EXIT_FAIL, EXIT_NO_GPU = 0, 1, 2

# A test is a CUDA case when its parameters mention cuda (test_x[cuda], test_x[cuda+cpu]) or its
# name says it runs on CUDA (test_mixed_precision_on_cuda_learns); names such as
# test_get_device_prefers_cuda_then_mps_then_cpu are CPU tests. A skip whose reason names CUDA
# or a GPU is a skipped CUDA case too.
CUDA_CASE = re.compile(r"\[[^\]]*cuda|on_cuda", re.IGNORECASE)
CUDA_SKIP_REASON = re.compile(r"cuda|gpu", re.IGNORECASE)
# What a notebook prints when it runs on CUDA: a device list (['cpu', 'cuda']), "device: cuda",
# a tensor on device='cuda:0', "... on cuda".
CUDA_TEXT = (
    re.compile(r"\[[^\]\n]*'cuda(?::\d+)?'[^\]\n]*\]"),
    re.compile(r"\bdevice\s*[:=]\s*'?cuda\b"),
    re.compile(r"\bon cuda\b"),
)
# Code that refers to CUDA: a notebook without any runs on the CPU by design.
USES_CUDA = re.compile(r"cuda|get_device\s*\(", re.IGNORECASE)
EVIDENCE_TAG = "GPU-CHECK-EVIDENCE"
EVIDENCE_CELL = f"""\
import json as _gc_json, sys as _gc_sys
_gc_torch = _gc_sys.modules.get("torch")
_gc = {{"torch_imported": _gc_torch is not None, "initialized": False, "allocations": 0, "peak_bytes": 0}}
if _gc_torch is not None and _gc_torch.cuda.is_available() and _gc_torch.cuda.is_initialized():
    _gc["initialized"] = True
    for _gc_d in range(_gc_torch.cuda.device_count()):
        _gc_stats = _gc_torch.cuda.memory_stats(_gc_d)
        _gc["allocations"] += int(_gc_stats.get("allocation.all.allocated", 0))
        _gc["peak_bytes"] += int(_gc_stats.get("allocated_bytes.all.peak", 0))
print("{EVIDENCE_TAG} " + _gc_json.dumps(_gc))
"""


@dataclass
class StepResult:
    name: str
    status: str  # PASS, FAIL or SKIP
    reason: str
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)  # labels for the summary line (default: the step's name)


@dataclass
class JunitCounts:
    passed: int = 0
    failed: int = 0  # failures and errors
    skipped: int = 0
    cuda_passed: int = 0
    failures: list[str] = field(default_factory=list)
    cuda_skipped: list[str] = field(default_factory=list)  # "name: reason"
    other_skipped: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def problems(self) -> list[str]:
        """Why the CUDA tests did not pass (empty when they did)."""
        out = []
        if self.failed:
            out.append(f"{self.failed} failed: {', '.join(self.failures[:5])}{', ...' if self.failed > 5 else ''}")
        if self.cuda_skipped:
            out.append(f"{len(self.cuda_skipped)} CUDA case(s) skipped on a GPU machine: "
                       f"{'; '.join(self.cuda_skipped[:5])}{'; ...' if len(self.cuda_skipped) > 5 else ''}")
        if not self.cuda_passed:
            out.append("no CUDA case passed (is cuda in tests/torch_ref/_helpers.DEVICES?)")
        return out

    def summary(self) -> str:
        return (f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped "
                f"({len(self.cuda_skipped)} CUDA case(s) skipped); {self.cuda_passed} CUDA case(s) passed")


# ----------------------------------------------------------------------------- pure helpers (unit-tested)

def one_line(err: BaseException, limit: int = 300) -> str:
    """An exception as one short line for a step's reason (the traceback is printed above it)."""
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_cuda_case(name: str, skip_reason: str = "") -> bool:
    return bool(CUDA_CASE.search(name) or (skip_reason and CUDA_SKIP_REASON.search(skip_reason)))


def count_junit(xml: str | os.PathLike) -> JunitCounts:
    """Count pytest's JUnit XML (a path, or the XML text itself); a skipped CUDA case is a failure."""
    text = Path(xml).read_text() if not str(xml).lstrip().startswith("<") else str(xml)
    counts = JunitCounts()
    for case in ET.fromstring(text).iter("testcase"):
        module = case.get("classname", "")
        name = f"{module}::{case.get('name', '')}" if module else case.get("name", "")
        failure = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if failure is not None:
            counts.failed += 1
            counts.failures.append(name)
        elif skipped is not None:
            counts.skipped += 1
            reason = skipped.get("message", "") or (skipped.text or "")
            if is_cuda_case(name, reason):
                counts.cuda_skipped.append(f"{name}: {reason}".strip())
            else:
                counts.other_skipped.append(f"{name}: {reason}".strip())
        else:
            counts.passed += 1
            if is_cuda_case(name):
                counts.cuda_passed += 1
    return counts


def format_summary(results: list[StepResult], device: str, seconds: float) -> str:
    """The one summary line: PASS when every step passed, else FAIL naming what did not."""
    passed = sum(r.status == "PASS" for r in results)
    where = f" on {device}" if device else ""
    if results and passed == len(results):
        return f"gpu-check: PASS ({passed}/{len(results)} steps){where} in {seconds:.0f} s"
    labels = []
    for r in results:
        if r.status == "SKIP":
            labels.append(f"{r.name} skipped")
        elif r.status != "PASS":
            labels.extend(r.failed or [r.name])
    return f"gpu-check: FAIL ({passed}/{len(results)} steps: {', '.join(labels)}){where} in {seconds:.0f} s"


def cuda_test_files(repo: Path = REPO) -> list[Path]:
    """Test files with CUDA cases: they mention CUDA, or parametrize over tests.torch_ref._helpers.DEVICES."""
    found = []
    for path in sorted((repo / "tests").rglob("test_*.py")):
        if path.name == "test_gpu_check.py" or "__pycache__" in path.parts:
            continue  # this script's own tests run it on purpose without a GPU
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"cuda", text, re.IGNORECASE) or re.search(r"_helpers import .*\bDEVICES\b", text):
            found.append(path)
    return found


def gpu_notebooks(repo: Path = REPO) -> list[Path]:
    """The notebooks step 4 executes, found from the repository (never a hard-coded list)."""
    found: list[Path] = []
    for pattern in NOTEBOOK_PATTERNS:
        found.extend(p for p in sorted(repo.glob(pattern))
                     if ".ipynb_checkpoints" not in p.parts and p not in found)
    return found


def pytest_command(files: list[Path], junit: Path, jobs: int, repo: Path = REPO) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", str(jobs) if jobs > 1 else "0",
           f"--timeout={PYTEST_TIMEOUT}", "-rs", f"--junitxml={junit}"]
    return cmd + [str(f.relative_to(repo)) for f in files]


def cuda_text_evidence(nb) -> str:
    """The first output line of ``nb`` (an nbformat notebook) that says the code ran on CUDA, or ''."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "") if out.get("output_type") == "stream" else out.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            for line in text.splitlines():
                if any(p.search(line) for p in CUDA_TEXT):
                    return line.strip()[:160]
    return ""


def notebook_uses_cuda(nb) -> bool:
    return any(c.cell_type == "code" and USES_CUDA.search(c.source) for c in nb.cells)


def plan(steps: list[str], jobs: int, repo: Path = REPO) -> str:
    """Every command and notebook the steps would run, in words."""
    lines = [f"gpu-check plan ({len(steps)} step{'s' if len(steps) != 1 else ''}, in {repo}):"]
    for step in steps:
        lines.append(f"  {STEPS.index(step) + 1}. {step}: {STEP_TITLES[step]}")
        if step == "gpu":
            lines.append("       torch.cuda.is_available(), torch.cuda.get_device_name(0), torch.__version__, "
                         "torch.version.cuda, a matrix product on cuda, /dev/nvidia* for the sandbox")
        elif step == "cuda-tests":
            cmd = pytest_command(cuda_test_files(repo), Path("<tmp>/cuda-tests.xml"), jobs, repo)
            lines.append("       " + shlex.join(cmd))
            lines.append("       FAIL on any failed test or any skipped CUDA case")
        elif step == "grade":
            lines.append("       in a throwaway course: copy_course(repo, <tmp>/course, "
                         f"{list(GRADE_ASSIGNMENTS)}), then for each assignment:")
            for aid in GRADE_ASSIGNMENTS:
                lines.append(f"       {aid}: generate_release, write_submission('complete', "
                             f"solutions/{aid}, release, submitted/{STUDENT}/{aid}), grade({aid!r}, jobs=1) sandboxed")
            lines.append("       FAIL unless status graded, score = max_score - manual points, "
                         "and the autograded notebook printed that it ran on cuda")
        elif step == "notebooks":
            lines.append(f"       nbclient, kernel python3, timeout {CELL_TIMEOUT} s per cell, cwd = the notebook's folder:")
            for nb in gpu_notebooks(repo):
                lines.append(f"       {nb.relative_to(repo)}")
            lines.append("       FAIL on any error, or without CUDA allocations in the kernel "
                         "(a notebook whose code never refers to CUDA only has to run)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the steps

@dataclass
class Gpu:
    available: bool
    name: str = ""
    count: int = 0
    torch_version: str = ""
    cuda_version: str = ""

    def describe(self) -> str:
        name = f"{self.count} x {self.name}" if self.count > 1 else self.name
        return f"{name}, torch {self.torch_version}, CUDA {self.cuda_version}"


def detect_gpu() -> Gpu:
    import torch

    if not torch.cuda.is_available():
        return Gpu(False, torch_version=torch.__version__, cuda_version=str(torch.version.cuda))
    return Gpu(True, torch.cuda.get_device_name(0), torch.cuda.device_count(), torch.__version__,
               str(torch.version.cuda))


def step_gpu(gpu: Gpu) -> StepResult:
    import torch

    from dlcourse.grading.sandbox import gpu_devices

    a = torch.arange(4.0, device="cuda").reshape(2, 2)
    product = (a @ a).cpu().tolist()
    torch.cuda.synchronize()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    devices = gpu_devices()
    facts = (f"{gpu.describe()}; {gpu.count} device(s); cuDNN {cudnn}; "
             f"{len(devices)} NVIDIA device file(s) for the sandbox")
    if product != [[2.0, 3.0], [6.0, 11.0]]:
        return StepResult("gpu", "FAIL", f"a 2x2 matrix product on cuda gave {product}; {facts}")
    if not devices:
        return StepResult("gpu", "FAIL", f"no /dev/nvidia* files: the grading sandbox cannot see the GPU; {facts}")
    return StepResult("gpu", "PASS", facts)


def step_cuda_tests(jobs: int) -> StepResult:
    files = cuda_test_files()
    if not files:
        return StepResult("cuda-tests", "FAIL", "no test file with CUDA cases found under tests/")
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        junit = Path(tmp) / "cuda-tests.xml"
        cmd = pytest_command(files, junit, jobs)
        print("$ " + shlex.join(cmd), flush=True)
        rc = subprocess.run(cmd, cwd=REPO).returncode
        if not junit.is_file():
            return StepResult("cuda-tests", "FAIL", f"pytest exited {rc} without writing its JUnit XML")
        counts = count_junit(junit)
    problems = counts.problems()
    if rc not in (0, 1) and not problems:
        problems.append(f"pytest exited {rc}")
    for skip in counts.other_skipped:
        print(f"  skipped (not a CUDA case): {skip}")
    if problems:
        return StepResult("cuda-tests", "FAIL", f"{counts.summary()}: {'; '.join(problems)}")
    return StepResult("cuda-tests", "PASS", f"{counts.summary()} in {len(files)} files")


def step_grade() -> StepResult:
    import nbformat

    from dlcourse.course import copy_course
    from dlcourse.grading.job import AUTOGRADED_DIR
    from dlcourse.grading.pipeline import generate_release, grade
    from dlcourse.grading.samples import write_submission
    from dlcourse.grading.sandbox import bwrap_executable

    if bwrap_executable() is None:
        return StepResult("grade", "SKIP", "bubblewrap (bwrap) not found: sandboxed grading cannot run here "
                                           "(`make sandbox` installs it as root; see `dlcourse doctor`)")
    details, failed = [], []
    with tempfile.TemporaryDirectory(prefix="gpu-check-grade-") as tmp:
        tmp = Path(tmp)
        course = copy_course(REPO, tmp / "course", list(GRADE_ASSIGNMENTS))
        for aid in GRADE_ASSIGNMENTS:
            short = aid.split("_")[0]
            start = time.perf_counter()
            try:
                release_dir = generate_release(course, aid, tmp / "release")
                write_submission("complete", course / "solutions" / aid, release_dir,
                                 course / "submitted" / STUDENT / aid)
                report = grade(aid, course, jobs=1)
                problem, evidence = "", ""
                rows = [r for r in report.results if r.student == STUDENT]
                if len(report.results) != 1 or not rows:
                    problem = f"expected one result row, got {len(report.results)}"
                else:
                    res = rows[0]
                    notebooks = sorted((course / AUTOGRADED_DIR / STUDENT / aid).glob("*.ipynb"))
                    evidence = next(filter(None, (cuda_text_evidence(nbformat.read(p, as_version=4))
                                                  for p in notebooks)), "")
                    if res.status != "graded":
                        problem = f"status {res.status}: {res.message}"
                    elif report.auto_max_score <= 0 or abs(res.score - report.auto_max_score) > 1e-6:
                        problem = (f"{res.score:g} of {report.auto_max_score:g} autograded points "
                                   f"(max {report.max_score:g}, {report.manual_max_score:g} manual): {res.message}")
                    elif not evidence:
                        problem = "the autograded notebook never printed that it ran on cuda"
                seconds = time.perf_counter() - start
                if problem:
                    failed.append(f"grade-{short}")
                    details.append(f"{aid} FAIL ({seconds:.0f} s): {problem}")
                else:
                    details.append(f"{aid} {res.score:g}/{report.auto_max_score:g} autograded points "
                                   f"({seconds:.0f} s), cuda: {evidence!r}")
            except Exception as err:  # noqa: BLE001 - one assignment's failure never hides the other's
                traceback.print_exc()
                failed.append(f"grade-{short}")
                details.append(f"{aid} FAIL: {one_line(err)}")
            print(f"  {details[-1]}", flush=True)
    return StepResult("grade", "FAIL" if failed else "PASS", "; ".join(details), failed=failed)


def execute_notebook(path: Path) -> str:
    """Run one notebook (a copy, with the evidence cell appended): "ok: ..." when it passed, else why not."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    uses_cuda = notebook_uses_cuda(nb)
    nb.cells.append(nbformat.v4.new_code_cell(EVIDENCE_CELL))
    try:
        NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    except Exception as err:  # noqa: BLE001 - CellExecutionError, timeouts, a dead kernel
        where = next((f" in cell {i}" for i, c in enumerate(nb.cells)
                      if any(o.get("output_type") == "error" for o in c.get("outputs", []))), "")
        if hasattr(err, "ename"):
            return f"error{where}: {' '.join(f'{err.ename}: {err.evalue}'.split())[:300]}"
        return f"error{where}: {one_line(err)}"
    evidence = {}
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith(EVIDENCE_TAG):
                evidence = json.loads(line[len(EVIDENCE_TAG):])
    text = cuda_text_evidence(nb)
    if not uses_cuda:
        return "ok: ran without error; CPU-only by design (its code never refers to CUDA)"
    if evidence.get("allocations", 0) > 0:
        return (f"ok: {evidence['allocations']} CUDA allocations, peak {evidence['peak_bytes'] / 2**20:.1f} MiB"
                + (f"; printed {text!r}" if text else ""))
    return f"no CUDA allocation in the kernel ({evidence or 'no evidence cell output'}); printed {text!r}"


def step_notebooks() -> StepResult:
    notebooks = gpu_notebooks()
    if not notebooks:
        return StepResult("notebooks", "FAIL", f"no notebook matches {NOTEBOOK_PATTERNS}")
    details, failed = [], []
    for path in notebooks:
        start = time.perf_counter()
        try:
            outcome = execute_notebook(path)
        except Exception as err:  # noqa: BLE001
            traceback.print_exc()
            outcome = f"error: {one_line(err)}"
        line = f"{path.relative_to(REPO)} ({time.perf_counter() - start:.0f} s): {outcome}"
        if not outcome.startswith("ok:"):
            failed.append(f"notebooks-{path.stem.split('_')[0]}")
        details.append(line)
        print(f"  {line}", flush=True)
    return StepResult("notebooks", "FAIL" if failed else "PASS", "; ".join(details), failed=failed)


def run_step(name: str, fn, *args) -> StepResult:
    index = STEPS.index(name) + 1
    print(f"\n=== step {index}: {name}: {STEP_TITLES[name]}", flush=True)
    start = time.perf_counter()
    try:
        result = fn(*args)
    except Exception as err:  # noqa: BLE001 - the next steps run whatever happened here
        traceback.print_exc()
        result = StepResult(name, "FAIL", one_line(err))
    result.seconds = time.perf_counter() - start
    print(f"--- {result.status} {name} ({result.seconds:.0f} s): {result.reason}", flush=True)
    return result


def prepare_environment() -> None:
    """What ``make`` exports: the venv's bin/ first (nbgrader runs alembic; kernels start python3), Agg plots."""
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Exit status: 0 pass, 1 fail, 2 no NVIDIA GPU (nothing checked).")
    parser.add_argument("--dry-run", action="store_true", help="print the plan (every command and notebook), run nothing")
    parser.add_argument("--only", choices=STEPS, help="run the gpu step and this step only")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="pytest workers for the cuda-tests step (default: up to 4)")
    args = parser.parse_args(argv)
    steps = list(STEPS) if args.only is None else ["gpu"] + ([args.only] if args.only != "gpu" else [])
    if args.dry_run:
        print(plan(steps, args.jobs))
        return EXIT_PASS

    start = time.perf_counter()
    prepare_environment()
    try:
        gpu = detect_gpu()
    except Exception as err:  # noqa: BLE001 - torch itself is broken: that is a failure, not "no GPU"
        traceback.print_exc()
        print(f"gpu-check: FAIL (0/{len(steps)} steps: gpu) cannot ask torch for a GPU: {one_line(err)}")
        return EXIT_FAIL
    if not gpu.available:
        print(f"torch {gpu.torch_version} (built for CUDA {gpu.cuda_version})")
        print(f"{NO_GPU}.")
        print("On a machine with an NVIDIA GPU it would run:")
        print(plan(steps, args.jobs))
        print(f"gpu-check: NO GPU (exit {EXIT_NO_GPU}): {NO_GPU}")
        return EXIT_NO_GPU

    print(f"gpu-check on {gpu.describe()}")
    runners = {"gpu": (step_gpu, gpu), "cuda-tests": (step_cuda_tests, args.jobs),
               "grade": (step_grade,), "notebooks": (step_notebooks,)}
    results = [run_step(name, *runners[name]) for name in steps]
    print("\nsteps:")
    for r in results:
        print(f"  {r.status:4s} {r.name:10s} {r.seconds:6.0f} s  {r.reason}")
    print(format_summary(results, gpu.describe(), time.perf_counter() - start))
    return EXIT_PASS if all(r.status == "PASS" for r in results) else EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
