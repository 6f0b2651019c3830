"""Copy detection: how well the threshold separates copies from honest work, and how fast it screens a class.

    python benchmarks/similarity.py calibrate      # false positives and detection rate, per assignment
    python benchmarks/similarity.py scale [N]      # N (default 500) submissions of a1 screened end to end

``calibrate`` compares, for every assignment with independent solutions in ``tests/similarity_corpus``:

- *honest pairs*: every two independent solutions, and every independent solution with each of the
  instructor's documents (solution regions, reference modules); a flag here is a false positive;
- *copies*: the instructor's solution and each independent solution disguised by
  ``tests/similarity_fixtures.obfuscate`` (locals renamed, comments and docstrings stripped, functions
  reordered, reformatted; several seeds), each screened in a class with the honest solutions; a copy
  is detected when it is flagged against its source.

``scale`` writes N staged submissions (disguised copies of the independent solutions with varied
seeds, a few verbatim copies among them) into a scratch course and times ``screen_assignment``.
Results go to ``benchmarks/results/similarity.json``.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import nbformat  # noqa: E402

from dlcourse.grading.similarity import THRESHOLD, screen_assignment, screen_documents  # noqa: E402
from dlcourse.grading.similarity.documents import document_from_cells, reference_documents, release_skeleton  # noqa: E402
from similarity_fixtures import (independent_solutions, obfuscated_sections, solution_sections,  # noqa: E402
                                 submission_from_sections)

RESULTS = REPO / "benchmarks" / "results" / "similarity.json"
COPY_SEEDS = (0, 1, 2)


def _release(assignment: str):
    return release_skeleton([REPO / "assignments" / assignment / f"{assignment}.ipynb"])


def calibrate(assignment: str) -> dict:
    skeleton, given = _release(assignment)
    honest = {style: document_from_cells(f"honest-{style}", cells, skeleton)
              for style, cells in independent_solutions(assignment).items()}
    references = reference_documents(REPO, assignment, REPO / "dlcourse", skeleton)
    report = screen_documents(list(honest.values()), references, given, assignment)
    pairs = {(m.student, m.other): m for m in report.matches}
    honest_scores = []
    for a, b in itertools.combinations(sorted(honest), 2):
        m = pairs.get((honest[a].owner, honest[b].owner)) or pairs.get((honest[b].owner, honest[a].owner))
        honest_scores.append((f"{a}~{b}", m.similarity if m else 0.0, bool(m and m.flagged)))
    for style, ref in itertools.product(sorted(honest), references):
        m = pairs.get((honest[style].owner, ref.owner))
        honest_scores.append((f"{style}~{ref.owner}", m.similarity if m else 0.0, bool(m and m.flagged)))
    sources = {"reference": solution_sections(assignment), **independent_solutions(assignment)}
    copy_scores = []
    for (name, cells), seed in itertools.product(sources.items(), COPY_SEEDS):
        copy = document_from_cells(f"copy-of-{name}-{seed}", obfuscated_sections(cells, seed), skeleton)
        classmates = [d for style, d in honest.items() if style != name]
        original = [] if name == "reference" else [honest[name]]
        result = screen_documents([*classmates, *original, copy], references, given, assignment)
        targets = ({r.owner for r in references if r.owner.startswith("reference:solutions/")} if name == "reference"
                   else {honest[name].owner})
        best = max((m for m in result.matches if copy.owner in (m.student, m.other)
                    and ({m.student, m.other} & targets)), key=lambda m: m.similarity, default=None)
        copy_scores.append((f"{name}/seed{seed}", best.similarity if best else 0.0, bool(best and best.flagged)))
    return {
        "assignment": assignment,
        "threshold": THRESHOLD,
        "honest_pairs": len(honest_scores),
        "false_positives": sum(f for _, _, f in honest_scores),
        "max_honest_similarity": max(s for _, s, _ in honest_scores),
        "copies": len(copy_scores),
        "detected": sum(f for _, _, f in copy_scores),
        "min_copy_similarity": min(s for _, s, _ in copy_scores),
        "honest": [(n, round(s, 3)) for n, s, _ in sorted(honest_scores, key=lambda x: -x[1])],
        "copy": [(n, round(s, 3)) for n, s, _ in sorted(copy_scores, key=lambda x: x[1])],
    }


def scale(n: int, assignment: str = "a1_backprop") -> dict:
    from dlcourse.grading.job import STAGED_DIR

    sources = [solution_sections(assignment), *independent_solutions(assignment).values()]
    with tempfile.TemporaryDirectory(prefix="dlcourse-similarity-") as tmp:
        course = Path(tmp)
        (course / "solutions").symlink_to(REPO / "solutions")
        start = time.perf_counter()
        for i in range(n):
            cells = sources[i % len(sources)]
            sections = cells if i % 50 == 0 else obfuscated_sections(cells, seed=i)
            nb = submission_from_sections(assignment, sections)
            folder = course / STAGED_DIR / f"s{i:04d}" / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
        written = time.perf_counter() - start
        start = time.perf_counter()
        report = screen_assignment(course, assignment, REPO / "assignments" / assignment, package_dir=REPO / "dlcourse")
        seconds = time.perf_counter() - start
    return {"assignment": assignment, "submissions": n, "seconds": round(seconds, 1),
            "setup_seconds": round(written, 1), "pairs_sharing_code": len(report.matches),
            "flagged_pairs": len(report.flagged)}


def main(argv: list[str]) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if argv[:1] == ["scale"]:
        n = int(argv[1]) if len(argv) > 1 else 500
        results["scale"] = scale(n)
        print(json.dumps(results["scale"], indent=2))
    else:
        results["calibration"] = {}
        for assignment in sorted(p.name for p in (REPO / "tests" / "similarity_corpus").iterdir() if p.is_dir()):
            if not any((REPO / "tests" / "similarity_corpus" / assignment).glob("*.py")):
                continue
            r = calibrate(assignment)
            results["calibration"][assignment] = r
            print(f"{assignment}: threshold {r['threshold']}: {r['false_positives']}/{r['honest_pairs']} honest pairs "
                  f"flagged (max similarity {r['max_honest_similarity']:.3f}); {r['detected']}/{r['copies']} copies "
                  f"detected (min similarity {r['min_copy_similarity']:.3f})")
            print("   honest, most similar:", r["honest"][:6])
            print("   copies, least similar:", r["copy"][:6])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
