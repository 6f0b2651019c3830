"""Copy detection: copies of the reference and of classmates are flagged for review, honest work is not.

Through ``dlcourse grade`` on a1 and a3: in one class, a student hands in the instructor's solution
disguised (locals renamed, comments and docstrings stripped, functions reordered, reformatted), one
hands in a disguised copy of a classmate's work, and the others are independent solutions written in
different styles (``tests/similarity_corpus``). The copies are flagged, the independent work is not,
no score changes, and ``dlcourse similarity`` reruns the screen without grading. The calibration test
checks the figures the README states, on every independent solution and many disguised copies.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_fixtures import REPO, UNSAFE, copy_course
from dlcourse.grading.similarity import THRESHOLD, screen_documents
from dlcourse.grading.similarity.documents import (document_from_cells, reference_documents, release_skeleton,
                                                   written_lines)
from dlcourse.grading.similarity.fingerprints import fingerprint
from similarity_fixtures import (independent_solutions, obfuscate, obfuscated_sections, solution_sections,
                                 submission_from_sections)

CORPUS_ASSIGNMENTS = sorted(p.name for p in (REPO / "tests" / "similarity_corpus").iterdir()
                            if p.is_dir() and any(p.glob("*.py")))


def _read(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(course: Path, assignment: str, student: str, sections: dict[str, str]) -> None:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(submission_from_sections(assignment, sections), folder / f"{assignment}.ipynb")


def _dlcourse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlcourse", *args], capture_output=True, text=True, timeout=1500)


def _graded_class(assignment: str, root: Path):
    """A class of five graded by the CLI: a disguised copy of the reference, a classmate and her
    disguised copy, two others."""
    course = copy_course(root, [assignment])
    styles = independent_solutions(assignment)
    _write(course, assignment, "copier", obfuscated_sections(solution_sections(assignment), seed=3))
    _write(course, assignment, "alice", styles["engineer"])
    _write(course, assignment, "bob", obfuscated_sections(styles["engineer"], seed=5))
    _write(course, assignment, "carol", styles["mathematician"])
    _write(course, assignment, "dave", styles["careful_beginner"])
    proc = _dlcourse("grade", assignment, "--course-dir", str(course), "--jobs", "2", *(["--unsafe"] if UNSAFE else []))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return assignment, course, proc


def _pairs(course: Path, assignment: str) -> dict[frozenset, dict]:
    return {frozenset((r["student"], r["other"])): r for r in _read(course / "similarity.csv")
            if r["assignment"] == assignment}


class GradedClass:
    """The tests of one graded class; a subclass per assignment (each runs on its own test worker)."""

    assignment = ""

    @pytest.fixture(scope="class")
    @classmethod
    def graded_class(cls, tmp_path_factory):
        return _graded_class(cls.assignment, tmp_path_factory.mktemp(f"course-{cls.assignment}"))

    def test_copies_are_flagged_and_independent_solutions_are_not(self, graded_class):
        assignment, course, proc = graded_class
        pairs = _pairs(course, assignment)
        flagged = {p for p, r in pairs.items() if r["flagged"] == "yes"}
        assert frozenset(("alice", "bob")) in flagged, f"the disguised classmate copy is not flagged: {pairs}"
        copier = [p for p in flagged if "copier" in p and any(o.startswith("reference:") for o in p)]
        assert copier, f"the disguised copy of the reference is not flagged: {pairs}"
        wrongly = [(sorted(p), pairs[p]["similarity"]) for p in flagged if not p & {"bob", "copier"}]
        assert not wrongly, f"independent solutions flagged (false positives): {wrongly}"
        for student in ("alice", "bob", "carol", "copier", "dave"):
            assert any(student in p for p in pairs), f"{student} has no row (each student's best match is listed)"
        assert "flagged pair(s)" in proc.stdout and "copier ~ reference:" in proc.stdout, proc.stdout[-2000:]

    def test_flags_reach_the_review_column_and_change_no_score(self, graded_class):
        assignment, course, _ = graded_class
        report = {r["student_id"]: r for r in _read(course / "grading_report.csv")}
        assert re.search(r"similar code: .*reference:", report["copier"]["review"]), report["copier"]
        assert "similar code: alice" in report["bob"]["review"] and "similar code: bob" in report["alice"]["review"]
        for student in ("carol", "dave"):
            assert "similar code" not in report[student]["review"], report[student]
        grades = {r["student_id"]: float(r["score"]) for r in _read(course / "grades.csv")}
        assert grades["copier"] == grades["alice"] == grades["bob"], (
            f"a flag must not change a score; copier, alice and bob all solved it: {grades}")

    def test_similarity_html_shows_the_pairs_side_by_side_escaped(self, graded_class):
        assignment, course, _ = graded_class
        page = (course / "similarity.html").read_text()
        assert f'<section id="{assignment}">' in page and "<mark>" in page
        assert "alice ~ bob" in page or "bob ~ alice" in page
        assert "<script" not in page.lower(), "the report must be a page without scripts"

    def test_rerun_without_grading_sees_a_new_copy(self, graded_class):
        assignment, course, _ = graded_class
        grades_before = (course / "grades.csv").read_text()
        styles = independent_solutions(assignment)
        _write(course, assignment, "dave", obfuscated_sections(styles["mathematician"], seed=11))
        # dave was graded and staged before: his resubmission is compared as it is now
        proc = _dlcourse("similarity", assignment, "--course-dir", str(course))
        assert proc.returncode == 0, proc.stderr[-3000:]
        pairs = _pairs(course, assignment)
        assert pairs[frozenset(("carol", "dave"))]["flagged"] == "yes", pairs
        assert (course / "grades.csv").read_text() == grades_before, "dlcourse similarity must not touch the grades"
        report = {r["student_id"]: r for r in _read(course / "grading_report.csv")}
        assert "similar code: carol" in report["dave"]["review"], report["dave"]


class TestA1Backprop(GradedClass):
    assignment = "a1_backprop"


class TestA3Optimization(GradedClass):
    assignment = "a3_optimization"


# -- the figures the README states ------------------------------------------------------------------------
@pytest.mark.parametrize("assignment", CORPUS_ASSIGNMENTS)
def test_threshold_separates_independent_solutions_from_disguised_copies(assignment):
    skeleton, given = release_skeleton([REPO / "assignments" / assignment / f"{assignment}.ipynb"])
    styles = independent_solutions(assignment)
    assert len(styles) >= 4, f"{assignment}: expected at least 4 independent solutions, found {sorted(styles)}"
    honest = [document_from_cells(style, cells, skeleton) for style, cells in styles.items()]
    references = reference_documents(REPO, assignment, REPO / "dlcourse", skeleton)
    clean = screen_documents(honest, references, given, assignment)
    assert not clean.flagged, "independent solutions flagged: " + ", ".join(
        f"{m.student}~{m.other} {m.similarity:.2f}" for m in clean.flagged)
    sources = {"reference": solution_sections(assignment), **styles}
    missed = []
    for name, cells in sources.items():
        for seed in (0, 1):
            copy = document_from_cells(f"copy-{name}-{seed}", obfuscated_sections(cells, seed), skeleton)
            others = [d for d in honest if d.owner != name] + [d for d in honest if d.owner == name]
            result = screen_documents([*others, copy], references, given, assignment)
            hits = [m for m in result.flagged if copy.owner in (m.student, m.other)
                    and (name in (m.student, m.other) or (name == "reference" and (m.other.startswith("reference:"))))]
            if not hits:
                best = max((m.similarity for m in result.matches if copy.owner in (m.student, m.other)), default=0)
                missed.append(f"{name}/seed{seed} (best similarity {best:.2f})")
    assert not missed, f"disguised copies not flagged at threshold {THRESHOLD}: {missed}"


# -- the pieces --------------------------------------------------------------------------------------------
def test_the_skeleton_and_imports_are_not_the_students_code():
    skeleton = 'def relu(x):\n    """ReLU."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'
    mine = 'import numpy as np\ndef relu(x):\n    """ReLU."""\n    return np.maximum(x, 0.0)\n'
    assert written_lines(mine, skeleton) == "    return np.maximum(x, 0.0)"


