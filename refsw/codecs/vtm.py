"""VVC (H.266) backend: the VTM reference software's ``EncoderApp`` and ``DecoderApp``.

This is the anchor of the GFVC common test conditions (VTM 22.2, ``encoder_lowdelay_vtm.cfg``,
8-bit 4:2:0 input from OpenCV ``COLOR_RGB2YUV_I420``, QP 37/42/47/52; JVET-AG2035, JVET-AG0042
software). VTM is not bundled: the backend runs the executables the user points it to and passes
VTM's own ``.cfg`` files through unchanged (``-c encoder_lowdelay_vtm.cfg``), as the JVET scripts
do. Only the per-sequence options are added on the command line::

    EncoderApp -c <cfg> [-c <cfg> ...] -i in.yuv -wdt W -hgt H -fr FPS -f N -q QP
               --InputBitDepth=8 --InputChromaFormat=420 -b out.266
    DecoderApp -b out.266 -d 8 -o out.y4m

The input YUV file is written with :func:`refsw.media.colour.rgb_to_i420` (bit-identical to
OpenCV's BT.601 limited-range conversion). The decoder writes Y4M (supported by VTM since the
``Y4M_SUPPORT`` change, VTM 15), whose header gives the picture size, at 8 bits (``-d 8``).

Configuration (constructor arguments, else environment variables):

=================  ========================  =================================================
argument           environment variable      meaning
=================  ========================  =================================================
``encoder``        ``GFV_VTM_ENCODER``        path of ``EncoderApp`` (or ``EncoderAppStatic``)
``decoder``        ``GFV_VTM_DECODER``        path of ``DecoderApp``
``cfg_dir``        ``GFV_VTM_CFG_DIR``        VTM's ``cfg/`` directory (default: ``../cfg``
                                              next to the encoder's ``bin/`` directory)
=================  ========================  =================================================

Every run's return code is checked, and the logs are kept: in :class:`EncodeResult.log` /
:class:`DecodeResult.log` and, when ``log_dir`` is given, as files there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from refsw.media.colour import i420_to_rgb, rgb_to_i420
from refsw.media.frames import check_frames

from .base import (
    ANNEXB_START_CODES,
    EQUAL_QP_GOP_ENTRY,
    CodecBackend,
    CodecError,
    CodecInputError,
    DecodeResult,
    EncodeResult,
    register_backend,
)
from .ffmpeg_common import (
    _parse_y4m,
    _stack_planes,
    check_fps,
    check_qp,
    run_tool,
)

logger = logging.getLogger(__name__)

__all__ = ["ENV_CFG_DIR", "ENV_DECODER", "ENV_ENCODER", "VtmBackend"]

ENV_ENCODER = "GFV_VTM_ENCODER"
ENV_DECODER = "GFV_VTM_DECODER"
ENV_CFG_DIR = "GFV_VTM_CFG_DIR"
#: VTM configuration files (in VTM's ``cfg/``) of the two GOP structures.
LOW_DELAY_CFG = "encoder_lowdelay_vtm.cfg"
RANDOM_ACCESS_CFG = "encoder_randomaccess_vtm.cfg"


def _executable(path: str | os.PathLike[str] | None, env: str, what: str, arg: str) -> str:
    """Absolute path of an existing executable given directly or through ``env``.

    Raises:
        CodecError: not configured, missing or not executable.
    """
    value = os.fspath(path) if path is not None else os.environ.get(env, "")
    if not value:
        raise CodecError(
            f"VTM backend: no {what} configured; pass {arg}=PATH or set ${env} (VTM is not bundled with this software)"
        )
    found = shutil.which(value)
    if found is None:
        raise CodecError(f"VTM backend: {what} {value!r} does not exist or is not executable")
    return os.path.abspath(found)


@register_backend
class VtmBackend(CodecBackend):
    """VTM ``EncoderApp`` / ``DecoderApp`` run as external programs (see the module docstring).

    Example::

        vtm = VtmBackend(encoder="/opt/VTM/bin/EncoderAppStatic",
                         decoder="/opt/VTM/bin/DecoderAppStatic")
        enc = vtm.encode(frames, qp=37, fps=25)          # encoder_lowdelay_vtm.cfg
        rgb = vtm.decode(enc.bitstream).frames
    """

    name: ClassVar[str] = "vtm"
    writes_picture_hash: ClassVar[bool] = True
    #: VVC QP range at 8 bits (VTM also accepts negative QPs at higher bit depths).
    qp_range: ClassVar[tuple[int, int]] = (0, 63)

    def __init__(
        self,
        *,
        encoder: str | os.PathLike[str] | None = None,
        decoder: str | os.PathLike[str] | None = None,
        cfg_dir: str | os.PathLike[str] | None = None,
        extra_cfg: tuple[str | os.PathLike[str], ...] = (),
        log_dir: str | os.PathLike[str] | None = None,
        timeout_s: float = 3600.0,
        decoded_picture_hash: int = 0,
    ) -> None:
        """Check the executables and the configuration files.

        Args:
            encoder: ``EncoderApp`` path; ``None`` reads ``$GFV_VTM_ENCODER``.
            decoder: ``DecoderApp`` path; ``None`` reads ``$GFV_VTM_DECODER``.
            cfg_dir: directory holding ``encoder_lowdelay_vtm.cfg`` and
                ``encoder_randomaccess_vtm.cfg``; ``None`` reads ``$GFV_VTM_CFG_DIR``, else
                ``<encoder dir>/../cfg``.
            extra_cfg: further VTM ``.cfg`` files passed after the GOP configuration
                (``-c per-sequence.cfg``), later wins as in VTM.
            log_dir: directory where every run's log is also written (created if missing).
            timeout_s: wall-clock limit of each run in seconds.
            decoded_picture_hash: write a decoded picture hash SEI message after every picture,
                VTM's ``--SEIDecodedPictureHash`` numbering: 1 MD5, 2 CRC, 3 checksum; 0 none.

        Raises:
            CodecError: an executable is not configured, missing or not executable, or a
                configuration file is missing.
        """
        self.encoder = _executable(encoder, ENV_ENCODER, "EncoderApp", "encoder")
        self.decoder = _executable(decoder, ENV_DECODER, "DecoderApp", "decoder")
        cfg_value = os.fspath(cfg_dir) if cfg_dir is not None else os.environ.get(ENV_CFG_DIR, "")
        self.cfg_dir = Path(cfg_value) if cfg_value else Path(self.encoder).resolve().parent.parent / "cfg"
        for name in (LOW_DELAY_CFG, RANDOM_ACCESS_CFG):
            if not (self.cfg_dir / name).is_file():
                raise CodecError(
                    f"VTM backend: {name} not found in {self.cfg_dir}; pass cfg_dir=VTM/cfg or set ${ENV_CFG_DIR}"
                )
        self.extra_cfg = tuple(Path(p) for p in extra_cfg)
        for path in self.extra_cfg:
            if not path.is_file():
                raise CodecError(f"VTM backend: configuration file {path} not found")
        self.log_dir = Path(log_dir) if log_dir is not None else None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self.decoded_picture_hash = decoded_picture_hash

    def __repr__(self) -> str:
        return f"VtmBackend(encoder={self.encoder!r}, decoder={self.decoder!r}, cfg_dir={str(self.cfg_dir)!r})"

    def _keep_log(self, stem: str, log: str) -> None:
        if self.log_dir is not None:
            (self.log_dir / f"{stem}.log").write_text(log)

    def encode(
        self, frames_rgb: np.ndarray, *, qp: int, fps: float, low_delay: bool = True, equal_qp: bool = False
    ) -> EncodeResult:
        """Encode RGB pictures with ``EncoderApp`` (see :meth:`CodecBackend.encode`).

        ``low_delay`` selects ``encoder_lowdelay_vtm.cfg`` (else ``encoder_randomaccess_vtm.cfg``);
        ``equal_qp`` then replaces its GOP of 8 by a GOP of one P picture at QP offset 0
        (``--GOPSize=1 --Frame1=...``, the entry
        :data:`refsw.codecs.base.EQUAL_QP_GOP_ENTRY`, as VVenC gets it; not run here, where no EncoderApp is built).
        ``fps`` must be an integer: VTM's ``FrameRate`` option is one.

        Raises:
            CodecInputError: bad frames, QP, fps, or an odd picture size.
            CodecError: the encoder failed (message ends with the log tail) or wrote nothing.
        """
        n, h, w = check_frames(frames_rgb, "VTM", error=CodecInputError)
        qp = check_qp(qp, *self.qp_range, "VTM")
        if equal_qp and not low_delay:
            raise CodecInputError("VTM: equal_qp needs the low-delay structure")
        rate = check_fps(fps)
        if rate.denominator != 1:
            raise CodecInputError(f"VTM: FrameRate must be an integer, got {fps!r}")
        if w % 2 or h % 2:
            raise CodecInputError(f"VTM: 4:2:0 needs an even picture size, got {w}x{h}")
        y, u, v = rgb_to_i420(frames_rgb)
        raw = np.concatenate((y.reshape(n, -1), u.reshape(n, -1), v.reshape(n, -1)), axis=1)
        gop_cfg = self.cfg_dir / (LOW_DELAY_CFG if low_delay else RANDOM_ACCESS_CFG)
        what = f"VTM encode of {n} picture(s) {w}x{h} at QP {qp}"
        with tempfile.TemporaryDirectory(prefix="gfv_vtm_") as tmp:
            yuv, out = Path(tmp) / "in.yuv", Path(tmp) / "out.266"
            raw.tofile(yuv)
            cmd = [self.encoder, "-c", str(gop_cfg)]
            for path in self.extra_cfg:
                cmd += ["-c", str(path)]
            # fmt: off
            cmd += [
                "-i", str(yuv), "-wdt", str(w), "-hgt", str(h), "-fr", str(rate.numerator),
                "-f", str(n), "-q", str(qp), "--InputBitDepth=8", "--InputChromaFormat=420",
                "-b", str(out),
            ]
            # fmt: on
            if self.decoded_picture_hash:
                cmd.append(f"--SEIDecodedPictureHash={int(self.decoded_picture_hash)}")
            if equal_qp:
                cmd += ["--GOPSize=1", f"--Frame1={EQUAL_QP_GOP_ENTRY}"]
            log = run_tool(cmd, stdin=None, what=what, timeout_s=self.timeout_s)
            bitstream = out.read_bytes() if out.exists() else b""
        digest = hashlib.sha1(raw.tobytes()).hexdigest()[:12]
        self._keep_log(f"enc_{digest}_qp{qp}_{'ld' if low_delay else 'ra'}", log)
        if not bitstream.startswith(ANNEXB_START_CODES):
            raise CodecError(f"{what}: no Annex-B bitstream written")
        logger.info("%s: %d bytes", what, len(bitstream))
        return EncodeResult(bitstream=bitstream, num_frames=n, width=w, height=h, log=log)

    def decode(self, bitstream: bytes) -> DecodeResult:
        """Decode with ``DecoderApp`` to 8-bit Y4M, then RGB with :func:`i420_to_rgb`.

        Raises:
            CodecError: the decoder failed, or its output is not 8-bit 4:2:0.
        """
        if not bytes(bitstream[:4]).startswith(ANNEXB_START_CODES):
            raise CodecError("VTM decode: input does not start with an Annex-B start code")
        what = "VTM decode"
        with tempfile.TemporaryDirectory(prefix="gfv_vtm_") as tmp:
            src, out = Path(tmp) / "in.266", Path(tmp) / "out.y4m"
            src.write_bytes(bytes(bitstream))
            cmd = [self.decoder, "-b", str(src), "-d", "8", "-o", str(out)]
            log = run_tool(cmd, stdin=None, what=what, timeout_s=self.timeout_s)
            data = out.read_bytes() if out.exists() else b""
        self._keep_log(f"dec_{hashlib.sha1(bytes(bitstream)).hexdigest()[:12]}", log)
        y, u, v = _stack_planes(_parse_y4m(data, what), what)
        return DecodeResult(frames=i420_to_rgb(y, u, v), log=log)
