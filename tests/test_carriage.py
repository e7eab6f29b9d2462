"""SEI packing: the GFV and GFVE messages of an access unit in one suffix SEI NAL unit (the default)
or one per NAL unit (VTM EncoderApp's form); same messages, same pictures, fewer framing bits. The
streams are of the default model (``sem3d``: a GFV and a GFVE message per picture)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refsw.config import ConfigError, EncoderConfig
from refsw.decoder import decode_stream
from refsw.encoder import encode_video
from refsw.models import get_model
from refsw.train.data import VALIDATION_CLIPS, load_clip
from sei.carriage import bit_budget, insert_sei
from sei.checker import check_stream
from sei.nal import NalUnitType, read_nal_units
from sei.registry import PayloadType
from sei.sei_message import split_sei_rbsp


@pytest.fixture(scope="module")
def streams(shared_dir: Path) -> dict[str, bytes]:
    """24 pictures of the validation clip, a key picture about every 12 (``key_period`` 12: the
    default model moves a periodic key picture by at most a fifth of the period, here 2 pictures,
    so a third one may start before picture 24), in both packings."""
    frames = load_clip(VALIDATION_CLIPS[0], data_dir=shared_dir / "data", max_frames=24).frames
    return {
        p: encode_video(frames, 25.0, max_kbps=0.0, decision="none", key_period=12, sei_packing=p)[0]
        for p in ("per-access-unit", "per-message")
    }


def _suffix_payload_types(stream: bytes) -> list[list[int]]:
    """payloadTypes of each suffix SEI NAL unit with GFV / GFVE messages (not the VVC encoder's
    decoded picture hash NAL units)."""
    gfv = {PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT}
    types = [
        [t for t, _, _ in split_sei_rbsp(n.rbsp)]
        for n in read_nal_units(stream)
        if n.nal_unit_type == NalUnitType.SUFFIX_SEI_NUT
    ]
    return [t for t in types if gfv.intersection(t)]


def test_packed_is_the_default_and_holds_each_access_unit_in_one_nal_unit(streams: dict[str, bytes]) -> None:
    assert EncoderConfig().sei_packing == "per-access-unit"
    gfv, gfve = PayloadType.GENERATIVE_FACE_VIDEO, PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT
    packed, single = _suffix_payload_types(streams["per-access-unit"]), _suffix_payload_types(streams["per-message"])
    # one NAL unit per key picture (one slice each); parameter subsampling (sem3d's default): at
    # least the first and the last picture of each segment
    keys = sum(n.is_vcl for n in read_nal_units(streams["per-access-unit"]))
    assert len(packed) == keys >= 2 and 2 * keys <= sum(p.count(gfv) for p in packed) <= 24
    assert all(p[:2] == [gfv, gfve] for p in packed)
    assert [t for p in packed for t in p] == [t for (t,) in single]  # the same messages in the same order


def test_packings_carry_the_same_messages_and_pictures(streams: dict[str, bytes]) -> None:
    packed, single = (decode_stream(streams[p]) for p in ("per-access-unit", "per-message"))
    assert packed.sei.trace_text() == single.sei.trace_text()
    np.testing.assert_array_equal(packed.frames, single.frames)
    for stream in streams.values():
        assert check_stream(stream).conformant


def test_framing_bits_per_picture(streams: dict[str, bytes]) -> None:
    """Packed: 16 bits per message (payloadType and payloadSize bytes; GFV messages, and GFVE
    messages where the pupils change) plus one NAL unit's start code, header and trailing
    bits per access unit; one message per NAL unit: 8 bytes each."""
    m = sum(len(p) for p in _suffix_payload_types(streams["per-message"]))
    assert 4 < m <= 48
    packed, single = (bit_budget(streams[p]) for p in ("per-access-unit", "per-message"))
    assert packed.gfv_payload == single.gfv_payload and packed.key_pictures == single.key_pictures
    nal_overhead = 8 * (3 + 2 + 1)  # start code, NAL unit header, rbsp_trailing_bits
    assert 16 * m + 2 * nal_overhead <= packed.sei_framing <= 16 * m + 2 * (nal_overhead + 8 * 4)
    assert single.sei_framing == m * (16 + nal_overhead)
    assert packed.total < single.total


def test_unknown_packing_is_refused() -> None:
    with pytest.raises(ConfigError, match="sei_packing"):
        EncoderConfig(sei_packing="per-picture")
    with pytest.raises(ValueError, match="unknown SEI packing"):
        insert_sei(b"", {}, "per-picture")


def test_a_stream_without_nnpfa_still_names_its_generator(shared_dir: Path) -> None:
    """``--nnpfa 0`` (for stock VTM 23.13, whose DecoderApp may abort on an NNPFA): no NNPFA
    message, the NNPFC and the base GFV message still name the generator, which decodes it."""
    frames = load_clip(VALIDATION_CLIPS[0], data_dir=shared_dir / "data", max_frames=6).frames
    stream, _ = encode_video(frames, 25.0, max_kbps=0.0, decision="none", nnpfa=0)
    with_nnpfa, _ = encode_video(frames, 25.0, max_kbps=0.0, decision="none")
    sei = decode_stream(stream).sei
    types = [m.payload_type for _, m in sei.messages]
    assert PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION not in types
    assert PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION in [
        m.payload_type for _, m in decode_stream(with_nnpfa).sei.messages
    ]
    (base,) = [m for m in sei.of_type(PayloadType.GENERATIVE_FACE_VIDEO) if m.values["gfv_cnt"] == 0]
    (nnpfc,) = sei.of_type(PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS)
    assert base.values["gfv_uri"] == nnpfc.values["nnpfc_uri"] == get_model(EncoderConfig().model).uri
    decoded = decode_stream(stream)
    assert decoded.generator == EncoderConfig().model
    np.testing.assert_array_equal(decoded.frames, decode_stream(with_nnpfa).frames)
    assert check_stream(stream).conformant
