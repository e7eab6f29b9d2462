"""Compiles a syntax table of :mod:`bitstream_spec` into a reader and a writer.

The table is the single description of a syntax structure (STYLE.md, practice 1). This module
turns it, once per table, into two Python functions (generated source, compiled with
``compile``), so reading and writing run at the speed of straight-line code while the table
stays the only place where the syntax is written down:

``read(r, ctx, trace, findings) -> dict``
    ``r`` a :class:`sei.bitio.BitReader` positioned at the payload, ``ctx`` the decoding
    context (supplies ``select_state``), ``trace`` a list receiving ``(label, value, bit_pos)``
    records (or ``None``), ``findings`` a list receiving :class:`sei.errors.Finding`.
``write(w, v, ctx, trace) -> dict``
    writes the syntax values ``v`` with a :class:`sei.bitio.BitWriter`; returns the derived
    variables it computed (same keys as the reader's).

Parsed values: a dict keyed by spec names; indexed elements are dicts keyed by the index
(an ``int`` for one index, a tuple for several); derived variables are stored the same way.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

from bitstream_spec.dsl import (
    Align,
    Check,
    Derived,
    Element,
    For,
    Hook,
    If,
    Let,
    PayloadBytes,
    Require,
    SelectState,
    Syntax,
)

from .errors import BitstreamError, Finding, SEIWriteError

#: Marker of a derived-value line in a trace record list: ``(DERIVED, label, None)``.
DERIVED = object()


def _names(body: tuple, out: set[str], indexed: set[str], inferred: dict[str, Any]) -> None:
    for node in body:
        if isinstance(node, Element):
            out.add(node.name)
            if node.index:
                indexed.add(node.name)
            elif node.infer is not None:
                inferred[node.name] = node.infer
        elif isinstance(node, Let):
            out.add(node.name)
            if node.index:
                indexed.add(node.name)
        elif isinstance(node, (Align,)):
            pass
        elif isinstance(node, PayloadBytes):
            out.add(node.name)
        elif isinstance(node, If):
            _names(node.then, out, indexed, inferred)
            _names(node.orelse, out, indexed, inferred)
        elif isinstance(node, For):
            _names(node.body, out, indexed, inferred)


class _Rewrite(ast.NodeTransformer):
    """Rewrites element and derived-variable names into ``v['name']`` lookups."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.names:
            return ast.copy_location(
                ast.Subscript(value=ast.Name("v", ast.Load()), slice=ast.Constant(node.id), ctx=ast.Load()), node)
        return node


@dataclass
class CompiledSyntax:
    """Reader and writer compiled from one :class:`bitstream_spec.dsl.Syntax`.

    Attributes:
        syntax: the table.
        read: generated reader (see module docstring).
        write: generated writer (see module docstring).
        element_order: element names in syntax order (JSON field order).
        source: the generated Python source (for debugging and ``--dump-generated``).
    """

    syntax: Syntax
    read: Callable[..., dict]
    write: Callable[..., dict]
    element_order: tuple[str, ...]
    source: str


