"""``similarity.csv`` and ``similarity.html``: the copy-detection report next to the grades.

Student ids and student code are untrusted: ids reach the CSV through
:func:`dlcourse.grading.safe.csv_cell`, and everything in the HTML is escaped (the page has no
script and no external resource). The HTML shows every listed pair side by side with the shared
code highlighted, most similar first; it holds one section per assignment screened (each kept in
``.dlcourse/similarity/<assignment>.html`` and joined into the page).
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

import numpy as np

from dlcourse.grading.safe import csv_cell
from dlcourse.grading.similarity.matching import MIN_SHARED, THRESHOLD, Match, Screen

SIMILARITY_CSV = "similarity.csv"
SIMILARITY_HTML = "similarity.html"
SECTIONS_DIR = Path(".dlcourse") / "similarity"
COLUMNS = ["assignment", "student", "other", "similarity", "flagged"]
MAX_PAIRS_SHOWN = 200  # side-by-side views per assignment (the CSV lists every reported pair)
MAX_CHARS_SHOWN = 40_000  # of one side's code in a side-by-side view

_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
pre{font-size:12px;margin:0;white-space:pre-wrap;max-width:48em}mark{background:#ffd54f}
.flag{color:#b00020;font-weight:bold}details{margin:.6em 0}summary{cursor:pointer}"""


def write_csv(course_dir: Path, assignment: str, rows: list[Match]) -> Path:
    """Replace ``assignment``'s rows of ``similarity.csv``; the other assignments' rows are kept."""
    path = course_dir / SIMILARITY_CSV
    kept = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            kept = [r for r in csv.DictReader(f) if r.get("assignment") != assignment]
    new = [{"assignment": assignment, "student": csv_cell(m.student), "other": csv_cell(m.other),
            "similarity": f"{m.similarity:.3f}", "flagged": "yes" if m.flagged else "no"} for m in rows]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept + new)
    return path


def _highlighted(text: str, slices: np.ndarray) -> str:
    """``text`` escaped, with the shared ``slices`` (2, n) in ``<mark>``; cut after :data:`MAX_CHARS_SHOWN`."""
    cut = len(text) > MAX_CHARS_SHOWN
    text = text[:MAX_CHARS_SHOWN]
    out, at = [], 0
    if slices is not None and np.size(slices):
        for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())):
            start, end = min(max(start, at), len(text)), min(max(end, at), len(text))
            out.append(html.escape(text[at:start]))
            out.append(f"<mark>{html.escape(text[start:end])}</mark>")
            at = end
    out.append(html.escape(text[at:]))
    if cut:
        out.append(f"\n... (cut after {MAX_CHARS_SHOWN:,} characters)")
    return "".join(out)


def assignment_section(assignment: str, rows: list[Match], screen: Screen, students: int) -> str:
    """The HTML section of one assignment: a summary table, then each pair side by side."""
    e = html.escape
    flagged = sum(m.flagged for m in rows)
    parts = [f'<section id="{e(assignment)}"><h2>{e(assignment)}</h2>',
             f"<p>{students} submissions screened; {flagged} flagged pair(s) (similarity at least {THRESHOLD:.2f} "
             f"and at least {MIN_SHARED} shared fingerprints, after names, strings, comments and layout are "
             f"set aside); {len(rows)} pair(s) listed, most similar first. A flag is a hint for a human: "
             "it never changes a score.</p>",
             "<table><tr><th>#</th><th>student</th><th>other</th><th>similarity</th><th>flagged</th></tr>"]
    for i, m in enumerate(rows, 1):
        mark = '<span class="flag">flagged</span>' if m.flagged else ""
        parts.append(f'<tr><td><a href="#{e(assignment)}-{i}">{i}</a></td><td>{e(m.student)}</td>'
                     f"<td>{e(m.other)}</td><td>{m.similarity:.3f}</td><td>{mark}</td></tr>")
    parts.append("</table>")
    for i, m in enumerate(rows[:MAX_PAIRS_SHOWN], 1):
        left, right = screen.documents.get(m.student), screen.documents.get(m.other)
        if left is None or right is None:
            continue
        left_slices, right_slices = screen.highlight(m)
        opened = " open" if m.flagged and i <= 10 else ""
        parts.append(f'<details id="{e(assignment)}-{i}"{opened}><summary>{i}. {e(m.student)} ~ {e(m.other)}: '
                     f"{m.similarity:.3f} ({m.shared} fingerprints shared"
                     f"{', in ' + e(m.exercise) if m.exercise else ''})</summary>"
                     f"<table><tr><th>{e(m.student)}</th><th>{e(m.other)}</th></tr>"
                     f"<tr><td><pre>{_highlighted(left.text, left_slices)}</pre></td>"
                     f"<td><pre>{_highlighted(right.text, right_slices)}</pre></td></tr></table></details>")
    parts.append("</section>")
    return "\n".join(parts)


def write_html(course_dir: Path, assignment: str, section: str) -> Path:
    """Store ``assignment``'s section and write ``similarity.html`` with every assignment's section."""
    sections = course_dir / SECTIONS_DIR
    sections.mkdir(parents=True, exist_ok=True)
    (sections / f"{assignment}.html").write_text(section, encoding="utf-8")
    body = "\n".join(p.read_text(encoding="utf-8") for p in sorted(sections.glob("*.html")))
    page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Code similarity</title>'
            f"<style>{_STYLE}</style></head><body><h1>Code similarity</h1>"
            "<p>Each student's code in the solution cells compared with every other submission of the assignment "
            "and with the instructor's code (solution regions and reference modules). Shared code is highlighted. "
            "Names, strings, comments, docstrings, layout and the order of functions do not matter; the release's "
            "own code and code that many students share are left out.</p>"
            f"{body}</body></html>")
    path = course_dir / SIMILARITY_HTML
    path.write_text(page, encoding="utf-8")
    return path
