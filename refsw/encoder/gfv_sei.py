"""The GFV SEI encoder: a model's parameters -> GFV syntax values and payloads.

One home for the encoder side of the GFV message (as VTM's ``SEIEncoder``): the model hands over
its parameters and its layout (:class:`refsw.models.gfv_mapping.LayoutMapping`), this module
chooses the syntax (base / predicted messages, matrix type entries) and quantises with VTM's
writer rules (:mod:`refsw.encoder.quantise`, nearest rounding for coordinates so that values on
the 2^-Q grid are sent exactly). The reference of each prediction is the decoder's
reconstruction, so the encoder and the decoder never drift (``docs/gfv_sei.md#gfv-reconstruction``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refsw.media.chroma_key import ChromaKey
from refsw.models.gfv_mapping import LayoutMapping
from sei.context import DecodingContext
from sei.registry import PayloadType
from sei.sei_message import write_payload

from .quantise import quantise_coordinates, quantise_matrices, quantise_pupils


def gfv_messages(
    mapping: LayoutMapping,
    params: np.ndarray,
    low_confidence: np.ndarray,
    ctx: DecodingContext,
    gfv_id: int = 0,
    cnts: np.ndarray | None = None,
    chroma_key: ChromaKey | None = None,
    fusion_pic_flag: int | None = None,
) -> list[tuple[bytes, dict]]:
    """GFV payloads of one key-picture segment.

    The base message (``gfv_cnt`` 0) describes everything (precision factors, number of
    keypoints, matrix types and sizes) and names the generator (``gfv_nn_present_flag`` 1,
    ``gfv_nn_mode_idc`` 1, ``gfv_uri``); every other message predicts coordinates and matrix
    elements from the previous message's reconstruction (``gfv_kps_pred_flag`` =
    ``gfv_matrix_pred_flag`` = 1) unless the layout says otherwise.

    Args:
        mapping: the model's parameter layout (:class:`~refsw.models.ParameterLayout`).
        params: the parameters of N pictures (any shape :meth:`LayoutMapping.vectors` takes);
            row 0 belongs to the key picture (base message).
        low_confidence: ``(N,)`` bool (``gfv_low_confidence_face_parameter_flag``).
        ctx: encoder-side context (writer prediction state).
        gfv_id: ``gfv_id`` of every message.
        cnts: ``gfv_cnt`` of each message (ascending, the first 0); default 0, 1, 2...
            (skipped values: pictures the decoder interpolates, :mod:`refsw.encoder.subsample`).
        chroma_key: the base message's ``gfv_chroma_key_*`` information (JVET-AM0334); ``None``:
            ``gfv_chroma_key_info_present_flag`` 0.
        fusion_pic_flag: not ``None``: row 0 describes a *driving picture*, a coded picture that
            is not a base picture: its message (``gfv_cnt`` 0) is not a base message
            (``gfv_base_picture_flag`` 0), carries this ``gfv_fusion_pic_flag`` (Variant C) and
            sends its coordinates and matrix elements without prediction; the generator is the
            one of the base message before (``docs/gfv_sei.md#fusion``).

    Returns:
        ``(payload_bytes, syntax_values)`` per message in ``gfv_cnt`` order.

    Raises:
        ValueError: ``params`` is not ``(N, D)``.
    """
    lay = mapping.layout
    params = mapping.vectors(params)
    state = ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO, gfv_id)
    axes = 3 if lay.z else 2
    out = []
    for i, p in enumerate(params):
        cnt = int(cnts[i]) if cnts is not None else i
        driving = cnt == 0 and fusion_pic_flag is not None
        base = cnt == 0 and not driving
        v: dict[str, Any] = {
            "gfv_id": gfv_id,
            "gfv_cnt": cnt,
            "gfv_low_confidence_face_parameter_flag": int(low_confidence[i]),
            "gfv_coordinate_present_flag": int(lay.num_kps > 0),
            "gfv_matrix_present_flag": int(bool(lay.matrices)),
        }
        if base:
            v.update(
                gfv_base_picture_flag=1,
                gfv_nn_present_flag=1,
                gfv_nn_mode_idc=1,
                gfv_uri_tag=mapping.uri_tag,
                gfv_uri=mapping.uri,
            )
            v.update(chroma_key.syntax_values() if chroma_key else {"gfv_chroma_key_info_present_flag": 0})
        if driving:
            v.update(gfv_base_picture_flag=0, gfv_fusion_pic_flag=fusion_pic_flag)
        if lay.num_kps:
            v["gfv_kps_pred_flag"] = int(lay.kps_pred and not driving)
            if base or not v["gfv_kps_pred_flag"]:
                v.update(
                    gfv_coordinate_precision_factor_minus1=lay.coordinate_precision_factor - 1,
                    gfv_num_kps_minus1=lay.num_kps - 1,
                    gfv_coordinate_z_present_flag=int(lay.z),
                )
                if lay.z:
                    v["gfv_coordinate_z_max_value_minus1"] = 0
            kp = p[lay.coord_start : lay.coord_start + lay.num_kps * axes].reshape(lay.num_kps, axes)
            kp = np.clip(kp, -1.0, 1.0)
            quantise_coordinates(v, [kp[:, a].tolist() for a in range(axes)], state, rounding="nearest")
        if lay.matrices:
            pred = 0 if base or driving else int(lay.matrix_pred)
            if not base:
                v["gfv_matrix_pred_flag"] = pred
            if not pred:
                v.update(
                    gfv_matrix_element_precision_factor_minus1=lay.matrix_element_precision_factor - 1,
                    gfv_num_matrix_types_minus1=len(lay.matrices) - 1,
                    gfv_matrix_type_idx={i: m.type_idx for i, m in enumerate(lay.matrices)},
                )
                eq, w, h, nm, space3d = {}, {}, {}, {}, {}
                for i, m in enumerate(lay.matrices):
                    if m.type_idx <= 1:
                        eq[i] = 1
                    elif 4 <= m.type_idx <= 6 and not lay.num_kps:
                        space3d[i] = int(m.height == 3)
                    elif m.type_idx in (2, 3) or m.type_idx >= 7:
                        if m.type_idx >= 7:
                            nm[i] = m.num - 1
                        w[i], h[i] = m.width - 1, m.height - 1
                v.update(
                    gfv_num_matrices_equal_to_num_kps_flag=eq,
                    gfv_num_matrices_info={},
                    gfv_num_matrices_minus1=nm,
                    gfv_matrix_width_minus1=w,
                    gfv_matrix_height_minus1=h,
                    gfv_matrix_3d_space_flag=space3d,
                )
            elems = np.concatenate([p[m.start : m.start + m.size] for m in lay.matrices])
            quantise_matrices(v, elems.tolist(), lay.matrix_element_precision_factor, state, num_kps=lay.num_kps)
        out.append(write_payload(PayloadType.GENERATIVE_FACE_VIDEO, v, ctx))
    return out


def gfve_messages(
    pupils: np.ndarray,
    pupil_precision_factor: int,
    ctx: DecodingContext,
    gfv_id: int = 0,
    gfve_id: int = 0,
    cnts: np.ndarray | None = None,
) -> list[tuple[bytes, dict] | None]:
    """GFVE payloads carrying the pupil positions of one key-picture segment, for the GFV messages
    whose pupils differ from the last ones sent (``gfve_gfv_id`` = ``gfv_id``, ``gfve_gfv_cnt`` =
    its ``gfv_cnt``); ``None`` for the others (the decoder keeps the latest values).

    The base message (``gfve_gfv_cnt`` 0, ``gfve_base_picture_flag`` 1) sets the pupil precision
    factor ``Pp``; every message carries both eyes (``gfve_pupil_coordinate_present_idx`` 3),
    predicted from the previous message's reconstruction (``docs/gfv_sei.md#gfve-reconstruction``).
    No matrices, no NN information (the GFV base message names the generator).

    Args:
        pupils: ``(N, 4)`` float64 left x, left y, right x, right y (normalised picture units), on
            the 2^-Pp grid (a change below a step is not sent).
        pupil_precision_factor: ``Pp`` (1..31).
        ctx: encoder-side context (writer prediction state).
        gfv_id / gfve_id: the ids written.
        cnts: the ``gfv_cnt`` of the GFV message of each row (default 0, 1, 2...).

    Returns:
        ``(payload_bytes, syntax_values)`` or ``None`` per picture in ``gfve_gfv_cnt`` order.
    """
    state = ctx.select_state(PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, gfve_id)
    out: list[tuple[bytes, dict] | None] = []
    sent: np.ndarray | None = None
    for i, p in enumerate(np.asarray(pupils, dtype=np.float64)):
        cnt = int(cnts[i]) if cnts is not None else i
        if sent is not None and np.array_equal(p, sent):
            out.append(None)
            continue
        sent = p
        v: dict[str, Any] = {"gfve_id": gfve_id, "gfve_gfv_id": gfv_id, "gfve_gfv_cnt": cnt}
        if cnt == 0:
            v.update(gfve_base_picture_flag=1, gfve_nn_present_flag=0)
        v.update(gfve_matrix_present_flag=0, gfve_pupil_coordinate_present_idx=3)
        if cnt == 0:
            v["gfve_pupil_coordinate_precision_factor_minus1"] = pupil_precision_factor - 1
        quantise_pupils(v, p[:2].tolist(), p[2:].tolist(), pupil_precision_factor, state)
        out.append(write_payload(PayloadType.GENERATIVE_FACE_VIDEO_ENHANCEMENT, v, ctx))
    return out
