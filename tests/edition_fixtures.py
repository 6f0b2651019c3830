"""The student edition built once per test worker, and Python runs inside it (tests only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_fixtures import REPO
from dlcourse.edition import build_edition


@pytest.fixture(scope="session")
def edition(tmp_path_factory) -> Path:
    """The default edition (every assignment open), built once per worker."""
    out = tmp_path_factory.mktemp("edition") / "dlcourse-student"
    build_edition(REPO, out)
    return out


# This repository's package is installed in editable mode: its import hook would serve any module the
# edition lacks (dlcourse.cli, a withheld numpy_ref module) from the instructor's tree. Python in the
# edition runs without it, as on a student's machine where only the edition is installed.
WITHOUT_EDITABLE_INSTALL = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
"""


def edition_env(edition: Path) -> dict[str, str]:
    shim = edition.parent / "python-startup"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(WITHOUT_EDITABLE_INSTALL)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(edition), str(shim)])
    env.setdefault("MPLBACKEND", "Agg")
    return env
