"""The package layout shows the method: data flows down the floors, no import runs back up, no cycles.

Floors (a module may import its own package and anything on a lower floor; the two trainers on
floor 5 never import each other):

    0 settings, io, progress, runs   1 data   2 model   3 rewards   4 train   5 sft | grpo
    6 base (the base-model stage reuses the SFT trainer)   7 evaluate   8 attribution   9 viz
    10 workbook   11 sweep

Every ``import`` counts, those inside functions too. ``python -m pytest tests/test_layout.py -q``
is the command that shows it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "r1omni"
FLOORS: dict[str, int] = {
    "r1omni": 0,
    "settings": 0,
    "io": 0,
    "progress": 0,
    "runs": 0,
    "data": 1,
    "model": 2,
    "rewards": 3,
    "train": 4,
    "sft": 5,
    "grpo": 5,
    "base": 6,
    "evaluate": 7,
    "attribution": 8,
    "viz": 9,
    "workbook": 10,
    "sweep": 11,
}


def module_name(path: Path) -> str:
    parts = ["r1omni", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every ``r1omni...`` module that ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "r1omni"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] == "r1omni":
                for alias in node.names:  # ``from package import submodule`` imports the submodule
                    sub = f"{base}.{alias.name}"
                    out.add(sub if is_module(sub) else base)
    return out - {me}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "r1omni"


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py")) if p.name != "__main__.py"}
ENTRY_POINTS = sorted(ROOT.rglob("__main__.py"))


def test_every_package_has_a_floor():
    assert {package_of(m) for m in MODULES} <= set(FLOORS), set(map(package_of, MODULES)) - set(FLOORS)


@pytest.mark.parametrize("path", list(MODULES.values()) + ENTRY_POINTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_up_a_floor(path):
    mine = package_of(module_name(path))
    bad = []
    for target in imports(path):
        theirs = package_of(target)
        if theirs == mine or target == "r1omni":
            continue
        if FLOORS[theirs] > FLOORS[mine] or (FLOORS[theirs] == FLOORS[mine] and FLOORS[mine] > 0):
            bad.append(f"{target} (floor {FLOORS[theirs]})")
    assert not bad, f"{module_name(path)} (floor {FLOORS[mine]}) imports up or sideways: {bad}"


def test_no_import_cycle():
    graph = {m: {t for t in imports(p) if t in MODULES} for m, p in MODULES.items()}
    # A package's __init__ re-exports its modules; a module importing a sibling through the
    # package's __init__ is the same edge as importing the sibling.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t) :] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_a_module_stays_a_few_hundred_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 450}
    assert not long, f"split these into one concept per file: {long}"
