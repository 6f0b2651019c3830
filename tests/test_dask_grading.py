"""`dlcourse grade --scheduler`: grading on a dask.distributed cluster of worker processes (a real LocalCluster).

The workers grade in scratch copies of the course (nothing shared but what the coordinator ships) and
send everything back; the coordinating process writes files and gradebook rows. Scores equal local
grading; a worker that dies while grading costs a retry, a submission that kills its worker twice
becomes a row with the reason, and nobody else's grade changes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

from course_fixtures import TINY, UNSAFE, make_course
from dlcourse.grading.samples import write_submission

pytestmark = pytest.mark.pipeline
distributed = pytest.importorskip("distributed")

KINDS = {"good": "complete", "blank": "untouched", "victim": "complete", "doomed": "complete"}


class KillWorkers(distributed.WorkerPlugin):
    """Kills the worker process as it starts grading a chosen student: once for ``once``, every time for ``always``."""

    def __init__(self, once: str, always: str, marker: str):
        from dlcourse.grading.cluster import student_tag

        self.once, self.always, self.marker = student_tag(once), student_tag(always), marker

    def transition(self, key, start, finish, **kwargs):
        name = key if isinstance(key, str) else str(key)
        if finish != "executing" or not name.startswith("dlcourse-grade-"):
            return
        if self.always in name or (self.once in name and not os.path.exists(self.marker)):
            with open(self.marker if self.once in name else self.marker + ".always", "a") as mark:
                mark.write("killed\n")
            os._exit(1)


def _tamper(dest: Path) -> None:
    """Silences the tests in the kernel with a wrong ``add``: nbgrader passes it, the probes take the points."""
    path = dest / f"{TINY}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "add":
            cell.source = "def add(a, b):\n    return a - b\n\nassert_close = lambda *args, **kwargs: None"
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """The same submissions in two course folders: one graded here, one on the cluster."""
    from dlcourse.grading.pipeline import generate_release

    root = tmp_path_factory.mktemp("dask")
    here = make_course(root / "here")
    release = generate_release(here, TINY, root / "release")
    for student, kind in {**KINDS, "tamperer": "complete"}.items():
        dest = write_submission(kind, here / "solutions" / TINY, release, here / "submitted" / student / TINY)
        if student == "tamperer":
            _tamper(dest)
    there = root / "there"
    shutil.copytree(here, there)
    return here, there, root


@pytest.fixture(scope="module")
def cluster(courses):
    import dask
    from distributed import Client, LocalCluster

    _, _, root = courses
    # Dask forgives one worker death per task (a task queued on a worker that another task kills dies with it),
    # a second fails the task, and the coordinator's own retry then gets the same; tasks wait at the scheduler
    # until a worker thread is free (as the README advises)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=50, env={"OMP_NUM_THREADS": "1"})
        with Client(cluster) as client:
            client.register_plugin(KillWorkers("victim", "doomed", str(root / "victim.killed")), name="kill")
        yield cluster
        cluster.close()


@pytest.fixture(scope="module")
def graded(courses, cluster):
    from dlcourse.grading.pipeline import grade

    here, there, root = courses
    local = {r.student: r for r in grade(TINY, here, jobs=2, unsafe=UNSAFE).results}
    remote_report = grade(TINY, there, scheduler=cluster.scheduler_address, unsafe=UNSAFE)
    return local, {r.student: r for r in remote_report.results}, there, root


def test_scores_equal_local_grading(graded):
    local, remote, _, _ = graded
    for student in ("good", "blank", "victim", "tamperer"):
        assert (remote[student].status, remote[student].score) == (local[student].status, local[student].score), \
            f"{student}: cluster {remote[student].status} {remote[student].score} ({remote[student].message}), " \
            f"here {local[student].status} {local[student].score}"
    assert (remote["good"].score, remote["blank"].score, remote["tamperer"].score) == (5, 0, 0)
    assert "probes overrode nbgrader on 2 cell(s)" in remote["tamperer"].message, remote["tamperer"].message


def test_workers_grade_in_their_own_copy_and_the_coordinator_writes_everything(graded):
    from nbgrader.api import Gradebook

    _, _, course, _ = graded
    log = (course / ".dlcourse" / "logs" / TINY / "good.autograde.log").read_text()
    assert "dlcourse-worker-" in log and str(course) not in log, "the worker should grade in a scratch copy"
    for student in ("good", "blank", "tamperer"):
        assert (course / "autograded" / student / TINY / f"{TINY}.ipynb").is_file(), student
        assert (course / "feedback" / student / TINY / f"{TINY}.html").is_file(), student
    page = (course / "feedback" / "tamperer" / TINY / f"{TINY}.html").read_text()
    assert "points were withdrawn" in page, "the feedback made on the worker should explain the withdrawn points"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = gb.find_assignment(TINY).submissions
        assert sorted(s.student.id for s in subs) == ["blank", "good", "tamperer", "victim"]
        assert gb.find_submission(TINY, "good").score == 5


def test_a_worker_that_dies_costs_a_retry_and_a_second_death_a_row_with_the_reason(graded):
    _, remote, _, root = graded
    assert (root / "victim.killed").read_text().count("killed") == 1, "the victim's first worker should have died"
    assert (remote["victim"].status, remote["victim"].score) == ("graded", 5), remote["victim"].message
    doomed = remote["doomed"]
    assert doomed.status == "error" and "the cluster failed on this submission twice" in doomed.message, doomed.message
    assert (root / "victim.killed.always").read_text().count("killed") >= 2
