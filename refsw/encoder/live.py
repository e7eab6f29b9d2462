"""Live (low-delay) encoding: each captured picture leaves the encoder as NAL units at once.

``gfv-encode --live`` (issue 14 item 4). The file encoder (:func:`refsw.encoder.encode_video`)
sees the whole clip: it chooses key pictures with a look-ahead, smooths the face parameters over
time and omits messages the decoder can interpolate. The live encoder sees one picture at a time
and writes, for each, what the decoder needs to output it:

* a key picture (picture 0 and every ``key_period``-th picture): its own VVC coded video sequence
  (parameter sets, SPTI / NNPFC / NNPFA prefix SEI messages, one IDR picture), followed by the
  base GFV message;
* every other picture: one suffix SEI NAL unit holding its GFV message and, when the pupils
  moved, its GFVE message (several ``sei_message()`` in one ``sei_rbsp()``, H.266 7.3.6), so the
  decoder has the whole picture description when the NAL unit ends.

Each write is flushed. The analysis is causal (:meth:`refsw.models.sem3d.Sem3DAnalyser.live`:
dead band, no temporal Gaussian), the encoder decision is ``none`` (no encoder-side synthesis)
and every picture gets a message (no parameter subsampling: interpolation needs the next
message). The rate cost against the file encoder is measured by ``benchmarks/bench_live.py``.
"""

from __future__ import annotations

import time
from typing import Any, BinaryIO, Protocol

import numpy as np

from refsw.codecs import create_backend
from refsw.config import EncoderConfig
from refsw.media.frames import InputError
from refsw.models import get_model
from sei.carriage import AccessUnitSEI, bit_budget, insert_sei
from sei.context import DecodingContext
from sei.nal import NalUnitType, make_nal_unit, write_annexb
from sei.registry import PayloadType
from sei.sei_message import sei_rbsp, write_payload

from .encoder import EncodeSummary
from .gfv_sei import gfv_messages, gfve_messages
from .keys import KeyChoice
from .sei_encoder import nnpfa_values, nnpfc_values, spti_values


class _PerPicture(Protocol):
    def push(self, frame: np.ndarray) -> tuple[np.ndarray, bool]: ...

    def close(self) -> None: ...


