"""Autograde execution that survives a dying or hung kernel.

nbgrader's ``Execute`` gives up on the whole notebook when the kernel dies
(``os._exit``, a segfault, the memory limit) and then deletes the student's
autograded folder, leaving every grade empty. :class:`ResilientExecute` instead
records an error in the cell that killed the kernel, starts a fresh kernel,
re-runs the earlier cells (except those that killed or hung a kernel) to rebuild
the state, and carries on with the next cell. A kernel that does not answer after
a cell timed out (an interrupt it ignored) is treated the same way, and so is a cell
that raised ``MemoryError`` under the kernel's address-space limit: what it allocated
may still be referenced (``hog.append(...)`` into a global list), which would starve
every later cell. So the rest of the notebook is still graded, and the report can say
what happened.
"""

from __future__ import annotations

import copy

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

KERNEL_DIED = "DeadKernelError"
KERNEL_HUNG = "UnresponsiveKernelError"
OUT_OF_MEMORY = "MemoryError"


class _KernelLost(Exception):
    """The kernel is dead or does not answer; ``ename`` says which."""

    def __init__(self, ename: str, message: str):
        super().__init__(message)
        self.ename = ename
        self.message = message


class ResilientExecute(Execute):
    """nbgrader's Execute, restarting the kernel after a crash or a hang instead of giving up."""

    max_kernel_restarts = Integer(
        3, help="How many times a notebook's kernel may be restarted before the remaining cells are skipped."
    ).tag(config=True)
    responsive_timeout = Integer(
        15, help="Seconds an interrupted kernel has to answer before it is considered hung and restarted."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        lost: set[int] = set()  # cells that killed or hung a kernel: never run again
        start = 0
        restarts = 0
        while True:
            current = start
            try:
                with self.setup_kernel():
                    info = self.wait_for_reply(self.kc.kernel_info())
                    self.nb.metadata["language_info"] = info["content"]["language_info"]
                    for index in range(start):  # rebuild the state a crash destroyed
                        current = index
                        if index not in lost and self.nb.cells[index].cell_type == "code":
                            replay = copy.deepcopy(self.nb.cells[index])
                            self.execute_cell(replay, index, store_history=False)
                            self._ensure_responsive(replay)
                            self._ensure_memory_released(replay)
                    for index in range(start, len(self.nb.cells)):
                        current = index
                        cell = self.nb.cells[index]
                        self.preprocess_cell(cell, resources, index)
                        self._ensure_responsive(cell)
                        self._ensure_memory_released(cell)
                break
            except (DeadKernelError, CellTimeoutError, _KernelLost) as exc:
                if isinstance(exc, _KernelLost):
                    ename, message = exc.ename, exc.message
                elif isinstance(exc, CellTimeoutError):  # interrupted, but the kernel never went idle
                    ename = KERNEL_HUNG
                    message = ("the cell timed out and the kernel ignored the interrupt; "
                               "the notebook continued in a fresh kernel")
                else:
                    ename = KERNEL_DIED
                    message = ("the kernel died while running this cell (os._exit, a crash, or the memory "
                               "limit); the notebook continued in a fresh kernel")
                self._record(self.nb.cells[current], ename, message)
                self._discard_kernel()
                lost.add(current)
                start = max(start, current + 1)
                restarts += 1
                if restarts > self.max_kernel_restarts:
                    for cell in self.nb.cells[start:]:
                        if cell.cell_type == "code":
                            self._record(cell, KERNEL_DIED, "not run: the kernel died too many times")
                    break
                if start >= len(self.nb.cells):
                    break
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _ensure_responsive(self, cell) -> None:
        """After a timed-out cell, make sure the interrupted kernel answers again."""
        timed_out = any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                        for o in cell.get("outputs", []))
        if not timed_out:
            return
        try:
            reply = self.wait_for_reply(self.kc.kernel_info(), timeout=self.responsive_timeout)
        except DeadKernelError:
            raise
        except Exception:  # noqa: BLE001 - any failure to answer means the kernel is lost
            reply = None
        # on a timeout nbclient answers with its own error reply instead of the kernel's
        if reply is None or reply.get("content", {}).get("status") != "ok":
            raise _KernelLost(KERNEL_HUNG, "the cell timed out and the kernel ignored the interrupt; "
                                           "the notebook continued in a fresh kernel")

    def _ensure_memory_released(self, cell) -> None:
        """After a cell that ran out of memory, continue in a fresh kernel: its allocations may live on."""
        if any(o.get("output_type") == "error" and o.get("ename") == OUT_OF_MEMORY
               for o in cell.get("outputs", [])):
            raise _KernelLost(OUT_OF_MEMORY, "the cell ran out of memory; the notebook continued "
                                             "in a fresh kernel without it")

    def wait_for_reply(self, msg_id, cell=None, timeout=None):  # noqa: D401 - nbclient's signature
        if timeout is None:
            return super().wait_for_reply(msg_id, cell)
        saved = self.timeout
        self.timeout = timeout
        try:
            return super().wait_for_reply(msg_id, cell)
        finally:
            self.timeout = saved

    def _record(self, cell, ename: str, message: str) -> None:
        if cell.cell_type != "code":
            return
        cell.setdefault("outputs", [])
        if not any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs):
            cell.outputs.append(NotebookNode(output_type="error", ename=ename, evalue=message,
                                             traceback=[f"{ename}: {message}"]))

    def _discard_kernel(self) -> None:
        try:
            if self.km is not None:
                self._cleanup_kernel()
        except Exception:  # noqa: BLE001 - the kernel is gone either way
            self.km = None
            self.kc = None