@pytest.mark.parametrize("grade_id", ["layers_solution", "activations_solution", "softmax_ce_solution"])
def test_renaming_reformatting_and_reordering_change_little(grade_id):
    skeleton, _ = release_skeleton([REPO / "assignments" / "a1_backprop" / "a1_backprop.ipynb"])
    code = solution_sections("a1_backprop")[grade_id]
    a, b = (fingerprint(document_from_cells(name, {grade_id: c}, skeleton).text).hashes
            for name, c in (("original", code), ("disguised", obfuscate(code, seed=7))))
    shared = len(a & b)
    assert shared / min(len(a), len(b)) > 0.8, f"a disguised copy shares only {shared} of {min(len(a), len(b))}"


def test_the_same_short_line_flags_nobody():
    skeleton, given = release_skeleton([REPO / "assignments" / "a1_backprop" / "a1_backprop.ipynb"])
    cells = {"activations_solution": "def relu(x):\n    return np.maximum(0, x)\n"}
    docs = [document_from_cells(name, cells, skeleton) for name in ("ann", "ben", "cat")]
    assert not screen_documents(docs, [], given, "a1_backprop").flagged


def test_hostile_code_and_ids_are_escaped_in_the_html(tmp_path):
    from dlcourse.grading.similarity.matching import find_matches, reported
    from dlcourse.grading.similarity.report_files import assignment_section, write_csv, write_html

    skeleton, given = release_skeleton([REPO / "assignments" / "a1_backprop" / "a1_backprop.ipynb"])
    evil = solution_sections("a1_backprop")["layers_solution"] + '\nX = "</pre><script>alert(1)</script>"\n'
    docs = [document_from_cells(name, {"layers_solution": evil}, skeleton) for name in ("ann", "=cmd|calc")]
    screen = find_matches(docs, [], given)
    rows = reported(screen.matches, [d.owner for d in docs])
    write_csv(tmp_path, "a1_backprop", rows)
    page = write_html(tmp_path, "a1_backprop", assignment_section("a1_backprop", rows, screen, 2)).read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    cells = [c for r in _read(tmp_path / "similarity.csv") for c in (r["student"], r["other"])]
    assert "'=cmd|calc" in cells, f"a formula-like id must be defused in the CSV: {cells}"
