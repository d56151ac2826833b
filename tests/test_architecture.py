"""The one-way flow of docs/ARCHITECTURE.md, checked on the source: rooms import only from rooms
below them, no module imports itself back through others, and every module imports alone.

A room is the first name under ``mmevol`` (``mmevol.evolve.engine`` is in ``evolve``; a top-level
module such as ``mmevol.store`` is its own room). Imports under ``if TYPE_CHECKING:`` are not
imports at run time and are left out; imports inside functions count.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "mmevol"

# lowest first; a room may import from rooms in lower layers only (docs/ARCHITECTURE.md)
LAYERS: list[set[str]] = [
    {"mmevol", "errors", "fsutil", "schema"},
    {"vocab", "calls", "geometry", "outputs", "reviews"},
    {"textsim", "parse"},
    {"io", "store"},
    {"world", "facts", "seeds"},
    {"prompts"},
    {"backends"},
    {"grounded", "testing"},
    {"evolve"},
    {"scale", "report", "view", "train"},
    {"loop"},
    {"demo", "api"},
    {"cli"},
]
LAYER_OF = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str:
    """The module a dotted import name lands in (a name inside a module is that module)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(_owner(a.name) for a in node.names if a.name.startswith("mmevol"))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "mmevol" or node.module.startswith("mmevol."))
        ):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else _owner(node.module))
    return found


GRAPH = {mod: _imports(path) - {mod} for mod, path in MODULES.items()}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mmevol"


def test_every_room_has_a_layer() -> None:
    missing = sorted({room(m) for m in MODULES} - set(LAYER_OF))
    assert not missing, f"rooms with no layer in LAYERS (and docs/ARCHITECTURE.md): {missing}"


def test_rooms_import_only_from_rooms_below() -> None:
    wrong = [
        f"{mod} ({room(mod)}, layer {LAYER_OF[room(mod)]}) imports {dep} "
        f"({room(dep)}, layer {LAYER_OF[room(dep)]})"
        for mod, deps in GRAPH.items()
        for dep in sorted(deps)
        if room(dep) != room(mod) and LAYER_OF[room(dep)] >= LAYER_OF[room(mod)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        path.append(mod)
        for dep in sorted(GRAPH[mod]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[mod] = 2

    for mod in sorted(GRAPH):
        if mod not in state:
            visit(mod, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_walker_sees_a_cycle_and_an_upward_import(tmp_path: Path) -> None:
    """The checks above can fail: the same walk on a tiny package with both faults."""
    a = tmp_path / "a.py"
    a.write_text("from mmevol.store import Store\n\ndef f():\n    import mmevol.cli\n")
    b = tmp_path / "b.py"
    b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mmevol.cli\n")
    assert _imports(a) == {"mmevol.store", "mmevol.cli"}
    assert _imports(b) == set()
    assert LAYER_OF[room("mmevol.cli")] > LAYER_OF[room("mmevol.store")]


# every module imported alone, each in a fresh child of an interpreter that has not imported mmevol
_IMPORT_ALONE = r"""
import importlib, os, sys, traceback
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and not e.name.startswith("mmevol"):
                os._exit(3)  # an optional extra that is not installed
            traceback.print_exc()
            os._exit(1)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 3:
        print("extra missing:", name)
    elif code != 0:
        failed.append(name)
print("FAILED:", " ".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="uses fork for a fresh import per module")
def test_every_module_imports_alone() -> None:
    names = list(MODULES)  # a __main__ too: importing it must not run the command
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALONE, *names], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(m for m in sys.modules if 'mmevol' in m))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


HEAVY = ("mmevol.backends", "mmevol.grounded", "mmevol.testing", "mmevol.world", "mmevol.evolve")


@pytest.mark.parametrize(
    "statement",
    [
        "import mmevol.store",
        "import mmevol.calls",
        "import mmevol.parse",
        "import mmevol.prompts",
        "import mmevol.reviews",
        "import mmevol.facts",
    ],
)
def test_light_rooms_load_no_backend_world_or_engine(statement: str) -> None:
    heavy = sorted(m for m in _loaded_after(statement) if m.startswith(HEAVY))
    assert not heavy, f"{statement} loads {heavy}"


def test_make_backend_imports_only_the_backend_asked_for() -> None:
    loaded = _loaded_after(
        "from mmevol.backends import make_backend\nmake_backend('grounded', seed=0)"
    )
    assert "mmevol.grounded.backend" in loaded
    assert not {m for m in loaded if m.startswith(("mmevol.testing", "mmevol.backends.openai"))}
