"""Grading on a dask.distributed cluster (``dlcourse grade ASSIGNMENT --scheduler ADDRESS``).

The coordinating process (the instructor's ``dlcourse grade``) keeps everything that touches
the course's gradebook and ``submitted/``: it saves manual grades, forgets the previous run,
stages and screens each submission (:func:`~dlcourse.grading.autograde.prepare_student`). It
ships the rest, never assuming a shared filesystem:

- once to each worker (:class:`SharedFiles`, one task's result that workers fetch from each other): the course's
  ``nbgrader_config.py``, the assignment's source folder (hidden tests and probes included), the
  release, and a scratch SQLite gradebook that knows the assignment;
- per student (:class:`StudentTask`): the staged submission and what was kept from the previous run.

A worker (:func:`grade_on_worker`) grades one student at a time, exactly as local grading does
(:func:`~dlcourse.grading.autograde.run_student`: sandboxed kernel, probes, feedback) in a scratch
copy of the course, and returns the autograded notebooks, the feedback, the logs, the report
line and the submission's gradebook rows (:class:`WorkerResult`). The coordinator writes them
(:func:`import_result`), so the course's gradebook has one writer, and the scores are those of
local grading. A task whose worker dies or fails is submitted once more; a second failure is
that student's row, with the reason. A worker needs the course environment (``make install``)
and bubblewrap, like a local grader; see the README.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import socket
import threading
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from dlcourse.course import CONFIG_FILE, SOURCE_DIR
from dlcourse.grading.autograde import Prepared, prepare_student, run_student
from dlcourse.grading.job import LOG_DIR, Budget, GradingJob, Limits
from dlcourse.grading.report import StudentResult
from dlcourse.grading.sandbox import identities, sandbox_status
from dlcourse.grading.submission_rows import SubmissionRows, export_submission, import_submission

#: The largest file shipped either way (a graded notebook with its figures is well below this).
MAX_FILE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class SharedFiles:
    """What every worker needs for every student of one assignment (see the module docstring)."""

    assignment: str
    course: dict[str, bytes]  # relative path -> content: nbgrader_config.py and solutions/<assignment>/...
    release: dict[str, bytes]
    gradebook: bytes  # a SQLite gradebook with the assignment recorded (and no submissions)


@dataclass
class StudentTask:
    """One student's grading as the coordinator hands it to a worker."""

    student: str
    staged: dict[str, bytes]  # the staged submission folder's files
    prepared: Prepared
    limits: Limits
    sandboxed: bool


@dataclass
class WorkerResult:
    """What a worker sends back for one student."""

    result: StudentResult
    autograded: dict[str, bytes] = field(default_factory=dict)
    feedback: dict[str, bytes] = field(default_factory=dict)
    logs: dict[str, bytes] = field(default_factory=dict)  # step ("autograde", "feedback") -> log
    submission: SubmissionRows | None = None
    worker: str = ""


# ------------------------------------------------------------------------------------ files


