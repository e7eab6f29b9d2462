"""Verification of the decoded picture hash SEI message (H.266 D.2) on the key pictures.

The hash of a colour component is computed over its decoded samples in raster order, one byte
per sample at bit depths up to 8 (H.266 D.2.2 ``pictureData``; VTM ``PicYuvMD5.cpp``,
``md5_plane<1>``): for the 8-bit 4:2:0 key pictures the MD5 of the plane's bytes, Y (``cIdx``
0), then Cb and Cr. Only MD5 (``dph_sei_hash_type`` 0, the type VTM's and VVenC's
``SEIDecodedPictureHash=1`` write) is verified; CRC and checksum messages are reported as not
verified.

The hash covers the decoded picture (``pps_pic_width_in_luma_samples`` by
``pps_pic_height_in_luma_samples``) while FFmpeg outputs the conformance-cropped picture: the two
agree when the picture has no conformance window, which is the case for the encoder's pictures
(sides that are multiples of 8); other sizes are reported as not verified.
"""

from __future__ import annotations

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


def plane_md5(planes: tuple[np.ndarray, ...]) -> list[bytes]:
    """MD5 digest (16 bytes) of each 8-bit plane's samples in raster order (H.266 D.2.2 with
    bit depth 8; VTM ``calcMD5``). ``planes``: ``(Y (H, W), U (H/2, W/2), V (H/2, W/2))`` uint8."""
    return [hashlib.md5(np.ascontiguousarray(p, dtype=np.uint8).tobytes()).digest() for p in planes]


@dataclass(frozen=True)
class HashMismatch:
    """A key picture whose decoded samples do not have the hash its SEI message signals.

    Attributes:
        key_picture: index of the key picture (VVC picture in decoding order).
        nal_index: index of the SEI NAL unit carrying the hash.
        component: ``cIdx`` (0 Y, 1 Cb, 2 Cr).
        expected / got: hexadecimal digests (signalled / computed from the decoded samples).
    """

    key_picture: int
    nal_index: int
    component: int
    expected: str
    got: str

    def text(self) -> str:
        """One line naming the picture, the component, the expected and the computed MD5."""
        return (
            f"decoded picture hash mismatch: key picture {self.key_picture} (SEI NAL unit {self.nal_index}), "
            f"component {COMPONENTS[self.component]} (cIdx {self.component}): MD5 expected {self.expected}, "
            f"got {self.got}"
        )


@dataclass
class HashVerification:
    """Outcome of the verification of every key picture.

    Attributes:
        verified: key pictures whose every component's MD5 matched.
        mismatches: every component that did not match.
        unhashed: key pictures without a decoded picture hash SEI message.
        notes: why some hashes were not verified (hash type, picture size, component count).
    """

    verified: int = 0
    mismatches: list[HashMismatch] = field(default_factory=list)
    unhashed: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify_key_pictures(sei: StreamSEI, yuv: Planes) -> HashVerification:
    """Compares the decoded picture hash SEI message of each key picture's access unit with the
    MD5 of its decoded samples.

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
        if v["dph_sei_hash_type"] != 0:
            out.notes.append(f"key picture {k}: dph_sei_hash_type {v['dph_sei_hash_type']} is not verified (MD5 only)")
        elif len(signalled) != 3:
            out.notes.append(f"key picture {k}: a single-component hash for a 4:2:0 picture is not verified")
        elif cropped:
            out.notes.append(f"key picture {k}: {w}x{h} may be conformance-cropped; its hash is not verified")
        else:
            got = plane_md5(tuple(c[k] for c in yuv))
            bad = [
                HashMismatch(k, idx, c, signalled[c].hex(), got[c].hex()) for c in range(3) if signalled[c] != got[c]
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
