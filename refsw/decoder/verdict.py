"""One verdict for ``gfv-check`` and ``gfv-decode``: findings placed in access units, the VVC
layer decoded up to its damage, and concealment (issue 13, items 4 and 6).

The decoder runs the checker's rules (:func:`sei.checker.check_stream`, the same code as
``gfv-check``) on the stream it decodes. Every finding of severity ``error`` or ``limit``
(docs/conformance.md#severity-policy) becomes a :class:`Damage`: the finding, its access unit,
the key picture whose segment it affects and the first ``gfv_cnt`` of that segment that cannot
be synthesised. Without concealment the first damage stops decoding (:class:`DecodeStopped`);
with it (``gfv-decode --conceal``) :class:`Concealment` says, per segment, which pictures are
synthesised and which repeat the last good picture, and decoding recovers at the next key
picture (whose access unit carries the next base GFV message).

The VVC layer is decoded by FFmpeg with ``-xerror``, which refuses a whole stream for one
damaged access unit; :func:`decode_key_pictures` finds, by bisection over access-unit prefixes,
the longest prefix that decodes and names the first access unit that does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from refsw.codecs import CodecBackend, CodecError, create_backend
from refsw.media.colour import Planes, i420_to_rgb
from sei.carriage import access_units, strip_sei
from sei.checker import CheckFinding, CheckReport, MessageSummary
from sei.errors import BitstreamError
from sei.nal import NalUnit, read_nal_units

from .errors import StreamError

if TYPE_CHECKING:
    from .picture_log import PictureLog

#: Severities that stop decoding (or are concealed): a violated rule, or a bound of this software.
BLOCKING = ("error", "limit")
#: Elements of the SEI framing findings (:func:`sei.sei_message.scan_sei_rbsp`): the SEI NAL unit
#: is unreadable from there on.
SEI_FRAMING = frozenset({"payload_type_byte", "payload_size_byte", "payloadSize", "rbsp_trailing_bits"})
#: Source cited for key pictures the VVC decoder refuses.
VCL_SOURCE = "H.266 coded picture, decoded with FFmpeg's vvc decoder (-xerror)"


@dataclass(frozen=True)
class Damage:
    """A finding that stops the decoding of some pictures.

    Attributes:
        finding: the checker's finding (element, rule, source, offsets), or the VVC decoder's.
        access_unit: index of its access unit (H.266 7.4.2.4; :func:`sei.carriage.access_units`).
        key_picture: index (decoding order) of the key picture whose segment it affects.
        from_cnt: first ``gfv_cnt`` of that segment that cannot be synthesised; 0 means no
            picture of the segment can be synthesised (the key picture itself is kept when the
            VVC decoder decoded it).
        key_lost: the key picture itself was not decoded.
        unknown_count: the damaged message may have signalled pictures whose number is unknown
            (an unreadable message, or one whose payloadType is not a GFV message's any more).
    """

    finding: CheckFinding
    access_unit: int
    key_picture: int
    from_cnt: int
    key_lost: bool = False
    unknown_count: bool = False

    def describe(self, source: bool = True) -> str:
        """One line: access unit, byte offset, element, rule and (with ``source``) its source."""
        f = self.finding
        at = "" if f.stream_byte_offset is None else f" (stream byte {f.stream_byte_offset})"
        msg = "" if f.message_index is None else f", SEI message {f.message_index}"
        cited = f" [{f.source}]" if source else ""
        return f"access unit {self.access_unit}{at}{msg}: {f.element}: {f.rule}{cited}"


class DecodeStopped(StreamError):
    """The stream has an error the decoder will not decode past (no ``--conceal``).

    Attributes:
        damage: every blocking finding, the first one first.
    """

    def __init__(self, damage: list[Damage]) -> None:
        more = len(damage) - 1
        also = f"{more} more finding{'s' if more > 1 else ''}; " if more > 0 else ""
        super().__init__(f"{damage[0].describe(source=False)} ({also}gfv-check gives sources; --conceal decodes on)")
        self.damage = damage


@dataclass
class KeyPictures:
    """The VVC decoder's output for the coded pictures of a stream.

    Attributes:
        planes: ``(Y (n, H, W), U, V (n, H/2, W/2))`` uint8 of the first ``n`` key pictures
            (decoding order), ``None`` when none decoded.
        coded: number of coded pictures (access units with a VCL NAL unit).
        failure: the first key picture that did not decode, as a :class:`Damage`, or ``None``.
    """

    planes: Planes | None
    coded: int
    failure: Damage | None = None

    @property
    def decoded(self) -> int:
        """Number of key pictures decoded (the first ``decoded`` in decoding order)."""
        return 0 if self.planes is None else len(self.planes[0])


def _vcl_access_units(nals: list[NalUnit]) -> tuple[list[int], list[int]]:
    """``(access unit of every NAL unit, sorted access units with a VCL NAL unit)``."""
    aus = access_units(nals)
    return aus, sorted({aus[i] for i, n in enumerate(nals) if n.is_vcl})


def decode_key_pictures(codec: CodecBackend, stream: bytes, nals: list[NalUnit]) -> KeyPictures:
    """Decodes the coded pictures of ``stream`` up to the first access unit the VVC decoder
    refuses.

    The VVC decoder gets the stream without its SEI NAL units (:func:`sei.carriage.strip_sei`):
    the SEI layer is the checker's, and FFmpeg with ``-xerror`` would refuse a picture for a
    damaged SEI message it does not even use. The whole stream is decoded first (one FFmpeg run
    when nothing is damaged); when that fails or returns another number of pictures than the
    stream codes, prefixes ending before an access unit are bisected (about log2(number of
    pictures) more runs) for the longest one that decodes to all its pictures. Pictures after
    the damage are not decoded: key pictures after the first are inter pictures that refer to
    the damaged one.

    Args:
        codec: a backend with ``decode_yuv`` (the FFmpeg VVC backend).
        stream: the Annex B byte stream.
        nals: its NAL units (:func:`sei.nal.read_nal_units`).

    Returns:
        The decoded key pictures and, if any did not decode, the first failure as a
        :class:`Damage` (element ``slice_layer_rbsp``, one line from the decoder's log).
    """
    aus, vcl_aus = _vcl_access_units(nals)
    coded = len(vcl_aus)
    vcl_stream = strip_sei(stream)
    planes, reason = _try(codec, vcl_stream, coded)
    if planes is not None or coded == 0:
        return KeyPictures(planes, coded)
    first_vcl = {au: min(i for i, n in enumerate(nals) if n.is_vcl and aus[i] == au) for au in vcl_aus}
    stripped = read_nal_units(vcl_stream)
    stripped_aus, stripped_vcl_aus = _vcl_access_units(stripped)

    def prefix(m: int) -> bytes:
        """The SEI-less stream before the first NAL unit of the access unit of coded picture ``m``."""
        nal = stripped[stripped_aus.index(stripped_vcl_aus[m])]
        return vcl_stream[: nal.offset - nal.start_code_len]

    lo, hi, best = 0, coded - 1, None  # invariant: prefix(lo) decodes (trivially for 0), prefix(hi + 1) does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        got, why = _try(codec, prefix(mid), mid)
        if got is not None:
            lo, best = mid, got
        else:
            hi, reason = mid - 1, why or reason
    # coded picture ``lo`` is the first that does not decode
    nal_index = first_vcl[vcl_aus[lo]]
    nal = nals[nal_index]
    finding = CheckFinding(
        element="slice_layer_rbsp",
        rule=f"the VVC decoder cannot decode coded picture {lo} ({reason}); it and later pictures are not decoded",
        source=VCL_SOURCE,
        severity="error",
        nal_index=nal_index,
        nal_byte_offset=0,
        nal_bit_offset=0,
        stream_byte_offset=nal.offset,
    )
    return KeyPictures(best, coded, Damage(finding, vcl_aus[lo], lo, 0, key_lost=True))


def key_pictures_rgb(
    codec: CodecBackend, stream: bytes, nals: list[NalUnit], conceal: bool = False
) -> tuple[np.ndarray, KeyPictures | None]:
    """The decoded key pictures of ``stream`` as RGB, the one VVC decode path of ``gfv-decode``
    and ``gfv-translate``.

    Backends with ``decode_yuv`` (FFmpeg) go through :func:`decode_key_pictures`; others decode
    the whole stream with ``codec.decode``.

    Args:
        codec: the VVC decoder backend.
        stream: the Annex B byte stream.
        nals: its NAL units (:func:`sei.nal.read_nal_units`).
        conceal: keep the key pictures decoded before a failure instead of stopping.

    Returns:
        ``(keys (n, H, W, 3) uint8 RGB, the KeyPictures record or None for other backends)``.

    Raises:
        DecodeStopped: a key picture does not decode (with ``conceal``: none decodes).
    """
    decoded = decode_key_pictures(codec, stream, nals) if hasattr(codec, "decode_yuv") else None
    if decoded is None:
        return codec.decode(stream).frames, None
    if decoded.failure is not None and (not conceal or decoded.planes is None):
        raise DecodeStopped([decoded.failure])
    keys = i420_to_rgb(*decoded.planes) if decoded.planes is not None else codec.decode(stream).frames
    return keys, decoded


def _try(codec: CodecBackend, data: bytes, pictures: int) -> tuple[Planes | None, str]:
    """``(planes, "")`` when ``data`` decodes to exactly ``pictures`` pictures, else
    ``(None, one-line reason)``."""
    if pictures == 0:
        return None, "no coded picture"
    try:
        y, u, v = codec.decode_yuv(data)  # type: ignore[attr-defined]  # the FFmpeg backends
    except CodecError as err:
        return None, _one_line(str(err))
    if len(y) != pictures:
        return None, f"{len(y)} pictures decoded for {pictures} coded"
    return (y, u, v), ""


#: FFmpeg's AVERROR_INVALIDDATA ("Invalid data found when processing input") as it prints it.
_AVERROR_INVALIDDATA = "-1094995529"


def _one_line(error: str) -> str:
    """The first message of the decoder's log (:class:`CodecError` text: ``what: return code
    N: log | log...``) without FFmpeg's ``[vvc @ 0x...]`` prefixes and error numbers."""
    log = error.split(": ", 2)[-1] if ": return code " in error else error
    for part in log.replace("\n", " | ").split(" | "):
        text = part.strip()
        while text.startswith("[") and "]" in text:
            text = text[text.index("]") + 1 :].strip()
        if text:
            text = " ".join(text.replace(f"failed with {_AVERROR_INVALIDDATA}", "failed: invalid data").split())
            return text.rstrip(".")
    return "decoder error"


def check_vcl(stream: bytes, backend: str = "vvenc") -> tuple[int, CheckFinding | None]:
    """``gfv-check``'s VVC layer: decodes the coded pictures (FFmpeg's VVC decoder, as
    ``gfv-decode``) and returns ``(pictures decoded, finding naming the first access unit that
    does not decode, or None)``.

    Raises:
        StreamError: ``stream`` cannot be split into NAL units.
        CodecError: the decoder is not available.
    """
    try:
        nals = read_nal_units(stream)
    except BitstreamError as err:
        raise StreamError(f"not a VVC byte stream: {err}") from err
    keys = decode_key_pictures(create_backend(backend), stream, nals)
    return keys.decoded, None if keys.failure is None else keys.failure.finding


def locate(report: CheckReport, nals: list[NalUnit]) -> list[Damage]:
    """The blocking findings (severity ``error`` or ``limit``) of ``report`` placed in the
    stream: access unit, key picture, first ``gfv_cnt`` that cannot be synthesised.

    A finding on a GFV message damages its picture (``gfv_cnt``) and the ones after it
    (prediction runs forward); one on another message of the access unit damages the picture
    after the last GFV message before it (a GFVE message follows the GFV message it enhances,
    so its picture); a finding before any GFV message of the access unit, or one not tied to a
    message, damages the whole segment.
    """
    aus, vcl_aus = _vcl_access_units(nals)
    out: list[Damage] = []
    for f in report.findings:
        if f.severity not in BLOCKING:
            continue
        au = aus[f.nal_index] if f.nal_index is not None and f.nal_index < len(aus) else 0
        key = max((k for k, a in enumerate(vcl_aus) if a <= au), default=0)
        cnt, unknown = _from_cnt(report, aus, f, au)
        out.append(Damage(f, au, key, cnt, unknown_count=unknown))
    return out


def _from_cnt(report: CheckReport, aus: list[int], f: CheckFinding, au: int) -> tuple[int, bool]:
    """``(first damaged gfv_cnt, whether the damage may have hidden GFV messages)``."""
    if f.message_index is not None and f.message_index < len(report.messages):
        msg = report.messages[f.message_index]
        cnt = _gfv_cnt(msg)
        if cnt is not None:
            return cnt, False
        earlier = report.messages[: f.message_index]
        hidden, enhances = not msg.parsed or msg.name in ("gfv", "unknown"), msg.name == "gfve"
    elif f.element in SEI_FRAMING and f.nal_index is not None:
        # the messages framed before the damage stand; the rest of the SEI NAL unit is lost
        earlier = [m for m in report.messages if m.nal_index <= f.nal_index]
        hidden, enhances = True, False
    else:
        return 0, False
    cnts = [c for m in earlier if _in_au(m, aus, au) and (c := _gfv_cnt(m)) is not None]
    if not cnts:
        return 0, hidden
    return (cnts[-1] if enhances else cnts[-1] + 1), hidden


def _in_au(m: MessageSummary, aus: list[int], au: int) -> bool:
    return m.nal_index < len(aus) and aus[m.nal_index] == au


def _gfv_cnt(m: MessageSummary) -> int | None:
    return int(m.fields["gfv_cnt"]) if m.name == "gfv" and "gfv_cnt" in m.fields else None


def signalled_pictures(report: CheckReport, nals: list[NalUnit]) -> dict[int, int]:
    """Output pictures each key picture's segment signals: 1 + the largest ``gfv_cnt`` of the
    GFV messages the checker read in its access unit (1 without GFV messages)."""
    aus, vcl_aus = _vcl_access_units(nals)
    key_of_au = {a: k for k, a in enumerate(vcl_aus)}
    out = dict.fromkeys(range(len(vcl_aus)), 1)
    for m in report.messages:
        cnt = _gfv_cnt(m)
        if cnt is not None and m.nal_index < len(aus):
            k = key_of_au.get(aus[m.nal_index], 0)
            out[k] = max(out.get(k, 1), cnt + 1)
    return out


@dataclass
class Concealment:
    """What ``gfv-decode --conceal`` does with each segment (key picture and the pictures
    synthesised from it).

    Attributes:
        damage: every blocking finding and VVC decoding failure.
        signalled: output pictures per segment (:func:`signalled_pictures`).
        causes: output picture index -> why it was concealed (filled while decoding).
        notes: one line per damage, for the user.
    """

    damage: list[Damage]
    signalled: dict[int, int]
    causes: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for d in self.damage:
            note = d.describe()
            if d.unknown_count:
                note += (
                    f"; the message may have signalled pictures of key picture {d.key_picture}'s segment "
                    f"that are not in the output (their number is unknown)"
                )
            self.notes.append(note)

    def first(self, k: int) -> Damage | None:
        """The damage of segment ``k`` with the smallest ``from_cnt`` (a lost key picture
        first), or ``None`` when the segment decodes."""
        hits = [d for d in self.damage if d.key_picture == k or (d.key_lost and d.key_picture < k)]
        return min(hits, key=lambda d: (not d.key_lost, d.from_cnt), default=None)

    def repeat(
        self, out: list[np.ndarray], pics: list[PictureLog], k: int, cnts: range, damage: Damage, shape: tuple
    ) -> None:
        """Appends one concealed picture per ``gfv_cnt`` in ``cnts`` of segment ``k`` to ``out``
        (``(H, W, 3)`` uint8 each, ``shape``): the last good picture (mid-grey when none was
        output yet), logged in ``pics`` with kind ``"concealed"``."""
        from .picture_log import PictureLog

        for cnt in cnts:
            good = next((i for i in range(len(pics) - 1, -1, -1) if pics[i].kind != "concealed"), None)
            picture = out[good] if good is not None else np.full(shape, 128, np.uint8)
            source = f"repeats picture {good}" if good is not None else "mid-grey (no good picture before it)"
            self.causes[len(out)] = f"{source}; {damage.describe()}"
            pics.append(PictureLog(len(out), "concealed", k, gfv_cnt=cnt))
            out.append(picture)


__all__ = [
    "Concealment",
    "Damage",
    "DecodeStopped",
    "KeyPictures",
    "check_vcl",
    "decode_key_pictures",
    "locate",
    "signalled_pictures",
]