def read_tree(root: Path) -> dict[str, bytes]:
    """The regular files under ``root`` by relative POSIX path (links and special files are skipped)."""
    files = {}
    if not root.is_dir() or root.is_symlink():
        return files
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)) and d != "__pycache__"]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (relative POSIX path -> content) under ``root``; a path that would leave it is refused."""
    for name, data in files.items():
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"refusing to write {name!r} outside {root}")
        path = root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def shared_files(job: GradingJob, scratch: Path) -> SharedFiles:
    """The files every worker gets: config, source folder, release and a SQLite gradebook with the assignment.

    The gradebook is made by generating the release once more in a scratch copy of the course
    whose config points at a SQLite file, whatever gradebook the course itself uses.
    """
    from dlcourse.grading.release import generate_checked_release

    source = Path(SOURCE_DIR) / job.assignment
    course = {CONFIG_FILE: (job.course_dir / CONFIG_FILE).read_bytes(),
              **{f"{source.as_posix()}/{name}": data for name, data in read_tree(job.course_dir / source).items()}}
    copy = scratch / "course"
    write_tree(copy, course)
    database = scratch / "gradebook.db"
    _point_config_at(copy, f"sqlite:///{database}")
    release = generate_checked_release(copy, job.assignment, scratch / "release")
    return SharedFiles(job.assignment, course, read_tree(release), database.read_bytes())


def _point_config_at(course: Path, db_url: str) -> None:
    with open(course / CONFIG_FILE, "a", encoding="utf-8") as config:
        config.write(f"\n# dlcourse cluster worker: a scratch gradebook of its own\nc.CourseDirectory.db_url = {db_url!r}\n")


# ------------------------------------------------------------------------------- the worker

#: Sandbox identities of this worker process, one per student it grades at the same time (one per thread).
_IDENTITIES: queue.SimpleQueue = queue.SimpleQueue()
_IDENTITIES_LOCK = threading.Lock()
_identities_made = 0


def _take_identity():
    """A sandbox identity no other student on this worker is using (see :func:`dlcourse.grading.sandbox.identities`)."""
    global _identities_made
    with _IDENTITIES_LOCK:
        try:
            return _IDENTITIES.get_nowait()
        except queue.Empty:
            _identities_made += 1
            return identities(_identities_made)[-1]


@functools.lru_cache(maxsize=1)
def _sandbox_status() -> tuple[bool, str]:
    return sandbox_status()


def warm_up(sandboxed: bool) -> None:
    """Make this worker ready to grade before its first student: the grading modules imported, the nbgrader
    fork server started (2-3 s of imports each), the sandbox checked once."""
    from dlcourse.grading import fork_server
    from dlcourse.grading.nbgrader_run import nbgrader_env

    fork_server.client(nbgrader_env())
    if sandboxed:
        _sandbox_status()


def grade_on_worker(shared: SharedFiles, task: StudentTask) -> WorkerResult:
    """Grade one student in a scratch copy of the course on this worker (see the module docstring)."""
    budget = Budget(task.limits.wall_seconds)
    if task.sandboxed:
        ok, why = _sandbox_status()
        if not ok:
            return WorkerResult(StudentResult(task.student, "error", review=task.prepared.review,
                                              message=f"not graded: the worker {socket.gethostname()} has no grading "
                                                      f"sandbox ({why})"), worker=socket.gethostname())
    with tempfile.TemporaryDirectory(prefix="dlcourse-worker-") as tmp:
        root = Path(tmp)
        course, database = root / "course", root / "gradebook.db"
        write_tree(course, shared.course)
        database.write_bytes(shared.gradebook)
        db_url = f"sqlite:///{database}"
        _point_config_at(course, db_url)
        release = root / "release"
        write_tree(release, shared.release)
        job = GradingJob(course.resolve(), shared.assignment, db_url, task.limits, task.sandboxed,
                         release_dir=release.resolve())
        write_tree(job.staged(task.student), task.staged)
        identity = _take_identity() if task.sandboxed else None
        try:
            result = run_student(job, task.student, task.prepared, identity, budget)
        except Exception as exc:  # noqa: BLE001 - as in local grading: the student's row, never the batch's
            result = StudentResult(task.student, "error", seconds=budget.spent(), review=task.prepared.review,
                                   message=f"grading failed: {type(exc).__name__}: {exc}")
        finally:
            if identity is not None:
                _IDENTITIES.put(identity)
        logs = {step: job.log(task.student, step).read_bytes()
                for step in ("autograde", "feedback") if job.log(task.student, step).is_file()}
        return WorkerResult(result, read_tree(job.autograded(task.student)), read_tree(job.feedback(task.student)),
                            logs, export_submission(db_url, shared.assignment, task.student), socket.gethostname())


# -------------------------------------------------------------------------- the coordinator


def _files(shared: SharedFiles) -> SharedFiles:
    return shared


def task_key(assignment: str, student: str) -> str:
    """A unique Dask key naming the assignment and (by a hash: ids may hold any character) the student."""
    return f"dlcourse-grade-{assignment}-{student_tag(student)}-{uuid.uuid4().hex[:12]}"


def student_tag(student: str) -> str:
    return hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def import_result(job: GradingJob, remote: WorkerResult) -> StudentResult:
    """Write what a worker sent for one student into the course: files, logs, gradebook rows."""
    res = remote.result
    write_tree(job.autograded(res.student), remote.autograded)
    write_tree(job.feedback(res.student), remote.feedback)
    for step, data in remote.logs.items():
        if step in ("autograde", "feedback"):
            log = job.log(res.student, step)
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_bytes(data)
    if remote.submission is not None:
        import_submission(job.db_url, job.assignment, res.student, remote.submission)
    return res


class ClusterSession:
    """A connection to the cluster for grading one assignment; open it before the release is generated.

    Opening connects, lets the workers warm up (:func:`warm_up`) and makes the shared files in the
    background, so the coordinator's own release, the workers' start and the files overlap.
    """

    def __init__(self, job: GradingJob, scheduler: str):
        from distributed import Client

        self.client = Client(scheduler, set_as_default=False)
        self.client.run(warm_up, job.sandboxed, wait=False, on_error="ignore")
        self._scratch = tempfile.TemporaryDirectory(prefix="dlcourse-cluster-")
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._shared = self._pool.submit(shared_files, job, Path(self._scratch.name))

    def __enter__(self) -> ClusterSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._scratch.cleanup()
        self.client.close()

    def grade(self, job: GradingJob, students: list[str],
              done: Callable[[StudentResult], StudentResult]) -> list[StudentResult]:
        """Grade ``students`` on the cluster; ``done`` receives each result as it comes in (and returns it,
        perhaps annotated). Returns the results in the order they came in."""
        from distributed import as_completed

        client, results, pending = self.client, [], {}
        # a task that returns the files, not scattered data: when the workers holding it die, the scheduler
        # recomputes it from the graph instead of failing every student still waiting for it
        shared_future = client.submit(_files, self._shared.result(), pure=False,
                                      key=f"dlcourse-files-{job.assignment}-{uuid.uuid4().hex[:12]}")

        def submit(task: StudentTask, attempt: int):
            future = client.submit(grade_on_worker, shared_future, task, pure=False,
                                   key=task_key(job.assignment, task.student))
            pending[future] = (task, attempt)
            return future

        futures = as_completed(loop=client.loop)
        for student in students:
            budget = Budget(job.limits.wall_seconds)
            try:
                prepared = prepare_student(job, student, budget)
            except Exception as exc:  # noqa: BLE001
                prepared = StudentResult(student, "error", seconds=budget.spent(),
                                         message=f"grading failed: {type(exc).__name__}: {exc}")
            if isinstance(prepared, StudentResult):
                results.append(done(prepared))
                continue
            task = StudentTask(student, read_tree(job.staged(student)), prepared, job.limits, job.sandboxed)
            futures.add(submit(task, 1))
        for future in futures:
            task, attempt = pending.pop(future)
            try:
                res = import_result(job, future.result())
            except Exception as exc:  # noqa: BLE001 - a dead worker or a lost connection: once more, then a row
                if attempt == 1:
                    futures.add(submit(task, 2))
                    continue
                res = StudentResult(task.student, "error",
                                    message=f"not graded: the cluster failed on this submission twice "
                                            f"({type(exc).__name__}: {exc})")
            results.append(done(res))
        return results