class _OneByOne:
    """Live analysis of a model whose analyser keeps no state between pictures: its
    ``analyse()`` on each picture alone."""

    def __init__(self, analyser: Any) -> None:
        self.analyser = analyser

    def push(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        params, found = self.analyser.analyse(frame[None])
        return params[0], bool(found[0])

    def close(self) -> None:
        pass


class LiveEncoder:
    """Encodes pictures as they arrive and writes each one's NAL units to ``out`` at once.

    Args:
        out: binary stream the Annex B bytes go to (flushed after every picture).
        fps: picture rate in pictures/s (written in the SPTI SEI message).
        config: encoder options (:class:`refsw.config.EncoderConfig`); ``model``, ``qp``,
            ``key_period`` (``None``: the model's default; 0: picture 0 only), ``backend``,
            ``coordinate_precision_factor``, ``matrix_element_precision_factor``, ``nnpfa`` and
            ``nnpfc_mode`` apply; ``decision``, ``gfv_max_interval`` and ``sei_packing`` do not
            (see the module doc).
        options: single options replacing those of ``config``.

    Raises:
        refsw.config.ConfigError: an unknown option or invalid value.
        refsw.models.ModelError: unknown model.
    """

    def __init__(self, out: BinaryIO, fps: float, config: EncoderConfig | None = None, **options: Any) -> None:
        self.cfg = (config or EncoderConfig()).replace(**options)
        self.spec = get_model(self.cfg.model)
        cfg = self.cfg
        self.layout = self.spec.make_layout(cfg.coordinate_precision_factor, cfg.matrix_element_precision_factor)
        analyser = self.spec.make_analyser()
        self.analysis: _PerPicture = analyser.live() if hasattr(analyser, "live") else _OneByOne(analyser)
        self.key_period = self.spec.default_key_period if self.cfg.key_period is None else self.cfg.key_period
        self.codec = create_backend(self.cfg.backend)
        self.out = out
        self.fps = fps
        self.ctx = DecodingContext()
        self.written = bytearray()
        self.pictures = 0
        self.key_starts: list[int] = []
        self.size: tuple[int, int] | None = None
        self._key_start = 0
        self._pupils_sent: np.ndarray | None = None
        self._t0 = time.perf_counter()

    def push(self, frame: np.ndarray) -> int:
        """Encodes one picture and writes its NAL units.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB, the same size for every picture, even ``H`` and ``W``.

        Returns:
            Bytes written for this picture.

        Raises:
            refsw.media.frames.InputError: the picture's size differs from the first picture's.
            refsw.models.NoFaceInClipError: no face on the first picture.
            refsw.codecs.CodecError: the VVC encoder failed.
        """
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (h, w)
        elif self.size != (h, w):
            raise InputError(f"picture {self.pictures} is {w}x{h}, the stream {self.size[1]}x{self.size[0]}")
        i = self.pictures
        key = i == 0 or (self.key_period > 0 and i % self.key_period == 0)
        params, found = self.analysis.push(frame)
        params = self.layout.snap(np.asarray(params)[None])
        chunk = bytearray()
        if key:
            self._key_start = i
            self.key_starts.append(i)
            self._pupils_sent = None
            chunk += self._key_picture(frame)
        cnt = i - self._key_start
        messages: list[tuple[int, bytes]] = [
            (PayloadType.GENERATIVE_FACE_VIDEO, p)
            for p, _ in gfv_messages(self.layout, params, np.array([not found]), self.ctx, cnts=np.array([cnt]))
        ]
        pupils = getattr(self.layout, "pupils", None)
        if pupils is not None:
            p = pupils(params)
            if self._pupils_sent is None or not np.array_equal(p[0], self._pupils_sent):
                self._pupils_sent = p[0]
                q = self.layout.pupil_precision_factor  # type: ignore[attr-defined]
                enhancement = gfve_messages(p, q, self.ctx, cnts=np.array([cnt]))[0]
                assert enhancement is not None  # one row, not equal to the last one sent
                messages.append((PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, enhancement[0]))
        chunk += write_annexb([make_nal_unit(NalUnitType.SUFFIX_SEI_NUT, sei_rbsp(messages))], set())
        self.out.write(chunk)
        self.out.flush()
        self.written += chunk
        self.pictures += 1
        return len(chunk)

    def _key_picture(self, frame: np.ndarray) -> bytes:
        """The key picture's coded video sequence with the prefix SEI messages (Annex B)."""
        coded = self.codec.encode(frame[None], qp=self.cfg.qp, fps=self.fps).bitstream
        spec, cfg = self.spec, self.cfg
        prefix = [
            (PayloadType.SOURCE_PICTURE_TIMING_INFO, spti_values(self.fps)),
            (
                PayloadType.NEURAL_NETWORK_POST_FILTER_CHARACTERISTICS,
                nnpfc_values(spec.uri_tag, spec.uri, cfg.nnpfc_mode, spec.network if cfg.nnpfc_mode == 0 else None),
            ),
        ]
        if cfg.nnpfa:
            prefix.append((PayloadType.NEURAL_NETWORK_POST_FILTER_ACTIVATION, nnpfa_values()))
        payloads: list[tuple[int, bytes]] = [(t, write_payload(t, v, self.ctx)[0]) for t, v in prefix]
        return insert_sei(coded, {0: AccessUnitSEI(prefix=payloads)}, "per-message")

    def close(self) -> EncodeSummary:
        """Releases the analysis; returns what was written.

        Raises:
            refsw.media.frames.InputError: no picture was pushed.
        """
        self.analysis.close()
        if not self.pictures or self.size is None:
            raise InputError("the live input had no picture")
        h, w = self.size
        reasons = ["first"] + ["periodic"] * (len(self.key_starts) - 1)
        return EncodeSummary(
            self.pictures,
            self.fps,
            w,
            h,
            self.cfg.qp,
            self.cfg.model,
            bit_budget(bytes(self.written)),
            time.perf_counter() - self._t0,
            key_choice=KeyChoice(self.key_starts, reasons),
        )
