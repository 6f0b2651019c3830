"""A static screen of the cells a student can edit: what deserves a human look.

The screen reads the code of solution cells and of cells without nbgrader metadata and
lists constructs that honest solutions to these assignments do not need: reaching into
IPython or the interpreter (``get_ipython``, ``sys._getframe``, frame attributes, ``gc``,
``ctypes``), dynamic code (``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``),
the grading machinery (``sqlite3``, the gradebook, ``solutions/``, nbgrader's environment),
processes, and assignments to attributes of imported modules (monkey-patching
``np.testing``, ``dlcourse.grading`` ...). It is a review aid for the grading report, not a
verdict: the score comes from the tests and the out-of-process probes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

SUSPICIOUS_NAMES = {
    "get_ipython": "get_ipython", "_getframe": "sys._getframe", "currentframe": "inspect frames",
    "f_back": "frame access", "f_locals": "frame access", "f_globals": "frame access", "tb_frame": "frame access",
    "exec": "exec", "eval": "eval", "compile": "compile", "__import__": "__import__",
    "importlib": "importlib", "ctypes": "ctypes", "gc": "gc", "sqlite3": "sqlite3", "subprocess": "subprocess",
    "system": "os.system", "setprofile": "sys.setprofile", "settrace": "sys.settrace",
    "input_transformers_post": "IPython input transformers", "input_transformers_cleanup": "IPython input transformers",
    "ast_transformers": "IPython AST transformers", "environ": "environment variables", "getenv": "environment variables",
    "numpy_ref": "the reference implementation", "torch_ref": "the reference implementation",
    "builtins": "builtins", "__builtins__": "builtins", "__eq__": "custom __eq__", "__array__": "custom __array__",
}
#: Builtins whose names are also everyday methods (``model.eval()``, ``re.compile``, ``torch.compile``):
#: flagged as a bare name or as an attribute of ``builtins``, never as a method of anything else.
BUILTIN_ONLY = {"exec", "eval", "compile", "__import__"}
SUSPICIOUS_TEXT = {
    r"gradebook": "the gradebook", r"solutions/": "the solutions folder", r"NBGRADER": "nbgrader's environment",
    r"autograded": "grading folders", r"\.\./\.\.": "paths above the notebook",
}


def _student_code(nb) -> list[str]:
    sources = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if meta.get("solution") or not meta.get("grade_id"):
            sources.append(cell.source)
    return sources


def _module_aliases(tree: ast.AST) -> set[str]:
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            aliases.update(a.asname or a.name for a in node.names)
    return aliases | {"np", "numpy", "torch", "math", "dlcourse", "sys", "os", "builtins", "warnings"}


def screen_source(source: str) -> set[str]:
    """The suspicious constructs in one cell's code."""
    found: set[str] = set()
    for pattern, label in SUSPICIOUS_TEXT.items():
        if re.search(pattern, source):
            found.add(label)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # unparsable or pathological: nothing to walk
        return found
    aliases = _module_aliases(tree)
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if name in BUILTIN_ONLY and not (isinstance(node.value, ast.Name)
                                             and node.value.id in ("builtins", "__builtins__")):
                name = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                for part in (alias.name.split(".") + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])):
                    for piece in str(part).split("."):
                        if piece in SUSPICIOUS_NAMES:
                            found.add(SUSPICIOUS_NAMES[piece])
        elif isinstance(node, ast.FunctionDef) and node.name in ("__eq__", "__array__"):
            found.add(SUSPICIOUS_NAMES[node.name])
        if name in SUSPICIOUS_NAMES:
            found.add(SUSPICIOUS_NAMES[name])
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and root.id in aliases:
                    found.add(f"patches {ast.unparse(target)}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            found.add("setattr on objects")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call) and \
                isinstance(node.value.func, ast.Name) and node.value.func.id == "globals":
            found.add("globals() manipulation")
    return found


def screen_submission(staged_dir: Path) -> str:
    """One line listing what the screen found in the staged notebooks ("" when nothing)."""
    found: set[str] = set()
    for path in sorted(Path(staged_dir).glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - unreadable notebooks are reported elsewhere
            continue
        for source in _student_code(nb):
            found |= screen_source(source)
    return ", ".join(sorted(found))
