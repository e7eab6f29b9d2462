"""Compiles a syntax table of :mod:`bitstream_spec` into a reader and a writer.

The table is the single description of a syntax structure: reader, writer, trace and checker
all come from it, so they cannot drift apart. This module
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
Elements with several indices (matrix elements, up to millions per message) are read into a
:class:`sei.compact.ElementArray`, a mapping like those dicts stored in typed arrays.

Generated code (what makes it fast without a hand-written parser; the source is
:attr:`CompiledSyntax.source`):

* two variants of each function, with and without trace code; ``read``/``write`` pick one by
  ``trace is None``, so a parse without a trace does no trace work at all;
* the reader reads ``u(n)``, ``f(n)``, ``ue(v)``, ``se(v)`` inline from the
  :class:`sei.bitio.BitReader` window held in local variables (a shift and a mask per element;
  the reader object is called only to refill its window, for ``st(v)`` and on errors);
* values just read or derived stay in local variables for the conditions and counts after them
  (scoped like the table: a value set in a branch is not used after it; loop-carried values
  are re-read); indexed elements live in local dicts, a multi-index key is built once per
  iteration, and scalars that loops read are loaded once into locals;
* the source line of every read is mapped to its element, so an error raised deep inside a
  read names the element (:meth:`CompiledSyntax.element_at`) at no cost when nothing fails.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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

from .compact import ElementArray
from .errors import BitstreamError, Finding, SEIWriteError, SizeLimitError

#: Marker of a derived-value line in a trace record list: ``(DERIVED, label, None)``.
DERIVED = object()


@dataclass(frozen=True)
class Run:
    """Trace value standing for ``count`` consecutive elements of ``width`` bits with the same
    label (NN payload bytes, reserved payload extension bits): one record instead of one per
    element keeps a trace's size independent of such data. :meth:`items` gives the element
    values (MSB first); element ``n`` starts ``n * width`` bits after the record's position.
    """

    value: int
    count: int
    width: int
    signed: bool = False

    def items(self) -> list[int]:
        """The element values in order (bytes as signed -128..127 when ``signed``)."""
        if self.width == 8:
            data = self.value.to_bytes(self.count, "big")
            return [b - 256 if b > 127 else b for b in data] if self.signed else list(data)
        mask = (1 << self.width) - 1
        total = self.count * self.width
        return [(self.value >> (total - (n + 1) * self.width)) & mask for n in range(self.count)]


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
        elif isinstance(node, PayloadBytes):
            out.add(node.name)
        elif isinstance(node, If):
            _names(node.then, out, indexed, inferred)
            _names(node.orelse, out, indexed, inferred)
        elif isinstance(node, For):
            _names(node.body, out, indexed, inferred)


def _local(prefix: str, name: str) -> str:
    """A local variable name of the generated code for ``name``."""
    return f"{prefix}_{name}"


class _Scope:
    """Values of syntax elements and derived variables known to sit in local variables.

    A value read (or derived) in a body is valid for the nodes after it in that body and in
    their nested bodies; re-reading the name in a nested body invalidates outer aliases, and a
    loop over ``var`` hides aliases whose index uses ``var`` from outer iterations.
    """

    def __init__(self, parent: _Scope | None, loop_var: str | None = None) -> None:
        self.parent = parent
        self.loop_var = loop_var
        self.aliases: dict[str, tuple[str, tuple[str, ...]]] = {}

    def find(self, name: str) -> tuple[str, tuple[str, ...]] | None:
        scope: _Scope | None = self
        hidden: set[str] = set()
        while scope is not None:
            hit = scope.aliases.get(name)
            if hit is not None:
                return None if hidden.intersection(hit[1]) else hit
            if scope.loop_var is not None:
                hidden.add(scope.loop_var)
            scope = scope.parent
        return None

    def set(self, name: str, alias: str, index: tuple[str, ...]) -> None:
        self.forget(name)
        self.aliases[name] = (alias, index)

    def forget(self, name: str) -> None:
        scope: _Scope | None = self
        while scope is not None:
            scope.aliases.pop(name, None)
            scope = scope.parent

    def clear(self) -> None:
        scope: _Scope | None = self
        while scope is not None:
            scope.aliases.clear()
            scope = scope.parent


class _Rewrite(ast.NodeTransformer):
    """Rewrites element and derived-variable names of a table expression into the generated
    code's storage: a local alias when the value is known to be in one, the local dict of an
    indexed name, else ``v['name']``."""

    def __init__(
        self, names: set[str], indexed: set[str], scope: _Scope, reader: bool, keys: dict[tuple[str, ...], str]
    ) -> None:
        self.names = names
        self.indexed = indexed
        self.scope = scope
        self.reader = reader
        self.keys = keys

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id in self.indexed:
            index = _index_vars(node.slice)
            hit = self.scope.find(node.value.id)
            if hit is not None and index == hit[1]:
                return ast.copy_location(ast.Name(hit[0], ast.Load()), node)
            if index in self.keys:
                node.slice = ast.Name(self.keys[index], ast.Load())
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if self.reader and isinstance(node.func, ast.Name) and node.func.id == "payload_bits_left":
            # The reader's bits left: ``r.end - pos`` (``pos`` is the generated code's local).
            return ast.copy_location(
                ast.BinOp(
                    ast.Attribute(ast.Name("r", ast.Load()), "end", ast.Load()), ast.Sub(), ast.Name("pos", ast.Load())
                ),
                node,
            )
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.names:
            return node
        if node.id in self.indexed:
            return ast.copy_location(ast.Name(_local("_d", node.id), ast.Load()), node)
        hit = self.scope.find(node.id)
        if hit is not None:
            return ast.copy_location(ast.Name(hit[0], ast.Load()), node)
        return ast.copy_location(
            ast.Subscript(value=ast.Name("v", ast.Load()), slice=ast.Constant(node.id), ctx=ast.Load()), node
        )


def _index_vars(node: ast.AST) -> tuple[str, ...] | None:
    """``("i", "j")`` for a subscript ``[i, j]`` made of plain names, else ``None``."""
    if isinstance(node, ast.Name):
        return (node.id,)
    if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Name) for e in node.elts):
        return tuple(e.id for e in node.elts)  # type: ignore[attr-defined]
    return None


@dataclass
class CompiledSyntax:
    """Reader and writer compiled from one :class:`bitstream_spec.dsl.Syntax`.

    Attributes:
        syntax: the table.
        read: generated reader (see module docstring); runs a variant without any trace code
            when ``t`` is ``None``.
        write: generated writer (see module docstring), likewise.
        source: the generated Python source (for debugging).
        lines: per generated function (code file name), the syntax element handled on each
            source line; :meth:`element_at` uses it to name the element of an error.
    """

    syntax: Syntax
    read: Callable[..., dict]
    write: Callable[..., dict]
    source: str
    lines: dict[str, dict[int, str]]

    def element_at(self, exc: BaseException) -> str | None:
        """The syntax element being read or written when ``exc`` was raised inside generated
        code (innermost frame of this syntax), or ``None``."""
        found = None
        tb = exc.__traceback__
        while tb is not None:
            table = self.lines.get(tb.tb_frame.f_code.co_filename)
            if table is not None:
                found = table.get(tb.tb_lineno, found)
            tb = tb.tb_next
        return found


class _Gen:
    """Generates one function (reader or writer, traced or not) from a table."""

    def __init__(self, syntax: Syntax, hooks: dict[str, Callable], writer: bool, traced: bool) -> None:
        self.syntax = syntax
        self.writer = writer
        self.traced = traced
        self.lines: list[str] = []
        self.names: set[str] = set()
        self.indexed: set[str] = set()
        self.inferred: dict[str, Any] = {}
        _names(syntax.body, self.names, self.indexed, self.inferred)
        self.scope = _Scope(None)
        self.consts: dict[str, Any] = {}
        self.hooks = hooks
        self.uses_bits_left = False
        self.line_element: dict[int, str] = {}
        self.keys: dict[tuple[str, ...], str] = {}
        self.loop_refs = _loop_refs(syntax.body)
        # Reader: elements with several indices (matrix elements) go to compact arrays.
        self.compact = set() if writer else _multi_indexed(syntax.body)
        self.n_alias = 0
        self.methods: set[str] = set()

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
        return ast.unparse(_Rewrite(self.names, self.indexed, self.scope, not self.writer, self.keys).visit(tree))

    def emit(self, depth: int, line: str, element: str | None = None) -> None:
        self.lines.append("    " * depth + line)
        if element is not None:
            self.line_element[len(self.lines)] = element

    def key(self, index: tuple[str, ...]) -> str:
        if len(index) == 1:
            return index[0]
        return self.keys.get(index) or "(" + ", ".join(index) + ")"

    def target(self, name: str, index: tuple[str, ...]) -> str:
        return f"{_local('_d', name)}[{self.key(index)}]" if index else f"v[{name!r}]"

    def alias(self, name: str, index: tuple[str, ...]) -> str:
        self.n_alias += 1
        local = f"_a{self.n_alias}"
        self.scope.set(name, local, index)
        return local

    def method(self, name: str) -> str:
        self.methods.add(name)
        return f"_m_{name}"

    def body(self, nodes: tuple, depth: int, loop_var: str | None = None) -> None:
        start = len(self.lines)
        outer = self.scope
        self.scope = _Scope(outer, loop_var)
        for node in nodes:
            getattr(self, "node_" + type(node).__name__)(node, depth)
        self.scope = outer
        if len(self.lines) == start:
            self.emit(depth, "pass")

    def node_Element(self, e: Element, depth: int) -> None:
        label = e.trace or e.name
        desc = "u(8)" if e.desc == "b(8)" else e.desc
        traced = self.traced and e.traced
        if not (desc.startswith(("u(", "f(")) or desc in ("ue(v)", "se(v)", "st(v)")):
            raise ValueError(f"{self.syntax.name}: unsupported descriptor {desc!r} of {e.name}")
        need_pos = traced or (e.range is not None and not self.writer)
        if self.writer:
            if need_pos:
                self.emit(depth, "p = w.pos")
            if desc.startswith(("u(", "f(")):
                call = f"{self.method('u')}(x, {self.expr(desc[2:-1])})"
            else:
                call = f"{self.method(desc[:2])}(x)"
            self.emit(depth, f"x = {self.target(e.name, e.index)}", e.name)
            self.emit(depth, call, e.name)
        else:
            if need_pos:
                self.emit(depth, "p = pos")
            self.read_value(desc, depth, e.name)
            if e.name in self.compact:
                self.emit(depth, f"{_local('_s', e.name)}({self.key(e.index)}, x)")
            else:
                self.emit(depth, f"{self.target(e.name, e.index)} = x")
        if traced:
            self.emit(depth, f"t.append(({label!r}, x, p))")
        if e.range is not None:
            lo, hi = self.expr(e.range[0]), self.expr(e.range[1])
            rule = self.const(f"{e.name} shall be in the range {e.range[0]}..{e.range[1]}")
            src = self.const(e.source or self.syntax.sources[0])
            self.emit(depth, f"if not ({lo} <= x <= {hi}):")
            if self.writer:
                self.emit(depth + 1, f"raise SEIWriteError({e.name!r} + ' = ' + str(x) + ': ' + {rule})", e.name)
            elif e.stop:
                self.emit(
                    depth + 1,
                    f"raise BitstreamError({e.name!r} + ' = ' + str(x) + ': ' + {rule}, p, {e.name!r}, {src})",
                    e.name,
                )
            else:
                self.emit(depth + 1, f"f.append(Finding({e.name!r}, p, {rule}, {src}, {e.severity!r}))")
        self.emit(depth, f"{self.alias(e.name, e.index)} = x")

    def read_value(self, desc: str, depth: int, element: str) -> None:
        """Reader code leaving the value of one descriptor in ``x``.

        ``u(n)``, ``f(n)``, ``ue(v)`` and ``se(v)`` are read inline from the reader's window
        (locals ``_win``, ``_wlim``, ``_wend``, ``pos``; see :class:`sei.bitio.BitReader`):
        a shift and a mask per element instead of a method call. ``st(v)`` calls the reader.
        """

        def emit(line: str) -> None:
            self.emit(depth, line, element)

        if desc.startswith(("u(", "f(")):
            width = self.expr(desc[2:-1])
            if width.isdigit():
                n, mask = width, str((1 << int(width)) - 1)
            else:
                emit(f"_n = {width}")
                n, mask = "_n", "((1 << _n) - 1)"
            emit(f"pos += {n}")
            emit(f"if pos > _wend: _win, _wlim, _wend = _refill(r, pos - {n}, {n})")
            emit(f"x = (_win >> (_wlim - pos)) & {mask}")
        elif desc in ("ue(v)", "se(v)"):
            # At least 64 bits follow pos in the window (BitReader's invariant); a code that
            # ends past _wend (window end, or a broken code) takes the reader's own path.
            emit("_h = (_win >> (_wlim - pos - 64)) & 0xFFFFFFFFFFFFFFFF")
            emit("_z = 64 - _h.bit_length()")
            emit("if _z > 31 or pos + _z + _z >= _wend:")
            self.emit(depth + 1, "x, pos, _win, _wlim, _wend = _ue_slow(r, pos)", element)
            emit("else:")
            self.emit(depth + 1, "pos += _z + _z + 1", element)
            self.emit(depth + 1, "x = (_h >> (63 - _z - _z)) - 1", element)
            if desc == "se(v)":
                emit("x = (x + 1) >> 1 if x & 1 else -(x >> 1)")
        else:
            emit("r.pos = pos")
            emit(f"x = {self.method('st')}()")
            emit("pos = r.pos; _win, _wlim, _wend = r._win, r._wlim, r._wend")

    def node_Align(self, a: Align, depth: int) -> None:
        label = a.trace or a.name
        if self.writer:
            self.emit(depth, "while w.pos & 7:")
            if self.traced:
                self.emit(depth + 1, f"t.append(({label!r}, 0, w.pos))")
            self.emit(depth + 1, f"{self.method('u')}(0, 1)", a.name)
        else:
            rule = self.const(f"{a.name} shall be equal to 0")
            src = self.const(a.source or self.syntax.sources[0])
            self.emit(depth, "while pos & 7:")
            self.emit(depth + 1, "p = pos")
            self.read_value("u(1)", depth + 1, a.name)
            if self.traced:
                self.emit(depth + 1, f"t.append(({label!r}, x, p))")
            self.emit(depth + 1, f"if x: f.append(Finding({a.name!r}, p, {rule}, {src}))")

    def node_PayloadBytes(self, pb: PayloadBytes, depth: int) -> None:
        label = pb.trace or pb.name
        if self.writer:
            self.emit(depth, f"x = bytes(v[{pb.name!r}]); p = w.pos; w.raw_bytes(x)", pb.name)
        else:
            self.emit(depth, f"p = r.pos = pos; x = r.bytes_to_end(); v[{pb.name!r}] = x", pb.name)
            self.emit(depth, "pos = r.pos; _win, _wlim, _wend = r._win, r._wlim, r._wend")
        if self.traced:
            self.emit(depth, f"if x: t.append(({label!r}, Run(int.from_bytes(x, 'big'), len(x), 8, True), p))")

    def node_If(self, node: If, depth: int) -> None:
        self.emit(depth, f"if {self.expr(node.cond)}:")
        self.body(node.then, depth + 1)
        if node.orelse:
            self.emit(depth, "else:")
            self.body(node.orelse, depth + 1)
        # What the branches stored is not known to be in a local afterwards ...
        assigned = _assigned(node.then) | _assigned(node.orelse)
        for name in assigned:
            self.scope.forget(name)
        # ... but a scalar that is surely set (in both branches, or inferred at the start) and
        # is read inside some loop later is worth one reload into a local.
        sure = (_definite(node.then) & _definite(node.orelse)) | (assigned & set(self.inferred))
        for name in sorted((sure - self.indexed) & self.loop_refs):
            self.emit(depth, f"{self.alias(name, ())} = v[{name!r}]")

    def node_For(self, node: For, depth: int) -> None:
        bounds = self.expr(node.count) if node.start == 0 else f"{self.expr(node.start)}, {self.expr(node.count)}"
        self.emit(depth, f"for {node.var} in range({bounds}):")
        # From the second iteration on, what the body stores replaces what was known before it.
        for name in _assigned(node.body):
            self.scope.forget(name)
        # A multi-index key used more than once in this iteration is built once.
        keys = [ix for ix in _indices(node.body) if len(ix) > 1 and ix[-1] == node.var]
        added = [ix for ix in dict.fromkeys(keys) if keys.count(ix) > 1 and ix not in self.keys]
        for ix in added:
            self.keys[ix] = f"_k{len(self.keys)}"
            self.emit(depth + 1, f"{self.keys[ix]} = ({', '.join(ix)})")
        self.body(node.body, depth + 1, node.var)
        for ix in added:
            del self.keys[ix]
        for name in _assigned(node.body):
            self.scope.forget(name)

    def node_Let(self, node: Let, depth: int) -> None:
        value = self.expr(node.expr)
        local = self.alias(node.name, node.index)
        self.emit(depth, f"{self.target(node.name, node.index)} = {local} = {value}")

    def node_Check(self, node: Check, depth: int) -> None:
        if self.writer and node.severity != "error":
            return  # a warning (legal syntax that VTM mishandles) does not stop a writer
        rule, src = self.const(node.rule), self.const(node.source)
        self.emit(depth, f"if not ({self.expr(node.cond)}):")
        if self.writer:
            self.emit(depth + 1, f"raise SEIWriteError({node.element!r} + ': ' + {rule})", node.element)
        else:
            self.emit(depth + 1, f"f.append(Finding({node.element!r}, pos, {rule}, {src}, {node.severity!r}))")

    def node_Require(self, node: Require, depth: int) -> None:
        rule, src = self.const(node.rule), self.const(node.source)
        self.emit(depth, f"if not ({self.expr(node.cond)}):")
        if self.writer:
            self.emit(depth + 1, f"raise SEIWriteError({node.element!r} + ': ' + {rule})", node.element)
        else:
            error = "SizeLimitError" if node.limit else "BitstreamError"
            self.emit(
                depth + 1,
                f"raise {error}({node.element!r} + ': ' + {rule}, pos, {node.element!r}, {src})",
                node.element,
            )

    def node_SelectState(self, node: SelectState, depth: int) -> None:
        key = self.expr(node.key)
        self.emit(depth, f"v['_state_key'] = {key}")
        self.emit(depth, f"state = ctx.select_state({self.syntax.payload_type!r}, {key})")

    def node_Hook(self, node: Hook, depth: int) -> None:
        if node.name not in self.hooks:
            raise ValueError(f"{self.syntax.name}: hook {node.name!r} not provided")
        self.emit(depth, f"_hook_{node.name}(v, state, ctx)")
        self.scope.clear()

    def node_Derived(self, node: Derived, depth: int) -> None:
        if self.traced:
            cond = self.expr(node.cond)
            test = "" if cond == "True" else f"if {cond}: "
            self.emit(depth, f"{test}t.append((DERIVED, {node.label!r}, None))")

    def build(self) -> tuple[Callable, str, str, dict[int, str]]:
        kind = "write" if self.writer else "read"
        fname = f"{kind}_traced" if self.traced else f"{kind}_plain"
        args = "w, v, ctx, t" if self.writer else "r, ctx, t, f"
        self.emit(0, f"def {fname}({args}):")
        dicts = sorted(self.indexed)
        if self.writer:
            self.emit(1, "v = _prepare(v)")
            for name, value in self.inferred.items():
                self.emit(1, f"v.setdefault({name!r}, {value!r})")
            for name in dicts:
                self.emit(1, f"{_local('_d', name)} = v[{name!r}]")
        else:
            for name in dicts:
                if name in self.compact:
                    self.emit(
                        1, f"{_local('_d', name)} = _ElementArray(); {_local('_s', name)} = {_local('_d', name)}.add"
                    )
                else:
                    self.emit(1, f"{_local('_d', name)} = {{}}")
            self.emit(1, "v = {" + ", ".join(f"{n!r}: {_local('_d', n)}" for n in dicts) + "}")
            for name, value in self.inferred.items():
                self.emit(1, f"v[{name!r}] = {value!r}")
            self.emit(1, "pos = r.pos; _win, _wlim, _wend = r._win, r._wlim, r._wend")
        self.emit(1, "state = None")
        body_at = len(self.lines)
        self.emit(1, "try:")
        self.body(self.syntax.body, 2)
        if self.writer:
            self.emit(1, "except KeyError as err:")
            self.emit(2, f"raise _missing(err, _element_at_line(err, {fname!r})) from None")
        else:
            self.emit(1, "except BitstreamError as err:")
            self.emit(2, f"if err.element is None: err.element = _element_at_line(err, {fname!r})")
            self.emit(2, "raise")
            self.emit(1, "r.pos = pos")
        self.emit(1, "return v")
        preamble = []
        obj = "w" if self.writer else "r"
        for m in sorted(self.methods):
            preamble.append(f"    _m_{m} = {obj}.{m}")
        if self.uses_bits_left and self.writer:
            # The writer writes what a ``payload_bits_left()`` test guards (VTM writers do).
            preamble.append("    payload_bits_left = _ALWAYS")
        self.lines[body_at:body_at] = preamble
        shift = len(preamble)
        line_element = {(n + shift if n > body_at else n): el for n, el in self.line_element.items()}
        return self._compile(fname), fname, "\n".join(self.lines) + "\n", line_element

    def _compile(self, fname: str) -> Callable:
        src = "\n".join(self.lines) + "\n"
        namespace: dict[str, Any] = {
            "Finding": Finding,
            "BitstreamError": BitstreamError,
            "SizeLimitError": SizeLimitError,
            "SEIWriteError": SEIWriteError,
            "DERIVED": DERIVED,
            "Run": Run,
            "_ElementArray": ElementArray,
            "_ALWAYS": _always_bits_left,
            "_missing": _missing,
            "_refill": _refill,
            "_ue_slow": _ue_slow,
            **self.consts,
        }
        for hname, fn in self.hooks.items():
            namespace[f"_hook_{hname}"] = fn
        self.namespace = namespace
        code = compile(src, self.filename(fname), "exec")
        exec(code, namespace)  # noqa: S102 - source generated from our own syntax tables
        return namespace[fname]

    def filename(self, fname: str) -> str:
        return f"<{self.syntax.name}.{fname}>"


def _multi_indexed(body: tuple) -> set[str]:
    """Names of the syntax elements of ``body`` with two or more indices (stored by the reader
    in :class:`sei.compact.ElementArray`)."""
    out: set[str] = set()
    for node in body:
        if isinstance(node, Element) and len(node.index) >= 2:
            out.add(node.name)
        elif isinstance(node, If):
            out |= _multi_indexed(node.then) | _multi_indexed(node.orelse)
        elif isinstance(node, For):
            out |= _multi_indexed(node.body)
    return out


def _definite(body: tuple) -> set[str]:
    """Scalar names ``body`` stores whichever way its conditions go."""
    out: set[str] = set()
    for node in body:
        if isinstance(node, (Element, Let)) and not node.index:
            out.add(node.name)
        elif isinstance(node, If):
            out |= _definite(node.then) & _definite(node.orelse)
    return out


def _loop_refs(body: tuple, in_loop: bool = False) -> set[str]:
    """Names read by expressions inside loops of ``body``."""
    out: set[str] = set()

    def names(text: Any) -> set[str]:
        if isinstance(text, int):
            return set()
        return {n.id for n in ast.walk(ast.parse(str(text), mode="eval")) if isinstance(n, ast.Name)}

    for node in body:
        if isinstance(node, If):
            if in_loop:
                out |= names(node.cond)
            out |= _loop_refs(node.then, in_loop) | _loop_refs(node.orelse, in_loop)
        elif isinstance(node, For):
            if in_loop:
                out |= names(node.count) | names(node.start)
            out |= _loop_refs(node.body, True)
        elif in_loop and isinstance(node, Element):
            if node.desc.startswith(("u(", "f(")):
                out |= names(node.desc[2:-1])
            if node.range:
                out |= names(node.range[0]) | names(node.range[1])
        elif in_loop and isinstance(node, (Let, Check, Require)):
            out |= names(node.expr if isinstance(node, Let) else node.cond)
    return out


def _indices(body: tuple) -> list[tuple[str, ...]]:
    """Index tuples of the elements and derived variables stored by ``body`` outside nested
    loops (one entry per storing node)."""
    out: list[tuple[str, ...]] = []
    for node in body:
        if isinstance(node, (Element, Let)) and node.index:
            out.append(node.index)
        elif isinstance(node, If):
            out += _indices(node.then) + _indices(node.orelse)
    return out


def _assigned(body: tuple) -> set[str]:
    """Names an element or derived variable of ``body`` (at any depth) is stored under."""
    out: set[str] = set()
    _names(body, out, set(), {})
    return out


def _missing(err: KeyError, element: str | None) -> SEIWriteError:
    """The writer's error for a value missing from its input."""
    key = err.args[0] if err.args else None
    what = element or (key if isinstance(key, str) else "?")
    where = "" if key is None or key == what else f" ({key!r})"
    return SEIWriteError(f"missing value of syntax element {what}{where}")


