"""The shape of the code: no import cycles between instructkit's modules, no module importing
another module's private name, and packages below the top one that import nothing in their
`__init__.py` (importing `validation.read.source` runs `validation/read/__init__.py` first: an
import there would be an edge no graph of `from` lines shows). Every import counts, those inside
functions too: a cycle hidden in a function is still a cycle for whoever reads the code. Only
imports under `if TYPE_CHECKING:` are left out: they never run (a type named in annotations)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("validation", "templating", "training")


def modules(root: Path, packages: tuple[str, ...] = PACKAGES, tops: tuple[str, ...] = ("instructkit",)
            ) -> dict[str, Path]:
    """Module name -> file, for every Python file of `packages` and the top-level modules `tops`;
    a compiled extension (`_rowscan.c` beside its package's files) is a module without a file."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        for source in sorted((root / package).rglob("_*.c")):
            found[".".join(source.relative_to(root).with_suffix("").parts)] = source
    for top in tops:
        if (root / f"{top}.py").is_file():
            found[top] = root / f"{top}.py"
    return found


def _nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` but those under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
            yield from (inner for branch in node.orelse for inner in (branch, *_nodes(branch)))
            continue
        yield node
        yield from _nodes(node)


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, str | None]]:
    """(module imported, private name imported from it or None) for every import in `path`."""
    if path.suffix != ".py":
        return
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}", None
                elif base in known:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    yield base, alias.name if private else None


def graph(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph of the code under `root`, and the problems that are not cycles."""
    known = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in known}
    problems = []
    for name, path in known.items():
        for target, private in imports(name, path, known):
            if private is not None:
                problems.append(f"{name} imports the private name {private} of {target}")
            if target != name:
                edges[name].add(target)
        nested = path.name == "__init__.py" and "." in name
        if nested and edges[name]:
            problems.append(f"{name}/__init__.py imports {', '.join(sorted(edges[name]))} (a subpackage's "
                            "__init__ imports nothing; the top package re-exports)")
    return edges, problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_takes_part_in_an_import_cycle() -> None:
    edges, _ = graph(ROOT)
    assert cycles(edges) == []


def test_no_module_imports_a_private_name_and_subpackage_inits_import_nothing() -> None:
    assert graph(ROOT)[1] == []


def test_validation_imports_neither_templating_nor_training() -> None:
    edges, _ = graph(ROOT)
    reach = sorted(f"{src} -> {dst}" for src, targets in edges.items() if src.startswith("validation")
                   for dst in targets if dst.split(".")[0] in ("templating", "training"))
    assert reach == []


def test_templating_does_not_import_training() -> None:
    edges, _ = graph(ROOT)
    assert sorted(f"{s} -> {d}" for s, ts in edges.items() if s.startswith("templating")
                  for d in ts if d.startswith("training")) == []


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(("files", "expected"), [
    ({"validation/__init__.py": "", "validation/a.py": "from validation.b import x\n",
      "validation/b.py": "def f():\n    from validation import a\n"}, [["validation.a", "validation.b"]]),
    ({"validation/__init__.py": "", "validation/a.py": "from . import b\n",
      "validation/b.py": "from .c import y\n", "validation/c.py": "import validation.a\n"},
     [["validation.a", "validation.b", "validation.c"]]),
    ({"validation/__init__.py": "from validation.a import x\n", "validation/a.py": "from validation import y\n"},
     [["validation", "validation.a"]]),
    ({"validation/__init__.py": "", "validation/a.py": "from validation.b import x\n", "validation/b.py": ""}, []),
    ({"validation/__init__.py": "", "validation/a.py": "from validation.b import x\n",
      "validation/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from validation.a import y\n"}, []),
    ({"validation/__init__.py": "", "validation/a.py": "from validation.b import x\n",
      "validation/b.py": "import typing\nif typing.TYPE_CHECKING:\n    pass\nelse:\n    from validation.a import y\n"},
     [["validation.a", "validation.b"]]),
])
def test_an_injected_cycle_is_found(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    _write(tmp_path, files)
    assert cycles(graph(tmp_path)[0]) == expected


def test_an_injected_private_import_and_a_busy_subpackage_init_are_found(tmp_path: Path) -> None:
    _write(tmp_path, {"validation/__init__.py": "", "validation/a.py": "from validation.b import _hidden, shown\n",
                      "validation/b.py": "", "validation/_core.c": "", "validation/c.py": "from validation import _core\n",
                      "validation/read/__init__.py": "from validation.read.files import read\n",
                      "validation/read/files.py": ""})
    assert graph(tmp_path)[1] == [
        "validation.a imports the private name _hidden of validation.b",
        "validation.read/__init__.py imports validation.read.files (a subpackage's __init__ imports nothing; "
        "the top package re-exports)"]
