"""SEI layer: bit I/O, NAL units, SEI framing, table-driven message syntax, reconstruction and
VTM-format traces for the GFV, GFVE, NNPFC, NNPFA and SPTI SEI messages."""
