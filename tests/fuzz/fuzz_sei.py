"""Coverage-guided fuzzing of the SEI layer with atheris (libFuzzer for Python).

One input is a VVC Annex B byte stream. Each input goes through

* the SEI parser and reconstruction (:func:`sei.stream.read_stream_sei`),
* the conformance checker (:func:`sei.checker.check_stream`, with its VTM-format trace; not
  its JSON report, whose ``dataclasses.asdict`` took 60 % of the time of an input),
* the access-unit layer (:func:`sei.nal.read_nal_units`, :func:`sei.carriage.access_units`,
  :func:`sei.carriage.bit_budget`, :func:`sei.carriage.strip_sei`).

The GFV syntax variant (``C``/``B``) and the reconstruction mode (``vtm``/``spec``) are chosen
from the input's length, so that mutations reach both. The only accepted exceptions are the
documented errors of the SEI layer (:class:`sei.errors.SEIError` and its subclasses); any other
exception is a finding and stops the fuzzer with the input saved as ``crash-<sha1>``.

The packages ``sei`` and ``bitstream_spec`` are instrumented at import; the readers that
:mod:`sei.engine` generates from the syntax tables are compiled at run time, so the harness
instruments them itself (:func:`generated_readers`).

Usage (libFuzzer flags after the corpus directories; ``docs/conformance.md#fuzzing``)::

    python tests/fuzz/fuzz_sei.py CORPUS_DIR SEED_DIR -runs=1000000 -rss_limit_mb=300 -timeout=10
"""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator

import atheris

with atheris.instrument_imports(include=["sei", "bitstream_spec"]):
    from sei.carriage import access_units, bit_budget, strip_sei
    from sei.checker import check_stream
    from sei.context import DecodingContext
    from sei.errors import SEIError
    from sei.nal import read_nal_units
    from sei.registry import PayloadType, lookup
    from sei.stream import read_stream_sei


def generated_readers() -> Iterator[types.FunctionType]:
    """The reader functions :mod:`sei.engine` compiled for every registered message and
    variant (held in the closure of each ``CompiledSyntax.read``)."""
    for ptype in PayloadType:
        mt = lookup(ptype)
        for compiled in mt.syntax.values() if mt is not None else ():
            for cell in compiled.read.__closure__ or ():
                fn = cell.cell_contents
                if isinstance(fn, types.FunctionType) and fn.__code__.co_filename.startswith("<"):
                    yield fn


def one_input(data: bytes) -> None:
    """Runs ``data`` through the parser, the checker and the access-unit layer.

    Raises:
        Exception: anything but :class:`sei.errors.SEIError` (a finding for the fuzzer).
    """
    variant = "B" if len(data) & 1 else "C"
    mode = "spec" if len(data) & 2 else "vtm"
    try:
        read_stream_sei(data, DecodingContext(mode=mode, variant=variant), want_trace=False)
    except SEIError:
        pass
    try:
        check_stream(data, variant=variant, mode=mode, want_trace=True)
    except SEIError:
        pass
    try:
        access_units(read_nal_units(data))
        bit_budget(data)
        strip_sei(data)
    except SEIError:
        pass


def main(argv: list[str]) -> None:
    """Starts libFuzzer with ``argv`` (corpus directories and ``-flag=value`` options)."""
    logging.disable(logging.CRITICAL)  # the parser's warnings would flood the fuzzer's log
    for fn in generated_readers():
        atheris.instrument_func(fn)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
