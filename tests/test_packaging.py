"""Packaging: pins, the conda mirror, the CLI entry points, CI and ignore rules."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _conda_pip_requirements() -> list[str]:
    lines = (REPO / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = []
    for line in lines[start + 1:]:
        m = re.match(r"^\s+- (.+)$", line)
        if not m:
            break
        reqs.append(m.group(1).strip())
    return reqs


def test_environment_yml_mirrors_pyproject_dependencies():
    deps = _pyproject()["project"]["dependencies"]
    conda = [r for r in _conda_pip_requirements() if r != "-e ."]
    assert sorted(conda) == sorted(deps), (
        "environment.yml and pyproject.toml disagree: only in pyproject "
        f"{sorted(set(deps) - set(conda))}, only in environment.yml {sorted(set(conda) - set(deps))}"
    )
    assert "-e ." in _conda_pip_requirements(), "environment.yml must install the course package itself"
    assert "python=3.11" in (REPO / "environment.yml").read_text()


def test_torch_and_torchvision_are_pinned_exactly():
    deps = _pyproject()["project"]["dependencies"]
    assert "torch==2.14.1" in deps and "torchvision==0.29.1" in deps


def test_ci_runs_exactly_make_test():
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert commands == ["make test"]
    assert "make test" in (REPO / "README.md").read_text()


def test_gitignore_covers_grading_outputs():
    ignored = (REPO / ".gitignore").read_text().split()
    for entry in (".venv/", "submitted/", "autograded/", "feedback/", "gradebook.db", "demo/"):
        assert entry in ignored, f"{entry} missing from .gitignore"


def test_nbgrader_config_uses_relative_course_folders():
    text = (REPO / "nbgrader_config.py").read_text()
    assert 'source_directory = "solutions"' in text and 'release_directory = "assignments"' in text
    assert "/work" not in text and "/home" not in text


@pytest.mark.parametrize("command", ["release", "grade", "demo", "doctor"])
def test_every_cli_command_explains_itself(command):
    out = subprocess.run([sys.executable, "-m", "dlcourse", command, "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert f"usage: dlcourse {command}" in out
    assert len(out.split()) > 20, f"`dlcourse {command} --help` says too little:\n{out}"


def test_doctor_reports_versions_and_device():
    proc = subprocess.run([sys.executable, "-m", "dlcourse", "doctor"], capture_output=True, text=True, cwd=REPO)
    assert "torch" in proc.stdout and "2.14.1" in proc.stdout and "device" in proc.stdout, proc.stdout
    assert proc.returncode == 0, f"doctor found problems:\n{proc.stdout}"
