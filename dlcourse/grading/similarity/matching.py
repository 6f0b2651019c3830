"""Which submissions share code with each other or with the instructor's code, and how much.

Every student's code is fingerprinted without the release's own code (the skeleton, given cells and
tests); between students, code that many of them share (at least :data:`COMMON_MIN_STUDENTS` and
:data:`COMMON_FRACTION` of them: idioms such as a standard minibatch loop) is left out too. Against
the instructor's code it is not: a class that copied a posted solution would otherwise hide its copies. A pair is compared only
when it shares a fingerprint (an inverted index finds those pairs, so 500 submissions do not cost
125 000 comparisons). Its similarity is the share of the smaller program's fingerprints found in the
other (1.0 when one contains the other, whatever was renamed, reformatted or reordered), or that
share for a single exercise when it is larger (one copied exercise of seven).

A pair is *flagged* when its similarity reaches :data:`THRESHOLD` and the shared code is at least
:data:`MIN_SHARED` fingerprints long (about six filtered characters each), so a short, common line never flags anyone. The
threshold was calibrated on independent solutions written in different styles and on obfuscated
copies (``benchmarks/similarity.py``; the figures are in the README). A flag is a hint for a human;
it never changes a score.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from dlcourse.grading.similarity.documents import Document
from dlcourse.grading.similarity.fingerprints import (Fingerprint, boilerplate_hashes, copied_slices,
                                                      fingerprint_all)

THRESHOLD = 0.85
MIN_SHARED = 20
REPORT_FLOOR = 0.25  # pairs below this similarity are not listed (each student's best match always is)
COMMON_MIN_STUDENTS = 10
COMMON_FRACTION = 0.25


@dataclass
class Match:
    """Code shared by a student and another student or the instructor's code."""

    student: str
    other: str
    similarity: float
    shared: int  # fingerprints in common (in the part that gave the similarity)
    flagged: bool
    exercise: str = ""  # the exercise (grade id) whose code gave the similarity, "" for the whole program


@dataclass
class Screen:
    """Everything one screen computed: the matches, the documents and their section fingerprints."""

    matches: list[Match]
    documents: dict[str, Document]
    prints: dict[str, dict[str, Fingerprint]]  # owner -> section -> fingerprint

    def highlight(self, match: Match) -> tuple[np.ndarray, np.ndarray]:
        """The shared code of ``match`` in each document's text: (2, n) start/end offsets, for the HTML."""
        left, right = self.documents[match.student], self.documents[match.other]
        at_left, at_right = left.offsets(), right.offsets()
        mine, theirs = [], []
        for name, a in self.prints[match.student].items():
            for other_name, b in self.prints[match.other].items():
                if a.hashes & b.hashes:
                    sa, sb = copied_slices(a, b)
                    if np.size(sa):
                        mine.append(np.asarray(sa) + at_left[name])
                        theirs.append(np.asarray(sb) + at_right[other_name])
        join = lambda parts: np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), dtype=int)  # noqa: E731
        return join(mine), join(theirs)


def _similarity(a: set[int], b: set[int]) -> tuple[float, int]:
    shared = len(a & b)
    smaller = min(len(a), len(b))
    return (shared / smaller if smaller else 0.0), shared


def find_matches(students: list[Document], references: list[Document], given_code: str) -> Screen:
    """Every pair of ``students`` and every student with every reference document that share code.

    A pair's similarity is the larger of its whole-program similarity and, for each exercise both
    wrote at least :data:`MIN_SHARED` fingerprints of code for, the similarity of that exercise's
    code: copying one exercise of seven is as much a copy as copying all seven.
    """
    boilerplate = boilerplate_hashes(given_code)
    documents = {d.owner: d for d in [*students, *references]}
    pieces = [(owner, name, code) for owner, doc in documents.items() for name, code in doc.sections if code.strip()]
    computed = fingerprint_all([code for _, _, code in pieces], boilerplate=boilerplate)
    prints: dict[str, dict[str, Fingerprint]] = defaultdict(dict)
    for (owner, name, _), print_ in zip(pieces, computed):
        prints[owner][name] = print_
    parts = {owner: {name: set(p.hashes) for name, p in prints[owner].items()} for owner in documents}
    whole = {owner: set().union(*parts[owner].values()) for owner in documents}
    student_ids = [d.owner for d in students]
    counts = Counter(h for s in student_ids for h in whole[s])
    bar = max(COMMON_MIN_STUDENTS, COMMON_FRACTION * len(student_ids))
    common = {h for h, c in counts.items() if c >= bar}
    # code many students share is discounted between students; against the instructor's code it still
    # counts (a class that copied the posted solution must not hide behind its own numbers)
    whole_shared = {s: whole[s] - common for s in student_ids}
    parts_shared = {s: {n: p - common for n, p in parts[s].items()} for s in student_ids}
    owners_of: dict[int, list[str]] = defaultdict(list)
    for owner, hashes in whole.items():
        for h in hashes:
            owners_of[h].append(owner)
    order = {owner: i for i, owner in enumerate(documents)}
    matches = []
    for student in student_ids:
        partners = {o for h in whole[student] for o in owners_of[h] if o != student}
        for other in sorted(partners, key=order.__getitem__):
            versus_reference = other.startswith("reference:")
            if not versus_reference and order[other] < order[student]:
                continue  # the pair was compared from the other side
            w, p = (whole, parts) if versus_reference else (whole_shared, parts_shared)
            best = (*_similarity(w[student], w[other]), "")
            for name, mine in p[student].items():
                theirs = p[other].get(name)
                if theirs is not None and min(len(mine), len(theirs)) >= MIN_SHARED:
                    similarity, shared = _similarity(mine, theirs)
                    if similarity > best[0]:
                        best = (similarity, shared, name)
            similarity, shared, exercise = best
            if shared:
                matches.append(Match(student, other, similarity, shared,
                                     similarity >= THRESHOLD and shared >= MIN_SHARED, exercise))
    matches.sort(key=lambda m: (-m.similarity, -m.shared, m.student, m.other))
    return Screen(matches, documents, dict(prints))


def reported(matches: list[Match], students: list[str]) -> list[Match]:
    """The matches worth listing: flagged, at least :data:`REPORT_FLOOR`, or a student's best one."""
    keep = [m for m in matches if m.flagged or m.similarity >= REPORT_FLOOR]
    listed = {m.student for m in keep} | {m.other for m in keep}
    for student in students:
        if student not in listed:
            best = next((m for m in matches if student in (m.student, m.other)), None)
            if best is not None and best not in keep:
                keep.append(best)
    keep.sort(key=lambda m: (-m.similarity, -m.shared, m.student, m.other))
    return keep