def _refill(r: Any, start: int, n: int) -> tuple[int, int, int]:
    """Reader window after an inline ``u(n)`` read at ``start`` went past ``_wend``:
    ``(_win, _wlim, _wend)``.

    Raises:
        BitstreamError: the read goes past the end of the data.
    """
    if start + n > r.end:
        raise BitstreamError(f"u({n}) reads past the end of the data", start)
    r.pos = start
    r._fill(start, n)
    return r._win, r._wlim, r._wend


def _ue_slow(r: Any, pos: int) -> tuple[int, int, int, int, int]:
    """An ``ue(v)`` at ``pos`` that the inline code does not finish (window end or broken
    code): ``(value, new pos, _win, _wlim, _wend)``.

    Raises:
        BitstreamError: the code is broken or goes past the end of the data.
    """
    r.pos = pos
    value = r.ue()
    return value, r.pos, r._win, r._wlim, r._wend


def _always_bits_left() -> int:
    """``payload_bits_left()`` on the writer side: always more than any test asks for."""
    return 1 << 62


def compile_syntax(syntax: Syntax, hooks: dict[str, Callable] | None = None) -> CompiledSyntax:
    """Compiles ``syntax`` into reader and writer functions (each in a variant with and one
    without trace code).

    Args:
        syntax: the table.
        hooks: functions named by the table's :class:`Hook` nodes, called as ``fn(v, state, ctx)``.

    Raises:
        ValueError: the table uses an unknown descriptor or hook.
    """
    hooks = hooks or {}
    funcs: dict[str, Callable] = {}
    sources: list[str] = []
    lines: dict[str, dict[int, str]] = {}
    indexed: frozenset[str] = frozenset()
    gens = []
    for writer in (False, True):
        for traced in (False, True):
            gen = _Gen(syntax, hooks, writer, traced)
            gens.append(gen)
            fn, fname, src, line_element = gen.build()
            funcs[fname] = fn
            sources.append(src)
            lines[gen.filename(fname)] = line_element
            if not writer:
                indexed = frozenset(gen.indexed)

    def _prepare(values: dict) -> dict:
        out = dict(values)
        for name in indexed:
            cur = out.get(name)
            if cur is None:
                out[name] = {}
            elif not isinstance(cur, (dict, Mapping)):
                out[name] = dict(enumerate(cur))
            else:
                out[name] = dict(cur)
        return out

    def _element_at_line(err: BaseException, fname: str) -> str | None:
        return compiled.element_at(err)

    for gen in gens:
        gen.namespace["_prepare"] = _prepare
        gen.namespace["_element_at_line"] = _element_at_line

    read_plain, read_traced = funcs["read_plain"], funcs["read_traced"]
    write_plain, write_traced = funcs["write_plain"], funcs["write_traced"]

    def read(r: Any, ctx: Any, t: list | None, f: list) -> dict:
        return read_plain(r, ctx, t, f) if t is None else read_traced(r, ctx, t, f)

    def write(w: Any, v: dict, ctx: Any, t: list | None) -> dict:
        return write_plain(w, v, ctx, t) if t is None else write_traced(w, v, ctx, t)

    compiled = CompiledSyntax(syntax, read, write, "\n".join(sources), lines)
    return compiled
