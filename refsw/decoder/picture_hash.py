"""Verification of the decoded picture hash SEI message (H.266 D.2) on the key pictures.

The hash of a colour component is computed over its decoded samples in raster order, one byte
per sample at bit depths up to 8 (H.266 D.2.2 ``pictureData``; VTM ``PicYuvMD5.cpp``), Y
(``cIdx`` 0), then Cb and Cr, for each of the three hash types (``dph_sei_hash_type``; VTM's and
VVenC's ``SEIDecodedPictureHash`` 1, 2 and 3 write them):

- 0, MD5: the MD5 of the plane's bytes (16 bytes);
- 1, CRC: the 16-bit CRC with generator polynomial 0x1021 of the plane's bytes, the register
  starting at 0xFFFF, the bits of each byte most significant first and 16 zero bits appended
  (H.266 D.2.2). That is CRC-16/CCITT started at 0x1D0F (0xFFFF after the 16 appended zero bits
  moved to the front), which :func:`binascii.crc_hqx` computes;
- 2, checksum: the sum, modulo 2^32, of each sample XOR ``xorMask = (x & 0xFF) ^ (y & 0xFF) ^
  (x >> 8) ^ (y >> 8)`` at its position ``(x, y)`` (H.266 D.2.2, one byte per sample).

The hash covers the decoded picture (``pps_pic_width_in_luma_samples`` by
``pps_pic_height_in_luma_samples``) while FFmpeg outputs the conformance-cropped picture: the two
agree when the picture has no conformance window, which is the case for the encoder's pictures
(sides that are multiples of 8); other sizes are reported as not verified.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass, field

import numpy as np

from refsw.media.colour import Planes
from sei.carriage import access_units
from sei.messages.dph import component_hashes
from sei.registry import PayloadType
from sei.stream import StreamSEI

from .errors import PictureHashError

#: Colour component names by ``cIdx`` (H.266 4:2:0).
COMPONENTS = ("Y", "Cb", "Cr")
#: Picture sides (luma samples) for which the decoded picture needs no conformance cropping:
#: multiples of the minimum picture size unit ``Max(8, MinCbSizeY)``, 8 for VVenC and VTM.
_SIZE_UNIT = 8
#: CRC-16/CCITT start value equal to D.2.2's register start 0xFFFF with 16 zero bits appended.
_CRC_START = 0x1D0F


def plane_md5(planes: tuple[np.ndarray, ...]) -> list[bytes]:
    """MD5 digest (16 bytes) of each 8-bit plane's samples in raster order (H.266 D.2.2 with
    bit depth 8; VTM ``calcMD5``). ``planes``: ``(Y (H, W), U (H/2, W/2), V (H/2, W/2))`` uint8."""
    return [hashlib.md5(np.ascontiguousarray(p, dtype=np.uint8).tobytes()).digest() for p in planes]


def plane_crc(planes: tuple[np.ndarray, ...]) -> list[bytes]:
    """CRC (2 bytes, big-endian as coded) of each 8-bit plane's samples in raster order (H.266
    D.2.2 ``crcVal`` with bit depth 8; VTM ``calcCRC``). ``planes`` as :func:`plane_md5`."""
    crcs = [binascii.crc_hqx(np.ascontiguousarray(p, dtype=np.uint8).tobytes(), _CRC_START) for p in planes]
    return [c.to_bytes(2, "big") for c in crcs]


def plane_checksum(planes: tuple[np.ndarray, ...]) -> list[bytes]:
    """Checksum (4 bytes, big-endian as coded) of each 8-bit plane (H.266 D.2.2 ``checksumVal``
    with bit depth 8; VTM ``calcChecksum``). ``planes`` as :func:`plane_md5`."""
    out = []
    for p in planes:
        h, w = p.shape
        y, x = np.mgrid[0:h, 0:w]
        mask = (x & 0xFF) ^ (y & 0xFF) ^ (x >> 8) ^ (y >> 8)
        out.append((int((p.astype(np.int64) ^ mask).sum()) & 0xFFFFFFFF).to_bytes(4, "big"))
    return out


#: ``dph_sei_hash_type`` -> (name, the hash of each plane).
HASHES = {0: ("MD5", plane_md5), 1: ("CRC", plane_crc), 2: ("checksum", plane_checksum)}


@dataclass(frozen=True)
class HashMismatch:
    """A key picture whose decoded samples do not have the hash its SEI message signals.

    Attributes:
        key_picture: index of the key picture (VVC picture in decoding order).
        nal_index: index of the SEI NAL unit carrying the hash.
        component: ``cIdx`` (0 Y, 1 Cb, 2 Cr).
        expected / got: hexadecimal digests (signalled / computed from the decoded samples).
        kind: the hash type's name, ``"MD5"``, ``"CRC"`` or ``"checksum"``.
    """

    key_picture: int
    nal_index: int
    component: int
    expected: str
    got: str
    kind: str = "MD5"

    def text(self) -> str:
        """One line naming the picture, the component, the expected and the computed hash."""
        return (
            f"decoded picture hash mismatch: key picture {self.key_picture} (SEI NAL unit {self.nal_index}), "
            f"component {COMPONENTS[self.component]} (cIdx {self.component}): {self.kind} expected {self.expected}, "
            f"got {self.got}"
        )


@dataclass
class HashVerification:
    """Outcome of the verification of every key picture.

    Attributes:
        verified: key pictures whose every component's hash matched.
        mismatches: every component that did not match.
        unhashed: key pictures without a decoded picture hash SEI message.
        notes: why some hashes were not verified (hash type, picture size, component count).
        kinds: the hash types checked (``"MD5"``, ``"CRC"``, ``"checksum"``), in stream order.
    """

    verified: int = 0
    mismatches: list[HashMismatch] = field(default_factory=list)
    unhashed: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


def verify_key_pictures(sei: StreamSEI, yuv: Planes) -> HashVerification:
    """Compares the decoded picture hash SEI message of each key picture's access unit with the
    hash (MD5, CRC or checksum, as the message says) of its decoded samples.

    Key picture ``k`` is the ``k``-th picture of ``yuv`` and the ``k``-th access unit with a
    coded picture (decoding order equals output order in the low-delay streams the encoder
    writes, as the decoder assumes).

    Args:
        sei: the stream's parsed SEI messages and NAL units.
        yuv: the VVC decoder's output, ``(Y (N, H, W), U (N, H/2, W/2), V (N, H/2, W/2))`` uint8.

    Returns:
        The verification outcome; a stream without the message gives every picture as unhashed.
    """
    out = HashVerification()
    aus = access_units(sei.nal_units)
    vcl_aus = sorted({aus[i] for i, n in enumerate(sei.nal_units) if n.is_vcl})
    key_of_au = {au: k for k, au in enumerate(vcl_aus)}
    hashes: dict[int, tuple[int, dict]] = {}
    for idx, m in sei.messages:
        k = key_of_au.get(aus[idx])
        if m.payload_type == PayloadType.DECODED_PICTURE_HASH and m.values is not None and k is not None:
            hashes.setdefault(k, (idx, m.values))
    h, w = yuv[0].shape[1:3]
    cropped = h % _SIZE_UNIT or w % _SIZE_UNIT
    for k in range(len(yuv[0])):
        if k not in hashes:
            out.unhashed.append(k)
            continue
        idx, v = hashes[k]
        signalled = component_hashes(v)
        if v["dph_sei_hash_type"] not in HASHES:
            out.notes.append(f"key picture {k}: reserved dph_sei_hash_type {v['dph_sei_hash_type']} is not verified")
        elif len(signalled) != 3:
            out.notes.append(f"key picture {k}: a single-component hash for a 4:2:0 picture is not verified")
        elif cropped:
            out.notes.append(f"key picture {k}: {w}x{h} may be conformance-cropped; its hash is not verified")
        else:
            kind, plane_hash = HASHES[v["dph_sei_hash_type"]]
            got = plane_hash(tuple(c[k] for c in yuv))
            if kind not in out.kinds:
                out.kinds.append(kind)
            bad = [
                HashMismatch(k, idx, c, signalled[c].hex(), got[c].hex(), kind)
                for c in range(3)
                if signalled[c] != got[c]
            ]
            out.mismatches += bad
            out.verified += not bad
    return out


def verify_with_policy(sei: StreamSEI, yuv: Planes | None, policy: str) -> HashVerification | None:
    """:func:`verify_key_pictures` under the decoder's ``policy`` for mismatches: ``"error"``
    raises, ``"warn"`` turns each mismatching component into a note, ``"ignore"`` skips the
    verification (``None``). The notes also say which key pictures carry no hash, and
    ``yuv`` ``None`` (a backend without 4:2:0 output) gives a note only.

    Raises:
        PictureHashError: a mismatch with ``policy`` ``"error"``: the first mismatch's line and
            the number of others.
        ValueError: an unknown policy.
    """
    if policy not in ("error", "warn", "ignore"):
        raise ValueError(f"hash_mismatch {policy!r}: use error, warn or ignore")
    if policy == "ignore":
        return None
    if yuv is None:
        return HashVerification(notes=["key pictures not verified: the VVC backend gives no 4:2:0 samples"])
    checked = verify_key_pictures(sei, yuv)
    if checked.mismatches and policy == "error":
        more = len(checked.mismatches) - 1
        raise PictureHashError(checked.mismatches[0].text() + (f" (and {more} more)" if more else ""))
    checked.notes[:0] = [f"warning: {m.text()}" for m in checked.mismatches]
    if checked.unhashed:
        n = len(checked.unhashed)
        checked.notes.append(
            "the stream carries no decoded picture hash SEI message: key pictures not verified"
            if n == len(yuv[0])
            else f"{n} key pictures without a decoded picture hash SEI message: not verified"
        )
    return checked
