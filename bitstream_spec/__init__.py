"""Machine-readable syntax tables of the SEI messages and NAL structures this software handles.

Each module describes one syntax structure with the small vocabulary of :mod:`bitstream_spec.dsl`;
:mod:`sei.engine` compiles the same table into the reader, the writer, the trace and the checks.
"""