class _Gen:
    def __init__(self, syntax: Syntax, hooks: dict[str, Callable], writer: bool) -> None:
        self.syntax = syntax
        self.writer = writer
        self.lines: list[str] = []
        names: set[str] = set()
        self.indexed: set[str] = set()
        self.inferred: dict[str, Any] = {}
        _names(syntax.body, names, self.indexed, self.inferred)
        self.rewrite = _Rewrite(names)
        self.consts: dict[str, Any] = {}
        self.hooks = hooks
        self.order: list[str] = []
        self.uses_bits_left = False

    def const(self, value: Any) -> str:
        key = f"_c{len(self.consts)}"
        self.consts[key] = value
        return key

    def expr(self, text: Any) -> str:
        if isinstance(text, int):
            return repr(text)
        if "payload_bits_left" in str(text):
            self.uses_bits_left = True
        tree = ast.parse(str(text), mode="eval")
        return ast.unparse(self.rewrite.visit(tree))

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def key(self, index: tuple[str, ...]) -> str:
        return index[0] if len(index) == 1 else "(" + ", ".join(index) + ")"

    def target(self, name: str, index: tuple[str, ...]) -> str:
        return f"v[{name!r}][{self.key(index)}]" if index else f"v[{name!r}]"

    def body(self, nodes: tuple, depth: int) -> None:
        start = len(self.lines)
        for node in nodes:
            getattr(self, "node_" + type(node).__name__)(node, depth)
        if len(self.lines) == start:
            self.emit(depth, "pass")

    def node_Element(self, e: Element, depth: int) -> None:
        if e.name not in self.order:
            self.order.append(e.name)
        label = e.trace or e.name
        desc = e.desc
        target = self.target(e.name, e.index)
        if desc.startswith("u(") or desc.startswith("f("):
            width = self.expr(desc[2:-1])
            call_r, call_w = f"r.u({width})", f"w.u(x, {width})"
        elif desc == "ue(v)":
            call_r, call_w = "r.ue()", "w.ue(x)"
        elif desc == "se(v)":
            call_r, call_w = "r.se()", "w.se(x)"
        elif desc == "st(v)":
            call_r, call_w = "r.st()", "w.st(x)"
        else:
            raise ValueError(f"{self.syntax.name}: unsupported descriptor {desc!r} of {e.name}")
        self.emit(depth, "p = w.pos" if self.writer else "p = r.pos")
        if self.writer:
            self.emit(depth, f"x = _get(v, {e.name!r}, {self.key(e.index) if e.index else 'None'})")
            self.emit(depth, call_w)
        else:
            self.emit(depth, f"x = {call_r}")
            self.emit(depth, f"{target} = x")
        self.emit(depth, f"if t is not None: t.append(({label!r}, x, p))")
        if e.range is not None:
            lo, hi = self.expr(e.range[0]), self.expr(e.range[1])
            rule = self.const(f"{e.name} shall be in the range {e.range[0]}..{e.range[1]}")
            src = self.const(e.source or self.syntax.sources[0])
            self.emit(depth, f"if not ({lo} <= x <= {hi}):")
            if self.writer:
                self.emit(depth + 1, f"raise SEIWriteError({e.name!r} + ' = ' + str(x) + ': ' + {rule})")
            else:
                self.emit(depth + 1, f"f.append(Finding({e.name!r}, p, {rule}, {src}))")

    def node_Align(self, a: Align, depth: int) -> None:
        label = a.trace or a.name
        if self.writer:
            self.emit(depth, "while w.pos & 7:")
            self.emit(depth + 1, "p = w.pos; w.u(0, 1)")
            self.emit(depth + 1, f"if t is not None: t.append(({label!r}, 0, p))")
        else:
            rule = self.const(f"{a.name} shall be equal to 0")
            src = self.const(a.source or self.syntax.sources[0])
            self.emit(depth, "while r.pos & 7:")
            self.emit(depth + 1, "p = r.pos; x = r.u(1)")
            self.emit(depth + 1, f"if t is not None: t.append(({label!r}, x, p))")
            self.emit(depth + 1, f"if x: f.append(Finding({a.name!r}, p, {rule}, {src}))")

    def node_PayloadBytes(self, pb: PayloadBytes, depth: int) -> None:
        label = pb.trace or pb.name
        if pb.name not in self.order:
            self.order.append(pb.name)
        if self.writer:
            self.emit(depth, f"x = bytes(_get(v, {pb.name!r}, None)); p = w.pos; w.raw_bytes(x)")
        else:
            self.emit(depth, f"p = r.pos; x = r.bytes_to_end(); v[{pb.name!r}] = x")
        self.emit(depth, "if t is not None:")
        self.emit(depth + 1, f"t.extend(({label!r}, b - 256 if b > 127 else b, p + 8 * n) for n, b in enumerate(x))")

    def node_If(self, node: If, depth: int) -> None:
        self.emit(depth, f"if {self.expr(node.cond)}:")
        self.body(node.then, depth + 1)
        if node.orelse:
            self.emit(depth, "else:")
            self.body(node.orelse, depth + 1)

    def node_For(self, node: For, depth: int) -> None:
        bounds = self.expr(node.count) if node.start == 0 else f"{self.expr(node.start)}, {self.expr(node.count)}"
        self.emit(depth, f"for {node.var} in range({bounds}):")
        self.body(node.body, depth + 1)

    def node_Let(self, node: Let, depth: int) -> None:
        self.emit(depth, f"{self.target(node.name, node.index)} = {self.expr(node.expr)}")

    def node_Check(self, node: Check, depth: int) -> None:
        rule, src = self.const(node.rule), self.const(node.source)
        pos = "w.pos" if self.writer else "r.pos"
        self.emit(depth, f"if not ({self.expr(node.cond)}):")
        if self.writer:
            self.emit(depth + 1, f"raise SEIWriteError({node.element!r} + ': ' + {rule})")
        else:
            self.emit(depth + 1, f"f.append(Finding({node.element!r}, {pos}, {rule}, {src}, {node.severity!r}))")

    def node_Require(self, node: Require, depth: int) -> None:
        rule, src = self.const(node.rule), self.const(node.source)
        pos = "w.pos" if self.writer else "r.pos"
        err = "SEIWriteError" if self.writer else "BitstreamError"
        self.emit(depth, f"if not ({self.expr(node.cond)}):")
        self.emit(depth + 1, f"raise {err}({node.element!r} + ': ' + {rule} + ' [' + {src} + ']', {pos})"
                  if not self.writer else f"raise {err}({node.element!r} + ': ' + {rule})")

    def node_SelectState(self, node: SelectState, depth: int) -> None:
        key = self.expr(node.key)
        self.emit(depth, f"v['_state_key'] = {key}")
        self.emit(depth, f"state = ctx.select_state({self.syntax.payload_type!r}, {key})")

    def node_Hook(self, node: Hook, depth: int) -> None:
        if node.name not in self.hooks:
            raise ValueError(f"{self.syntax.name}: hook {node.name!r} not provided")
        self.emit(depth, f"_hook_{node.name}(v, state, ctx)")

    def node_Derived(self, node: Derived, depth: int) -> None:
        self.emit(depth, f"if t is not None and ({self.expr(node.cond)}): t.append((DERIVED, {node.label!r}, None))")

    def build(self) -> tuple[Callable, str]:
        fname = "write" if self.writer else "read"
        args = "w, v, ctx, t" if self.writer else "r, ctx, t, f"
        self.emit(0, f"def {fname}({args}):")
        if self.writer:
            self.emit(1, "v = _prepare(v)")
        else:
            init = {name: {} for name in sorted(self.indexed)}
            self.emit(1, f"v = {{{', '.join(f'{k!r}: {{}}' for k in init)}}}")
        for name, value in self.inferred.items():
            if self.writer:
                self.emit(1, f"v.setdefault({name!r}, {value!r})")
            else:
                self.emit(1, f"v[{name!r}] = {value!r}")
        self.emit(1, "state = None")
        preamble_at = len(self.lines)
        self.body(self.syntax.body, 1)
        if self.uses_bits_left:
            # The writer writes what a ``payload_bits_left()`` test guards (VTM writers do).
            self.lines.insert(preamble_at, "    " + ("payload_bits_left = _ALWAYS" if self.writer else
                                                     "payload_bits_left = lambda: r.end - r.pos"))
        self.emit(1, "return v")
        src = "\n".join(self.lines) + "\n"
        indexed = frozenset(self.indexed)

        def _prepare(values: dict) -> dict:
            out = dict(values)
            for name in indexed:
                cur = out.get(name)
                if cur is None:
                    out[name] = {}
                elif not isinstance(cur, dict):
                    out[name] = dict(enumerate(cur))
                else:
                    out[name] = dict(cur)
            return out

        def _get(values: dict, name: str, key: Any) -> Any:
            try:
                return values[name] if key is None else values[name][key]
            except KeyError:
                where = "" if key is None else f"[{key}]"
                raise SEIWriteError(f"missing value of syntax element {name}{where}") from None

        namespace: dict[str, Any] = {
            "Finding": Finding, "BitstreamError": BitstreamError, "SEIWriteError": SEIWriteError,
            "DERIVED": DERIVED, "_prepare": _prepare, "_get": _get, "_ALWAYS": _always_bits_left,
            **self.consts,
        }
        for hname, fn in self.hooks.items():
            namespace[f"_hook_{hname}"] = fn
        code = compile(src, f"<{self.syntax.name}.{fname}>", "exec")
        exec(code, namespace)  # noqa: S102 - source generated from our own syntax tables
        return namespace[fname], src


def _always_bits_left() -> int:
    """``payload_bits_left()`` on the writer side: always more than any test asks for."""
    return 1 << 62


def compile_syntax(syntax: Syntax, hooks: dict[str, Callable] | None = None) -> CompiledSyntax:
    """Compiles ``syntax`` into reader and writer functions.

    Args:
        syntax: the table.
        hooks: functions named by the table's :class:`Hook` nodes, called as ``fn(v, state, ctx)``.

    Raises:
        ValueError: the table uses an unknown descriptor or hook.
    """
    hooks = hooks or {}
    rgen = _Gen(syntax, hooks, writer=False)
    read, rsrc = rgen.build()
    wgen = _Gen(syntax, hooks, writer=True)
    write, wsrc = wgen.build()
    return CompiledSyntax(syntax, read, write, tuple(rgen.order), rsrc + "\n" + wsrc)
