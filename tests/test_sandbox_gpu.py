"""GPU graders: the sandbox passes NVIDIA device files through and the address-space limit,
which would break CUDA's start-up, is not applied where they exist."""

import resource

from dlcourse.grading import job, sandbox
from dlcourse.grading.job import Limits
from dlcourse.grading.sandbox import Sandbox, gpu_devices


def test_gpu_devices_finds_nvidia_device_files_only(tmp_path):
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "null", "nvidia-caps", "sda"):
        (tmp_path / name).touch()
    assert [p.name for p in gpu_devices(tmp_path)] == ["nvidia-uvm", "nvidia0", "nvidia1", "nvidiactl"]
    assert gpu_devices(tmp_path / "missing") == []


def test_sandbox_binds_gpu_devices_when_present(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_executable", lambda: "/usr/bin/bwrap")
    box = Sandbox(tmp_path / "work")
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: [])
    assert "--dev-bind" not in box.argv(["true"])
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: [tmp_path / "nvidia0", tmp_path / "nvidiactl"])
    args = box.argv(["true"])
    binds = [args[i + 1] for i, a in enumerate(args) if a == "--dev-bind"]
    assert binds == [str(tmp_path / "nvidia0"), str(tmp_path / "nvidiactl")]
    assert args.index("--dev-bind") > args.index("--dev"), "device binds must come after the minimal /dev"


def test_memory_limit_is_applied_without_gpu_and_skipped_with_one(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "setrlimit", lambda which, value: calls.append((which, value)))
    monkeypatch.setattr(job, "gpu_devices", lambda: [])
    Limits(memory_bytes=2**30).preexec()()
    assert (resource.RLIMIT_AS, (2**30, 2**30)) in calls
    calls.clear()
    monkeypatch.setattr(job, "gpu_devices", lambda: ["/dev/nvidia0"])
    Limits(memory_bytes=2**30).preexec()()
    assert all(which != resource.RLIMIT_AS for which, _ in calls), calls
