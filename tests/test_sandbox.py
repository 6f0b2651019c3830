"""The grading sandbox on its own (fast, no nbgrader): an allow-list, an unprivileged user, bounded resources."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_fixtures import REPO, SANDBOXED
from dlcourse.grading.sandbox import Identity, Sandbox, SandboxLimits, bwrap_executable, identities, sandbox_status

needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="needs the bubblewrap sandbox (make test installs it as root)")
AS_ROOT = os.geteuid() == 0

PROBE = r"""
import json, os, sys, threading
def readable(path):
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False
def writable(path):
    try:
        with open(path, "wb") as fh:
            fh.write(b"x")
        return True
    except OSError:
        return False
def fill(folder, mib):
    written = 0
    try:
        with open(os.path.join(folder, "fill"), "wb") as fh:
            for _ in range(mib):
                fh.write(b"x" * 2**20)
                written += 1
    except OSError:
        pass
    return written
def threads(n):
    stop, started = threading.Event(), 0
    try:
        for _ in range(n):
            threading.Thread(target=stop.wait, daemon=True).start()
            started += 1
    except RuntimeError:
        pass
    stop.set()
    return started
print(json.dumps({
    "uid": os.getuid(), "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
    "read": {p: readable(p) for p in sys.argv[1:]},
    "write_root": writable("/evil"), "write_usr": writable("/usr/evil"), "write_dev": writable("/dev/evil"),
    "work_mib": fill(os.getcwd(), 64), "tmp_mib": fill("/tmp", 64), "shm_mib": fill("/dev/shm", 64),
    "threads": threads(300),
    "torch": __import__("importlib").util.find_spec("torch") is not None,
}))
"""


def _run(box: Sandbox, *paths: str) -> dict:
    proc = subprocess.run(box.argv([sys.executable, "-I", "-c", PROBE, *paths]), capture_output=True, text=True,
                          timeout=120, cwd="/")
    assert proc.returncode == 0, f"the sandbox did not run: {proc.stderr[-2000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    (course / "gradebook.db").write_text("secret")
    outside = Path.home() / ".dlcourse-test-secret"
    outside.write_text("secret")
    outside.chmod(0o644)
    limits = SandboxLimits(work_bytes=16 * 2**20, tmp_bytes=16 * 2**20, shm_bytes=8 * 2**20, processes=64)
    try:
        yield _run(Sandbox(course / "autograded" / "s" / "a", student="s", identity=identities(1)[0], limits=limits),
                   "/etc/shadow", "/etc/hostname", str(course / "gradebook.db"), str(outside),
                   str(REPO / "solutions" / "a1_backprop" / "a1_backprop.ipynb"), str(REPO / "README.md"))
    finally:
        outside.unlink()


@pytest.mark.skipif(bwrap_executable() is None, reason="bubblewrap is not installed")
def test_the_sandbox_works_wherever_bubblewrap_is_installed():
    """Else every sandboxed test would be skipped and grading tests would run unsandboxed, silently."""
    works, why = sandbox_status()
    assert works, f"bubblewrap is installed but the grading sandbox fails: {why}"


@needs_sandbox
def test_only_the_allow_list_is_mounted(seen):
    assert seen["read"] == dict.fromkeys(seen["read"], False), f"expected nothing outside the allow-list: {seen['read']}"
    assert seen["torch"], "the course environment should be importable inside"
    assert "home" not in seen["root"] and "srv" not in seen["root"], seen["root"]


@needs_sandbox
@pytest.mark.skipif(not AS_ROOT, reason="switching users needs root (CI grades as root)")
def test_student_code_runs_as_an_unprivileged_user_with_a_process_cap(seen):
    assert seen["uid"] != 0, "student code runs as root"
    assert seen["threads"] < 64, f"expected the process cap (64) to stop thread creation, got {seen['threads']}"


@needs_sandbox
def test_every_writable_place_is_bounded_and_the_rest_read_only(seen):
    assert not (seen["write_root"] or seen["write_usr"] or seen["write_dev"]), seen
    for key, cap in (("work_mib", 16), ("tmp_mib", 16), ("shm_mib", 8)):
        assert seen[key] <= cap, f"{key}: wrote {seen[key]} MiB into a {cap} MiB folder"
    assert seen["cwd"].endswith("autograded/s/a")


def test_identities_are_distinct_and_never_root():
    idents = identities(8)
    if AS_ROOT:
        assert len({i.uid for i in idents}) == 8 and all(i.uid >= 200_000 and i.gid == i.uid for i in idents)
    else:
        assert idents == [None] * 8


def test_the_description_round_trips_through_json(tmp_path):
    box = Sandbox(tmp_path / "w", student="s", identity=Identity(300_001, 300_001), readonly=[tmp_path / "r"],
                  writable=[tmp_path / "x"], hidden=[tmp_path / "h"], limits=SandboxLimits(processes=7))
    assert Sandbox.from_json(box.to_json()) == box
