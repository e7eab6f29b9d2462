"""Live decoding: a growing byte stream in, each output picture out as soon as it is described.

``gfv-decode --live`` (issue 14 item 4). :class:`LiveDecoder` is fed the bytes of an Annex B
stream as they arrive, in chunks of any size, and returns the pictures that became complete:

* NAL units are split at start codes; a coded slice is complete when the next start code
  arrives, and is then decoded at once by the VVC backend (FFmpeg's decoder, as the file decoder);
* an SEI NAL unit is read message by message while it arrives: a message is complete when its
  ``payloadSize`` bytes are there (H.274 7.3.1), so a picture's GFV message is handled before the
  next start code (the next picture) arrives;
* a GFV message is synthesised when the GFVE message that may enhance it (same ``gfv_id`` and
  ``gfv_cnt``) is known to be there or not: the live encoder puts both in one SEI NAL unit
  (:mod:`refsw.encoder.live`), so the end of that NAL unit (``rbsp_trailing_bits``) with no byte
  after it is enough; with bytes after it, the next NAL unit's first message decides. A stream
  whose GFVE messages come in separate NAL units is still decoded right when its bytes are
  there; when the reader catches up with the writer between the two, that picture takes the
  pupils of the previous GFVE message.

Pictures without a GFV message (parameter subsampling) are output when the next message arrives
(their parameters are interpolated between the two, as :func:`refsw.decoder.decode_stream` does).
Fed a whole stream, :class:`LiveDecoder` outputs exactly the pictures of
:func:`~refsw.decoder.decode_stream` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from refsw.codecs import create_backend
from refsw.media.colour import i420_to_rgb
from refsw.models import RepresentationMismatch
from sei.context import DecodingContext
from sei.errors import BitstreamError
from sei.nal import VCL_TYPES, NalUnitType, ebsp_to_rbsp
from sei.registry import PayloadType
from sei.sei_message import SEIMessage, parse_sei_rbsp, reconstruct, scan_sei_rbsp
from sei.stream import StreamSEI

from .decoder import PictureLog, stream_fps
from .errors import StreamError
from .generators import GeneratorResolver, ResolvedGenerator, unknown_generator
from .segment import Enhancement, SegmentSteps, generate

_START = b"\x00\x00\x01"
_SEI_TYPES = (NalUnitType.PREFIX_SEI_NUT, NalUnitType.SUFFIX_SEI_NUT)


@dataclass
class LivePicture:
    """One output picture of :class:`LiveDecoder`.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB.
        planes: for key pictures, the VVC decoder's own 8-bit 4:2:0 samples ``(Y (H, W),
            U (H/2, W/2), V (H/2, W/2))`` uint8 (written as they are); ``None`` for synthesised
            pictures.
        log: its line of the per-picture log (as :func:`refsw.decoder.decode_stream`'s).
    """

    rgb: np.ndarray
    planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    log: PictureLog


@dataclass
class _Pending:
    """A GFV message waiting for its possible GFVE message."""

    message: SEIMessage
    key: int
    nal_end: int | None = None  # stream position after its NAL unit, once that ended


class LiveDecoder:
    """Decodes a GFV stream from chunks of bytes as they arrive (see the module doc).

    Args:
        mode: reconstruction mode (``"vtm"`` or ``"spec"``), as :func:`~refsw.decoder.decode_stream`.
        variant: GFV syntax variant (``"C"`` or ``"B"``).
        backend: VVC decoder backend (:func:`refsw.codecs.create_backend`).
        deterministic: the generator's portable fp32 path.
    """

    def __init__(
        self, *, mode: str = "vtm", variant: str = "C", backend: str = "vvenc", deterministic: bool = False
    ) -> None:
        self.ctx = DecodingContext(mode, variant)
        self.deterministic = deterministic
        self.codec: Any = create_backend(backend)
        if not hasattr(self.codec, "decode_yuv"):
            raise StreamError(f"the VVC backend {backend!r} gives no 4:2:0 samples; live decoding needs an FFmpeg one")
        self.buf = bytearray()
        self.base = 0  # stream position of buf[0]
        self.nal_at: int | None = None  # buf index of the current NAL unit (after its start code)
        self.search_at = 0
        self.sei_handled = 0  # messages of the current SEI NAL unit already handled
        self.vcl = bytearray()  # the non-SEI NAL units so far, Annex B, for the VVC decoder
        self.messages: list[tuple[int, SEIMessage]] = []
        self.keys = 0  # key pictures decoded
        self.key: np.ndarray | None = None
        self.key_planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.key_output = True
        self.pending: list[_Pending] = []
        self.gfve: dict[tuple[int, int, int], dict] = {}
        self.resolver: GeneratorResolver | None = None
        self.resolved: ResolvedGenerator | None = None
        self.steps: SegmentSteps | None = None  # the current segment's
        self.out: list[LivePicture] = []
        self.count = 0

    @property
    def fps(self) -> float:
        """Output picture rate from the SPTI SEI message seen so far (25 without one)."""
        return stream_fps(StreamSEI([], self.messages))

    def feed(self, data: bytes) -> list[LivePicture]:
        """Adds bytes of the stream; returns the pictures completed by them, in output order.

        Raises:
            StreamError: the stream is not an Annex B byte stream, an SEI NAL unit or message is
                corrupted, or the stream names a generator this decoder does not have.
            refsw.codecs.CodecError: the VVC decoder failed on a coded slice.
        """
        self.buf += data
        self._split(final=False)
        self._emit_ready(final=False)
        return self._take()

    def finish(self) -> list[LivePicture]:
        """Ends the stream; returns the remaining pictures.

        Raises:
            StreamError: as :meth:`feed`, or the stream had no NAL unit.
        """
        self._split(final=True)
        self._emit_ready(final=True)
        self._output_bare_key()
        if self.nal_at is None and not self.count:
            raise StreamError("not a VVC byte stream: no start code")
        return self._take()

    def _take(self) -> list[LivePicture]:
        out, self.out = self.out, []
        return out

    def _split(self, final: bool) -> None:
        """Handles every NAL unit completed so far, and the complete messages of an SEI NAL
        unit still arriving."""
        buf = self.buf
        if self.nal_at is None:
            first = buf.find(_START)
            if first < 0:
                if final or (len(buf) > 3 and buf.strip(b"\x00")):
                    raise StreamError("not an Annex B byte stream: no start code at the beginning")
                return
            if buf[:first].strip(b"\x00"):
                raise StreamError("not an Annex B byte stream: no start code at the beginning")
            self.nal_at = self.search_at = first + 3
        while True:
            nxt = buf.find(_START, max(self.search_at, self.nal_at))
            if nxt < 0:
                self.search_at = max(self.nal_at, len(buf) - 2)
                if final:
                    self._nal(bytes(buf[self.nal_at :]).rstrip(b"\x00"), complete=True)
                else:
                    self._nal(bytes(buf[self.nal_at :]), complete=False)
                break
            self._nal(bytes(buf[self.nal_at : nxt]).rstrip(b"\x00"), complete=True)
            self.nal_at = self.search_at = nxt + 3
            self.sei_handled = 0
        if self.nal_at > 1 << 20:  # forget what was handled
            drop = self.nal_at - 3
            del buf[:drop]
            self.base += drop
            self.nal_at -= drop
            self.search_at -= drop

    def _nal(self, data: bytes, complete: bool) -> None:
        if len(data) < 2:
            return
        nut = data[1] >> 3
        if nut in _SEI_TYPES:
            self._sei(data, nut == NalUnitType.SUFFIX_SEI_NUT, complete)
        elif complete:
            self.vcl += b"\x00\x00\x01" + data
            if nut in VCL_TYPES:  # a coded slice
                self._decode_key_picture()

    def _sei(self, data: bytes, suffix: bool, complete: bool) -> None:
        at = self.base + (self.nal_at or 0)  # stream position of the NAL unit
        ebsp = data[2:]
        if not complete:  # the last bytes may still change meaning (00 00 03 emulation prevention)
            while ebsp.endswith((b"\x00", b"\x00\x00\x03")):
                ebsp = ebsp[:-1] if ebsp.endswith(b"\x00") else ebsp[:-3]
        try:
            rbsp = ebsp_to_rbsp(ebsp)
        except BitstreamError as err:
            raise StreamError(f"corrupted SEI NAL unit at byte {at}: {err}") from err
        frames, error = scan_sei_rbsp(rbsp) if rbsp else ([], None)
        if complete and error is not None:
            raise StreamError(f"corrupted SEI NAL unit at byte {at}: {error}")
        start = 0
        for j, (ptype, psize, off) in enumerate(frames):
            if j >= self.sei_handled:
                self._message(rbsp[start : off + psize] + b"\x80", suffix)
                self.sei_handled = j + 1
            start = off + psize
        if error is None and rbsp:  # rbsp_trailing_bits: the NAL unit has ended
            end = at + 2 + len(ebsp)
            for p in self.pending:
                if p.nal_end is None:
                    p.nal_end = end

    def _message(self, rbsp: bytes, suffix: bool) -> None:
        try:
            msgs = parse_sei_rbsp(rbsp, self.ctx, want_trace=False, suffix=suffix)
        except BitstreamError as err:  # framing was checked: not expected
            raise StreamError(f"corrupted SEI NAL unit: {err}") from err
        for m in msgs:
            if m.error is not None:
                raise StreamError(f"corrupted SEI message (payloadType {m.payload_type}): {m.error}")
            if m.values is None:
                continue
            reconstruct(m, self.ctx)
            self.messages.append((len(self.messages), m))
            if m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO:
                self.pending.append(_Pending(m, self.keys - 1))
            elif m.payload_type == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT:
                self.gfve[(self.keys - 1, m.values["gfve_gfv_id"], m.values["gfve_gfv_cnt"])] = m.recon or {}

    def _decode_key_picture(self) -> None:
        """Decodes the key picture whose coded slice just completed: the NAL units so far (no SEI)
        through the VVC backend's FFmpeg binary, as :func:`~refsw.decoder.decode_stream` does
        (PyAV 18.1's own libavcodec decodes vvenc's pictures differently from VTM, by up to 11
        levels, while the bundled FFmpeg 9 matches VTM sample for sample)."""
        y, u, v = self.codec.decode_yuv(bytes(self.vcl))
        if len(y) != self.keys + 1:
            raise StreamError(f"the VVC decoder returned {len(y)} pictures for {self.keys + 1} coded pictures")
        self._emit_ready(final=True)  # the previous segment is over
        self._output_bare_key()
        self.key_planes = (y[-1], u[-1], v[-1])
        self.key = i420_to_rgb(y[-1:], u[-1:], v[-1:])[0]
        self.key_output = False
        self.keys += 1
        self.steps = (
            None if self.resolved is None else SegmentSteps(self.resolved.layout, self._enhancement(self.keys - 1))
        )

    def _enhancement(self, key: int) -> Enhancement:
        """The GFVE lookup of key picture ``key``'s segment."""
        return lambda gfv_id, gfv_cnt: self.gfve.get((key, gfv_id, gfv_cnt))

    def _output_bare_key(self) -> None:
        """A key picture no GFV message described: output as it is."""
        if self.key is not None and not self.key_output:
            self._picture(self.key, self.key_planes, "key", -1, -1)

    def _emit_ready(self, final: bool) -> None:
        while self.pending:
            p = self.pending[0]
            v = cast(dict, p.message.values)
            enhanced = (p.key, v["gfv_id"], v["gfv_cnt"]) in self.gfve
            if not (final or enhanced or len(self.pending) > 1 or self._nothing_enhances(p)):
                return
            self.pending.pop(0)
            self._synthesise(p)

    def _nothing_enhances(self, p: _Pending) -> bool:
        """True when no GFVE message can follow ``p``'s GFV message (see the module doc)."""
        if p.nal_end is None:
            return False
        tail = bytes(self.buf[p.nal_end - self.base :])
        if not tail:
            return True  # live: the GFVE message would have been in the same NAL unit
        at = tail.find(_START)
        if at < 0 or len(tail) < at + 6:
            return False
        nut = tail[at + 4] >> 3
        return not (nut == NalUnitType.SUFFIX_SEI_NUT and tail[at + 5] == PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT)

    def _synthesise(self, p: _Pending) -> None:
        m = p.message
        v = cast(dict, m.values)
        if self.key is None or p.key < 0:
            raise StreamError("a GFV message precedes the first key picture")
        if v["BasePic"]:
            uri = v.get("gfv_uri")
            if self.resolver is None:
                self.resolver = GeneratorResolver(StreamSEI([], self.messages), self.deterministic)
            resolved = self.resolver.get(uri)
            if resolved is None:
                raise unknown_generator(uri)
            self.resolved = resolved
            if self.steps is None or self.steps.layout is not resolved.layout:
                self.steps = SegmentSteps(resolved.layout, self._enhancement(p.key))
        if self.resolved is None or self.steps is None:
            raise StreamError(f"GFV message gfv_cnt {v['gfv_cnt']} before any base message")
        spec, generator = self.resolved.spec, self.resolved.generator
        try:
            for step in self.steps.steps(m):
                if step.kind == "key":
                    generator.set_key_picture(self.key, step.params)
                    self.key_output = True
                    self._picture(self.key, self.key_planes, "key", step.gfv_id, step.gfv_cnt, m)
                else:
                    rgb = generate(spec, generator, step.params, step.previous)
                    self._picture(rgb, None, step.kind, step.gfv_id, step.gfv_cnt, step.message)
        except RepresentationMismatch as err:
            raise StreamError(f"GFV messages do not match generator {spec.name}: {err}") from err

    def _picture(
        self,
        rgb: np.ndarray,
        planes: Any,
        kind: str,
        gfv_id: int,
        gfv_cnt: int,
        m: SEIMessage | None = None,
    ) -> None:
        v = cast(dict, m.values) if m is not None else {}
        log = PictureLog(
            self.count,
            kind,
            self.keys - 1,
            gfv_id,
            gfv_cnt,
            8 * m.payload_size if m is not None else 0,
            v.get("gfv_low_confidence_face_parameter_flag", 0),
        )
        self.out.append(LivePicture(rgb, planes, log))
        self.count += 1
