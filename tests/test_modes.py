"""The reconstruction modes ``vtm`` and ``spec`` (``docs/reconstruction_modes.md``), each
difference shown on a constructed stream written with the intended (``spec``) semantics and
read in both modes.

Units of the builders: keypoints in 1/256 (Q = 8), matrix elements in 1/16 (P = 4).
"""

from __future__ import annotations

from sei_streams import (
    GFV,
    GFVE,
    annexb,
    gfv_absolute,
    gfv_base,
    gfv_next,
    gfve_message,
    nal,
    stream,
    written,
)

from sei.checker import check_stream
from sei.context import DecodingContext
from sei.stream import StreamSEI, read_stream_sei


def _read(data: bytes, mode: str) -> StreamSEI:
    return read_stream_sei(data, DecodingContext(mode=mode))


def _recon(data: bytes, mode: str, index: int) -> dict:
    msg = _read(data, mode).messages[index][1]
    assert msg.error is None
    return msg.recon


def test_state_per_gfv_id_or_global() -> None:
    """``spec``: one prediction state per gfv_id. ``vtm``: one state for all gfv_id (VTM's
    reader keeps its references in single members, docs/gfv_sei.md#gfv-vtm-reader-behaviours
    item 1), so a message of gfv_id 1 is predicted from the last message of gfv_id 2."""
    data = stream(
        [
            (GFV, gfv_base(gfv_id=1, xs=(10, -20))),
            (GFV, gfv_base(gfv_id=2, xs=(100, 50))),
            (GFV, gfv_next(gfv_id=1, cnt=1, dxs=(1, 0))),
        ],
        mode="spec",
    )
    assert _recon(data, "spec", 2)["X"] == [11 / 256, -20 / 256]
    assert _recon(data, "vtm", 2)["X"] == [101 / 256, 50 / 256]
    # Matrices likewise: spec predicts from gfv_id 1's base, vtm from gfv_id 2's (same values here).
    assert check_stream(data, mode="spec").conformant and check_stream(data, mode="vtm").conformant


def test_base_matrix_overwritten_by_non_base_matrix_message_in_vtm() -> None:
    """A non-base message with gfv_cnt 0 predicts its matrices from the base message. VTM's
    reader overwrites its base matrices with every matrix message
    (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 3), so in ``vtm`` mode the reference is the
    last matrix message (here the absolute message with cnt 1)."""
    base, absolute = (3, -5, 0, 9), (4, -5, 0, 8)
    data = stream(
        [
            (GFV, gfv_base(elements=base)),
            (GFV, gfv_absolute(cnt=1, elements=absolute)),
            (GFV, gfv_next(cnt=0, deltas=(1, 0, 0, -1))),
        ],
        mode="spec",
    )
    spec = _recon(data, "spec", 2)["MatrixElement"]
    vtm = _recon(data, "vtm", 2)["MatrixElement"]
    assert spec == [(b + d) / 16 for b, d in zip(base, (1, 0, 0, -1))]
    assert vtm == [(a + d) / 16 for a, d in zip(absolute, (1, 0, 0, -1))]
    # Keypoints of a cnt-0 message are predicted from the base in both modes.
    assert _recon(data, "spec", 2)["X"] == _recon(data, "vtm", 2)["X"]
    # The checker warns about this combination (VTM's writer would use the base message).
    warned = {f.element for f in check_stream(data).warnings}
    assert "gfv_matrix_pred_flag" in warned


def test_base_dimensions_appended_in_vtm() -> None:
    """VTM appends the matrix dimensions of every base message to its lists and a predicted
    message reads the first entries (docs/gfv_sei.md#gfv-vtm-reader-behaviours item 4): the
    first base message's dimensions win. ``spec`` uses the last base message's. The stream
    (second base: one 3x3 matrix) parses in ``spec`` mode; ``vtm`` reads a 2x2 matrix and is left
    with extra bits."""
    data = stream(
        [
            (GFV, gfv_base(width=2, height=2)),
            (GFV, gfv_base(width=3, height=3, elements=(1, 2, 3))),
            (GFV, gfv_next(cnt=1, width=3, height=3, deltas=(1,))),
        ],
        mode="spec",
    )
    spec = _read(data, "spec").messages[2][1]
    vtm = _read(data, "vtm").messages[2][1]
    assert (spec.values["MatrixHeight"][0], spec.values["MatrixWidth"][0]) == (3, 3)
    assert (vtm.values["MatrixHeight"][0], vtm.values["MatrixWidth"][0]) == (2, 2)
    assert len(spec.recon["MatrixElement"]) == 9 and len(vtm.recon["MatrixElement"]) == 4
    assert spec.reserved_extension is None and vtm.reserved_extension is not None
    assert check_stream(data, mode="spec").conformant
    assert {f.element for f in check_stream(data, mode="vtm").errors} == {"reserved_payload_extension_data"}


def test_gfve_base_dimensions_appended_in_vtm() -> None:
    """The same for GFVE (docs/gfv_sei.md#gfve-reconstruction): the first base message's matrix
    dimensions are used by predicted messages in ``vtm`` mode."""
    second = gfve_message()
    second.update(
        {
            "gfve_matrix_height_minus1": {0: 1},
            "gfve_matrix_width_minus1": {0: 1},
            "gfve_matrix_element_int": {(0, k, m): 1 for k in range(2) for m in range(2)},
            "gfve_matrix_element_dec": {(0, k, m): 0 for k in range(2) for m in range(2)},
            "gfve_matrix_element_sign_flag": {(0, k, m): 0 for k in range(2) for m in range(2)},
        }
    )
    pred = gfve_message(gfv_cnt=1, base=False)
    pred.update(
        {
            "gfve_matrix_delta_element_int": {(0, k, m): 0 for k in range(2) for m in range(2)},
            "gfve_matrix_delta_element_dec": {(0, k, m): 1 for k in range(2) for m in range(2)},
            "gfve_matrix_delta_element_sign_flag": {(0, k, m): 0 for k in range(2) for m in range(2)},
        }
    )
    payloads = written([(GFVE, gfve_message()), (GFVE, second), (GFVE, pred)], mode="spec")
    data = annexb(*(nal(GFVE, p) for p in payloads))
    assert _recon(data, "spec", 2)["dims"] == [(2, 2)]
    assert _recon(data, "vtm", 2)["dims"] == [(1, 1)]


def test_modes_agree_on_single_id_streams() -> None:
    """Without the three situations above both modes reconstruct the same values."""
    data = stream(
        [
            (GFV, gfv_base()),
            (GFV, gfv_next(cnt=1)),
            (GFV, gfv_next(cnt=2)),
            (GFV, gfv_absolute(cnt=3)),
            (GFV, gfv_next(cnt=4)),
        ]
    )
    spec = [m.recon for _, m in _read(data, "spec").messages]
    vtm = [m.recon for _, m in _read(data, "vtm").messages]
    assert spec == vtm
