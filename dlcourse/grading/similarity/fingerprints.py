"""Fingerprints of code that survive renaming, reformatting, stripped comments and reordering.

The tokenizing, filtering and winnowing are copydetect's (Lingenfelter's implementation of MOSS's
winnowing, Schleimer et al. 2003): Python is lexed with pygments, every name becomes ``V``, every
string ``S``, comments and whitespace go; then the hashes of all ``NOISE``-character substrings
of what is left are winnowed so that any match of ``GUARANTEE`` characters or more is seen. Renamed
variables, another layout, deleted comments and docstrings therefore change nothing, and as the
fingerprints form a set, neither does the order of the functions (see also
:func:`dlcourse.grading.similarity.documents.normalized`).

A document is fingerprinted section by section (one section per exercise), in worker processes when
there are many: lexing is what costs.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

#: Matches shorter than this many filtered characters are ignored (a line such as ``return V.V(0,V)``).
NOISE = 25
#: Every match at least this long is found (copydetect's guarantee threshold; window = GUARANTEE - NOISE + 1).
GUARANTEE = 30
#: Fingerprint in worker processes from this many sections on (below, the pool costs more than it saves).
PARALLEL_FROM = 200


@dataclass
class Fingerprint:
    """One piece of code's fingerprints (copydetect's ``CodeFingerprint``), for scores and highlighting."""

    print_: object

    @property
    def hashes(self) -> set[int]:
        return self.print_.hashes


def fingerprint(code: str, *, boilerplate: np.ndarray | None = None) -> Fingerprint:
    """Fingerprint Python ``code``, leaving out the hashes in ``boilerplate``."""
    from copydetect import CodeFingerprint

    return Fingerprint(CodeFingerprint("code.py", NOISE, GUARANTEE - NOISE + 1,
                                       boilerplate=[] if boilerplate is None else boilerplate,
                                       fp=io.StringIO(code)))


def fingerprint_all(codes: list[str], *, boilerplate: np.ndarray) -> list[Fingerprint]:
    """:func:`fingerprint` of every code, in up to ``os.cpu_count()`` processes when there are many."""
    workers = min(os.cpu_count() or 1, 8)
    if len(codes) < PARALLEL_FROM or workers < 2:
        return [fingerprint(code, boilerplate=boilerplate) for code in codes]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_fingerprint_with, [(code, boilerplate) for code in codes], chunksize=32))


def _fingerprint_with(args: tuple[str, np.ndarray]) -> Fingerprint:
    code, boilerplate = args
    return fingerprint(code, boilerplate=boilerplate)


def boilerplate_hashes(code: str) -> np.ndarray:
    """The hashes of ``code`` (a release's given code), to leave out of every fingerprint."""
    return np.array(sorted(fingerprint(code).hashes), dtype=np.int64)


def copied_slices(a: Fingerprint, b: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
    """For ``a`` and ``b``, the (2, n) arrays of start and end offsets of their shared code in their text."""
    from copydetect import compare_files

    _, _, slices = compare_files(a.print_, b.print_)
    return slices
