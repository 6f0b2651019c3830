"""The student edition: what students receive, derived from the instructor's repository.

``dlcourse student-edition OUTDIR [--release-references ASSIGNMENT ...]`` runs
:func:`build_edition`; see :mod:`dlcourse.edition.build` for what the edition holds and
:mod:`dlcourse.edition.audit` for what it is checked not to hold. Instructor only: this
subpackage is never part of the edition.
"""

from dlcourse.edition.audit import audit_edition
from dlcourse.edition.build import DEFAULT_BINDER_REPO, Edition, EditionError, build_edition, withheld_definitions
from dlcourse.edition.exercises import assignment_exercises

__all__ = ["DEFAULT_BINDER_REPO", "Edition", "EditionError", "assignment_exercises", "audit_edition",
           "build_edition", "withheld_definitions"]
