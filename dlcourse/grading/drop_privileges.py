"""Become the sandbox's unprivileged user, then run the sandbox (started as root by the grader).

Run as ``python -I -S drop_privileges.py --uid U --gid G --processes N -- COMMAND...``
(standard library only, nothing imported from the course). It caps the tasks (processes and
threads) of user U at N, drops every supplementary group, switches to G and U for good, and
executes COMMAND. ``RLIMIT_NPROC`` counts the tasks of the *user*, so each sandbox running at
the same time gets a uid of its own (see ``dlcourse.grading.sandbox.identities``).

An argument ``{reach:PATH}`` of COMMAND names a folder or file that bubblewrap, running as U,
must mount. When U cannot reach PATH (a Python installed under ``/root``, which is mode 0700),
PATH is first bind-mounted, in a mount namespace private to this process tree, under a folder
U can reach, and the argument becomes that place; otherwise it becomes PATH. Nothing changes
for the rest of the machine.
"""

import argparse
import ctypes
import os
import resource
import stat
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
STAGING = "/tmp/.dlcourse-reach"


def _reachable(path: str) -> bool:
    """Whether a user with no owner or group rights can reach ``path`` (search right on every parent)."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
        if parent == "/":
            return True
        parent = os.path.dirname(parent)


class _Stager:
    """Bind-mounts unreachable paths into a private tmpfs (one mount namespace for the process tree)."""

    def __init__(self) -> None:
        self.count = 0
        self.libc = None

    def _call(self, name: str, *args) -> None:
        if getattr(self.libc, name)(*args) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{name}: {os.strerror(err)}")

    def stage(self, path: str) -> str:
        if self.libc is None:
            self.libc = ctypes.CDLL(None, use_errno=True)
            self._call("unshare", CLONE_NEWNS)
            self._call("mount", b"none", b"/", None, MS_REC | MS_PRIVATE, None)
            os.makedirs(STAGING, mode=0o755, exist_ok=True)
            self._call("mount", b"tmpfs", STAGING.encode(), b"tmpfs", 0, b"mode=0755,size=1m")
        self.count += 1
        target = os.path.join(STAGING, str(self.count))
        if os.path.isdir(path):
            os.mkdir(target, 0o755)
        else:
            open(target, "w").close()
        self._call("mount", path.encode(), target.encode(), None, MS_BIND | MS_REC, None)
        return target


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="drop_privileges")
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--gid", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.uid <= 0 or args.gid <= 0 or args.processes < 1:
        parser.error("needs a command, a uid and gid other than 0 and at least one process")
    stager = _Stager()
    for i, arg in enumerate(command):
        if arg.startswith("{reach:") and arg.endswith("}"):
            path = arg[len("{reach:"):-1]
            command[i] = path if _reachable(path) else stager.stage(path)
    resource.setrlimit(resource.RLIMIT_NPROC, (args.processes, args.processes))
    os.setgroups([])
    os.setresgid(args.gid, args.gid, args.gid)
    os.setresuid(args.uid, args.uid, args.uid)
    if os.getuid() != args.uid or os.geteuid() != args.uid:
        sys.exit("drop_privileges: could not switch to the sandbox user")
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
