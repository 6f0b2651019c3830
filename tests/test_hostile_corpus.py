"""Every assignment through the real grading pipeline, in one batch per assignment.

The batch holds the instructor's reference cases (the solution earns every autograded point,
the untouched release none, half a solution something in between) and the hostile corpus
(tests/hostile_corpus.py): every case reaches its stated outcome, nobody else's grade is
touched, feedback never shows hidden tests, and the report says what happened in one line
per student. Machinery cases run on one assignment only (see hostile_corpus).
"""

import csv
import html
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_fixtures import REPO, UNSAFE, copy_course, make_course
from dlcourse.course import list_assignments
from dlcourse.grading.feedback import BEGIN_HIDDEN, END_HIDDEN
from dlcourse.grading.pipeline import generate_release, grade
from hostile_corpus import ASSIGNMENT, CASES, ERROR, FULL, GRADED, MACHINERY_ON, ZERO, write_case

pytestmark = pytest.mark.pipeline

# Every assignment of the course; the tiny fixture assignment too when DLCOURSE_CORPUS_TINY=1
# (a quick way to iterate on the grading machinery itself).
# DLCOURSE_CORPUS_ONLY=a2_init_normalization,tiny narrows the run to those (while writing an assignment).
ASSIGNMENTS = [*(["tiny"] if os.environ.get("DLCOURSE_CORPUS_TINY") == "1" else []), *list_assignments(REPO)]
if os.environ.get("DLCOURSE_CORPUS_ONLY"):
    ASSIGNMENTS = [a for a in os.environ["DLCOURSE_CORPUS_ONLY"].split(",") if a == "tiny" or a in ASSIGNMENTS]
FULL_CORPUS = os.environ.get("DLCOURSE_CORPUS_FULL") == "1"
# A cell may run this long before it is interrupted: well above the slowest legitimate cell.
CELL_TIMEOUT = {"tiny": 8, MACHINERY_ON: 40}
DEFAULT_CELL_TIMEOUT = 120
# Address-space limit of a grading kernel: torch alone maps about 3.6 GB; the tiny course has no torch.
MEMORY_LIMIT = {"tiny": 1536 * 1024**2}
DEFAULT_MEMORY_LIMIT = 6 * 1024**3


def cases_for(aid: str) -> list[str]:
    """The corpus cases graded for ``aid``: all of them on the machinery assignments, the assignment cases elsewhere."""
    everything = FULL_CORPUS or aid in ("tiny", MACHINERY_ON)
    return [case for case, spec in CASES.items() if everything or spec.scope == ASSIGNMENT]


