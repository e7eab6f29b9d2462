"""The import graph of the packages: arrows only downwards, no cycle.

Layers, lowest first: ``bitstream_spec`` (syntax tables), ``sei`` (bit I/O, NAL units, SEI
syntax), ``refsw`` (encoder/decoder libraries, models, metrics, apps), ``ctc`` (test runs).
Every import counts, including those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import refsw

#: Where the packages are: the source checkout, or site-packages for an installed wheel.
ROOT = Path(refsw.__file__).resolve().parents[1]
PACKAGES = ("bitstream_spec", "sei", "refsw", "ctc", "cfg")
#: Which packages each package may import (besides itself).
ALLOWED = {
    "bitstream_spec": set(),
    "cfg": set(),
    "sei": {"bitstream_spec"},
    "refsw": {"sei", "bitstream_spec", "cfg"},
    "ctc": {"refsw", "sei", "bitstream_spec", "cfg"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest project module that ``name`` (a dotted import target) lies in."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import sub`` counts as ``pkg.sub``
    when ``sub`` is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                dep = _resolve(t, modules)
                if dep is not None and dep != mod:
                    graph[mod].add(dep)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(import_graph()) == []


def test_arrows_only_downwards() -> None:
    bad = sorted(
        (m, d)
        for m, deps in import_graph().items()
        for d in deps
        if d.split(".")[0] != m.split(".")[0] and d.split(".")[0] not in ALLOWED[m.split(".")[0]]
    )
    assert bad == []


def test_the_checker_finds_a_cycle_and_an_upward_arrow() -> None:
    """The graph and the cycle search see what they must (so the two tests above can fail)."""
    graph = import_graph()
    assert "refsw.models.registry" in graph["refsw.models.kptps"]
    assert "refsw.metrics.vmaf" in graph["refsw.encoder.decision"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", ["sei", "refsw"])
def test_lower_layers_never_import_ctc(package: str) -> None:
    assert not [
        (m, d) for m, deps in import_graph().items() if m.startswith(package + ".") for d in deps if d.startswith("ctc")
    ]


def test_every_package_directory_is_a_package() -> None:
    """setuptools' ``find:`` ships only directories with an ``__init__.py``: a folder of modules
    without one would be missing from a wheel (and work only in the source checkout)."""
    missing = sorted(
        str(d.relative_to(ROOT))
        for pkg in PACKAGES
        for d in [ROOT / pkg, *(ROOT / pkg).rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py")) and not (d / "__init__.py").is_file()
    )
    assert missing == []
