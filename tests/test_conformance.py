"""Conformance against the VTM-23.13 vectors of ``<shared>/conformance/public``.

For every vector (``docs/conformance.md``; the vectors stay outside the repository):

a. the trace of our reader equals VTM's decoded-SEI dump (``.sei.txt``) character for character;
b. re-writing the parsed syntax values reproduces every SEI NAL unit of the ``.266`` byte for
   byte (syntax table writer + ``sei_rbsp`` framing + emulation prevention);
c. writing from the vector's ``.json`` inputs, with VTM's encoder-side quantisation
   (:mod:`refsw.encoder.vtm_json`), reproduces VTM's NAL units byte for byte.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest

from refsw.encoder.vtm_json import VtmJsonEncoder
from sei.context import DecodingContext
from sei.nal import NalUnitType, make_nal_unit, read_nal_units
from sei.sei_message import sei_rbsp, write_payload
from sei.stream import StreamSEI, read_stream_sei

_SEI_NUTS = (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT)


def _public_dir() -> Path:
    """``<shared>/conformance/public`` by the rule of the ``shared_dir`` fixture (needed at
    collection time to parametrise over the vectors)."""
    env = os.environ.get("GFV_SHARED")
    shared = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return shared / "conformance" / "public"


VECTORS = sorted(p.name for p in _public_dir().glob("*") if (p / f"{p.name}.266").is_file())


@cache
def _parsed(path: str) -> StreamSEI:
    """The vector's SEI messages, parsed and reconstructed once per session."""
    return read_stream_sei(Path(path).read_bytes())


def _vector(shared_dir: Path, name: str) -> Path:
    return shared_dir / "conformance" / "public" / name / name


@pytest.mark.parametrize("name", VECTORS)
def test_trace_equals_vtm_dump(shared_dir: Path, name: str) -> None:
    base = _vector(shared_dir, name)
    stream = _parsed(str(base.with_suffix(".266")))
    assert stream.errors == {}
    assert all(m.error is None for _, m in stream.messages)
    ours = stream.trace_text().splitlines()
    vtm = base.with_suffix(".sei.txt").read_text().splitlines()
    for n, (a, b) in enumerate(zip(ours, vtm)):
        assert a == b, f"{name}.sei.txt line {n + 1}"
    assert len(ours) == len(vtm)


@pytest.mark.parametrize("name", VECTORS)
def test_rewrite_parsed_values_reproduces_nal_units(shared_dir: Path, name: str) -> None:
    stream = _parsed(str(_vector(shared_dir, name).with_suffix(".266")))
    ctx = DecodingContext()
    sei_nals = [i for i, nal in enumerate(stream.nal_units) if nal.nal_unit_type in _SEI_NUTS]
    assert [i for i, _ in stream.messages] == sei_nals, "expected one SEI message per SEI NAL unit"
    for idx, msg in stream.messages:
        nal = stream.nal_units[idx]
        payload, _ = write_payload(msg.payload_type, msg.values, ctx, reserved_extension=msg.reserved_extension)
        assert payload == msg.payload, f"payloadType {msg.payload_type} in NAL unit {idx}"
        data = make_nal_unit(
            nal.nal_unit_type, sei_rbsp([(msg.payload_type, payload)]), nal.nuh_layer_id, nal.nuh_temporal_id_plus1
        )
        assert data == nal.data, f"NAL unit {idx}"


@pytest.mark.parametrize("name", VECTORS)
def test_write_from_json_inputs_reproduces_vtm(shared_dir: Path, name: str) -> None:
    base = _vector(shared_dir, name)
    doc = json.loads(base.with_suffix(".json").read_text())
    nals = [nal for nal in read_nal_units(base.with_suffix(".266").read_bytes()) if nal.nal_unit_type in _SEI_NUTS]
    assert len(doc["messages"]) == len(nals)
    encoder = VtmJsonEncoder()
    for n, (message, nal) in enumerate(zip(doc["messages"], nals)):
        assert encoder.nal_unit(message).hex() == nal.data.hex(), f"message {n} (payloadType {message['payloadType']})"