def graded_cells(nb) -> dict[str, tuple[float, str]]:
    return {c.metadata.nbgrader["grade_id"]: (c.metadata.nbgrader["points"], c.cell_type)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def hidden_lines(nb) -> list[str]:
    """Distinctive lines of the hidden test regions that appear nowhere else in the source notebook (not even
    inside a longer visible line: a visible test that shows the same code gives nothing away)."""
    hidden, visible = [], set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if BEGIN_HIDDEN in line:
                inside = True
            elif END_HIDDEN in line:
                inside = False
            elif inside:
                if len(line.strip()) > 25 and not line.strip().startswith("#"):
                    hidden.append(line.strip())
            else:
                visible.add(line.strip())
    shown = "\n".join(visible)
    return [line for line in hidden if line not in shown]


RELEASES: dict[str, Path] = {}  # assignment -> the release its corpus was built from


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def corpus(request, tmp_path_factory):
    aid = request.param
    root = tmp_path_factory.mktemp(f"corpus-{aid}")
    course = make_course(root) if aid == "tiny" else copy_course(root, [aid])
    release_dir = generate_release(course, aid, tmp_path_factory.mktemp(f"release-{aid}"))
    RELEASES[aid] = release_dir
    for case in cases_for(aid):
        spec = CASES[case]
        if spec.needs_sandbox and UNSAFE:
            continue  # e.g. writing the gradebook: without a sandbox it would really happen
        write_case(case, course / "solutions" / aid, release_dir, course / "submitted" / case / aid)
    report = grade(aid, course, jobs=2, cell_timeout=CELL_TIMEOUT.get(aid, DEFAULT_CELL_TIMEOUT),
                   memory_limit=MEMORY_LIMIT.get(aid, DEFAULT_MEMORY_LIMIT), unsafe=UNSAFE)
    return aid, course, report, {r.student: r for r in report.results}


def needs(results, *cases):
    """Skip a test that reads cases this assignment's batch did not grade (machinery cases run on one)."""
    missing = [c for c in cases if c not in results]
    if missing:
        pytest.skip(f"cases not graded for this assignment: {missing}")


@pytest.mark.parametrize("case", list(CASES))
def test_case_reaches_its_outcome(corpus, case):
    aid, _, report, results = corpus
    spec = CASES[case]
    if case not in results and aid != "tiny" and spec.scope == ASSIGNMENT and not (spec.needs_sandbox and UNSAFE):
        pytest.fail(f"{case} found nothing to build on in {aid}: the corpus would not test its tests")
    if case not in results:
        pytest.skip("needs the bubblewrap sandbox" if spec.needs_sandbox and UNSAFE else
                    f"not graded for {aid}" if case not in cases_for(aid) else f"does not apply to {aid}")
    res = results[case]
    where = f"{aid}/{case}: {res.status} {res.score}/{report.max_score} — {res.message}"
    if spec.expect == FULL:  # every autograded point; written answers wait for a human
        assert res.status == "graded" and res.score == report.auto_max_score, where
        assert res.manual_pending == report.manual_max_score, where
    elif spec.expect == GRADED:
        assert res.status == "graded" and 0 < res.score < report.auto_max_score, where
    elif spec.expect == ZERO:
        assert res.status == "graded" and res.score == 0, where
    else:
        assert spec.expect == ERROR and res.status == "error" and res.score == 0, where
    if spec.says:
        assert spec.says in res.message, f"the report line should say {spec.says!r}: {where}"


def test_report_has_one_readable_line_per_student(corpus):
    _, course, _, results = corpus
    with open(course / "grading_report.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(results)
    for row in rows:
        assert row["message"] and "\n" not in row["message"], row


def test_max_score_is_the_instructors(corpus):
    aid, course, report, _ = corpus
    source = next((course / "solutions" / aid).glob("*.ipynb"))
    points = sum(c.metadata.nbgrader.get("points", 0) for c in nbformat.read(source, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade"))
    assert report.max_score == points  # inflated points in a submission change nothing


def _cell_scores(course, aid, student) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(aid, student)
        return {g.name: g.score for nb in sub.notebooks for g in nb.grades if g.cell.cell_type == "code"}


def _source(course, aid):
    (path,) = sorted((course / "solutions" / aid).glob("*.ipynb"))
    return nbformat.read(path, as_version=4)


def test_solution_earns_every_autograded_point_in_every_cell(corpus):
    aid, course, report, results = corpus
    code_cells = {gid: pts for gid, (pts, kind) in graded_cells(_source(course, aid)).items() if kind == "code"}
    scores = _cell_scores(course, aid, "correct")
    assert sorted(scores) == sorted(code_cells)
    short = {gid: (scores[gid], pts) for gid, pts in code_cells.items() if scores[gid] != pts}
    assert not short, f"{aid}: solution cells below full marks (score, points): {short}"


def test_untouched_release_scores_zero_on_every_autograded_cell(corpus):
    aid, course, _, _ = corpus
    nonzero = {gid: score for gid, score in _cell_scores(course, aid, "untouched").items() if score != 0}
    assert not nonzero, f"{aid}: cells that pass on the untouched release (vacuous tests): {nonzero}"


def test_feedback_shows_no_hidden_test_code(corpus):
    aid, course, _, results = corpus
    secrets = hidden_lines(_source(course, aid))
    if aid != "tiny":
        assert secrets, f"{aid} has no hidden test lines"
    for student in [s for s in ("correct", "partial", "untouched") if s in results]:
        html_files = list((course / "feedback" / student / aid).glob("*.html"))
        assert html_files, f"no feedback for {student}"
        text = html.unescape(re.sub(r"<[^>]+>", "", "".join(p.read_text() for p in html_files)))
        assert BEGIN_HIDDEN not in text
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"hidden test code in {student}'s feedback: {leaked[:3]}"


def test_dead_kernel_keeps_the_students_results(corpus):
    aid, course, _, results = corpus
    needs(results, "os_exit", "segfault")
    for case in ("os_exit", "segfault"):
        assert list((course / "autograded" / case / aid).glob("*.ipynb")), f"{case}: autograded notebook deleted"
        assert list((course / "feedback" / case / aid).glob("*.html")), f"{case}: no feedback"


def test_files_beside_the_notebook_never_reach_the_kernel(corpus):
    aid, course, _, results = corpus
    needs(results, "numpy_beside")
    assert not (course / "autograded" / "numpy_beside" / aid / "numpy.py").exists()


def test_huge_output_is_truncated_in_the_graded_notebook(corpus):
    aid, course, _, results = corpus
    needs(results, "huge_output")
    (path,) = (course / "autograded" / "huge_output" / aid).glob("*.ipynb")
    assert path.stat().st_size < 5 * 2**20, f"{path.stat().st_size} bytes"


def test_regrade_gives_the_same_scores_and_leaves_nothing_stale(corpus):
    aid, course, report, results = corpus
    needs(results, "correct", "untouched", "duplicated_cells", "os_exit")
    # re-grade two students: one unchanged, one whose file became unreadable meanwhile
    keep = {"correct": results["correct"].score}
    write_case("truncated_json", course / "solutions" / aid, RELEASES[aid], course / "submitted" / "untouched" / aid)
    subset = ["correct", "untouched", "duplicated_cells", "os_exit"]
    rerun = grade(aid, course, jobs=2, cell_timeout=CELL_TIMEOUT.get(aid, DEFAULT_CELL_TIMEOUT),
                  memory_limit=MEMORY_LIMIT.get(aid, DEFAULT_MEMORY_LIMIT), students=subset, unsafe=UNSAFE)
    again = {r.student: r for r in rerun.results}
    assert sorted(again) == sorted(subset)
    with open(course / "grades.csv", newline="") as fh:
        assert sorted(r["student_id"] for r in csv.DictReader(fh)) == sorted(results), "rows of others were lost"
    assert again["correct"].score == keep["correct"]
    assert (again["untouched"].status, again["untouched"].score) == ("error", 0)
    assert not (course / "autograded" / "untouched" / aid).exists(), "stale autograded notebook left behind"
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert "untouched" not in {s.student.id for s in gb.find_assignment(aid).submissions}, "stale grades left"
    for case, res in results.items():
        if case in again and case != "untouched":
            assert again[case].score == res.score, f"{case}: {res.score} then {again[case].score}"



def test_static_screen_flags_hostile_code_for_review(corpus):
    aid, _, _, results = corpus
    needs(results, "correct", "input_transformer", "frame_snooping", "patched_checks", "env_branching")
    screened = [p for p in results["correct"].review.split("; ") if p and not p.startswith("similar code")]
    assert screened == [], results["correct"].review
    if aid != "tiny":  # the correct submission is the instructor's solution: copy detection says so
        assert "similar code: " in results["correct"].review and "reference:solutions/" in results["correct"].review, (
            results["correct"].review)
    for case in ("input_transformer", "frame_snooping", "patched_checks", "env_branching"):
        assert results[case].review, f"{case} was not flagged for review"
    assert "IPython input transformers" in results["input_transformer"].review
    assert "sys._getframe" in results["frame_snooping"].review


def test_sandbox_keeps_the_gradebook_out_of_reach(corpus):
    aid, course, report, results = corpus
    if UNSAFE:
        pytest.skip("needs the bubblewrap sandbox")
    needs(results, "writes_gradebook")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        manual = [g.manual_score for s in gb.find_assignment(aid).submissions for n in s.notebooks for g in n.grades]
    assert 1000 not in manual, "a kernel wrote into the gradebook"
    assert results["writes_gradebook"].score == 0
    assert all(r.score <= report.max_score for r in results.values()), "a score above the maximum"
