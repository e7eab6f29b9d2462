"""Mapping of 2-D keypoint representations onto GFV SEI syntax values (and back)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sei.context import DecodingContext
from sei.messages.gfv import quantise_coordinates
from sei.registry import PayloadType
from sei.sei_message import write_payload


class RepresentationMismatch(ValueError):
    """The GFV messages do not carry what the generator needs."""


class KeypointMapping:
    """2-D keypoints <-> GFV coordinates, with VTM's writer quantisation and closed-loop
    prediction (the reference of each predicted value is the decoder's reconstruction).

    Args:
        num_kps: keypoints per picture (``gfv_num_kps_minus1`` + 1).
        precision: ``gfv_coordinate_precision_factor_minus1`` + 1 (step 2^-precision in
            normalised units; 2^-7 is one pixel at 256x256).
        uri_tag / uri: ``gfv_uri_tag`` / ``gfv_uri`` of the base message.
    """

    def __init__(self, num_kps: int, precision: int, uri_tag: str, uri: str) -> None:
        if not 1 <= precision <= 31:
            raise ValueError(f"coordinate precision {precision} outside 1..31")
        self.num_kps = num_kps
        self.precision = precision
        self.uri_tag = uri_tag
        self.uri = uri

    def messages(self, kps: np.ndarray, low_confidence: np.ndarray, ctx: DecodingContext,
                 gfv_id: int = 0) -> list[tuple[bytes, dict]]:
        """GFV payloads for one key-picture segment.

        Args:
            kps: ``(N, K, 2)`` float64 normalised keypoints; row 0 belongs to the key picture
                (``gfv_cnt`` 0, base message), row c to output picture c of the segment.
            low_confidence: ``(N,)`` bool, sets ``gfv_low_confidence_face_parameter_flag``.
            ctx: encoder-side context (writer prediction state).
            gfv_id: ``gfv_id`` of every message.

        Returns:
            ``(payload_bytes, syntax_values)`` per output picture, in ``gfv_cnt`` order.
        """
        out = []
        state = ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO, gfv_id)
        for cnt, pts in enumerate(kps):
            v: dict[str, Any] = {"gfv_id": gfv_id, "gfv_cnt": cnt, "gfv_low_confidence_face_parameter_flag":
                                 int(low_confidence[cnt]), "gfv_coordinate_present_flag": 1,
                                 "gfv_kps_pred_flag": 1, "gfv_matrix_present_flag": 0}
            if cnt == 0:
                v.update(gfv_base_picture_flag=1, gfv_nn_present_flag=1, gfv_nn_mode_idc=1,
                         gfv_uri_tag=self.uri_tag, gfv_uri=self.uri, gfv_chroma_key_info_present_flag=0,
                         gfv_coordinate_precision_factor_minus1=self.precision - 1,
                         gfv_num_kps_minus1=self.num_kps - 1, gfv_coordinate_z_present_flag=0)
            pts = np.clip(pts, -1.0, 1.0)
            quantise_coordinates(v, [pts[:, 0].tolist(), pts[:, 1].tolist()], state, rounding="nearest")
            out.append(write_payload(PayloadType.GENERATIVE_FACE_VIDEO, v, ctx))
        return out

    def snap(self, kps: np.ndarray) -> np.ndarray:
        """``kps`` ``(..., K, 2)`` clipped to [-1, 1] and rounded to the coordinate grid."""
        step = 2.0 ** -self.precision
        return np.round(np.clip(kps, -1.0, 1.0) / step) * step

    def params(self, recon: dict) -> np.ndarray:
        """Same as :meth:`keypoints` (the common name of all mappings)."""
        return self.keypoints(recon)

    def keypoints(self, recon: dict) -> np.ndarray:
        """``(K, 2)`` float64 keypoints from a reconstructed GFV message.

        Raises:
            RepresentationMismatch: the message has no or a different number of 2-D keypoints.
        """
        xs, ys = recon.get("X", []), recon.get("Y", [])
        if len(xs) != self.num_kps or len(ys) != self.num_kps:
            raise RepresentationMismatch(f"expected {self.num_kps} 2-D keypoints, the GFV message has {len(xs)}")
        return np.stack([np.asarray(xs), np.asarray(ys)], axis=1)
